/*
 * tcpserver1.c - the basic TCP server (the C version of tcpserver1.py).
 *
 * The lecture order: socket() -> bind() -> listen() -> then for ever:
 * accept() -> recv() -> send() -> close(). One client at a time: while this
 * program talks to one client, the kernel completes the handshakes of the
 * next ones by itself and queues them until accept() takes them. That queue
 * is not service: see tcpserver3.c (select) and multi.c (fork) for the cure.
 *
 *   cc -o tcpserver1 tcpserver1.c
 *   ./tcpserver1                 all interfaces, port 12333, backlog 5
 *   ./tcpserver1 -l 1            listen(fd, 1): the walkthrough's queue lesson
 *   ./tcpserver1 -r              SO_REUSEADDR: restart despite old connections
 *   ./tcpserver1 -S              step mode: pause before each socket call
 *
 * Watch it from another terminal:
 *   lsof -n -P -p PID     netstat -an -p tcp (macOS)     ss -tanp (Linux)
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

#define DEFAULT_PORT 12333
#define DEFAULT_BACKLOG 5

static const char *prog = "tcpserver1";
static int quiet;     /* -q: no line per message (for benchmarks) */
static int step_mode; /* -S: pause before each socket call */
static int log_lost;  /* stdout failed (a closed pipe, a full disk): no more log */

/* Address text ("*:12333", "127.0.0.1:43706", "[::1]:12333") lives in the
 * caller's buffer of this size, never in a shared static one. */
#define ADDR_TEXT_SIZE (INET6_ADDRSTRLEN + 16)

_Noreturn static void usage_error(const char *fmt, ...);
_Noreturn static void fail(const char *what);
static void usage(FILE *out);
static void say(const char *fmt, ...);
static const char *fmt(const char *f, ...);
static void step(const char *call, const char *now, const char *after);
_Noreturn static void bind_failed(int fd, const struct sockaddr_in *me);
static int port_listens(const struct sockaddr_in *sa);
static long port_value(const char *s);
enum ending { ECHOED, CLIENT_CLOSED, RESET }; /* how an exchange with a client ended */
static const char *close_now(int cfd, const char *them, enum ending ending);
static const char *close_after(enum ending ending);
static const char *close_done(enum ending ending);
static int parse_port(const char *s);
static int parse_count(const char *s, const char *what, int min, int max);
static void resolve_ipv4(const char *host, int port, struct sockaddr_in *out);
static int send_all(int fd, const unsigned char *p, size_t n);
static char *addr_text(const struct sockaddr *sa, char *buf, size_t size);
static const char *payload_text(const unsigned char *p, size_t n);

