/*
 * tcpserver2.c - a TCP server that finds its address with getaddrinfo()
 * (the C version of tcpserver2.py): IPv4 and IPv6 from one program.
 *
 * The lecture order: getaddrinfo() -> socket() -> [setsockopt(IPV6_V6ONLY)]
 * -> bind() -> listen() -> then, exactly like tcpserver1.c, one client at a
 * time: accept() -> recv() -> send() -> close().
 *
 * getaddrinfo() turns "which address, which port" into a list of ready-made
 * socket addresses, IPv4 and IPv6 alike, so no code here depends on the
 * address family. By default the server takes the IPv6 "any" address with
 * IPV6_V6ONLY off: one socket, dual stack, that IPv4 clients reach too (they
 * show up as ::ffff:a.b.c.d).
 *
 * Read main() first: getaddrinfo() and the loop that tries its candidates
 * until one binds (as in Beej's server.c), then listen(); serve_clients()
 * is tcpserver1.c's accept loop. Below them: what step mode and the log say
 * at each call, then the plumbing (options, formatting, errors).
 *
 *   cc -o tcpserver2 tcpserver2.c
 *   ./tcpserver2                 IPv4 and IPv6 clients, port 12333
 *   ./tcpserver2 -4              IPv4 only      ./tcpserver2 -6   IPv6 only
 *   ./tcpserver2 -a ::1          one address    ./tcpserver2 -p http  a service name
 *
 * Watch it from another terminal:
 *   lsof -n -P -p PID     netstat -an -p tcp (macOS)     ss -tanp (Linux)
 * by default one listening socket, IPv6: lsof 'IPv6 ... TCP *:12333
 * (LISTEN)', ss 'LISTEN ... *:12333'; an IPv4 client's connection shows as
 * [::ffff:127.0.0.1]. With -4: IPv4 '0.0.0.0:12333'; with -6: '[::]:12333'.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#define DEFAULT_PORT "12333"
#define DEFAULT_BACKLOG 5
#define MAX_CANDIDATES 64 /* getaddrinfo() results tried, at most */

/* Address text ("*:12333", "[::1]:12333") lives in the caller's buffer of
 * this size, never in a shared static one. */
#define ADDR_TEXT_SIZE (INET6_ADDRSTRLEN + 16)

static const char *prog = "tcpserver2";

/* The command line, filled by parse_options(). */
static struct options {
    const char *address; /* -a ADDRESS; NULL: all interfaces, like '' in Python */
    const char *port;    /* -p PORT: a number or a service name */
    int family;          /* AF_UNSPEC; -4: AF_INET; -6: AF_INET6 */
    int backlog;         /* -l BACKLOG: listen()'s queue */
    int reuse;           /* -r: SO_REUSEADDR before bind() */
    int quiet;           /* -q: no line per message (for benchmarks) */
    int step;            /* -S: pause before each socket call */
} opt;

/* How the exchange with a client ended: what close() will find. */
enum client_state { CONNECTED, CLIENT_CLOSED, CLIENT_RESET };

/* the lesson, after main() */
_Noreturn static void serve_clients(int lfd);
/* what step mode and the log say at each call, in lecture order */
static void before_getaddrinfo(void);
_Noreturn static void getaddrinfo_failed(int rc);
static int after_getaddrinfo(struct addrinfo *res, struct addrinfo **order);
static void before_socket(const struct addrinfo *ai);
static int socket_failed(const struct addrinfo *ai);
static void after_socket(const struct addrinfo *ai, int s);
static void before_v6only(int s, int v6only);
static void after_v6only(int s, int v6only);
static void before_reuseaddr(int s);
static void after_reuseaddr(int s);
static void before_bind(int s, const struct addrinfo *ai);
static int bind_failed(int s, const struct addrinfo *ai);
static void after_bind(int s, const struct addrinfo *ai);
_Noreturn static void no_candidate_bound(int err);
static void before_listen(int lfd, const struct addrinfo *ai);
static void after_listen(int lfd, const struct addrinfo *ai);
static void before_accept(int lfd);
static void accept_failed(int lfd);
static void after_accept(int lfd, int cfd, const struct sockaddr_storage *peer);
static void before_recv(int cfd, const struct sockaddr_storage *peer);
static enum client_state after_recv(int cfd, const struct sockaddr_storage *peer,
                                    const unsigned char *buf, ssize_t n);
