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
 * Read main() first: getaddrinfo(), the order we try its candidates in, the
 * loop that tries them until one binds (as in Beej's server.c), then
 * listen(); serve_clients() is tcpserver1.c's accept loop. That is the
 * lesson. Below the marker line that ends it: what step mode (-S) and
 * the log say at each call, in lecture order (make bare removes it); then
 * the options. The instrument's plumbing (errors, the log, step mode,
 * address and payload text, option parsing) is lab.h's, next to this file.
 *
 *   cc -o tcpserver2 tcpserver2.c
 *   ./tcpserver2                 IPv4 and IPv6 clients, port 12333
 *   ./tcpserver2 -4              IPv4 only      ./tcpserver2 -6   IPv6 only
 *   ./tcpserver2 -a ::1          one address    ./tcpserver2 -p http  a service name
 *
 * Watch it from another terminal:
 *   lsof -n -P -p PID     netstat -an -p tcp (macOS)     ss -tanp (Linux)
 * by default one listening socket, IPv6: lsof 'IPv6 ... TCP *:12333
 * (LISTEN)', ss 'LISTEN ... *:12333' (our log: [::]:12333); an IPv4
 * client's connection shows as [::ffff:127.0.0.1]. With -4: IPv4
 * '0.0.0.0:12333'; with -6: '[::]:12333'.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lab.h"

#define PROG "tcpserver2"
#define DEFAULT_PORT "12333"
#define DEFAULT_BACKLOG 5
#define MAX_CANDIDATES 64 /* getaddrinfo() results tried, at most */

/* The command line, filled by parse_options(). */
static struct options {
    const char *address; /* -a ADDRESS; NULL: all interfaces, like '' in Python */
    const char *port;    /* -p PORT: a number or a service name */
    int family;          /* AF_UNSPEC; -4: AF_INET; -6: AF_INET6 */
    int backlog;         /* -l BACKLOG: listen()'s queue */
    int reuse;           /* -r: SO_REUSEADDR before bind() */
} opt = {.port = DEFAULT_PORT, .family = AF_UNSPEC, .backlog = DEFAULT_BACKLOG};

/* How the exchange with a client ended: what close() will find. */
enum client_state { CONNECTED, CLIENT_CLOSED, CLIENT_RESET };

/* the lesson, after main() */
_Noreturn static void serve_clients(int lfd);
static int send_all(int fd, const unsigned char *p, size_t n);
/* what step mode and the log say at each call, in lecture order */
static void before_getaddrinfo(void);
static void after_getaddrinfo(const struct addrinfo *res, const struct addrinfo *first);
static void before_socket(const struct addrinfo *ai);
static void socket_failed(const struct addrinfo *ai);
static void after_socket(const struct addrinfo *ai, int s);
static void before_v6only(int s, int v6only);
static void after_v6only(int s, int v6only);
static void before_reuseaddr(int s);
static void after_reuseaddr(int s);
static void before_bind(int s, const struct addrinfo *ai);
static void bind_failed(int s, const struct addrinfo *ai);
static void after_bind(int s, const struct addrinfo *ai);
static void candidates_failed(void);
static void before_listen(int lfd, const struct addrinfo *ai);
static void after_listen(int lfd, const struct addrinfo *ai);
static void before_accept(int lfd);
static void accept_failed(int lfd);
static void after_accept(int lfd, int cfd, const struct sockaddr_storage *peer);
static void before_recv(int cfd, const struct sockaddr_storage *peer);
static void after_recv(int cfd, const struct sockaddr_storage *peer, const unsigned char *buf,
                       ssize_t n);
static void before_send(int cfd, const struct sockaddr_storage *peer, ssize_t n);
static void send_failed(int cfd);
static void after_send(int cfd, ssize_t n, enum client_state client);
static void before_close(int cfd, const struct sockaddr_storage *peer, enum client_state client);
static void after_close(int cfd, const struct sockaddr_storage *peer);
/* the options */
static void parse_options(int argc, char **argv);
static void usage(FILE *out);

