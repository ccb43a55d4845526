/*
 * tcpserver1.c - the basic TCP server (the C version of tcpserver1.py).
 *
 * The lecture order: socket() -> bind() -> listen() -> then for ever:
 * accept() -> recv() -> send() -> close(). One client at a time: while this
 * program talks to one client, the kernel completes the handshakes of the
 * next ones by itself and queues them until accept() takes them. That queue
 * is not service: see tcpserver3.c (select) and multi.c (fork) for the cure.
 *
 * Read main() first: it is the lesson, each call with what the kernel does
 * there. Below it: what step mode and the log say at each call (in the same
 * order), then the plumbing (options, formatting, errors).
 *
 *   cc -o tcpserver1 tcpserver1.c
 *   ./tcpserver1                 all interfaces, port 12333, backlog 5
 *   ./tcpserver1 -l 1            listen(fd, 1): the walkthrough's queue lesson
 *   ./tcpserver1 -r              SO_REUSEADDR: restart despite old connections
 *   ./tcpserver1 -S              step mode: pause before each socket call
 *
 * Watch it from another terminal:
 *   lsof -n -P -p PID     netstat -an -p tcp (macOS)     ss -tanp (Linux)
 * after listen(): LISTEN on *:12333; after accept(): a second fd,
 * ESTABLISHED; after our close(): our end FIN_WAIT_1, then FIN_WAIT_2 (no
 * process owns it: lsof no longer shows it), the client's CLOSE_WAIT; once
 * the client closes too, our end TIME_WAIT for 60 s (it holds the port: a
 * restart without -r gets "Address already in use").
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

#define DEFAULT_PORT 12333
#define DEFAULT_BACKLOG 5

/* Address text ("*:12333", "127.0.0.1:43706") lives in the caller's buffer
 * of this size, never in a shared static one. */
#define ADDR_TEXT_SIZE (INET6_ADDRSTRLEN + 16)

static const char *prog = "tcpserver1";

/* The command line, filled by parse_options(). */
static struct options {
    struct sockaddr_in me;     /* -a ADDRESS (default: all interfaces) and -p PORT */
    char here[ADDR_TEXT_SIZE]; /* me as lsof shows it: *:12333, 127.0.0.1:12333 */
    int port;                  /* -p PORT */
    int backlog;               /* -l BACKLOG: listen()'s queue */
    int reuse;                 /* -r: SO_REUSEADDR before bind() */
    int quiet;                 /* -q: no line per message (for benchmarks) */
    int step;                  /* -S: pause before each socket call */
} opt;

/* How the exchange with a client ended: what close() will find. */
enum client_state { CONNECTED, CLIENT_CLOSED, CLIENT_RESET };

/* what step mode and the log say at each call, in lecture order */
static void before_socket(void);
static void after_socket(int lfd);
static void before_reuseaddr(int lfd);
static void after_reuseaddr(int lfd);
static void before_bind(int lfd);
_Noreturn static void bind_failed(int lfd);
static void after_bind(int lfd);
static void before_listen(int lfd);
static void after_listen(int lfd);
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
static void after_close(int cfd, const struct sockaddr_storage *peer, enum client_state client);
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
static int port_listens(const struct sockaddr_in *sa);
static long port_value(const char *s);
static int parse_port(const char *s);
static int parse_count(const char *s, const char *what, int min, int max);
static void resolve_ipv4(const char *host, int port, struct sockaddr_in *out);
static int send_all(int fd, const unsigned char *p, size_t n);
static const char *payload_text(const unsigned char *p, size_t n);

int main(int argc, char **argv)
{
    parse_options(argc, argv); /* -p -a -l -r -q -S into opt; a usage error exits 2 */

    /* socket(): a TCP endpoint in the kernel, reached through a file
     * descriptor. AF_INET: IPv4 addresses; SOCK_STREAM: TCP. */
    before_socket();
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        fail("socket");
    after_socket(lfd);

    /* SO_REUSEADDR (-r): let bind() take the port even while connections of an
     * earlier server linger on it. Off by default: "Address already in use". */
    if (opt.reuse) {
        int one = 1;
        before_reuseaddr(lfd);
        if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            fail("setsockopt(SO_REUSEADDR)");
        after_reuseaddr(lfd);
    }

    /* bind(): claim the address and port (opt.me: the port in network byte
     * order). Not LISTEN yet: the kernel still answers a client's SYN with RST. */
    before_bind(lfd);
    if (bind(lfd, (struct sockaddr *)&opt.me, sizeof opt.me) < 0)
        bind_failed(lfd); /* exit 1, with the likely cause */
    after_bind(lfd);

    /* listen(): from now on the kernel answers SYNs on this port by itself and
     * queues the completed connections (about `backlog`) until accept(). */
    before_listen(lfd);
    if (listen(lfd, opt.backlog) < 0)
        fail("listen");
    after_listen(lfd);

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
        after_close(cfd, &peer, client);
    }
}

