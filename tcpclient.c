/*
 * tcpclient.c - a TCP client (the C version of tcpclient.py).
 *
 * The lecture order: socket() -> [bind()] -> connect() -> send() -> recv()
 * -> close(). Unlike UDP, connect() talks to the server's kernel before any
 * data moves: SYN, SYN-ACK, ACK all happen inside it, and if nothing listens
 * there the answer is a reset and connect() fails with "Connection refused".
 *
 *   cc -o tcpclient tcpclient.c
 *   ./tcpclient                        send lines from stdin to localhost:12333
 *   ./tcpclient -m hello -w            one message, then wait for Enter to close
 *   ./tcpclient -b 22222 -m hello      bind the client to port 22222 first
 *   ./tcpclient -t 2 -m hello          give up on connect or reply after 2 s
 *
 * A TCP connection is a stream of bytes with no message boundaries, so each
 * message is sent with its newline, and a reply is complete when as many
 * bytes came back as were sent (an echo), a reply line ended, or the server
 * closed the connection.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORT "12333"
#define MAX_MESSAGE (4L << 20) /* longest line we send as one message */
#define MAX_MESSAGES 100       /* -m options */

static const char *prog = "tcpclient";
static int step_mode; /* -S: pause before each socket call */

_Noreturn static void usage_error(const char *fmt, ...);
_Noreturn static void fail(const char *what);
static void usage(FILE *out);
static void say(const char *fmt, ...);
static const char *fmt(const char *f, ...);
static void step(const char *call, const char *now, const char *after);
static int parse_port(const char *s);
static long parse_seconds(const char *s);
static struct addrinfo *resolve(const char *host, const char *port, int family, int passive);
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len, long timeout_ms);
static int send_all(int fd, const char *p, size_t n);
static const char *addr_text(const struct sockaddr *sa);
static const char *local_text(int fd);
static const char *peer_text(int fd);
static const char *payload_text(const unsigned char *p, size_t n);
static long next_line(char **line, size_t max);
static char *keep(const char *p, size_t n, int newline);
static int wait_for_enter(void);
static int wait_for_enter_watching(int fd);
static long ms_left(const struct timespec *start, long timeout_ms);
static int wait_readable(int fd, long timeout_ms);
static int peek_closed(int fd);

