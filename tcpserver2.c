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
 *   cc -o tcpserver2 tcpserver2.c
 *   ./tcpserver2                 IPv4 and IPv6 clients, port 12333
 *   ./tcpserver2 -4              IPv4 only      ./tcpserver2 -6   IPv6 only
 *   ./tcpserver2 -a ::1          one address    ./tcpserver2 -p http  a service name
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

static const char *prog = "tcpserver2";
static int quiet;     /* -q: no line per message (for benchmarks) */
static int step_mode; /* -S: pause before each socket call */
static int log_lost;  /* stdout failed (a closed pipe, a full disk): no more log */

/* Address text ("*:12333", "[::1]:12333") lives in the caller's buffer of
 * this size, never in a shared static one. */
#define ADDR_TEXT_SIZE (INET6_ADDRSTRLEN + 16)

_Noreturn static void usage_error(const char *fmt, ...);
_Noreturn static void fail(const char *what);
static void usage(FILE *out);
static void say(const char *fmt, ...);
static const char *fmt(const char *f, ...);
static void step(const char *call, const char *now, const char *after);
static void bind_advice(int fd, int err, const struct sockaddr *sa, char *why, size_t size);
static int port_listens(const struct sockaddr *sa);
static unsigned port_of(const struct sockaddr *sa);
enum ending { ECHOED, CLIENT_CLOSED, RESET }; /* how an exchange with a client ended */
static const char *close_now(int cfd, const char *them, enum ending ending);
static const char *close_after(enum ending ending);
static long port_value(const char *s);
static void check_port(const char *s);
static int parse_count(const char *s, const char *what, int min, int max);
static int is_wildcard(const struct sockaddr *sa);
static int send_all(int fd, const unsigned char *p, size_t n);
static const char *family_name(int family);
static char *addr_text(const struct sockaddr *sa, char *buf, size_t size);
static const char *payload_text(const unsigned char *p, size_t n);