int main(int argc, char **argv)
{
    parse_options(argc, argv); /* -4 -6 -p -a -l -r into opt; a usage error exits 2 */

    /* T14: getaddrinfo(): the resolver turns "which address, which port" into a
     * list of socket addresses. AI_PASSIVE: addresses to bind() a server to;
     * with no host (no -a), the "any" address of each family. Still no socket. */
    struct addrinfo *res, hints = {.ai_flags = AI_PASSIVE, .ai_family = opt.family,
                                   .ai_socktype = SOCK_STREAM};
    before_getaddrinfo();
    int rc = getaddrinfo(opt.address, opt.port, &hints, &res);
    if (rc != 0) { /* its own error codes, not errno: gai_strerror() words them */
        fprintf(stderr, "%s: cannot resolve '%s' port '%s': %s\n", PROG,
                opt.address ? opt.address : "(any)", opt.port, gai_strerror(rc));
        exit(1);
    }

    /* The order we try them in. glibc lists 0.0.0.0 before ::, but the IPv6
     * "any" socket can serve both families, so by default (no -4, no -6) the
     * first IPv6 "any" candidate moves to the front. */
    struct addrinfo *order[MAX_CANDIDATES] = {NULL};
    int n = 0, dual = -1;
    for (struct addrinfo *ai = res; ai != NULL && n < MAX_CANDIDATES; ai = ai->ai_next) {
        const struct sockaddr_in6 *a6 = (const void *)ai->ai_addr;
        if (dual < 0 && ai->ai_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr))
            dual = n;
        order[n++] = ai;
    }
    if (opt.family == AF_UNSPEC && dual > 0) { /* to the front; those before it move down */
        struct addrinfo *v6 = order[dual];
        for (; dual > 0; dual--)
            order[dual] = order[dual - 1];
        order[0] = v6;
    }
    after_getaddrinfo(res, order[0]);

    /* Try the candidates until one binds (as Beej's server.c does). */
    int lfd = -1, err = 0, i;
    for (i = 0; i < n; i++) {
        const struct addrinfo *ai = order[i];
        /* socket(): its family comes from the candidate, not from the code. */
        before_socket(ai);
        int s = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (s < 0) { /* e.g. no IPv6 on this host: the next candidate */
            err = errno;
            socket_failed(ai);
            continue;
        }
        after_socket(ai, s);
        /* T14: IPV6_V6ONLY: 0 lets this IPv6 socket take IPv4 clients too (dual
         * stack); 1 (-6) keeps it IPv6 only. Set it: the default (bindv6only) varies. */
        if (ai->ai_family == AF_INET6) {
            int v6only = opt.family == AF_INET6;
            before_v6only(s, v6only);
            if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0)
                fail("setsockopt(IPV6_V6ONLY)");
            after_v6only(s, v6only);
        }
        /* T7: SO_REUSEADDR (-r): bind() even while old connections linger. */
        if (opt.reuse) {
            int one = 1;
            before_reuseaddr(s);
            if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                fail("setsockopt(SO_REUSEADDR)");
            after_reuseaddr(s);
        }
        /* T7, N3: bind(): claim the candidate's address and port (in network
         * byte order in the sockaddr). In use, or not an address of this
         * machine: close this socket, try the next candidate. */
        before_bind(s, ai);
        if (bind(s, ai->ai_addr, ai->ai_addrlen) < 0) {
            err = errno;
            bind_failed(s, ai);
            close(s);
            continue;
        }
        after_bind(s, ai);
        lfd = s;
        break;
    }
    if (lfd < 0) { /* exit 1 with the last candidate's failure */
        errno = err;
        candidates_failed();
        fail("no candidate address could be used");
    }

    /* T2, T9, N2: listen(): from now on the kernel answers SYNs on this port by
     * itself and queues the completed connections (about `backlog`) until accept(). */
    before_listen(lfd, order[i]);
    if (listen(lfd, opt.backlog) < 0)
        fail("listen");
    after_listen(lfd, order[i]);
    freeaddrinfo(res); /* done with the candidates */

    serve_clients(lfd); /* for ever: accept, recv, send, close, one client at a time */
}

/*
 * Serving: exactly tcpserver1.c's loop (T11). accept() the oldest connection
 * the kernel has completed, recv() what the client sent, send() it back,
 * close(); then the next client. While we talk to one, the kernel queues
 * the others: one client at a time.
 */