static void before_send(int cfd, const struct sockaddr_storage *peer, ssize_t n);
static enum client_state send_failed(int cfd);
static void after_send(int cfd, ssize_t n);
static void before_close(int cfd, const struct sockaddr_storage *peer, enum client_state client);
static void after_close(int cfd, const struct sockaddr_storage *peer);
/* plumbing */
static void parse_options(int argc, char **argv);
static void usage(FILE *out);
_Noreturn static void usage_error(const char *f, ...);
_Noreturn static void fail(const char *what);
static void say(const char *f, ...);
static void step_byte_order(const struct sockaddr *sa);
static const char *err_text(int e);
static void step(const char *call, const char *now, const char *after);
static const char *fmt(const char *f, ...);
static char *addr_text(const struct sockaddr *sa, char *buf, size_t size);
static char *peer_text(const struct sockaddr_storage *peer, char *buf, size_t size);
static const char *connected_now(int cfd, const struct sockaddr_storage *peer);
static unsigned port_of(const struct sockaddr *sa);
static int is_wildcard(const struct sockaddr *sa);
static const char *family_name(int family);
static void bind_advice(int fd, int err, const struct sockaddr *sa, char *why, size_t size);
static int port_listens(const struct sockaddr *sa);
static long port_value(const char *s);
static void check_port(const char *s);
static int parse_count(const char *s, const char *what, int min, int max);
static int send_all(int fd, const unsigned char *p, size_t n);
static const char *payload_text(const unsigned char *p, size_t n);

int main(int argc, char **argv)
{
    parse_options(argc, argv); /* -4 -6 -p -a -l -r -q -S into opt; a usage error exits 2 */

    /* getaddrinfo(): the resolver turns "which address, which port" into a list
     * of socket addresses. AI_PASSIVE: addresses to bind() a server to; with no
     * host (no -a), the "any" address of each family. Still no socket. */
    struct addrinfo *res, hints = {.ai_flags = AI_PASSIVE, .ai_family = opt.family,
                                   .ai_socktype = SOCK_STREAM};
    before_getaddrinfo();
    int rc = getaddrinfo(opt.address, opt.port, &hints, &res);
    if (rc != 0)
        getaddrinfo_failed(rc); /* exit 1 */
    struct addrinfo *order[MAX_CANDIDATES];
    int n = after_getaddrinfo(res, order); /* by default the IPv6 "any" address first */

    /* Try the candidates until one binds (as Beej's server.c does). */
    int lfd = -1, err = 0, i;
    for (i = 0; i < n; i++) {
        const struct addrinfo *ai = order[i];
        /* socket(): its family comes from the candidate, not from the code. */
        before_socket(ai);
        int s = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (s < 0) {
            err = socket_failed(ai); /* e.g. no IPv6 on this host: the next candidate */
            continue;
        }
        after_socket(ai, s);
        /* IPV6_V6ONLY: 0 lets this IPv6 socket take IPv4 clients too (dual stack);
         * 1 (-6) keeps it IPv6 only. Set it: the default (bindv6only) varies. */
        if (ai->ai_family == AF_INET6) {
            int v6only = opt.family == AF_INET6;
            before_v6only(s, v6only);
            if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0)
                fail("setsockopt(IPV6_V6ONLY)");
            after_v6only(s, v6only);
        }
        /* SO_REUSEADDR (-r): bind() even while old connections linger (tcpserver1.c). */
        if (opt.reuse) {
            int one = 1;
            before_reuseaddr(s);
            if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                fail("setsockopt(SO_REUSEADDR)");
            after_reuseaddr(s);
        }
        /* bind(): claim the candidate's address and port. In use, or not an
         * address of this machine: close this socket, try the next candidate. */
        before_bind(s, ai);
        if (bind(s, ai->ai_addr, ai->ai_addrlen) < 0) {
            err = bind_failed(s, ai); /* the log says why */
            close(s);
            continue;
        }
        after_bind(s, ai);
        lfd = s;
        break;
    }
    if (lfd < 0)
        no_candidate_bound(err); /* exit 1, with the last failure's likely cause */

    /* listen(): from now on the kernel answers SYNs on this port by itself and
     * queues the completed connections (about `backlog`) until accept(). */
    before_listen(lfd, order[i]);
    if (listen(lfd, opt.backlog) < 0)
        fail("listen");
    after_listen(lfd, order[i]);
    freeaddrinfo(res); /* done with the candidates */

    serve_clients(lfd); /* for ever: accept, recv, send, close, one client at a time */
}

/*
 * Serving: exactly tcpserver1.c's loop. accept() the oldest connection the
 * kernel has completed, recv() what the client sent, send() it back,
 * close(); then the next client. While we talk to one, the kernel queues
 * the others: one client at a time.
 */