int main(int argc, char **argv)
{
    const char *address = NULL, *port = DEFAULT_PORT;
    int family = AF_UNSPEC; /* -4: AF_INET, -6: AF_INET6 */
    int backlog = DEFAULT_BACKLOG, reuse = 0, opt;

    /* --help is -h; any other --word is no option of ours (checked before
     * getopt, which would call it "unknown option --"). */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2] != '\0')
            usage_error("unknown option '%s': the options are single letters", argv[i]);
    }
    opterr = 0;
    while ((opt = getopt(argc, argv, ":p:a:l:46rqSh")) != -1) {
        switch (opt) {
        case 'p': check_port(port = optarg); break;
        case 'a': address = optarg; break;
        case 'l': backlog = parse_count(optarg, "backlog", 0, 65535); break;
        case '4': family = AF_INET; break;
        case '6': family = AF_INET6; break;
        case 'r': reuse = 1; break;
        case 'q': quiet = 1; break;
        case 'S': step_mode = 1; break;
        case 'h': usage(stdout); return 0;
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
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());

    /* getaddrinfo(): AI_PASSIVE asks for addresses to bind() a server to;
     * with no host that means "any address" of each family it can offer. */
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    step(fmt("getaddrinfo(%s, \"%s\", AI_PASSIVE, %s)", address ? address : "NULL", port,
             family == AF_UNSPEC ? "AF_UNSPEC" : family_name(family)),
         "no socket yet", "a list of candidate addresses; still no socket");
    int rc = getaddrinfo(address, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot resolve '%s' port '%s': %s\n", prog,
                address ? address : "(any)", port, gai_strerror(rc));
        return 1;
    }

    /* Every candidate, in the resolver's order; then the order we try
     * them in. glibc lists 0.0.0.0 before ::, but the IPv6 "any" socket
     * can serve both families, so by default it goes first. */
    struct addrinfo *order[64];
    int n = 0, first_v6 = -1;
    for (struct addrinfo *ai = res; ai != NULL && n < 64; ai = ai->ai_next, n++) {
        order[n] = ai;
        char host[INET6_ADDRSTRLEN], serv[16];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, serv, sizeof serv,
                        NI_NUMERICHOST | NI_NUMERICSERV) != 0)
            snprintf(host, sizeof host, "?"), snprintf(serv, sizeof serv, "?");
        say("getaddrinfo candidate %d: %s address %s port %s", n + 1,
            family_name(ai->ai_family), host, serv);
        if (first_v6 < 0 && ai->ai_family == AF_INET6 && is_wildcard(ai->ai_addr))
            first_v6 = n;
    }
    if (family == AF_UNSPEC && first_v6 > 0) {
        struct addrinfo *v6 = order[first_v6];
        for (int k = first_v6; k > 0; k--)
            order[k] = order[k - 1];
        order[0] = v6;
    }
    char here[ADDR_TEXT_SIZE], why[320] = "";
    if (family == AF_UNSPEC && first_v6 >= 0)
        say("trying %s first: with IPV6_V6ONLY off, one IPv6 socket also takes IPv4 "
            "clients (dual stack)",
            addr_text(order[0]->ai_addr, here, sizeof here));
    else
        say("trying the candidates in getaddrinfo's order: the first that binds is used");

    int lfd = -1, err = 0, v6_bind_failed = 0;
    const struct addrinfo *chosen = NULL;
    for (int i = 0; i < n && lfd < 0; i++) {
        const struct addrinfo *ai = order[i];
        addr_text(ai->ai_addr, here, sizeof here);
        why[0] = '\0';

        /* socket(): the family comes from the candidate, not from the code. */
        step(fmt("socket(%s, SOCK_STREAM, 0)", family_name(ai->ai_family)), "no socket",
             "a new fd with no address (netstat and ss do not list it)");
        int s = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (s < 0) {
            err = errno;
            say("socket(%s): %s: %s", family_name(ai->ai_family), strerror(err),
                ai->ai_family == AF_INET6 ? "no IPv6 on this host, trying the next candidate"
                                          : "trying the next candidate");
            continue;
        }
        say("socket(%s, SOCK_STREAM, 0) = fd %d", family_name(ai->ai_family), s);

        /* IPV6_V6ONLY: 0 lets this IPv6 socket take IPv4 connections too
         * (dual stack); 1 (-6) keeps it IPv6 only. Set it explicitly: the
         * system default (Linux: net.ipv6.bindv6only) varies. */
        if (ai->ai_family == AF_INET6) {
            int v6only = family == AF_INET6;
            step(fmt("setsockopt(fd %d, IPV6_V6ONLY, %d)", s, v6only), fmt("fd %d has no address", s),
                 v6only ? "this socket will take IPv6 clients only"
                        : "this socket will also take IPv4 clients, as ::ffff:a.b.c.d");
            if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0)
                fail("setsockopt(IPV6_V6ONLY)");
            say("setsockopt(fd %d, IPV6_V6ONLY, %d) ok", s, v6only);
        }
        if (reuse) {
            int one = 1;
            step(fmt("setsockopt(fd %d, SO_REUSEADDR, 1)", s), fmt("fd %d has no address", s),
                 "no visible change: bind() may now reuse a port old connections still hold");
            if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                fail("setsockopt(SO_REUSEADDR)");
            say("setsockopt(fd %d, SO_REUSEADDR, 1) ok", s);
        }

        step(fmt("bind(fd %d, %s)", s, here), fmt("fd %d has no address", s),
             fmt("fd %d owns %s but is not LISTEN yet", s, here));
        if (bind(s, ai->ai_addr, ai->ai_addrlen) < 0) {
            err = errno;
            bind_advice(s, err, ai->ai_addr, why, sizeof why);
            say("bind(fd %d, %s): %s%s", s, here, strerror(err), why);
            v6_bind_failed |= ai->ai_family == AF_INET6;
            close(s);
            continue;
        }
        say("bind(fd %d, %s) ok", s, here);

        step(fmt("listen(fd %d, %d)", s, backlog), fmt("fd %d bound, not listening", s),
             fmt("fd %d is LISTEN on %s", s, here));
        if (listen(s, backlog) < 0) {
            err = errno;
            say("listen(fd %d): %s", s, strerror(err));
            close(s);
            continue;
        }
        lfd = s;
        chosen = ai;
    }
    if (lfd < 0) {
        fprintf(stderr, "%s: no candidate address could be used: %s%s\n", prog, strerror(err),
                err == EADDRINUSE || err == EACCES ? why : "");
        freeaddrinfo(res);
        return 1;
    }
    addr_text(chosen->ai_addr, here, sizeof here);
    if (chosen->ai_family == AF_INET6 && family != AF_INET6 && is_wildcard(chosen->ai_addr))
        say("listen(fd %d, %d) ok: fd %d is LISTEN on %s, dual stack: IPv4 and IPv6 clients",
            lfd, backlog, lfd, here);
    else if (chosen->ai_family == AF_INET6)
        say("listen(fd %d, %d) ok: fd %d is LISTEN on %s, IPv6 only", lfd, backlog, lfd, here);
    else
        say("listen(fd %d, %d) ok: fd %d is LISTEN on %s, IPv4 only%s", lfd, backlog, lfd, here,
            family != AF_UNSPEC || address != NULL ? ""
            : v6_bind_failed ? " (bind() on the IPv6 address failed: fell back to IPv4)"
                             : " (no IPv6 here: fell back to IPv4)");
    freeaddrinfo(res);

    /* From here on, the same one-client-at-a-time loop as tcpserver1.c. */
    static unsigned char buf[65536];
    for (;;) {
        if (!quiet)
            say("waiting in accept(fd %d) for a client", lfd);
        step(fmt("accept(fd %d)", lfd), fmt("fd %d LISTEN on %s", lfd, here),
             "a new fd for the oldest waiting connection (or sleep until one comes)");
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof peer;
        int cfd = accept(lfd, (struct sockaddr *)&peer, &peerlen);
        if (cfd < 0) {
            if (errno != EINTR)
                fprintf(stderr, "%s: accept(fd %d): %s (going on)\n", prog, lfd, strerror(errno));
            continue;
        }
        char them[ADDR_TEXT_SIZE];
        addr_text((struct sockaddr *)&peer, them, sizeof them);
        if (!quiet) {
            const struct sockaddr_in6 *p6 = (const struct sockaddr_in6 *)(const void *)&peer;
            say("accept(fd %d) = fd %d: %s client %s%s", lfd, cfd, family_name(peer.ss_family),
                them,
                peer.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&p6->sin6_addr)
                    ? " (an IPv4 client on our IPv6 socket: the kernel shows its address "
                      "mapped into IPv6, ::ffff:a.b.c.d)"
                    : "");
        }

        step(fmt("recv(fd %d)", cfd),
             fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", cfd, them),
             "our buffer gets the waiting bytes (or we sleep until some arrive)");
        ssize_t got;
        enum ending ending = ECHOED;
        do
            got = recv(cfd, buf, sizeof buf, 0);
        while (got < 0 && errno == EINTR);
        if (got < 0) {
            say("recv(fd %d): %s: the client reset the connection", cfd, strerror(errno));
            ending = RESET;
        } else if (got == 0) {
            say("recv(fd %d) = 0: %s closed the connection without sending", cfd, them);
            ending = CLIENT_CLOSED;
        } else {
            if (!quiet)
                say("recv(fd %d) = %ld bytes from %s: %s", cfd, (long)got, them,
                    payload_text(buf, (size_t)got));
            step(fmt("send(fd %d, %ld bytes)", cfd, (long)got),
                 fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", cfd,
                     them),
                 "the bytes are queued; the client's kernel ACKs them");
            if (send_all(cfd, buf, (size_t)got) < 0) {
                say("send(fd %d): %s: the client is gone", cfd, strerror(errno));
                ending = RESET;
            } else if (!quiet)
                say("send(fd %d) = %ld bytes: echoed", cfd, (long)got);
        }

        step(fmt("close(fd %d)", cfd), close_now(cfd, them, ending), close_after(ending));
        close(cfd);
        if (!quiet)
            say("close(fd %d): done with %s", cfd, them);
    }
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