int main(int argc, char **argv)
{
    const char *host = "localhost", *port = DEFAULT_PORT;
    const char *bind_spec = NULL; /* -b [ADDRESS:]PORT */
    long timeout_ms = -1;         /* -t: -1 waits as long as the kernel does */
    int wait_at_end = 0;          /* -w: "enter to finish" */
    const char *messages[MAX_MESSAGES]; /* -m, in order */
    int nmessages = 0, opt;

    opterr = 0;
    while ((opt = getopt(argc, argv, ":b:t:wm:Sh")) != -1) {
        switch (opt) {
        case 'b': bind_spec = optarg; break;
        case 't': timeout_ms = parse_seconds(optarg); break;
        case 'w': wait_at_end = 1; break;
        case 'm':
            if (nmessages == MAX_MESSAGES)
                usage_error("too many -m messages (at most %d)", MAX_MESSAGES);
            messages[nmessages++] = optarg;
            break;
        case 'S': step_mode = 1; break;
        case 'h': usage(stdout); return 0;
        case ':': usage_error("option -%c needs an argument", optopt);
        default: usage_error("unknown option -%c", optopt);
        }
    }
    if (optind < argc)
        host = argv[optind++];
    if (optind < argc)
        parse_port(port = argv[optind++]);
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);

    /* -b: "22222", "127.0.0.1:22222" or "[::1]:22222" */
    const char *bind_host = NULL, *bind_port = NULL;
    if (bind_spec != NULL) {
        static char copy[300];
        snprintf(copy, sizeof copy, "%s", bind_spec);
        char *colon = strrchr(copy, ':');
        bind_port = copy;
        if (colon != NULL) {
            *colon = '\0';
            bind_port = colon + 1;
            bind_host = copy;
            if (*copy == '[' && colon > copy + 1 && colon[-1] == ']') {
                colon[-1] = '\0';
                bind_host = copy + 1;
            }
        }
        parse_port(bind_port);
    }

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Writing to a connection the server has reset raises SIGPIPE, whose
     * default action kills the process. We want the error (EPIPE) instead. */
    signal(SIGPIPE, SIG_IGN);

    struct addrinfo *local = NULL;
    int family = AF_UNSPEC; /* the server may be IPv4 or IPv6: try each address */
    if (bind_host != NULL) {
        local = resolve(bind_host, bind_port, AF_UNSPEC, 1);
        family = local->ai_family; /* the server must then be the same family */
    }
    struct addrinfo *servers = resolve(host, port, family, 0);
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());

    int fd = -1, err = 0;
    char there[80];
    for (struct addrinfo *ai = servers; ai != NULL && fd < 0; ai = ai->ai_next) {
        snprintf(there, sizeof there, "%s", addr_text(ai->ai_addr));
        say("server %s port %s: trying %s", host, port, there);

        /* socket(): a TCP endpoint, with no address and no connection yet. */
        const char *fam = ai->ai_family == AF_INET ? "AF_INET" : "AF_INET6";
        step(fmt("socket(%s, SOCK_STREAM, 0)", fam), "no socket yet",
             "a new fd, with no port: netstat and ss do not list it");
        int s = socket(ai->ai_family, SOCK_STREAM, 0);
        if (s < 0)
            fail("socket");
        say("socket(%s, SOCK_STREAM, 0) = fd %d", fam, s);

        /* bind() (-b): pick our own port instead of the kernel's choice. */
        if (bind_port != NULL) {
            if (local == NULL) /* -b PORT: any address of the server's family */
                local = resolve(NULL, bind_port, ai->ai_family, 1);
            const char *me = addr_text(local->ai_addr);
            step(fmt("bind(fd %d, %s)", s, me), fmt("fd %d has no port", s),
                 fmt("fd %d owns %s, but is not connected (ss state CLOSE)", s, me));
            if (bind(s, local->ai_addr, local->ai_addrlen) < 0) {
                int e = errno;
                fprintf(stderr, "%s: bind(fd %d, %s): %s%s\n", prog, s, me, strerror(e),
                        e == EADDRINUSE ? " (an earlier connection from this port may "
                                          "still be in TIME_WAIT: see ss -tan)"
                        : e == EADDRNOTAVAIL ? " (that address is not one of this machine's)"
                                             : "");
                freeaddrinfo(servers);
                freeaddrinfo(local);
                return 1;
            }
            say("bind(fd %d, %s) ok", s, me);
        }

        /* connect(): our kernel sends SYN; the server's kernel answers
         * SYN-ACK if a socket LISTENs on that port (its program need not do
         * anything), or RST if none does; we ACK. All of it happens before
         * connect() returns, and the kernel picks our port here too. */
        step(fmt("connect(fd %d, %s)", s, there),
             fmt("fd %d is not connected: not in ss -tan as ESTAB", s),
             fmt("SYN, SYN-ACK, ACK: fd %d ESTABLISHED to %s with a port the kernel picked,"
                 " or RST: Connection refused",
                 s, there));
        say("connect(fd %d, %s): SYN sent, waiting for the server's SYN-ACK", s, there);
        if (connect_within(s, ai->ai_addr, ai->ai_addrlen, timeout_ms) == 0) {
            fd = s;
            break;
        }
        err = errno;
        if (err == ETIMEDOUT)
            say("connect(fd %d, %s): no SYN-ACK %s: still SYN-SENT. A server whose accept "
                "queue is full drops SYNs silently (Linux); a firewall may too",
                s, there, timeout_ms >= 0 ? fmt("within %.3g s", (double)timeout_ms / 1000.0)
                                          : "after the kernel's retries");
        else
            say("connect(fd %d, %s): %s%s", s, there, strerror(err),
                err == ECONNREFUSED ? ": the server's kernel answered our SYN with RST, "
                                      "since no socket LISTENs on that port"
                                    : "");
        close(s);
    }
    freeaddrinfo(servers);
    if (local != NULL)
        freeaddrinfo(local);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot connect to %s port %s: %s\n", prog, host, port,
                err == ETIMEDOUT ? "timed out (see above)" : strerror(err));
        return 1;
    }
    say("connected: fd %d is %s -> %s (ESTABLISHED; the SYN, SYN-ACK, ACK handshake is "
        "already done)",
        fd, local_text(fd), peer_text(fd));

    static unsigned char reply[65536];
    int server_closed = 0, status = 0;
    for (int i = 0;; i++) {
        const char *msg;
        long len;
        if (nmessages > 0) {
            if (i >= nmessages)
                break;
            len = (long)strlen(messages[i]) + 1;
            msg = keep(messages[i], (size_t)len - 1, 1); /* a line, as if typed */
        } else {
            if (isatty(STDIN_FILENO)) {
                printf("%s: message to send (Ctrl-D to finish): ", prog);
                fflush(stdout);
            }
            char *line;
            if ((len = next_line(&line, MAX_MESSAGE)) < 0)
                break;
            msg = keep(line, (size_t)len, 0);
        }

        /* Has the server already gone? Its FIN shows as end of file, its
         * RST as an error, both waiting for us to read them. */
        if (i > 0 && peek_closed(fd)) {
            server_closed = 1;
            status = 1;
            fprintf(stderr, "%s: the server closed the connection before message %d: "
                            "it serves one exchange per connection?\n", prog, i + 1);
            break;
        }

        /* send(): copy the bytes into the kernel's send buffer. The kernel
         * sends them when it likes; send() returning says nothing about the
         * server having them. */
        if (step_mode)
            step(fmt("send(fd %d, %ld bytes)", fd, len),
                 fmt("fd %d ESTABLISHED %s -> %s (CLOSE_WAIT once the server has closed)", fd,
                     local_text(fd), peer_text(fd)),
                 "the bytes go out; the server's kernel ACKs them even before its "
                 "program reads them");
        if (send_all(fd, msg, (size_t)len) < 0) {
            fprintf(stderr, "%s: send(fd %d): %s (the server is gone)\n", prog, fd,
                    strerror(errno));
            status = 1;
            break;
        }
        say("send(fd %d) = %ld bytes: %s", fd, len,
            payload_text((const unsigned char *)msg, (size_t)len));

        /* recv(): take whatever bytes have arrived, sleeping until some do.
         * TCP keeps no message boundaries: a reply can come in pieces. */
        long got = 0;
        int same = 1;
        while (got < len) {
            if (step_mode)
                step(fmt("recv(fd %d)", fd),
                     fmt("fd %d ESTABLISHED (CLOSE_WAIT once the server has closed: tcpserver1 "
                         "closes right after its reply); ss Recv-Q counts bytes waiting", fd),
                     "returns the bytes waiting, or sleeps until some arrive");
            if (!wait_readable(fd, timeout_ms)) {
                fprintf(stderr,
                        "%s: no reply within %.3g s on fd %d: the connection is up (the "
                        "server's kernel accepted it), but the server program has not "
                        "answered: busy with another client, or not yet at accept()?\n",
                        prog, (double)timeout_ms / 1000.0, fd);
                close(fd);
                return 1;
            }
            ssize_t n = recv(fd, reply, sizeof reply, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                if (n == 0)
                    say("recv(fd %d) = 0: the server closed the connection (its FIN arrived); "
                        "fd %d is now CLOSE_WAIT until we close it",
                        fd, fd);
                else
                    say("recv(fd %d): %s: the server reset the connection", fd, strerror(errno));
                server_closed = 1;
                break;
            }
            say("recv(fd %d) = %ld bytes: %s", fd, (long)n, payload_text(reply, (size_t)n));
            if (got + n > len || memcmp(reply, msg + got, (size_t)n) != 0)
                same = 0;
            got += n;
            if (reply[n - 1] == '\n')
                break; /* a whole reply line, even if shorter than what we sent */
        }
        if (got > 0)
            say("reply: %ld bytes, %s", got,
                same && got == len ? "the same as we sent" : fmt("we sent %ld", len));
        if (server_closed) {
            if (got < len || i + 1 < nmessages) {
                fprintf(stderr, "%s: the server closed the connection %s\n", prog,
                        got < len ? fmt("after %ld of %ld reply bytes", got, len)
                                  : fmt("before message %d", i + 2));
                status = 1;
            }
            break;
        }
    }

    if (wait_at_end) {
        say("fd %d is %s -> %s. Press Enter to close it", fd, local_text(fd),
            server_closed ? "the server, which has closed its end (CLOSE_WAIT)" : peer_text(fd));
        if (!(server_closed ? wait_for_enter() : wait_for_enter_watching(fd)))
            say("standard input is closed: not waiting");
    } else if (!server_closed && peek_closed(fd)) {
        server_closed = 1;
    }

    /* close(): the kernel sends our FIN. If the server closed first, this
     * completes the connection and the server's end goes to TIME_WAIT; if
     * we close first, ours does. */
    step(fmt("close(fd %d)", fd),
         server_closed ? fmt("fd %d CLOSE_WAIT (the server closed first: its end FIN_WAIT_2)", fd)
                       : fmt("fd %d ESTABLISHED (CLOSE_WAIT once the server has closed)", fd),
         server_closed ? "our FIN finishes the close: the server's end goes to TIME_WAIT, ours "
                         "is gone"
                       : "we close first: our end goes to FIN_WAIT_2, then TIME_WAIT");
    say("close(fd %d)", fd);
    close(fd);
    return status;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-b [ADDRESS:]PORT] [-t SECONDS] [-w] [-m MESSAGE]... [-S] [-h]"
            " [HOST [PORT]]\n"
            "TCP client: connects to HOST PORT (default localhost %s), sends each\n"
            "message (a line, with its newline) and prints the reply. Messages are\n"
            "the lines of standard input unless -m is given.\n"
            "  -b [ADDRESS:]PORT  bind the socket to this port (and address) first\n"
            "  -t SECONDS         give up on connect() or on a reply after SECONDS\n"
            "  -w                 wait for Enter before closing the connection\n"
            "  -m MESSAGE         send MESSAGE instead of reading standard input\n"
            "                     (repeat -m for several messages)\n"
            "  -S                 step mode: before each socket call, say what it will\n"
            "                     change in lsof/netstat/ss, and wait for Enter\n"
            "  -h                 this help\n",
            prog, DEFAULT_PORT);
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
    if (!wait_for_enter()) {
        say("step: standard input is closed: running on without pauses");
        step_mode = 0;
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

static long parse_seconds(const char *s)
{
    long ms = 0, scale = 1000;
    int digits = 0, dot = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '.' && !dot) {
            dot = 1;
        } else if (*p >= '0' && *p <= '9') {
            digits++;
            if (!dot)
                ms = ms * 10 + (*p - '0') * 1000L;
            else if ((scale /= 10) > 0)
                ms += (*p - '0') * scale;
            if (ms > 86400L * 1000)
                break;
        } else {
            digits = 0;
            break;
        }
    }
    if (digits == 0 || ms <= 0 || ms > 86400L * 1000)
        usage_error("bad timeout '%s': must be a number of seconds above 0 (at most 86400)", s);
    return ms;
}