_Noreturn static void serve_clients(int lfd)
{
    static unsigned char buf[65536];
    for (;;) {
        /* accept(): the oldest completed connection (or sleep until one comes),
         * as a NEW socket with its own fd; lfd goes on listening. */
        before_accept(lfd);
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof peer;
        int cfd = accept(lfd, (struct sockaddr *)&peer, &peerlen);
        if (cfd < 0) {
            accept_failed(lfd); /* not fatal: wait for the next client */
            continue;
        }
        after_accept(lfd, cfd, &peer);

        /* recv(): the bytes that have arrived (sleeping until some do); 0: the client closed. */
        before_recv(cfd, &peer);
        ssize_t n;
        while ((n = recv(cfd, buf, sizeof buf, 0)) < 0 && errno == EINTR)
            continue; /* a signal woke us: wait again */
        enum client_state client = after_recv(cfd, &peer, buf, n);

        /* send(): copy the echo into the kernel's send buffer, all of it (send_all loops). */
        if (client == CONNECTED) {
            before_send(cfd, &peer, n);
            if (send_all(cfd, buf, (size_t)n) < 0)
                client = send_failed(cfd);
            else
                after_send(cfd, n);
        }

        /* close(): our FIN goes out. Closing first, our end is FIN_WAIT_1, FIN_WAIT_2 once
         * the client's kernel ACKs it, then TIME_WAIT (owned by no process) after its FIN. */
        before_close(cfd, &peer, client);
        close(cfd);
        after_close(cfd, &peer);
    }
}

/* ==== The lesson ends here. Below: what step mode and the log say at each call (in lecture order), then the plumbing. ==== */

/* What the candidates' failures leave for later lines: the likely cause of
 * the last bind() failure (no_candidate_bound() repeats it), and whether a
 * bind() on an IPv6 address failed (after_listen(): why IPv4 only). */
static char bind_why[320];
static int v6_bind_failed;

static void before_getaddrinfo(void)
{
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());
    step(fmt("getaddrinfo(%s, \"%s\", AI_PASSIVE, %s)", opt.address ? opt.address : "NULL",
             opt.port, opt.family == AF_UNSPEC ? "AF_UNSPEC" : family_name(opt.family)),
         "no socket yet", "a list of candidate addresses; still no socket");
}

_Noreturn static void getaddrinfo_failed(int rc)
{
    fprintf(stderr, "%s: cannot resolve '%s' port '%s': %s\n", prog,
            opt.address ? opt.address : "(any)", opt.port, gai_strerror(rc));
    exit(1);
}

/* Every candidate, in the resolver's order, into ORDER; then the order we
 * try them in. glibc lists 0.0.0.0 before ::, but the IPv6 "any" socket can
 * serve both families, so by default it goes first. Returns how many. */
static int after_getaddrinfo(struct addrinfo *res, struct addrinfo **order)
{
    int n = 0, first_v6 = -1;
    for (struct addrinfo *ai = res; ai != NULL && n < MAX_CANDIDATES; ai = ai->ai_next) {
        char host[INET6_ADDRSTRLEN], serv[16];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, serv, sizeof serv,
                        NI_NUMERICHOST | NI_NUMERICSERV) != 0)
            snprintf(host, sizeof host, "?"), snprintf(serv, sizeof serv, "?");
        say("getaddrinfo candidate %d: %s address %s port %s", n + 1,
            family_name(ai->ai_family), host, serv);
        if (first_v6 < 0 && ai->ai_family == AF_INET6 && is_wildcard(ai->ai_addr))
            first_v6 = n;
        order[n++] = ai;
    }
    if (opt.family == AF_UNSPEC && first_v6 > 0) {
        struct addrinfo *v6 = order[first_v6];
        for (int k = first_v6; k > 0; k--)
            order[k] = order[k - 1];
        order[0] = v6;
    }
    char first[ADDR_TEXT_SIZE];
    if (opt.family == AF_UNSPEC && first_v6 >= 0)
        say("trying %s first: with IPV6_V6ONLY off, one IPv6 socket also takes IPv4 "
            "clients (dual stack)",
            addr_text(order[0]->ai_addr, first, sizeof first));
    else
        say("trying the candidates in getaddrinfo's order: the first that binds is used");
    return n;
}

static void before_socket(const struct addrinfo *ai)
{
    step(fmt("socket(%s, SOCK_STREAM, 0)", family_name(ai->ai_family)), "no socket",
         "a new fd with no address (netstat and ss do not list it)");
}

static int socket_failed(const struct addrinfo *ai)
{
    int err = errno;
    say("socket(%s): %s: %s", family_name(ai->ai_family), err_text(err),
        ai->ai_family == AF_INET6 ? "no IPv6 on this host, trying the next candidate"
                                  : "trying the next candidate");
    bind_why[0] = '\0';
    return err;
}

static void after_socket(const struct addrinfo *ai, int s)
{
    say("socket(%s, SOCK_STREAM, 0) = fd %d", family_name(ai->ai_family), s);
}

static void before_v6only(int s, int v6only)
{
    step(fmt("setsockopt(fd %d, IPV6_V6ONLY, %d)", s, v6only), fmt("fd %d has no address", s),
         v6only ? "this socket will take IPv6 clients only"
                : "this socket will also take IPv4 clients, as ::ffff:a.b.c.d");
}

