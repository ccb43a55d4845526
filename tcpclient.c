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
#define ADDR_TEXT 128          /* "[v6 address]:port", and room for an error */
#define PAYLOAD_TEXT 320       /* 60 bytes shown, escaped, and a count */
/* Said when an IPv6 connect is refused: most of the kit's servers are IPv4. */
#define IPV4_ONLY_HINT                                                                   \
    " (tcpserver1, tcpserver3 and multi listen on IPv4 only: try 127.0.0.1; tcpserver2 " \
    "serves both)"

/* What the server has done to the connection, as far as we have seen. */
enum peer { PEER_OPEN, PEER_CLOSED /* its FIN arrived */, PEER_RESET /* or gone */ };

static const char *prog = "tcpclient";
static int step_mode; /* -S: pause before each socket call */

_Noreturn static void usage_error(const char *fmt, ...);
_Noreturn static void fail(const char *what);
static void usage(FILE *out);
static void long_options(int argc, char **argv);
static void misplaced_words(const char *host, const char *port);
static void say(const char *fmt, ...);
static void stdout_check(void);
static void step(const char *fmt, ...);
static int parse_port(const char *s);
static long parse_seconds(const char *s);
static struct addrinfo *resolve(const char *host, const char *port, int family, int passive,
                                const char *bind_spec);
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len, long timeout_ms);
static int send_all(int fd, const char *p, size_t n);
static char *addr_text(const struct sockaddr *sa, char *buf, size_t size);
static char *local_text(int fd, char *buf, size_t size);
static char *peer_text(int fd, char *buf, size_t size);
static char *payload_text(const unsigned char *p, size_t n, char *buf, size_t size);
static long next_line(char **line, size_t max);
static char *keep(const char *p, size_t n, int newline);
static int wait_for_enter(void);
static int wait_for_enter_watching(int fd, enum peer *peer);
static long ms_left(const struct timespec *start, long timeout_ms);
static int wait_readable(int fd, long timeout_ms);
static enum peer peek_closed(int fd);