/* ==== The lesson ends here. Below: what step mode and the log say at each call (in lecture order), then the plumbing. ==== */

static void before_socket(void)
{
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());
    step("socket(AF_INET, SOCK_STREAM, 0)", "no socket yet",
         "a new fd: a TCP socket with no address (netstat and ss do not list it)");
}

static void after_socket(int lfd)
{
    say("socket(AF_INET, SOCK_STREAM, 0) = fd %d", lfd);
}

static void before_reuseaddr(int lfd)
{
    step(fmt("setsockopt(fd %d, SO_REUSEADDR, 1)", lfd), fmt("fd %d has no address", lfd),
         "no visible change: bind() may now reuse a port old connections still hold");
}

static void after_reuseaddr(int lfd)
{
    say("setsockopt(fd %d, SO_REUSEADDR, 1) ok", lfd);
}

static void before_bind(int lfd)
{
    step_byte_order((const struct sockaddr *)&opt.me);
    step(fmt("bind(fd %d, %s)", lfd, opt.here),
         fmt("fd %d has no address: ss -tln does not show port %d", lfd, opt.port),
         fmt("fd %d owns %s but is not LISTEN yet (a connect() is still refused)", lfd,
             opt.here));
}

/* bind() failed: one line on stderr that names the likely cause, exit 1.
 * EADDRINUSE has two causes, told apart by asking the port itself. */
_Noreturn static void bind_failed(int lfd)
{
    int e = errno, listens = e == EADDRINUSE ? port_listens(&opt.me) : -1;
    char why[320] = "";
    if (e == EADDRINUSE && listens == 1)
        snprintf(why, sizeof why,
                 " (a server is listening on port %d now: lsof -n -P -i TCP:%d -s TCP:LISTEN "
                 "shows which)", opt.port, opt.port);
    else if (e == EADDRINUSE && listens == 0)
        snprintf(why, sizeof why,
                 " (no server listens on port %d, but connections of an earlier server linger, "
                 "e.g. in TIME_WAIT for 60 s: -r restarts at once only if the earlier server "
                 "used -r too; else wait. ss -tan 'sport = :%d' shows them)", opt.port, opt.port);
    else if (e == EADDRINUSE)
        snprintf(why, sizeof why,
                 " (a server listens on port %d, or connections of an earlier one linger: "
                 "ss -tan 'sport = :%d' shows which)", opt.port, opt.port);
    else if (e == EADDRNOTAVAIL)
        snprintf(why, sizeof why, " (that address is not one of this machine's)");
    else if (e == EACCES)
        snprintf(why, sizeof why, " (ports below 1024 need root)");
    fprintf(stderr, "%s: bind(fd %d, %s): %s%s\n", prog, lfd, opt.here, err_text(e), why);
    exit(1);
}

static void after_bind(int lfd)
{
    say("bind(fd %d, %s) ok: the port is ours, but not LISTEN yet", lfd, opt.here);
}

static void before_listen(int lfd)
{
    step(fmt("listen(fd %d, %d)", lfd, opt.backlog),
         fmt("fd %d bound to %s, not listening: ss -tln does not show it", lfd, opt.here),
         fmt("fd %d is LISTEN: lsof 'TCP %s (LISTEN)', ss -tln 'LISTEN 0 %d'", lfd, opt.here,
             opt.backlog));
}

static void after_listen(int lfd)
{
    say("listen(fd %d, %d) ok: fd %d is LISTEN on %s", lfd, opt.backlog, lfd, opt.here);
}