static void after_v6only(int s, int v6only)
{
    say("setsockopt(fd %d, IPV6_V6ONLY, %d) ok", s, v6only);
}

static void before_reuseaddr(int s)
{
    step(fmt("setsockopt(fd %d, SO_REUSEADDR, 1)", s), fmt("fd %d has no address", s),
         "no visible change: bind() may now reuse a port old connections still hold");
}

static void after_reuseaddr(int s)
{
    say("setsockopt(fd %d, SO_REUSEADDR, 1) ok", s);
}

static void before_bind(int s, const struct addrinfo *ai)
{
    step_byte_order(ai->ai_addr);
    char here[ADDR_TEXT_SIZE];
    addr_text(ai->ai_addr, here, sizeof here);
    step(fmt("bind(fd %d, %s)", s, here), fmt("fd %d has no address", s),
         fmt("fd %d owns %s but is not LISTEN yet", s, here));
}

/* bind() failed: the log says why (and no_candidate_bound() repeats it).
 * Returns errno. */
static int bind_failed(int s, const struct addrinfo *ai)
{
    int err = errno;
    char here[ADDR_TEXT_SIZE];
    bind_advice(s, err, ai->ai_addr, bind_why, sizeof bind_why);
    say("bind(fd %d, %s): %s%s", s, addr_text(ai->ai_addr, here, sizeof here), err_text(err),
        bind_why);
    v6_bind_failed |= ai->ai_family == AF_INET6;
    return err;
}

static void after_bind(int s, const struct addrinfo *ai)
{
    char here[ADDR_TEXT_SIZE];
    say("bind(fd %d, %s) ok", s, addr_text(ai->ai_addr, here, sizeof here));
}

_Noreturn static void no_candidate_bound(int err)
{
    fprintf(stderr, "%s: no candidate address could be used: %s%s\n", prog, err_text(err),
            err == EADDRINUSE || err == EACCES ? bind_why : "");
    exit(1);
}

static void before_listen(int lfd, const struct addrinfo *ai)
{
    char here[ADDR_TEXT_SIZE];
    step(fmt("listen(fd %d, %d)", lfd, opt.backlog), fmt("fd %d bound, not listening", lfd),
         fmt("fd %d is LISTEN on %s", lfd, addr_text(ai->ai_addr, here, sizeof here)));
}

static void after_listen(int lfd, const struct addrinfo *ai)
{
    char here[ADDR_TEXT_SIZE];
    addr_text(ai->ai_addr, here, sizeof here);
    if (ai->ai_family == AF_INET6 && opt.family != AF_INET6 && is_wildcard(ai->ai_addr))
        say("listen(fd %d, %d) ok: fd %d is LISTEN on %s, dual stack: IPv4 and IPv6 clients",
            lfd, opt.backlog, lfd, here);
    else if (ai->ai_family == AF_INET6)
        say("listen(fd %d, %d) ok: fd %d is LISTEN on %s, IPv6 only", lfd, opt.backlog, lfd,
            here);
    else
        say("listen(fd %d, %d) ok: fd %d is LISTEN on %s, IPv4 only%s", lfd, opt.backlog, lfd,
            here,
            opt.family != AF_UNSPEC || opt.address != NULL ? ""
            : v6_bind_failed ? " (bind() on the IPv6 address failed: fell back to IPv4)"
                             : " (no IPv6 here: fell back to IPv4)");
}

static void before_accept(int lfd)
{
    struct sockaddr_storage me; /* the listening address, as getsockname() tells it */
    socklen_t melen = sizeof me;
    char here[ADDR_TEXT_SIZE] = "?";
    if (!opt.quiet)
        say("waiting in accept(fd %d) for a client", lfd);
    if (!opt.step)
        return; /* nothing to say without -S: no text made for every client */
    if (getsockname(lfd, (struct sockaddr *)&me, &melen) == 0)
        peer_text(&me, here, sizeof here);
    step(fmt("accept(fd %d)", lfd), fmt("fd %d LISTEN on %s", lfd, here),
         "a new fd for the oldest waiting connection (or sleep until one comes)");
}

/* EINTR, or a client that reset before we got to it (ECONNABORTED), or out
 * of fds: none of them is fatal. */
static void accept_failed(int lfd)
{
    if (errno != EINTR)
        fprintf(stderr, "%s: accept(fd %d): %s (going on)\n", prog, lfd, err_text(errno));
}

