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
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define DEFAULT_PORT 12333
#define DEFAULT_BACKLOG 5

static const char *prog = "tcpserver1";
static int quiet;     /* -q: no line per message (for benchmarks) */
static int step_mode; /* -S: pause before each socket call */

_Noreturn static void usage_error(const char *fmt, ...);
_Noreturn static void fail(const char *what);
static void usage(FILE *out);
static void say(const char *fmt, ...);
static const char *fmt(const char *f, ...);
static void step(const char *call, const char *now, const char *after);
static int parse_port(const char *s);
static int parse_count(const char *s, const char *what, int min, int max);
static void resolve_ipv4(const char *host, int port, struct sockaddr_in *out);
static int send_all(int fd, const unsigned char *p, size_t n);
static const char *addr_text(const struct sockaddr *sa);
static const char *payload_text(const unsigned char *p, size_t n);

int main(int argc, char **argv)
{
    const char *address = NULL; /* NULL: all interfaces, like '' in Python */
    int port = DEFAULT_PORT, backlog = DEFAULT_BACKLOG, reuse = 0, opt;

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
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A client that resets the connection while we send would raise
     * SIGPIPE, which kills a process by default. We want the error. */
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in me;
    resolve_ipv4(address, port, &me);
    char here[64];
    snprintf(here, sizeof here, "%s", addr_text((struct sockaddr *)&me));
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
    if (bind(lfd, (struct sockaddr *)&me, sizeof me) < 0) {
        int e = errno;
        fprintf(stderr, "%s: bind(fd %d, %s): %s%s\n", prog, lfd, here, strerror(e),
                e == EADDRINUSE ? " (a server runs on this port, or connections of an earlier one linger: see ss "
                                  "-tan; -r restarts at once only if the earlier server used -r "
                                  "too, else wait for its TIME_WAIT, 60 s)"
                : e == EADDRNOTAVAIL ? " (that address is not one of this machine's)"
                : e == EACCES        ? " (ports below 1024 need root)"
                                     : "");
        return 1;
    }
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
        char them[80];
        snprintf(them, sizeof them, "%s", addr_text((struct sockaddr *)&peer));
        struct sockaddr_storage mine; /* the new socket's own address: the listener's port */
        socklen_t minelen = sizeof mine;
        if (getsockname(cfd, (struct sockaddr *)&mine, &minelen) < 0)
            memset(&mine, 0, sizeof mine);
        if (!quiet)
            say("accept(fd %d) = fd %d: %s <- %s (a new socket for this client; fd %d keeps "
                "listening)",
                lfd, cfd, addr_text((struct sockaddr *)&mine), them, lfd);

        /* recv(): bytes the client sent, as many as have arrived (at least
         * one), sleeping until some do. 0 means the client closed. */
        step(fmt("recv(fd %d)", cfd),
             fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed); ss Recv-Q "
                 "counts bytes waiting", cfd, them),
             "our buffer gets the waiting bytes (or we sleep until some arrive)");
        ssize_t n;
        do
            n = recv(cfd, buf, sizeof buf, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            say("recv(fd %d): %s: the client reset the connection", cfd, strerror(errno));
        else if (n == 0)
            say("recv(fd %d) = 0: %s closed the connection without sending", cfd, them);
        else {
            if (!quiet)
                say("recv(fd %d) = %ld bytes from %s: %s", cfd, (long)n, them,
                    payload_text(buf, (size_t)n));

            /* send(): copy the reply into the kernel's send buffer; all of
             * it, even when one send() takes only part. */
            step(fmt("send(fd %d, %ld bytes)", cfd, (long)n),
                 fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", cfd,
                     them),
                 "the bytes are queued; the client's kernel ACKs them");
            if (send_all(cfd, buf, (size_t)n) < 0)
                say("send(fd %d): %s: the client is gone", cfd, strerror(errno));
            else if (!quiet)
                say("send(fd %d) = %ld bytes: echoed", cfd, (long)n);
        }

        /* close(): we close first, so the kernel sends our FIN: our end
         * goes to FIN_WAIT_2 and the client's to CLOSE_WAIT until it closes
         * too; then ours waits in TIME_WAIT, owned by no process. */
        step(fmt("close(fd %d)", cfd),
             fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", cfd, them),
             "our FIN goes out: if the client is still there, our end goes to FIN_WAIT_2 "
             "(no fd any more) and the client's to CLOSE_WAIT");
        close(cfd);
        if (!quiet)
            say("close(fd %d): done with %s (if it is still connected: our end FIN_WAIT_2, "
                "its end CLOSE_WAIT until it closes too)",
                cfd, them);
    }
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

static void say(const char *f, ...)
{
    va_list ap;
    printf("%s: ", prog);
    va_start(ap, f);
    vprintf(f, ap);
    va_end(ap);
    putchar('\n');
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

static int parse_port(const char *s)
{
    long v = 0;
    if (*s == '\0')
        usage_error("bad port '': must be a number from 1 to 65535");
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > 65535)
            usage_error("bad port '%s': must be a number from 1 to 65535", s);
    }
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

static const char *addr_text(const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
        if (s->sin_addr.s_addr == htonl(INADDR_ANY))
            return fmt("*:%u", ntohs(s->sin_port));
        inet_ntop(AF_INET, &s->sin_addr, host, sizeof host);
        return fmt("%s:%u", host, ntohs(s->sin_port));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host);
        return fmt("[%s]:%u", host, ntohs(s->sin6_port));
    }
    return fmt("(address family %d)", sa->sa_family);
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