int main(int argc, char **argv)
{
    const char *host = "localhost", *port = DEFAULT_PORT;
    const char *bind_spec = NULL; /* -b [ADDRESS:]PORT */
    long timeout_ms = -1;         /* -t: -1 waits as long as the kernel does */
    int wait_at_end = 0;          /* -w: "enter to finish" */
    const char *messages[MAX_MESSAGES]; /* -m, in order */
    int nmessages = 0, opt;

    long_options(argc, argv);
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
        port = argv[optind++];
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    misplaced_words(host, port);
    parse_port(port);

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
        local = resolve(bind_host, bind_port, AF_UNSPEC, 1, NULL);
        family = local->ai_family; /* the server must then be the same family */
    }
    struct addrinfo *servers = resolve(host, port, family, 0, bind_spec);
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());

    int fd = -1, err = 0, tried_v4 = 0;
    char there[ADDR_TEXT], me[ADDR_TEXT], from[ADDR_TEXT], to[ADDR_TEXT];
    for (struct addrinfo *ai = servers; ai != NULL && fd < 0; ai = ai->ai_next) {
        addr_text(ai->ai_addr, there, sizeof there);
        tried_v4 |= ai->ai_family == AF_INET;
        say("server %s port %s: trying %s", host, port, there);

        /* socket(): a TCP endpoint, with no address and no connection yet. */
        const char *fam = ai->ai_family == AF_INET ? "AF_INET" : "AF_INET6";
        step("socket(%s, SOCK_STREAM, 0)\n"
             "no socket yet\n"
             "a new fd, with no port: netstat and ss do not list it",
             fam);
        int s = socket(ai->ai_family, SOCK_STREAM, 0);
        if (s < 0)
            fail("socket");
        say("socket(%s, SOCK_STREAM, 0) = fd %d", fam, s);

        /* bind() (-b): pick our own port instead of the kernel's choice. */
        if (bind_port != NULL) {
            if (bind_host == NULL) { /* -b PORT: any address of this server address's family */
                if (local != NULL)
                    freeaddrinfo(local);
                local = resolve(NULL, bind_port, ai->ai_family, 1, NULL);
            }
            addr_text(local->ai_addr, me, sizeof me);
            step("bind(fd %d, %s)\n"
                 "fd %d has no port\n"
                 "fd %d owns %s, not yet connected: ss and netstat do not list it, lsof shows "
                 "'sock ... protocol: TCP'",
                 s, me, s, s, me);
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
        step("connect(fd %d, %s)\n"
             "fd %d is not connected: not in ss -tan as ESTAB\n"
             "SYN, SYN-ACK, ACK: fd %d ESTABLISHED to %s %s, or RST: Connection refused",
             s, there, s, s, there,
             bind_port != NULL ? "from the port bind() gave it" : "with a port the kernel picked");
        say("connect(fd %d, %s): SYN sent, waiting for the server's SYN-ACK", s, there);
        int rc = connect_within(s, ai->ai_addr, ai->ai_addrlen, timeout_ms);
        if (rc == 0) {
            fd = s;
            break;
        }
        err = errno;
        if (rc == -2) /* our time limit ran out: the kernel is still trying */
            say("connect(fd %d, %s): no SYN-ACK within %.3g s: still SYN-SENT. A server whose "
                "accept queue is full drops SYNs silently (Linux); a firewall may too",
                s, there, (double)timeout_ms / 1000.0);
        else if (err == ETIMEDOUT) /* the kernel's own retries ran out */
            say("connect(fd %d, %s): no SYN-ACK after the kernel's retries: it gave up (%s). A "
                "server whose accept queue is full drops SYNs silently (Linux); a firewall may "
                "too",
                s, there, strerror(err));
        else
            say("connect(fd %d, %s): %s%s%s", s, there, strerror(err),
                err == ECONNREFUSED ? ": the server's kernel answered our SYN with RST, "
                                      "since no socket LISTENs on that port"
                                    : "",
                err == ECONNREFUSED && ai->ai_family == AF_INET6 ? IPV4_ONLY_HINT : "");
        close(s);
    }
    freeaddrinfo(servers);
    if (local != NULL)
        freeaddrinfo(local);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot connect to %s port %s: %s%s\n", prog, host, port,
                err == ETIMEDOUT ? "timed out (see above)" : strerror(err),
                err == ECONNREFUSED && !tried_v4 ? IPV4_ONLY_HINT : "");
        return 1;
    }
    say("connected: fd %d is %s -> %s (ESTABLISHED; the SYN, SYN-ACK, ACK handshake is "
        "already done)",
        fd, local_text(fd, from, sizeof from), peer_text(fd, to, sizeof to));

    static unsigned char reply[65536];
    char shown[PAYLOAD_TEXT];
    enum peer peer = PEER_OPEN;
    int status = 0;
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
                stdout_check();
            }
            char *line;
            if ((len = next_line(&line, MAX_MESSAGE)) < 0)
                break;
            msg = keep(line, (size_t)len, 0);
        }

        /* Has the server already gone? Its FIN shows as end of file, its
         * RST as an error, both waiting for us to read them. */
        if (i > 0 && (peer = peek_closed(fd)) != PEER_OPEN) {
            status = 1;
            fprintf(stderr, "%s: the server closed the connection before message %d: "
                            "it serves one exchange per connection?\n", prog, i + 1);
            break;
        }

        /* send(): copy the bytes into the kernel's send buffer. The kernel
         * sends them when it likes; send() returning says nothing about the
         * server having them. */
        if (step_mode)
            step("send(fd %d, %ld bytes)\n"
                 "fd %d ESTABLISHED %s -> %s (CLOSE_WAIT once the server has closed)\n"
                 "the bytes go out; the server's kernel ACKs them even before its program "
                 "reads them",
                 fd, len, fd, local_text(fd, from, sizeof from), peer_text(fd, to, sizeof to));
        if (send_all(fd, msg, (size_t)len) < 0) {
            fprintf(stderr, "%s: send(fd %d): %s (the server is gone)\n", prog, fd,
                    strerror(errno));
            peer = PEER_RESET;
            status = 1;
            break;
        }
        say("send(fd %d) = %ld bytes: %s", fd, len,
            payload_text((const unsigned char *)msg, (size_t)len, shown, sizeof shown));

        /* recv(): take whatever bytes have arrived, sleeping until some do.
         * TCP keeps no message boundaries: a reply can come in pieces. */
        long got = 0;
        int same = 1;
        while (got < len) {
            if (step_mode)
                step("recv(fd %d)\n"
                     "fd %d ESTABLISHED (CLOSE_WAIT once the server has closed: tcpserver1 "
                     "closes right after its reply); ss Recv-Q counts bytes waiting\n"
                     "returns the bytes waiting, or sleeps until some arrive",
                     fd, fd);
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
                peer = n == 0 ? PEER_CLOSED : PEER_RESET;
                break;
            }
            say("recv(fd %d) = %ld bytes: %s", fd, (long)n,
                payload_text(reply, (size_t)n, shown, sizeof shown));
            if (got + n > len || memcmp(reply, msg + got, (size_t)n) != 0)
                same = 0;
            got += n;
            if (reply[n - 1] == '\n')
                break; /* a whole reply line, even if shorter than what we sent */
        }
        if (got > 0 && same && got == len)
            say("reply: %ld bytes, the same as we sent", got);
        else if (got > 0)
            say("reply: %ld bytes, we sent %ld", got, len);
        if (peer != PEER_OPEN) {
            if (got < len) {
                fprintf(stderr, "%s: the server closed the connection after %ld of %ld reply "
                                "bytes\n", prog, got, len);
                status = 1;
            } else if (i + 1 < nmessages) {
                fprintf(stderr, "%s: the server closed the connection before message %d\n",
                        prog, i + 2);
                status = 1;
            }
            break;
        }
    }

    if (wait_at_end) {
        local_text(fd, from, sizeof from);
        if (peer == PEER_OPEN)
            say("fd %d is %s -> %s. Press Enter to close it", fd, from,
                peer_text(fd, to, sizeof to));
        else if (peer == PEER_CLOSED)
            say("fd %d is %s -> the server, which has closed its end (CLOSE_WAIT). Press Enter "
                "to close it", fd, from);
        else
            say("fd %d is %s, reset by the server: the connection is gone (CLOSED). Press "
                "Enter to close it", fd, from);
        if (!(peer == PEER_OPEN ? wait_for_enter_watching(fd, &peer) : wait_for_enter()))
            say("standard input is closed: not waiting");
    } else if (peer == PEER_OPEN) {
        peer = peek_closed(fd);
    }

    /* close(): the kernel sends our FIN. If the server closed first, this
     * completes the connection and the server's end goes to TIME_WAIT; if
     * we close first, ours does. */
    if (peer == PEER_OPEN)
        step("close(fd %d)\n"
             "fd %d ESTABLISHED (CLOSE_WAIT once the server has closed)\n"
             "we close first: our end goes to FIN_WAIT_1, then FIN_WAIT_2 once the server's "
             "kernel ACKs our FIN, then TIME_WAIT once the server closes too",
             fd, fd);
    else if (peer == PEER_CLOSED)
        step("close(fd %d)\n"
             "fd %d CLOSE_WAIT (the server closed first: its end is FIN_WAIT_1 until our kernel "
             "ACKs its FIN, then FIN_WAIT_2)\n"
             "our FIN finishes the close: the server's end goes to TIME_WAIT; ours is LAST_ACK "
             "until the server's kernel ACKs our FIN, then gone",
             fd, fd);
    else
        step("close(fd %d)\n"
             "fd %d CLOSED: the server reset the connection, so ss and netstat no longer list "
             "it\n"
             "close() only frees fd %d: the connection is already gone, no FIN goes out",
             fd, fd, fd);
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