static void after_accept(int lfd, int cfd, const struct sockaddr_storage *peer)
{
    const struct sockaddr_in6 *p6 = (const struct sockaddr_in6 *)(const void *)peer;
    char them[ADDR_TEXT_SIZE];
    if (!opt.quiet)
        say("accept(fd %d) = fd %d: %s client %s%s", lfd, cfd, family_name(peer->ss_family),
            peer_text(peer, them, sizeof them),
            peer->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&p6->sin6_addr)
                ? " (an IPv4 client on our IPv6 socket: the kernel shows its address "
                  "mapped into IPv6, ::ffff:a.b.c.d)"
                : "");
}

static void before_recv(int cfd, const struct sockaddr_storage *peer)
{
    if (!opt.step)
        return; /* nothing to say without -S: no text made for every client */
    step(fmt("recv(fd %d)", cfd), connected_now(cfd, peer),
         "our buffer gets the waiting bytes (or we sleep until some arrive)");
}

static enum client_state after_recv(int cfd, const struct sockaddr_storage *peer,
                                    const unsigned char *buf, ssize_t n)
{
    int e = errno;
    char them[ADDR_TEXT_SIZE];
    peer_text(peer, them, sizeof them);
    if (n < 0) {
        say("recv(fd %d): %s: the client reset the connection", cfd, err_text(e));
        return CLIENT_RESET;
    }
    if (n == 0) {
        say("recv(fd %d) = 0: %s closed the connection without sending", cfd, them);
        return CLIENT_CLOSED;
    }
    if (!opt.quiet)
        say("recv(fd %d) = %ld bytes from %s: %s", cfd, (long)n, them,
            payload_text(buf, (size_t)n));
    return CONNECTED;
}

static void before_send(int cfd, const struct sockaddr_storage *peer, ssize_t n)
{
    if (!opt.step)
        return; /* nothing to say without -S: no text made for every client */
    step(fmt("send(fd %d, %ld bytes)", cfd, (long)n), connected_now(cfd, peer),
         "the bytes are queued; the client's kernel ACKs them");
}

static enum client_state send_failed(int cfd)
{
    say("send(fd %d): %s: the client is gone", cfd, err_text(errno));
    return CLIENT_RESET;
}

static void after_send(int cfd, ssize_t n)
{
    if (!opt.quiet)
        say("send(fd %d) = %ld bytes: echoed", cfd, (long)n);
}

/* What close() finds and does depends on how the exchange ended. After our
 * close() the kernel sends our FIN; our end is FIN_WAIT_1 until the
 * client's kernel ACKs it (Linux delays that ACK, up to ~40 ms), only then
 * FIN_WAIT_2. A client that closed first gets our FIN in answer to its own:
 * then our end is LAST_ACK, and the TIME_WAIT is the client's. */
static void before_close(int cfd, const struct sockaddr_storage *peer, enum client_state client)
{
    char them[ADDR_TEXT_SIZE];
    if (!opt.step)
        return; /* nothing to say without -S: no text made for every client */
    const char *call = fmt("close(fd %d)", cfd);
    peer_text(peer, them, sizeof them);
    if (client == CLIENT_CLOSED)
        step(call, fmt("fd %d CLOSE_WAIT: %s has closed its end (its FIN arrived)", cfd, them),
             "our FIN goes out: our end (no fd any more) is LAST_ACK until the client's "
             "kernel ACKs it, then gone; the client's end waits in TIME_WAIT");
    else if (client == CLIENT_RESET)
        step(call,
             fmt("fd %d: the connection was reset; the kernel has dropped it, only the fd is "
                 "left", cfd),
             "the fd is freed; nothing goes out");
    else
        step(call, connected_now(cfd, peer),
             "our FIN goes out: if the client is still there, our end (no fd any more) is "
             "FIN_WAIT_1, then FIN_WAIT_2 once the client's kernel ACKs our FIN (delayed ACK, "
             "up to ~40 ms), and the client's end is CLOSE_WAIT");
}

static void after_close(int cfd, const struct sockaddr_storage *peer)
{
    char them[ADDR_TEXT_SIZE];
    if (!opt.quiet)
        say("close(fd %d): done with %s", cfd, peer_text(peer, them, sizeof them));
}

/* ---- plumbing: options, formatting, errors ---- */