static void before_accept(int lfd)
{
    if (!opt.quiet)
        say("waiting in accept(fd %d) for a client", lfd);
    if (!opt.step)
        return; /* nothing to say without -S: no text made for every client */
    step(fmt("accept(fd %d)", lfd),
         fmt("fd %d LISTEN; ss -tln Recv-Q counts connections waiting for accept()", lfd),
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
    struct sockaddr_storage mine; /* the new socket's own address: the listener's port */
    socklen_t minelen = sizeof mine;
    char us[ADDR_TEXT_SIZE], them[ADDR_TEXT_SIZE];
    if (opt.quiet)
        return;
    if (getsockname(cfd, (struct sockaddr *)&mine, &minelen) < 0)
        memset(&mine, 0, sizeof mine);
    say("accept(fd %d) = fd %d: %s <- %s (a new socket for this client; fd %d keeps listening)",
        lfd, cfd, addr_text((struct sockaddr *)&mine, us, sizeof us),
        peer_text(peer, them, sizeof them), lfd);
}

static void before_recv(int cfd, const struct sockaddr_storage *peer)
{
    char them[ADDR_TEXT_SIZE];
    if (!opt.step)
        return; /* nothing to say without -S: no text made for every client */
    step(fmt("recv(fd %d)", cfd),
         fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed); ss Recv-Q "
             "counts bytes waiting", cfd, peer_text(peer, them, sizeof them)),
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

static void after_close(int cfd, const struct sockaddr_storage *peer, enum client_state client)
{
    char them[ADDR_TEXT_SIZE];
    if (opt.quiet)
        return;
    peer_text(peer, them, sizeof them);
    if (client == CLIENT_CLOSED)
        say("close(fd %d): done with %s (it closed first: our end LAST_ACK until its kernel "
            "ACKs our FIN, then gone; its end TIME_WAIT)", cfd, them);
    else if (client == CLIENT_RESET)
        say("close(fd %d): done with %s (the connection was reset: only the fd was left to "
            "close)", cfd, them);
    else
        say("close(fd %d): done with %s (if it is still connected: our end FIN_WAIT_1, then "
            "FIN_WAIT_2 once the client's kernel ACKs our FIN; its end CLOSE_WAIT until it "
            "closes too)", cfd, them);
}

/* ---- plumbing: options, formatting, errors ---- */

static void parse_options(int argc, char **argv)
{
    const char *address = NULL; /* NULL: all interfaces, like '' in Python */
    int c;
    opt.port = DEFAULT_PORT;
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
    while ((c = getopt(argc, argv, ":p:a:l:rqSh")) != -1) {
        switch (c) {
        case 'p': opt.port = parse_port(optarg); break;
        case 'a': address = optarg; break;
        case 'l': opt.backlog = parse_count(optarg, "backlog", 0, 65535); break;
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
    /* A client that resets the connection while we send would raise
     * SIGPIPE, which kills a process by default. We want the error. */
    signal(SIGPIPE, SIG_IGN);
    resolve_ipv4(address, opt.port, &opt.me);
    addr_text((struct sockaddr *)&opt.me, opt.here, sizeof opt.here);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-p PORT] [-a ADDRESS] [-l BACKLOG] [-r] [-q] [-S] [-h]\n"
            "Iterative TCP server: accepts one client at a time, echoes one message\n"
            "back, closes the connection, then accepts the next client.\n"
            "  -p PORT     TCP port to listen on (default %d)\n"
            "  -a ADDRESS  listen on this local address or host name only\n"
            "              (default: all interfaces, shown as *)\n"
            "  -l BACKLOG  listen() backlog (default %d)\n"
            "  -r          set SO_REUSEADDR before bind()\n"
            "  -q          quiet: no line per message\n"
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

/* As lsof prints it: 127.0.0.1:12333, *:12333 for "any address", in BUF
 * (ADDR_TEXT_SIZE bytes), which it returns. */
static char *addr_text(const struct sockaddr *sa, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    snprintf(buf, size, "?");
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
        if (s->sin_addr.s_addr == htonl(INADDR_ANY))
            snprintf(buf, size, "*:%u", ntohs(s->sin_port));
        else if (inet_ntop(AF_INET, &s->sin_addr, host, sizeof host) != NULL)
            snprintf(buf, size, "%s:%u", host, ntohs(s->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)sa;
        if (inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host) != NULL)
            snprintf(buf, size, "[%s]:%u", host, ntohs(s->sin6_port));
    } else
        snprintf(buf, size, "(address family %d)", sa->sa_family);
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

/* Does a server listen on SA's port? connect() to it (to 127.0.0.1 for
 * "any address"), non-blocking, 500 ms at most: a listener completes the
 * handshake, or leaves us waiting when its queue is full; a port without
 * one answers RST (refused), even while old connections linger on it.
 * 1: a listener, 0: none, -1: cannot tell. */
static int port_listens(const struct sockaddr_in *sa)
{
    struct sockaddr_in to = *sa;
    if (to.sin_addr.s_addr == htonl(INADDR_ANY))
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM, 0), answer = -1;
    if (s < 0)
        return -1;
    if (s < FD_SETSIZE && fcntl(s, F_SETFL, O_NONBLOCK) == 0) {
        if (connect(s, (struct sockaddr *)&to, sizeof to) == 0)
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

static int parse_port(const char *s)
{
    long v = port_value(s);
    if (v == 0)
        usage_error("bad port '%s': must be a number from 1 to 65535", s);
    return (int)v;
}

/* A whole number from min to max, in decimal digits only. */
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

/* The address to bind(): HOST's IPv4 address, or "any" (0.0.0.0) for NULL;
 * the port in network byte order (htons: most significant byte first). */
static void resolve_ipv4(const char *host, int port, struct sockaddr_in *out)
{
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((unsigned short)port); /* network byte order */
    out->sin_addr.s_addr = htonl(INADDR_ANY);   /* 0.0.0.0: every interface */
    if (host == NULL)
        return;

    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot resolve '%s': %s\n", prog, host, gai_strerror(rc));
        exit(1);
    }
    out->sin_addr = ((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
}

/* send() may take fewer bytes than offered: keep sending the rest. */
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