int main(int argc, char **argv)
{
    const char *address = NULL; /* NULL: all interfaces, like '' in Python */
    int port = DEFAULT_PORT, backlog = DEFAULT_BACKLOG, reuse = 0, opt;

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
    while ((opt = getopt(argc, argv, ":p:a:l:rqSh")) != -1) {
        switch (opt) {
        case 'p': port = parse_port(optarg); break;
        case 'a': address = optarg; break;
        case 'l': backlog = parse_count(optarg, "backlog", 0, 65535); break;
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
    /* A client that resets the connection while we send would raise
     * SIGPIPE, which kills a process by default. We want the error. */
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in me;
    resolve_ipv4(address, port, &me);
    char here[ADDR_TEXT_SIZE];
    addr_text((struct sockaddr *)&me, here, sizeof here);
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());

    /* socket(): a TCP endpoint in the kernel, reached through a file
     * descriptor. AF_INET: IPv4 addresses; SOCK_STREAM: TCP. */
    step("socket(AF_INET, SOCK_STREAM, 0)", "no socket yet",
         "a new fd: a TCP socket with no address (netstat and ss do not list it)");
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        fail("socket");
    say("socket(AF_INET, SOCK_STREAM, 0) = fd %d", lfd);

    /* SO_REUSEADDR (-r): let bind() take the port even while connections
     * of an earlier server on it linger (TIME_WAIT, or still open after a
     * kill). Off by default so that "Address already in use" can be seen. */
    if (reuse) {
        int one = 1;
        step(fmt("setsockopt(fd %d, SO_REUSEADDR, 1)", lfd), fmt("fd %d has no address", lfd),
             "no visible change: bind() may now reuse a port old connections still hold");
        if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            fail("setsockopt(SO_REUSEADDR)");
        say("setsockopt(fd %d, SO_REUSEADDR, 1) ok", lfd);
    }

    /* bind(): claim the address and port. Not yet LISTEN: a client's SYN
     * to this port is still answered with a reset. */
    step(fmt("bind(fd %d, %s)", lfd, here),
         fmt("fd %d has no address: ss -tln does not show port %d", lfd, port),
         fmt("fd %d owns %s but is not LISTEN yet (a connect() is still refused)", lfd, here));
    if (bind(lfd, (struct sockaddr *)&me, sizeof me) < 0)
        bind_failed(lfd, &me); /* exit 1, with the likely cause */
    say("bind(fd %d, %s) ok: the port is ours, but not LISTEN yet", lfd, here);

    /* listen(): from now on the kernel answers SYNs on this port by itself
     * and keeps completed connections in a queue, about `backlog` long,
     * until accept() takes them. Our program is not involved in that. */
    step(fmt("listen(fd %d, %d)", lfd, backlog),
         fmt("fd %d bound to %s, not listening: ss -tln does not show it", lfd, here),
         fmt("fd %d is LISTEN: lsof 'TCP %s (LISTEN)', ss -tln 'LISTEN 0 %d'", lfd, here,
             backlog));
    if (listen(lfd, backlog) < 0)
        fail("listen");
    say("listen(fd %d, %d) ok: fd %d is LISTEN on %s", lfd, backlog, lfd, here);

    static unsigned char buf[65536];
    for (;;) {
        /* accept(): take the oldest completed connection from the queue
         * (sleeping until there is one). It comes as a NEW socket, with its
         * own fd; the listening socket goes on listening. */
        if (!quiet)
            say("waiting in accept(fd %d) for a client", lfd);
        step(fmt("accept(fd %d)", lfd),
             fmt("fd %d LISTEN; ss -tln Recv-Q counts connections waiting for accept()", lfd),
             "a new fd for the oldest waiting connection (or sleep until one comes)");
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof peer;
        int cfd = accept(lfd, (struct sockaddr *)&peer, &peerlen);
        if (cfd < 0) {
            /* EINTR, or a client that reset before we got to it
             * (ECONNABORTED), or out of fds: none of them is fatal. */
            if (errno != EINTR)
                fprintf(stderr, "%s: accept(fd %d): %s (going on)\n", prog, lfd, strerror(errno));
            continue;
        }
        char them[ADDR_TEXT_SIZE], us[ADDR_TEXT_SIZE];
        addr_text((struct sockaddr *)&peer, them, sizeof them);
        struct sockaddr_storage mine; /* the new socket's own address: the listener's port */
        socklen_t minelen = sizeof mine;
        if (getsockname(cfd, (struct sockaddr *)&mine, &minelen) < 0)
            memset(&mine, 0, sizeof mine);
        if (!quiet)
            say("accept(fd %d) = fd %d: %s <- %s (a new socket for this client; fd %d keeps "
                "listening)",
                lfd, cfd, addr_text((struct sockaddr *)&mine, us, sizeof us), them, lfd);

        /* recv(): bytes the client sent, as many as have arrived (at least
         * one), sleeping until some do. 0 means the client closed. */
        step(fmt("recv(fd %d)", cfd),
             fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed); ss Recv-Q "
                 "counts bytes waiting", cfd, them),
             "our buffer gets the waiting bytes (or we sleep until some arrive)");
        ssize_t n;
        enum ending ending = ECHOED;
        do
            n = recv(cfd, buf, sizeof buf, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            say("recv(fd %d): %s: the client reset the connection", cfd, strerror(errno));
            ending = RESET;
        } else if (n == 0) {
            say("recv(fd %d) = 0: %s closed the connection without sending", cfd, them);
            ending = CLIENT_CLOSED;
        } else {
            if (!quiet)
                say("recv(fd %d) = %ld bytes from %s: %s", cfd, (long)n, them,
                    payload_text(buf, (size_t)n));

            /* send(): copy the reply into the kernel's send buffer; all of
             * it, even when one send() takes only part. */
            step(fmt("send(fd %d, %ld bytes)", cfd, (long)n),
                 fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", cfd,
                     them),
                 "the bytes are queued; the client's kernel ACKs them");
            if (send_all(cfd, buf, (size_t)n) < 0) {
                say("send(fd %d): %s: the client is gone", cfd, strerror(errno));
                ending = RESET;
            } else if (!quiet)
                say("send(fd %d) = %ld bytes: echoed", cfd, (long)n);
        }

        /* close(): we close first, so the kernel sends our FIN: our end
         * goes to FIN_WAIT_1, to FIN_WAIT_2 once the client's kernel ACKs
         * the FIN, and the client's to CLOSE_WAIT until it closes too; then
         * ours waits in TIME_WAIT, owned by no process. */
        step(fmt("close(fd %d)", cfd), close_now(cfd, them, ending), close_after(ending));
        close(cfd);
        if (!quiet)
            say("close(fd %d): done with %s%s", cfd, them, close_done(ending));
    }
}