static void parse_options(int argc, char **argv)
{
    int c;
    opt.port = DEFAULT_PORT;
    opt.family = AF_UNSPEC;
    opt.backlog = DEFAULT_BACKLOG;
    /* --help is -h; any other --word is no option of ours (checked before
     * getopt, which would call it "unknown option --"). */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2] != '\0')
            usage_error("unknown option '%s': the options are single letters", argv[i]);
    }
    opterr = 0;
    while ((c = getopt(argc, argv, ":p:a:l:46rqSh")) != -1) {
        switch (c) {
        case 'p': check_port(opt.port = optarg); break;
        case 'a': opt.address = optarg; break;
        case 'l': opt.backlog = parse_count(optarg, "backlog", 0, 65535); break;
        case '4': opt.family = AF_INET; break;
        case '6': opt.family = AF_INET6; break;
        case 'r': opt.reuse = 1; break;
        case 'q': opt.quiet = 1; break;
        case 'S': opt.step = 1; break;
        case 'h': usage(stdout); exit(0);
        case ':': usage_error("option -%c needs an argument", optopt);
        default: usage_error("unknown option -%c", optopt);
        }
    }
    if (optind < argc && port_value(argv[optind]) > 0)
        usage_error("unexpected argument '%s': the port goes with -p: %s -p %s", argv[optind],
                    prog, argv[optind]);
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);

    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a reset client must not kill us in send() */
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-4 | -6] [-p PORT] [-a ADDRESS] [-l BACKLOG] [-r] [-q] [-S] [-h]\n"
            "Iterative TCP server like tcpserver1, but its address comes from\n"
            "getaddrinfo(): by default one IPv6 socket that also takes IPv4 clients.\n"
            "  -4          IPv4 only\n"
            "  -6          IPv6 only (IPV6_V6ONLY on: IPv4 clients are refused)\n"
            "  -p PORT     port number or service name (default %s)\n"
            "  -a ADDRESS  listen on this address or host name only, IPv4 or IPv6\n"
            "              (default: all interfaces)\n"
            "  -l BACKLOG  listen() backlog (default %d)\n"
            "  -r          set SO_REUSEADDR before bind()\n"
            "  -q          quiet: no line per client\n"
            "  -S          step mode: before each socket call, say what it will\n"
            "              change in lsof/netstat/ss, and wait for Enter\n"
            "  -h          this help\n",
            prog, DEFAULT_PORT, DEFAULT_BACKLOG);
}

_Noreturn static void usage_error(const char *f, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, f);
    vfprintf(stderr, f, ap);
    va_end(ap);
    fprintf(stderr, " (try '%s -h')\n", prog);
    exit(2);
}

_Noreturn static void fail(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, err_text(errno));
    exit(1);
}

/* One line of the log on stdout. When stdout fails (its reader is gone:
 * EPIPE, as SIGPIPE is ignored; or a full disk), say so once on stderr and
 * log no more: the clients are still served. */
static void say(const char *f, ...)
{
    static int log_lost;
    va_list ap;
    if (log_lost)
        return;
    printf("%s: ", prog);
    va_start(ap, f);
    vprintf(f, ap);
    va_end(ap);
    putchar('\n'); /* line buffered: the line is written here */
    if (ferror(stdout) || fflush(stdout) == EOF) {
        fprintf(stderr, "%s: stdout: %s: the log is lost from here on; still serving\n", prog,
                err_text(errno));
        log_lost = 1;
    }
}

/* Step mode (-S): say what the next call is, what lsof/netstat/ss show now
 * and what they will show after it, then wait for Enter. Nothing without
 * -S. At the end of standard input, run on without pauses. */
static void step(const char *call, const char *now, const char *after)
{
    if (!opt.step)
        return;
    say("step: next: %s", call);
    say("step:   now:   %s", now);
    say("step:   after: %s", after);
    say("step: press Enter to run it");
    for (;;) {
        char c;
        ssize_t r = read(STDIN_FILENO, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            say("step: standard input is closed: running on without pauses");
            opt.step = 0;
            return;
        }
        if (c == '\n')
            return;
    }
}

/* printf into one of 8 static buffers, in turn: only for the arguments of
 * one step() call, never to keep (the 9th call overwrites it). */
static const char *fmt(const char *f, ...)
{
    static char bufs[8][256];
    static unsigned next;
    char *b = bufs[next++ % 8];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, sizeof bufs[0], f, ap);
    va_end(ap);
    return b;
}

/* As lsof prints it: 127.0.0.1:12333, [::1]:12333, [::ffff:127.0.0.1]:43706,
 * and *:12333 for "any address" of either family. */
static char *addr_text(const struct sockaddr *sa, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    snprintf(buf, size, "?");
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        snprintf(buf, size, "(address family %d)", sa->sa_family);
    else if (is_wildcard(sa))
        snprintf(buf, size, "*:%u", port_of(sa));
    else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
        if (inet_ntop(AF_INET, &s->sin_addr, host, sizeof host) != NULL)
            snprintf(buf, size, "%s:%u", host, port_of(sa));
    } else {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)sa;
        if (inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host) != NULL)
            snprintf(buf, size, "[%s]:%u", host, port_of(sa));
    }
    return buf;
}

static char *peer_text(const struct sockaddr_storage *peer, char *buf, size_t size)
{
    return addr_text((const struct sockaddr *)peer, buf, size);
}

/* The "now" of a connected socket: the client may close its end at any moment. */
static const char *connected_now(int cfd, const struct sockaddr_storage *peer)
{
    char them[ADDR_TEXT_SIZE];
    return fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", cfd,
               peer_text(peer, them, sizeof them));
}