static struct addrinfo *resolve(const char *host, const char *port, int family, int passive)
{
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot resolve '%s': %s\n", prog, host ? host : "*",
                gai_strerror(rc));
        exit(1);
    }
    return res;
}

/* connect(), with a time limit when timeout_ms >= 0: start it without
 * blocking, wait until the socket becomes writable (the handshake ended one
 * way or the other), then ask the socket how it ended (SO_ERROR).
 * Returns 0, or -1 with errno set. */
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len, long timeout_ms)
{
    if (timeout_ms < 0) {
        /* A blocking connect() that a signal interrupts goes on in the
         * kernel; calling it again would fail with EALREADY, so wait for
         * the result as below instead. */
        if (connect(fd, sa, len) == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    } else {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
            return -1;
        int rc = connect(fd, sa, len);
        int e = errno;
        if (fcntl(fd, F_SETFL, flags) < 0) /* back to blocking for send/recv */
            return -1;
        if (rc == 0)
            return 0;
        if (e != EINPROGRESS && e != EINTR) {
            errno = e;
            return -1;
        }
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        long left = ms_left(&start, timeout_ms);
        if (left == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno != EINTR)
            return -1;
        if (r > 0) {
            int soerr = 0;
            socklen_t l = sizeof soerr;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0)
                return -1;
            if (soerr == 0)
                return 0;
            errno = soerr;
            return -1;
        }
    }
}