/* What close() finds and does depends on how the exchange ended: the
 * step claims for each ending. */
static const char *close_now(int cfd, const char *them, enum ending ending)
{
    if (ending == CLIENT_CLOSED)
        return fmt("fd %d CLOSE_WAIT: %s has closed its end (its FIN arrived)", cfd, them);
    if (ending == RESET)
        return fmt("fd %d: the connection was reset; the kernel has dropped it, only the fd is "
                   "left", cfd);
    return fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", cfd, them);
}

static const char *close_after(enum ending ending)
{
    if (ending == CLIENT_CLOSED)
        return "our FIN goes out: our end (no fd any more) is LAST_ACK until the client's "
               "kernel ACKs it, then gone; the client's end waits in TIME_WAIT";
    if (ending == RESET)
        return "the fd is freed; nothing goes out";
    return "our FIN goes out: if the client is still there, our end (no fd any more) is "
           "FIN_WAIT_1, then FIN_WAIT_2 once the client's kernel ACKs our FIN (delayed ACK, "
           "up to ~40 ms), and the client's end is CLOSE_WAIT";
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
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
    exit(1);
}

/* One line of the log on stdout. When stdout fails (its reader is gone:
 * EPIPE, as SIGPIPE is ignored; or a full disk), say so once on stderr and
 * log no more: the clients are still served. */
static void say(const char *f, ...)
{
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
                strerror(errno));
        log_lost = 1;
    }
}

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

static void step(const char *call, const char *now, const char *after)
{
    if (!step_mode)
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
            step_mode = 0;
            return;
        }
        if (c == '\n')
            return;
    }
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

static int is_wildcard(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr ==
               htonl(INADDR_ANY);
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
    return sa->sa_family == AF_INET6 &&
           memcmp(&s6->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0;
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

static const char *family_name(int family)
{
    return family == AF_INET ? "AF_INET" : family == AF_INET6 ? "AF_INET6" : "AF_?";
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

static unsigned port_of(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
}

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