/* bind() failed: one line on stderr that names the likely cause, exit 1.
 * EADDRINUSE has two causes, told apart by asking the port itself. */
_Noreturn static void bind_failed(int fd, const struct sockaddr_in *me)
{
    int e = errno;
    unsigned port = ntohs(me->sin_port);
    char here[ADDR_TEXT_SIZE], why[320] = "";
    int listens = e == EADDRINUSE ? port_listens(me) : -1;
    addr_text((const struct sockaddr *)me, here, sizeof here);
    if (e == EADDRINUSE && listens == 1)
        snprintf(why, sizeof why,
                 " (a server is listening on port %u now: lsof -n -P -i TCP:%u -s TCP:LISTEN "
                 "shows which)", port, port);
    else if (e == EADDRINUSE && listens == 0)
        snprintf(why, sizeof why,
                 " (no server listens on port %u, but connections of an earlier server linger, "
                 "e.g. in TIME_WAIT for 60 s: -r restarts at once only if the earlier server "
                 "used -r too; else wait. ss -tan 'sport = :%u' shows them)", port, port);
    else if (e == EADDRINUSE)
        snprintf(why, sizeof why,
                 " (a server listens on port %u, or connections of an earlier one linger: "
                 "ss -tan 'sport = :%u' shows which)", port, port);
    else if (e == EADDRNOTAVAIL)
        snprintf(why, sizeof why, " (that address is not one of this machine's)");
    else if (e == EACCES)
        snprintf(why, sizeof why, " (ports below 1024 need root)");
    fprintf(stderr, "%s: bind(fd %d, %s): %s%s\n", prog, fd, here, strerror(e), why);
    exit(1);
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

/* What close() finds and does depends on how the exchange ended: the
 * step claims and the log line for each ending. */
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

static const char *close_done(enum ending ending)
{
    if (ending == CLIENT_CLOSED)
        return " (it closed first: our end LAST_ACK until its kernel ACKs our FIN, then gone; "
               "its end TIME_WAIT)";
    if (ending == RESET)
        return " (the connection was reset: only the fd was left to close)";
    return " (if it is still connected: our end FIN_WAIT_1, then FIN_WAIT_2 once the client's "
           "kernel ACKs our FIN; its end CLOSE_WAIT until it closes too)";
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