/* send() may take fewer bytes than offered (a full buffer, a signal):
 * keep sending the rest until all of it is in the kernel. */
static int send_all(int fd, const char *p, size_t n)
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
        if (memcmp(&s->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0)
            return fmt("*:%u", ntohs(s->sin6_port));
        inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host);
        return fmt("[%s]:%u", host, ntohs(s->sin6_port));
    }
    return fmt("(address family %d)", sa->sa_family);
}

static const char *local_text(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return fmt("unknown (getsockname: %s)", strerror(errno));
    return addr_text((struct sockaddr *)&ss);
}

static const char *peer_text(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return fmt("no peer (getpeername: %s)", strerror(errno));
    return addr_text((struct sockaddr *)&ss);
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

/* A copy of a message that outlives the next read of standard input (a
 * step-mode pause reads the next line over it): one buffer, reused. With
 * `newline`, a '\n' is added after the n bytes. */
static char *keep(const char *p, size_t n, int newline)
{
    static char *buf;
    static size_t cap;
    if (buf == NULL || n + 1 > cap) {
        char *bigger = realloc(buf, n + 1);
        if (bigger == NULL)
            fail("realloc");
        buf = bigger;
        cap = n + 1;
    }
    memcpy(buf, p, n);
    if (newline)
        buf[n] = '\n';
    return buf;
}

/* Standard input, one line at a time, read with read() rather than stdio
 * so that poll() on fd 0 tells the truth and a line meant for a later
 * pause is never swallowed early. */
static struct {
    char *buf;
    size_t len, cap, used;
    int eof;
} in;

static void in_drop_used(void)
{
    if (in.used > 0) {
        memmove(in.buf, in.buf + in.used, in.len - in.used);
        in.len -= in.used;
        in.used = 0;
    }
}

/* 1 if a whole line, or the end of input, is already buffered. */
static int in_ready(void)
{
    in_drop_used();
    return in.eof || (in.len > 0 && memchr(in.buf, '\n', in.len) != NULL);
}

/* One read() from standard input into the buffer. */
static void in_fill(size_t max)
{
    if (in.len > (size_t)max) {
        fprintf(stderr, "%s: a line of standard input is longer than %lu bytes\n", prog,
                (unsigned long)max);
        exit(1);
    }
    if (in.cap - in.len < 4096) {
        char *bigger = realloc(in.buf, in.cap = in.cap * 2 + 8192);
        if (bigger == NULL)
            fail("realloc");
        in.buf = bigger;
    }
    ssize_t r;
    do
        r = read(STDIN_FILENO, in.buf + in.len, in.cap - in.len);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        in.eof = 1;
    else
        in.len += (size_t)r;
}

/* The next line (with its '\n' if it has one) in *line; returns its length,
 * or -1 at the end of input. */
static long next_line(char **line, size_t max)
{
    while (!in_ready())
        in_fill(max);
    char *nl = in.len > 0 ? memchr(in.buf, '\n', in.len) : NULL;
    in.used = nl != NULL ? (size_t)(nl - in.buf) + 1 : in.len;
    if (in.used == 0)
        return -1;
    *line = in.buf;
    return (long)in.used;
}

static int wait_for_enter(void)
{
    char *line;
    return next_line(&line, 1 << 20) >= 0;
}

/* Wait for Enter, and meanwhile report what the server does to the
 * connection: with tcpserver1 its FIN arrives while we wait. */
static int wait_for_enter_watching(int fd)
{
    int watching = 1;
    while (!in_ready()) {
        struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                              {.fd = watching ? fd : -1, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            fail("poll");
        }
        if (p[1].revents != 0) {
            unsigned char buf[4096];
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n > 0) {
                say("recv(fd %d) = %ld more bytes: %s", fd, (long)n,
                    payload_text(buf, (size_t)n));
            } else if (n == 0) {
                say("the server closed its end (its FIN arrived): fd %d is CLOSE_WAIT, the "
                    "server's end FIN_WAIT_2, until we close",
                    fd);
                watching = 0;
            } else if (errno != EINTR) {
                say("recv(fd %d): %s", fd, strerror(errno));
                watching = 0;
            }
        }
        if (p[0].revents != 0)
            in_fill(1 << 20);
    }
    return wait_for_enter();
}

/* Milliseconds left of timeout_ms counted from start: -1 for no limit
 * (timeout_ms < 0), 0 once it has run out. */
static long ms_left(const struct timespec *start, long timeout_ms)
{
    struct timespec now;
    if (timeout_ms < 0)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left = timeout_ms - ((now.tv_sec - start->tv_sec) * 1000L +
                              (now.tv_nsec - start->tv_nsec) / 1000000L);
    return left < 0 ? 0 : left;
}

/* 1 when fd has something to read, 0 when timeout_ms (-1: none) ran out. */
static int wait_readable(int fd, long timeout_ms)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)ms_left(&start, timeout_ms));
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            fail("poll");
    }
}

/* 1 if the server has closed or reset the connection (without waiting).
 * Bytes it sent meanwhile are read and shown. */
static int peek_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, 0) > 0) {
        unsigned char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            say("recv(fd %d) = %ld more bytes: %s", fd, (long)n, payload_text(buf, (size_t)n));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            say("recv(fd %d) = 0: the server closed the connection (its FIN arrived)", fd);
        else
            say("recv(fd %d): %s: the server reset the connection", fd, strerror(errno));
        return 1;
    }
    return 0;
}