_Noreturn static void serve_clients(int lfd)
{
    static unsigned char buf[65536];
    for (;;) {
        /* T4: accept(): the oldest completed connection (or sleep until one
         * comes), as a NEW socket with its own fd; lfd goes on listening. */
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof peer;
        before_accept(lfd);
        int cfd = accept(lfd, (struct sockaddr *)&peer, &peerlen);
        if (cfd < 0) { accept_failed(lfd); continue; } /* EINTR, ECONNABORTED, EMFILE: not fatal */
        after_accept(lfd, cfd, &peer);

        /* N6, N7: recv(): the bytes that have arrived (sleeping until some do).
         * 0: the client closed (its FIN came); -1: it reset the connection. */
        before_recv(cfd, &peer);
        ssize_t n;
        while ((n = recv(cfd, buf, sizeof buf, 0)) < 0 && errno == EINTR)
            continue; /* a signal woke us: wait again */
        enum client_state client = n > 0 ? CONNECTED : n == 0 ? CLIENT_CLOSED : CLIENT_RESET;
        after_recv(cfd, &peer, buf, n);

        /* N5: send(): copy the echo into the kernel's send buffer, all of it
         * (send_all loops). A client that is gone: ECONNRESET or EPIPE. */
        if (client == CONNECTED) {
            before_send(cfd, &peer, n);
            if (send_all(cfd, buf, (size_t)n) < 0) {
                send_failed(cfd);
                client = CLIENT_RESET;
            }
            after_send(cfd, n, client);
        }

        /* T5, T6: close(): our FIN goes out. Closing first, our end is FIN_WAIT_1,
         * FIN_WAIT_2 once the client's kernel ACKs it, then TIME_WAIT (owned by
         * no process) after its FIN. N9: with bytes unread (a message longer than
         * buf), RST instead: the client's next recv() or send() gets ECONNRESET. */
        before_close(cfd, &peer, client);
        close(cfd);
        after_close(cfd, &peer);
    }
}

/* send() until all n bytes are in the kernel's send buffer: send() may take
 * fewer than asked (N5), and a signal may interrupt it. 0, or -1 with errno. */
static int send_all(int fd, const unsigned char *p, size_t n)
{
    for (ssize_t r; n > 0; p += r, n -= (size_t)r) {
        while ((r = send(fd, p, n, 0)) < 0 && errno == EINTR)
            continue; /* a signal woke us: send again */
        if (r < 0)
            return -1;
    }
    return 0;
}

/* ==== The lesson ends here. Below: what step mode and the log say at each call, in lecture order (make bare removes it), then the options. ==== */

/* What the candidates' failures leave for later lines: the likely cause of
 * the last bind() failure (candidates_failed() repeats it), and whether a
 * bind() on an IPv6 address failed (after_listen(): why IPv4 only). */
static char bind_why[320];
static int v6_bind_failed;

static void before_getaddrinfo(void)
{
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());
    if (!lab.step)
        return;
    step(fmt("getaddrinfo(%s, \"%s\", AI_PASSIVE, %s)", opt.address ? opt.address : "NULL",
             opt.port, family_name(opt.family)),
         "no socket yet", "a list of candidate addresses; still no socket");
}

/* Every candidate, in the resolver's order; then the order main() tries
 * them in: FIRST is the one it tries first. */
static void after_getaddrinfo(const struct addrinfo *res, const struct addrinfo *first)
{
    const struct sockaddr_in6 *a6 = NULL;
    char here[ADDR_TEXT_SIZE];
    int k = 0;
    for (const struct addrinfo *ai = res; ai != NULL && k < MAX_CANDIDATES; ai = ai->ai_next) {
        char host[INET6_ADDRSTRLEN], serv[16];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, serv, sizeof serv,
                        NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
            snprintf(host, sizeof host, "?");
            snprintf(serv, sizeof serv, "?");
        }
        say("getaddrinfo candidate %d: %s address %s port %s", ++k, family_name(ai->ai_family),
            host, serv);
    }
    if (first != NULL && first->ai_family == AF_INET6)
        a6 = (const void *)first->ai_addr;
    if (a6 != NULL && opt.family == AF_UNSPEC && IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr))
        say("trying %s first: with IPV6_V6ONLY off, one IPv6 socket also takes IPv4 "
            "clients (dual stack)",
            addr_text(first->ai_addr, here, sizeof here));
    else
        say("trying the candidates in getaddrinfo's order: the first that binds is used");
}