/* --help, anywhere, is -h; any other --word is a usage error (getopt would
 * say "unknown option --"). The word after -b, -t or -m is that option's
 * argument ("-m --help" sends "--help"), and "--" ends the options. */
static void long_options(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            return;
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (a[0] == '-' && a[1] == '-')
            usage_error("unknown option '%s': the options are single letters", a);
        if (a[0] == '-') {
            size_t flags = strspn(a + 1, "wSh"); /* the options without an argument */
            char last = a[1 + flags];
            if (last != '\0' && strchr("btm", last) != NULL && a[2 + flags] == '\0')
                i++; /* "-m", "-wm": the next word is the argument */
        }
    }
}

static int all_digits(const char *s)
{
    return *s != '\0' && strspn(s, "0123456789") == strlen(s);
}

/* The two classic slips with HOST [PORT]: "tcpclient 12333 localhost" and
 * "tcpclient localhost:12333" (or 127.0.0.1:12333, [::1]:12333). A bare
 * IPv6 address (::1, fe80::1) has more than one colon and is a host. */
static void misplaced_words(const char *host, const char *port)
{
    if (all_digits(host) && !all_digits(port))
        usage_error("'%s' is not a port: the host comes first: %s %s %s", port, prog, port,
                    host);
    const char *colon = strrchr(host, ':');
    if (colon == NULL || !all_digits(colon + 1))
        return;
    const char *name = host;
    int len = (int)(colon - host);
    if (host[0] == '[' && len > 2 && host[len - 1] == ']') { /* [::1]:12333 */
        name = host + 1;
        len -= 2;
    } else if (len == 0 || strchr(host, ':') != colon) { /* ::1, :80 */
        return;
    }
    usage_error("'%s' looks like HOST:PORT: give them as two words: %s %.*s %s", host, prog, len,
                name, colon + 1);
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

/* One line of the log on stdout. */
static void say(const char *f, ...)
{
    va_list ap;
    errno = 0;
    printf("%s: ", prog);
    va_start(ap, f);
    vprintf(f, ap);
    va_end(ap);
    putchar('\n');
    stdout_check();
}

/* stdout is a closed pipe (EPIPE: SIGPIPE is ignored) or a full disk: a
 * client whose output nobody can see has no reason to go on. */
static void stdout_check(void)
{
    if (!ferror(stdout) && fflush(stdout) == 0)
        return;
    fprintf(stderr, "%s: stdout: %s: cannot show the output\n", prog,
            strerror(errno != 0 ? errno : EIO));
    exit(1);
}

/* Step mode: say which call comes next, what lsof/netstat/ss show now and
 * what they will show after it, then wait for Enter. The format makes
 * three lines: "CALL\nNOW\nAFTER". */
static void step(const char *f, ...)
{
    if (!step_mode)
        return;
    char text[1024];
    va_list ap;
    va_start(ap, f);
    vsnprintf(text, sizeof text, f, ap);
    va_end(ap);
    char *now = strchr(text, '\n');
    char *after = now != NULL ? strchr(now + 1, '\n') : NULL;
    if (after == NULL) /* a bug in the caller's format */
        abort();
    *now++ = '\0';
    *after++ = '\0';
    say("step: next: %s", text);
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

/* getaddrinfo(), or exit 1 saying why not. With bind_spec (-b's text),
 * family is that of the -b address: a host that has addresses, but none of
 * that family, is told so. */
static struct addrinfo *resolve(const char *host, const char *port, int family, int passive,
                                const char *bind_spec)
{
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc == 0)
        return res;
    if (bind_spec != NULL && family != AF_UNSPEC) {
        hints.ai_family = AF_UNSPEC;
        if (getaddrinfo(host, port, &hints, &res) == 0) {
            freeaddrinfo(res);
            int v6 = family == AF_INET6;
            fprintf(stderr,
                    "%s: '%s' has no %s address here, but -b %s is %s (use %s as HOST, or an "
                    "%s -b address)\n",
                    prog, host, v6 ? "IPv6" : "IPv4", bind_spec, v6 ? "IPv6" : "IPv4",
                    v6 ? "::1" : "127.0.0.1", v6 ? "IPv4" : "IPv6");
            exit(1);
        }
    }
    fprintf(stderr, "%s: cannot resolve '%s': %s\n", prog, host ? host : "*", gai_strerror(rc));
    exit(1);
}

/* connect(), with a time limit when timeout_ms >= 0: start it without
 * blocking, wait until the socket becomes writable (the handshake ended one
 * way or the other), then ask the socket how it ended (SO_ERROR).
 * Returns 0; -1 with errno set; or -2 (errno ETIMEDOUT) when the time
 * limit ran out with the handshake still going on (SYN-SENT). */
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
            return -2;
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

/* An address as ss writes it ("127.0.0.1:12333", "[::1]:12333", "*:22222"),
 * in the caller's buf, which it returns. */
static char *addr_text(const struct sockaddr *sa, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
        if (s->sin_addr.s_addr == htonl(INADDR_ANY))
            snprintf(buf, size, "*:%u", ntohs(s->sin_port));
        else
            snprintf(buf, size, "%s:%u", inet_ntop(AF_INET, &s->sin_addr, host, sizeof host),
                     ntohs(s->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)sa;
        if (memcmp(&s->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0)
            snprintf(buf, size, "*:%u", ntohs(s->sin6_port));
        else
            snprintf(buf, size, "[%s]:%u",
                     inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host),
                     ntohs(s->sin6_port));
    } else {
        snprintf(buf, size, "(address family %d)", sa->sa_family);
    }
    return buf;
}

/* Our end's address (getsockname), in buf. */
static char *local_text(int fd, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        snprintf(buf, size, "unknown (getsockname: %s)", strerror(errno));
        return buf;
    }
    return addr_text((struct sockaddr *)&ss, buf, size);
}