static unsigned port_of(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
}

static int is_wildcard(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr ==
               htonl(INADDR_ANY);
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
    return sa->sa_family == AF_INET6 &&
           memcmp(&s6->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0;
}

static const char *family_name(int family)
{
    return family == AF_INET ? "AF_INET" : family == AF_INET6 ? "AF_INET6" : "AF_?";
}

/* Why bind() failed, in WHY (empty if we cannot tell): the likely cause of
 * ERR. EADDRINUSE has two causes, told apart by asking the port itself; a
 * dual-stack socket on "any" also clashes with IPv4 sockets on the port,
 * so for it 127.0.0.1 is asked too. */
static void bind_advice(int fd, int err, const struct sockaddr *sa, char *why, size_t size)
{
    unsigned port = port_of(sa);
    int listens = err == EADDRINUSE ? port_listens(sa) : -1, v6only = 1;
    socklen_t len = sizeof v6only;
    if (err == EADDRINUSE && listens != 1 && sa->sa_family == AF_INET6 && is_wildcard(sa) &&
        getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) == 0 && !v6only) {
        struct sockaddr_in v4;
        memset(&v4, 0, sizeof v4);
        v4.sin_family = AF_INET;
        v4.sin_port = htons((unsigned short)port);
        int v4_listens = port_listens((struct sockaddr *)&v4);
        listens = v4_listens == 1 ? 1 : (listens == 0 || v4_listens == 0) ? 0 : -1;
    }
    why[0] = '\0';
    if (err == EADDRINUSE && listens == 1)
        snprintf(why, size,
                 " (a server is listening on port %u now: lsof -n -P -i TCP:%u -s TCP:LISTEN "
                 "shows which)", port, port);
    else if (err == EADDRINUSE && listens == 0)
        snprintf(why, size,
                 " (no server listens on port %u, but connections of an earlier server linger, "
                 "e.g. in TIME_WAIT for 60 s: -r restarts at once only if the earlier server "
                 "used -r too; else wait. ss -tan 'sport = :%u' shows them)", port, port);
    else if (err == EADDRINUSE)
        snprintf(why, size,
                 " (a server listens on port %u, or connections of an earlier one linger: "
                 "ss -tan 'sport = :%u' shows which)", port, port);
    else if (err == EADDRNOTAVAIL)
        snprintf(why, size, " (not an address of this machine)");
    else if (err == EACCES)
        snprintf(why, size, " (ports below 1024 need root)");
}

/* Does a server listen on SA's port? connect() to it (to 127.0.0.1 or ::1
 * for "any address"), non-blocking, 500 ms at most: a listener completes
 * the handshake, or leaves us waiting when its queue is full; a port
 * without one answers RST (refused), even while old connections linger on
 * it. 1: a listener, 0: none, -1: cannot tell. */
static int port_listens(const struct sockaddr *sa)
{
    struct sockaddr_storage to;
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    memcpy(&to, sa, len);
    if (is_wildcard(sa) && sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)(void *)&to)->sin6_addr = in6addr_loopback;
    else if (is_wildcard(sa))
        ((struct sockaddr_in *)(void *)&to)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(sa->sa_family, SOCK_STREAM, 0), answer = -1;
    if (s < 0)
        return -1;
    if (s < FD_SETSIZE && fcntl(s, F_SETFL, O_NONBLOCK) == 0) {
        if (connect(s, (struct sockaddr *)&to, len) == 0)
            answer = 1;
        else if (errno == ECONNREFUSED)
            answer = 0;
        else if (errno == EINPROGRESS) {
            fd_set w;
            FD_ZERO(&w);
            FD_SET(s, &w);
            struct timeval wait = {0, 500000};
            int r = select(s + 1, NULL, &w, NULL, &wait), e = 0;
            socklen_t elen = sizeof e;
            if (r == 0)
                answer = 1; /* still connecting: a listener with a full queue */
            else if (r > 0 && getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &elen) == 0)
                answer = e == 0 ? 1 : e == ECONNREFUSED ? 0 : -1;
        }
    }
    close(s);
    return answer;
}

/* The port number S spells, in decimal digits only; 0 if it is none. */
static long port_value(const char *s)
{
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > 65535)
            return 0;
    }
    return v;
}

/* -p: a number from 1 to 65535, or a service name from /etc/services. */
static void check_port(const char *s)
{
    if (port_value(s) > 0)
        return;
    if (*s == '\0' || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        usage_error("bad port '%s': must be a number from 1 to 65535 or a service name", s);
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(NULL, s, &hints, &res) != 0)
        usage_error("bad port '%s': not a number from 1 to 65535, nor a TCP service in "
                    "/etc/services",
                    s);
    freeaddrinfo(res);
}