static void before_socket(const struct addrinfo *ai)
{
    if (!lab.step)
        return;
    step(fmt("socket(%s, SOCK_STREAM, 0)", family_name(ai->ai_family)), "no socket",
         "a new fd with no address (netstat and ss do not list it)");
}

static void socket_failed(const struct addrinfo *ai)
{
    say("socket(%s): %s: %s", family_name(ai->ai_family), err_text(errno),
        ai->ai_family == AF_INET6 ? "no IPv6 on this host, trying the next candidate"
                                  : "trying the next candidate");
    bind_why[0] = '\0';
}

static void after_socket(const struct addrinfo *ai, int s)
{
    say("socket(%s, SOCK_STREAM, 0) = fd %d", family_name(ai->ai_family), s);
}

static void before_v6only(int s, int v6only)
{
    if (!lab.step)
        return;
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
    if (!lab.step)
        return;
    step(fmt("setsockopt(fd %d, SO_REUSEADDR, 1)", s), fmt("fd %d has no address", s),
         "no visible change: bind() may now reuse a port old connections still hold");
}

static void after_reuseaddr(int s)
{
    say("setsockopt(fd %d, SO_REUSEADDR, 1) ok", s);
}

static void before_bind(int s, const struct addrinfo *ai)
{
    char here[ADDR_TEXT_SIZE];
    if (!lab.step)
        return;
    step_byte_order(ai->ai_addr);
    addr_text(ai->ai_addr, here, sizeof here);
    step(fmt("bind(fd %d, %s)", s, here), fmt("fd %d has no address", s),
         fmt("fd %d owns %s but is not LISTEN yet", s, here));
}

/* bind() failed: the log says why; main() tries the next candidate, and
 * candidates_failed() repeats the likely cause if none is left. (A
 * dual-stack socket on [::] also clashes with IPv4 sockets on its port:
 * bind_advice()'s probe socket, of the same family, clashes the same way.) */
static void bind_failed(int s, const struct addrinfo *ai)
{
    int e = errno;
    char here[ADDR_TEXT_SIZE];
    snprintf(bind_why, sizeof bind_why, "%s", bind_advice(e, ai->ai_addr));
    say("bind(fd %d, %s): %s%s", s, addr_text(ai->ai_addr, here, sizeof here), err_text(e),
        bind_why);
    v6_bind_failed |= ai->ai_family == AF_INET6;
    errno = e;
}

static void after_bind(int s, const struct addrinfo *ai)
{
    char here[ADDR_TEXT_SIZE];
    say("bind(fd %d, %s) ok", s, addr_text(ai->ai_addr, here, sizeof here));
}

/* No candidate bound: fail()'s line gets the last bind() failure's likely
 * cause, for a port in use or below 1024. */
static void candidates_failed(void)
{
    explain("no candidate address could be used",
            errno == EADDRINUSE || errno == EACCES ? "%s" : NULL, bind_why);
}

static void before_listen(int lfd, const struct addrinfo *ai)
{
    char here[ADDR_TEXT_SIZE];
    if (!lab.step)
        return;
    step(fmt("listen(fd %d, %d)", lfd, opt.backlog), fmt("fd %d bound, not listening", lfd),
         fmt("fd %d is LISTEN on %s", lfd, addr_text(ai->ai_addr, here, sizeof here)));
}

static void after_listen(int lfd, const struct addrinfo *ai)
{
    const struct sockaddr_in6 *a6 = (const void *)ai->ai_addr;
    char here[ADDR_TEXT_SIZE];
    addr_text(ai->ai_addr, here, sizeof here);
    if (ai->ai_family == AF_INET6 && opt.family != AF_INET6 &&
        IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr))
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
    char here[ADDR_TEXT_SIZE];
    /* The pause first, then the line: accept() runs once Enter is pressed.
     * Without -S no step text is made for every client. */
    if (lab.step)
        step(fmt("accept(fd %d)", lfd),
             fmt("fd %d LISTEN on %s", lfd, end_text(lfd, OUR_END, here, sizeof here)),
             "a new fd for the oldest waiting connection (or sleep until one comes)");
    if (!lab.quiet)
        say("waiting in accept(fd %d) for a client", lfd);
}