/* The server's end's address (getpeername), in buf. */
static char *peer_text(int fd, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
        snprintf(buf, size, "no peer (getpeername: %s)", strerror(errno));
        return buf;
    }
    return addr_text((struct sockaddr *)&ss, buf, size);
}

/* Bytes from the network, quoted and escaped (never raw: an escape
 * sequence could rewrite the terminal), at most 60 of them, in buf
 * (PAYLOAD_TEXT bytes). */
static char *payload_text(const unsigned char *p, size_t n, char *buf, size_t size)
{
    char out[PAYLOAD_TEXT];
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
        snprintf(buf, size, "%s... (%lu more bytes)", out, (unsigned long)(n - shown));
    else
        snprintf(buf, size, "%s", out);
    return buf;
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
 * connection (in *peer): with tcpserver1 its FIN arrives while we wait. */
static int wait_for_enter_watching(int fd, enum peer *peer)
{
    while (!in_ready()) {
        struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                              {.fd = *peer == PEER_OPEN ? fd : -1, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            fail("poll");
        }
        if (p[1].revents != 0) {
            unsigned char buf[4096];
            char shown[PAYLOAD_TEXT];
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n > 0) {
                say("recv(fd %d) = %ld more bytes: %s", fd, (long)n,
                    payload_text(buf, (size_t)n, shown, sizeof shown));
            } else if (n == 0) {
                say("the server closed its end (its FIN arrived): fd %d is CLOSE_WAIT until we "
                    "close; the server's end is FIN_WAIT_1 until our kernel ACKs its FIN "
                    "(delayed ACK, up to ~40 ms), then FIN_WAIT_2",
                    fd);
                *peer = PEER_CLOSED;
            } else if (errno != EINTR) {
                say("recv(fd %d): %s", fd, strerror(errno));
                *peer = PEER_RESET;
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

/* Has the server closed (PEER_CLOSED) or reset (PEER_RESET) the
 * connection? Looks without waiting; bytes it sent meanwhile are read and
 * shown. */
static enum peer peek_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, 0) > 0) {
        unsigned char buf[4096];
        char shown[PAYLOAD_TEXT];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            say("recv(fd %d) = %ld more bytes: %s", fd, (long)n,
                payload_text(buf, (size_t)n, shown, sizeof shown));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0) {
            say("recv(fd %d) = 0: the server closed the connection (its FIN arrived)", fd);
            return PEER_CLOSED;
        }
        say("recv(fd %d): %s: the server reset the connection", fd, strerror(errno));
        return PEER_RESET;
    }
    return PEER_OPEN;
}