static int parse_count(const char *s, const char *what, int min, int max)
{
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > max)
            usage_error("bad %s '%s': must be a number from %d to %d", what, s, min, max);
    }
    if (*s == '\0' || v < min)
        usage_error("bad %s '%s': must be a number from %d to %d", what, s, min, max);
    return (int)v;
}

static int send_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = send(fd, p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Data from the network, shown safely: quoted, escaped, at most 60 bytes. */
static const char *payload_text(const unsigned char *p, size_t n)
{
    static char out[512];
    size_t o = 0, shown = n < 60 ? n : 60;
    out[o++] = '"';
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = p[i];
        if (c == '\n')
            o += (size_t)sprintf(out + o, "\\n");
        else if (c == '\r')
            o += (size_t)sprintf(out + o, "\\r");
        else if (c == '\t')
            o += (size_t)sprintf(out + o, "\\t");
        else if (c == '"' || c == '\\')
            o += (size_t)sprintf(out + o, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)sprintf(out + o, "\\x%02x", c);
    }
    out[o++] = '"';
    out[o] = '\0';
    if (shown < n)
        sprintf(out + o, "... (%lu more bytes)", (unsigned long)(n - shown));
    return out;
}

/* Step mode (-S), before bind/connect/sendto: the port in both byte orders.
 * htons() put it into the sockaddr in network order (big end first), which
 * is how it travels in the TCP/UDP header; an int of the same value lies
 * in this machine's memory in its own order. */
static void step_byte_order(const struct sockaddr *sa)
{
    size_t at = sa->sa_family == AF_INET6 ? offsetof(struct sockaddr_in6, sin6_port)
                                          : offsetof(struct sockaddr_in, sin_port);
    unsigned char net[2], host[sizeof(int)];
    const int one = 1;
    uint16_t nport;
    if (!opt.step)
        return;
    memcpy(net, (const unsigned char *)sa + at, sizeof net);
    memcpy(&nport, net, sizeof nport);
    int port = ntohs(nport);
    memcpy(host, &port, sizeof host);
    say("step: byte order: port %d = 0x%04x: the sockaddr holds %02x %02x (htons: network "
        "order, big end first, as on the wire); an int %d in this machine's memory: "
        "%02x %02x %02x %02x (%s)", port, port, net[0], net[1], port, host[0], host[1],
        host[2], host[3], *(const unsigned char *)&one ? "little endian" : "big endian");
}

/* An error's meaning and its errno name, for every message: "Connection
 * refused (ECONNREFUSED)". The name is what man pages (connect(2), bind(2),
 * send(2)) list, the same on every system; the words differ between C
 * libraries. One of 4 static buffers, in turn: for one message at a time. */
static const char *err_text(int e)
{
    static char bufs[4][160];
    static unsigned next;
    char *b = bufs[next++ % 4];
    const char *name = NULL;
    switch (e) {
    case EACCES: name = "EACCES"; break;
    case EADDRINUSE: name = "EADDRINUSE"; break;
    case EADDRNOTAVAIL: name = "EADDRNOTAVAIL"; break;
    case EAFNOSUPPORT: name = "EAFNOSUPPORT"; break;
    case EAGAIN: name = "EAGAIN"; break;
    case EBADF: name = "EBADF"; break;
    case ECONNABORTED: name = "ECONNABORTED"; break;
    case ECONNREFUSED: name = "ECONNREFUSED"; break;
    case ECONNRESET: name = "ECONNRESET"; break;
    case EHOSTUNREACH: name = "EHOSTUNREACH"; break;
    case EINTR: name = "EINTR"; break;
    case EINVAL: name = "EINVAL"; break;
    case EIO: name = "EIO"; break;
    case EMFILE: name = "EMFILE"; break;
    case EMSGSIZE: name = "EMSGSIZE"; break;
    case ENETUNREACH: name = "ENETUNREACH"; break;
    case ENFILE: name = "ENFILE"; break;
    case ENOBUFS: name = "ENOBUFS"; break;
    case ENOENT: name = "ENOENT"; break;
    case ENOMEM: name = "ENOMEM"; break;
    case ENOSPC: name = "ENOSPC"; break;
    case ENOTCONN: name = "ENOTCONN"; break;
    case ENOTSOCK: name = "ENOTSOCK"; break;
    case EPERM: name = "EPERM"; break;
    case EPIPE: name = "EPIPE"; break;
    case EPROTONOSUPPORT: name = "EPROTONOSUPPORT"; break;
    case ETIMEDOUT: name = "ETIMEDOUT"; break;
    default: break;
    }
    if (name != NULL)
        snprintf(b, sizeof bufs[0], "%s (%s)", strerror(e), name);
    else
        snprintf(b, sizeof bufs[0], "%s (errno %d)", strerror(e), e);
    return b;
}