/* EINTR, or a client that reset before we got to it (ECONNABORTED), or out
 * of fds: none of them is fatal. */
static void accept_failed(int lfd)
{
    if (errno != EINTR)
        fprintf(stderr, "%s: accept(fd %d): %s (going on)\n", lab.prog, lfd, err_text(errno));
}

static void after_accept(int lfd, int cfd, const struct sockaddr_storage *peer)
{
    const struct sockaddr_in6 *p6 = (const void *)peer;
    char them[ADDR_TEXT_SIZE];
    if (!lab.quiet)
        say("accept(fd %d) = fd %d: %s client %s%s", lfd, cfd, family_name(peer->ss_family),
            addr_text(peer, them, sizeof them),
            peer->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&p6->sin6_addr)
                ? " (an IPv4 client on our IPv6 socket: the kernel shows its address "
                  "mapped into IPv6, ::ffff:a.b.c.d)"
                : "");
}

static void before_recv(int cfd, const struct sockaddr_storage *peer)
{
    char them[ADDR_TEXT_SIZE];
    if (!lab.step)
        return; /* nothing to say without -S: no text made for every client */
    step(fmt("recv(fd %d)", cfd),
         fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", cfd,
             addr_text(peer, them, sizeof them)),
         "our buffer gets the waiting bytes (or we sleep until some arrive)");
}

static void after_recv(int cfd, const struct sockaddr_storage *peer, const unsigned char *buf,
                       ssize_t n)
{
    char them[ADDR_TEXT_SIZE];
    if (n < 0)
        say("recv(fd %d): %s: the client reset the connection", cfd, err_text(errno));
    else if (n == 0)
        say("recv(fd %d) = 0: %s closed the connection without sending", cfd,
            addr_text(peer, them, sizeof them));
    else if (!lab.quiet)
        say("recv(fd %d) = %ld bytes from %s: %s", cfd, (long)n,
            addr_text(peer, them, sizeof them), payload_text(buf, (size_t)n));
}

static void before_send(int cfd, const struct sockaddr_storage *peer, ssize_t n)
{
    char them[ADDR_TEXT_SIZE];
    if (!lab.step)
        return; /* nothing to say without -S: no text made for every client */
    step(fmt("send(fd %d, %ld bytes)", cfd, (long)n),
         fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", cfd,
             addr_text(peer, them, sizeof them)),
         "the bytes are queued; the client's kernel ACKs them");
}

static void send_failed(int cfd)
{
    say("send(fd %d): %s: the client is gone", cfd, err_text(errno));
}

static void after_send(int cfd, ssize_t n, enum client_state client)
{
    if (!lab.quiet && client == CONNECTED) /* else send_failed() said it */
        say("send(fd %d) = %ld bytes: echoed", cfd, (long)n);
}

/* N9: the bytes before_close() found unread (lab.h's unread_bytes(), a peek:
 * close() still finds them), for after_close(); -1: not looked (-q). */
static long unread = -1;

/* What close() finds and does depends on how the exchange ended. After our
 * close() the kernel sends our FIN; our end is FIN_WAIT_1 until the
 * client's kernel ACKs it (Linux delays that ACK, up to ~40 ms), only then
 * FIN_WAIT_2. A client that closed first gets our FIN in answer to its own:
 * then our end is LAST_ACK, and the TIME_WAIT is the client's. But with
 * bytes unread, close() sends RST (N9): looked for first, unless -q. */
static void before_close(int cfd, const struct sockaddr_storage *peer, enum client_state client)
{
    char them[ADDR_TEXT_SIZE];
    unread = lab.quiet || client != CONNECTED ? -1 : unread_bytes(cfd);
    if (!lab.step)
        return; /* nothing more without -S: no text made for every client */
    const char *call = fmt("close(fd %d)", cfd);
    addr_text(peer, them, sizeof them);
    if (client == CONNECTED && unread > 0)
        step(call,
             fmt("fd %d ESTABLISHED with %s; at least %ld bytes arrived that we never read "
                 "(ss Recv-Q)", cfd, them, unread),
             "RST goes out, not FIN (Linux and macOS): the connection is gone at once, no "
             "FIN_WAIT, no TIME_WAIT; the client's next recv() or send() fails with ECONNRESET");
    else if (client == CLIENT_CLOSED)
        step(call, fmt("fd %d CLOSE_WAIT: %s has closed its end (its FIN arrived)", cfd, them),
             "our FIN goes out: our end (no fd any more) is LAST_ACK until the client's "
             "kernel ACKs it, then gone; the client's end waits in TIME_WAIT");
    else if (client == CLIENT_RESET)
        step(call,
             fmt("fd %d: the connection was reset; the kernel has dropped it, only the fd is "
                 "left", cfd),
             "the fd is freed; nothing goes out");
    else
        step(call,
             fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", cfd,
                 them),
             "our FIN goes out: if the client is still there, our end (no fd any more) is "
             "FIN_WAIT_1, then FIN_WAIT_2 once the client's kernel ACKs our FIN (delayed ACK, "
             "up to ~40 ms), and the client's end is CLOSE_WAIT; bytes still arriving from "
             "it will be answered with RST");
    if (client == CONNECTED && !lab.quiet)
        unread = unread_bytes(cfd); /* again: bytes may have come during the pause */
}

static void after_close(int cfd, const struct sockaddr_storage *peer)
{
    char them[ADDR_TEXT_SIZE];
    if (lab.quiet)
        return;
    addr_text(peer, them, sizeof them);
    if (unread > 0)
        say("close(fd %d): done with %s: at least %ld bytes unread: " RST_ON_CLOSE, cfd,
            them, unread);
    else
        say("close(fd %d): done with %s", cfd, them);
}

/* ==== Options and usage ==== */

/* -p: a number from 1 to 65535, or a service name from /etc/services. */
static void check_port(const char *s)
{
    struct addrinfo *res, hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    if (port_value(s) > 0)
        return;
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        usage_error("bad port '%s': must be a number from 1 to 65535 or a service name", s);
    if (getaddrinfo(NULL, s, &hints, &res) != 0)
        usage_error("bad port '%s': not a number from 1 to 65535, nor a TCP service in "
                    "/etc/services", s);
    freeaddrinfo(res);
}

static void parse_options(int argc, char **argv)
{
    int c;
    lab_start(PROG, LAB_SERVER, usage);
    while ((c = next_option(argc, argv, "p:a:l:46r")) != -1) {
        switch (c) {
        case 'p': check_port(opt.port = optarg); break;
        case 'a': check_host_word(opt.address = optarg); break;
        case 'l': opt.backlog = parse_count(optarg, "backlog", 0, 65535); break;
        case '4': opt.family = AF_INET; break;
        case '6': opt.family = AF_INET6; break;
        case 'r': opt.reuse = 1; break;
        default: break; /* -h, -S, -q and the errors: next_option()'s */
        }
    }
    if (optind < argc && port_value(argv[optind]) > 0)
        usage_error("unexpected argument '%s': the port goes with -p: %s -p %s", argv[optind],
                    PROG, argv[optind]);
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-4 | -6] [-p PORT] [-a ADDRESS] [-l BACKLOG] [-r]"
            " [-q] [-S]" /* narration */
            " [-h]\n"
            "Iterative TCP server like tcpserver1, but its address comes from\n"
            "getaddrinfo(): by default one IPv6 socket that also takes IPv4 clients.\n"
            "  -4          IPv4 only\n"
            "  -6          IPv6 only (IPV6_V6ONLY on: IPv4 clients are refused)\n"
            "  -p PORT     port number or service name (default %s)\n"
            "  -a ADDRESS  listen on this address or host name only, IPv4 or IPv6\n"
            "              (default: all interfaces)\n"
            "  -l BACKLOG  listen() backlog (default %d)\n"
            "  -r          set SO_REUSEADDR before bind()\n"
            "  -q          quiet: no line per client\n" /* narration */
            "  -S          step mode: before each socket call, say what it will\n" /* narration */
            "              change in lsof/netstat/ss, and wait for Enter\n" /* narration */
            "  -h          this help\n",
            PROG, DEFAULT_PORT, DEFAULT_BACKLOG);
}
