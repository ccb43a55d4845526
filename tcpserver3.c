/*
 * tcpserver3.c - a TCP echo server with a select() loop (the C version of
 * tcpserver3.py): many clients at once, in one process and one thread.
 *
 * The lecture order: socket() -> bind() -> listen() -> then for ever:
 * select() tells which sockets are ready; for each one: accept() a new
 * client, or recv() from a client and send() its bytes back, or close().
 * Nothing ever blocks: the listening socket and every client socket are
 * non-blocking, so one slow client cannot hold up the others.
 *
 *   cc -o tcpserver3 tcpserver3.c
 *   ./tcpserver3                 all interfaces, port 12333
 *   ./tcpserver3 -m 2            at most 2 clients; more are closed at once
 *
 * Two limits of select() are handled here, because textbook loops get them
 * wrong: an fd of FD_SETSIZE (1024) or more cannot go into an fd_set (such a
 * connection is closed, with a log line), and a client that sends but never
 * reads must not make send() block the whole server (its unsent bytes wait
 * in a small buffer, and we stop reading from it until they are gone).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORT 12333
#define DEFAULT_BACKLOG 5
#define CHUNK 65536 /* one recv(); also the most a client can have pending */
#define TEXT_SIZE 512 /* a message as the log shows it: see payload_text() */

static const char *prog = "tcpserver3";
static int quiet;     /* -q: no line per client or message (for benchmarks) */
static int step_mode; /* -S: pause before each socket call */
static int log_lost;  /* stdout failed: no more log lines, the serving goes on */

/* One connected client, found by its fd (always < FD_SETSIZE). */
struct client {
    char peer[64];          /* its address:port, for the log */
    unsigned char *pending; /* echo bytes send() could not take yet, or NULL */
    size_t pending_len, pending_off;
    unsigned long long bytes; /* echoed so far */
};
static struct client clients[FD_SETSIZE];
static int active[FD_SETSIZE]; /* the fds of connected clients */
static int nactive;

_Noreturn static void usage_error(const char *fmt, ...);
_Noreturn static void fail(const char *what);
_Noreturn static void bind_failed(int lfd, const struct sockaddr_in *me, const char *here);
static int port_has_listener(const struct sockaddr_in *me);
static void usage(FILE *out);
static void long_options(int argc, char **argv);
static int is_port(const char *s);
static void say(const char *fmt, ...);
static void step(const char *fmt, ...);
static int parse_port(const char *s);
static int parse_count(const char *s, const char *what, int min, int max);
static void resolve_ipv4(const char *host, int port, struct sockaddr_in *out);
static void accept_clients(int lfd, int max_clients);
static void client_readable(int fd);
static void client_writable(int fd);
static void drop(int fd, const char *why);
static long long now_ms(void);
static const char *addr_text(const struct sockaddr *sa, char *buf, size_t size);
static const char *payload_text(const unsigned char *p, size_t n, char out[TEXT_SIZE]);

static long long accept_again_at; /* after EMFILE: when to try accept() again */

int main(int argc, char **argv)
{
    const char *address = NULL;
    int port = DEFAULT_PORT, backlog = DEFAULT_BACKLOG, reuse = 0, opt;
    int max_clients = FD_SETSIZE; /* -m; fds >= FD_SETSIZE are refused anyway */

    long_options(argc, argv);
    opterr = 0;
    while ((opt = getopt(argc, argv, ":p:a:l:m:rqSh")) != -1) {
        switch (opt) {
        case 'p': port = parse_port(optarg); break;
        case 'a': address = optarg; break;
        case 'l': backlog = parse_count(optarg, "backlog", 0, 65535); break;
        case 'm': max_clients = parse_count(optarg, "client limit", 1, FD_SETSIZE); break;
        case 'r': reuse = 1; break;
        case 'q': quiet = 1; break;
        case 'S': step_mode = 1; break;
        case 'h': usage(stdout); return 0;
        case ':': usage_error("option -%c needs an argument", optopt);
        default: usage_error("unknown option -%c", optopt);
        }
    }
    if (optind < argc && is_port(argv[optind]))
        usage_error("unexpected argument '%s': the port goes with -p: %s -p %s", argv[optind],
                    prog, argv[optind]);
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* send() to a client that has reset the connection raises SIGPIPE,
     * which would kill the server and every other client with it. */
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in me;
    resolve_ipv4(address, port, &me);
    char here[64];
    addr_text((struct sockaddr *)&me, here, sizeof here);
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());

    step("socket(AF_INET, SOCK_STREAM, 0)\n"
         "no socket yet\n"
         "a new fd: a TCP socket with no address (netstat and ss do not list it)");
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        fail("socket");
    say("socket(AF_INET, SOCK_STREAM, 0) = fd %d", lfd);

    if (reuse) {
        int one = 1;
        step("setsockopt(fd %d, SO_REUSEADDR, 1)\n"
             "fd %d has no address\n"
             "no visible change: bind() may now reuse a port old connections still hold",
             lfd, lfd);
        if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            fail("setsockopt(SO_REUSEADDR)");
        say("setsockopt(fd %d, SO_REUSEADDR, 1) ok", lfd);
    }

    step("bind(fd %d, %s)\n"
         "fd %d has no address: ss -tln does not show port %d\n"
         "fd %d owns %s but is not LISTEN yet",
         lfd, here, lfd, port, lfd, here);
    if (bind(lfd, (struct sockaddr *)&me, sizeof me) < 0)
        bind_failed(lfd, &me, here);
    say("bind(fd %d, %s) ok", lfd, here);

    step("listen(fd %d, %d)\n"
         "fd %d bound to %s, not listening: ss -tln does not show it\n"
         "fd %d is LISTEN: lsof 'TCP %s (LISTEN)'",
         lfd, backlog, lfd, here, lfd, here);
    if (listen(lfd, backlog) < 0)
        fail("listen");
    /* Non-blocking listener: accept() says EAGAIN instead of sleeping when
     * a client that select() announced has already gone again. */
    int flags = fcntl(lfd, F_GETFL);
    if (flags < 0 || fcntl(lfd, F_SETFL, flags | O_NONBLOCK) < 0)
        fail("fcntl(O_NONBLOCK)");
    say("listen(fd %d, %d) ok: fd %d is LISTEN on %s; serving up to %d clients with select()",
        lfd, backlog, lfd, here, max_clients);

    for (;;) {
        /* Which sockets do we want to hear about? The listener (new
         * clients), each client with nothing pending (bytes to read) and
         * each client with pending output (room to send it). A client with
         * pending output is not read from: that is what bounds its buffer. */
        fd_set readable, writable;
        FD_ZERO(&readable);
        FD_ZERO(&writable);
        int maxfd = -1;
        struct timeval retry = {0, 0}, *timeout = NULL;
        if (now_ms() >= accept_again_at) {
            FD_SET(lfd, &readable);
            maxfd = lfd;
        } else {
            retry.tv_usec = 100000; /* out of fds: look again shortly */
            timeout = &retry;
        }
        for (int i = 0; i < nactive; i++) {
            int fd = active[i];
            if (clients[fd].pending != NULL)
                FD_SET(fd, &writable);
            else
                FD_SET(fd, &readable);
            if (fd > maxfd)
                maxfd = fd;
        }

        /* select(): sleep until at least one of them is ready. It returns
         * the sets changed to hold only the ready fds. */
        step("select(%d fds)\n"
             "fd %d LISTEN and %d client socket(s), all in one process, each ESTABLISHED "
             "(CLOSE_WAIT once the client has closed)\n"
             "returns when a client connects, sends, or has room for our pending bytes",
             maxfd + 1, lfd, nactive);
        int ready = select(maxfd + 1, &readable, &writable, NULL, timeout);
        if (ready < 0) {
            if (errno == EINTR) /* a signal: nothing is ready, just look again */
                continue;
            fail("select");
        }
        if (FD_ISSET(lfd, &readable))
            accept_clients(lfd, max_clients);
        /* Backwards: drop() moves the last client into the slot it frees. */
        for (int i = nactive - 1; i >= 0; i--) {
            int fd = active[i];
            if (FD_ISSET(fd, &writable))
                client_writable(fd);
            else if (FD_ISSET(fd, &readable))
                client_readable(fd);
        }
    }
}

/* accept(): take every connection the kernel has queued. Each becomes a
 * non-blocking client socket, unless it cannot be watched with select(). */
static void accept_clients(int lfd, int max_clients)
{
    for (int batch = 0; batch < 64; batch++) {
        step("accept(fd %d)\n"
             "fd %d LISTEN; ss -tln Recv-Q: connections waiting\n"
             "a new fd for the oldest waiting connection, or EAGAIN if none",
             lfd, lfd);
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof peer;
        int fd = accept(lfd, (struct sockaddr *)&peer, &peerlen);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* The connection stays queued, so select() would report the
                 * listener at once, for ever: stop watching it for 100 ms. */
                fprintf(stderr, "%s: accept(fd %d): %s: not accepting for 100 ms\n", prog, lfd,
                        strerror(errno));
                accept_again_at = now_ms() + 100;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                       errno != ECONNABORTED) {
                fprintf(stderr, "%s: accept(fd %d): %s (going on)\n", prog, lfd, strerror(errno));
            }
            return;
        }
        char them[64];
        addr_text((struct sockaddr *)&peer, them, sizeof them);
        if (fd >= FD_SETSIZE) {
            /* FD_SET on this fd would write past the end of the fd_set. */
            fprintf(stderr, "%s: accept(fd %d) = fd %d from %s: select() can only watch fds "
                            "below FD_SETSIZE (%d): closing this connection\n",
                    prog, lfd, fd, them, FD_SETSIZE);
            close(fd);
            continue;
        }
        if (nactive >= max_clients) {
            fprintf(stderr, "%s: accept(fd %d) = fd %d from %s: already %d clients (-m): "
                            "closing this connection\n",
                    prog, lfd, fd, them, nactive);
            close(fd);
            continue;
        }
        /* Linux does not pass O_NONBLOCK on from the listener; BSD does. */
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
            fprintf(stderr, "%s: fcntl(fd %d, O_NONBLOCK): %s: closing it\n", prog, fd,
                    strerror(errno));
            close(fd);
            continue;
        }
        /* TCP_NODELAY: an echo bigger than one CHUNK goes out in pieces, and
         * with Nagle's algorithm on, a small last piece waits for the ACK of
         * the one before, which a client that only reads delays (delayed ACK:
         * 40 ms on Linux). A server that sends whole replies turns Nagle off. */
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
            fprintf(stderr, "%s: setsockopt(fd %d, TCP_NODELAY): %s (going on)\n", prog, fd,
                    strerror(errno));
        struct client *c = &clients[fd];
        memset(c, 0, sizeof *c);
        snprintf(c->peer, sizeof c->peer, "%s", them);
        active[nactive++] = fd;
        if (!quiet)
            say("accept(fd %d) = fd %d: client %s connected (%d client%s now)", lfd, fd, c->peer,
                nactive, nactive == 1 ? "" : "s");
    }
}

/* recv() from a client select() found readable, and echo what came. */
static void client_readable(int fd)
{
    static unsigned char buf[CHUNK];
    struct client *c = &clients[fd];
    char why[128];
    step("recv(fd %d)\n"
         "fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)\n"
         "the bytes waiting (select said there are some), or 0 if the client closed",
         fd, fd, c->peer);
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return; /* nothing after all: select() will tell us again */
        snprintf(why, sizeof why, "recv: %s", strerror(errno));
        drop(fd, why);
        return;
    }
    if (n == 0) {
        drop(fd, "closed the connection");
        return;
    }
    if (!quiet) {
        char text[TEXT_SIZE];
        say("recv(fd %d) = %ld bytes from %s: %s", fd, (long)n, c->peer,
            payload_text(buf, (size_t)n, text));
    }

    /* send() on a non-blocking socket takes what fits in the kernel's send
     * buffer and returns at once. What does not fit waits in `pending`. */
    step("send(fd %d, %ld bytes)\n"
         "fd %d ESTABLISHED (CLOSE_WAIT once the client has closed)\n"
         "as much as fits in the send buffer is queued; the rest waits with us",
         fd, (long)n, fd);
    size_t off = 0;
    while (off < (size_t)n) {
        ssize_t w = send(fd, buf + off, (size_t)n - off, 0);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            snprintf(why, sizeof why, "send: %s", strerror(errno));
            drop(fd, why);
            return;
        }
        off += (size_t)w;
    }
    c->bytes += off;
    if (off < (size_t)n) {
        /* The client is not reading. Keep the rest (at most one CHUNK) and
         * stop reading from it until the rest is sent. */
        c->pending_len = (size_t)n - off;
        c->pending_off = 0;
        c->pending = malloc(c->pending_len);
        if (c->pending == NULL) {
            drop(fd, "out of memory");
            return;
        }
        memcpy(c->pending, buf + off, c->pending_len);
        if (!quiet)
            say("send(fd %d): %lu of %ld bytes sent, the client is not reading fast enough: "
                "waiting until it has room",
                fd, (unsigned long)off, (long)n);
    } else if (!quiet) {
        say("send(fd %d) = %ld bytes: echoed", fd, (long)n);
    }
}

/* select() found room in the send buffer of a client with pending bytes. */
static void client_writable(int fd)
{
    struct client *c = &clients[fd];
    step("send(fd %d, %lu pending bytes)\n"
         "fd %d ESTABLISHED (CLOSE_WAIT once the client has closed); its send buffer had been "
         "full\n"
         "more of the pending bytes are queued",
         fd, (unsigned long)(c->pending_len - c->pending_off), fd);
    while (c->pending_off < c->pending_len) {
        ssize_t w = send(fd, c->pending + c->pending_off, c->pending_len - c->pending_off, 0);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            char why[128];
            snprintf(why, sizeof why, "send: %s", strerror(errno));
            drop(fd, why);
            return;
        }
        c->pending_off += (size_t)w;
        c->bytes += (size_t)w;
    }
    free(c->pending);
    c->pending = NULL; /* all sent: read from this client again */
    if (!quiet)
        say("send(fd %d): pending bytes all sent, reading from %s again", fd, c->peer);
}

/* close() a client and forget it; the other clients do not notice. */
static void drop(int fd, const char *why)
{
    struct client *c = &clients[fd];
    if (strcmp(why, "closed the connection") == 0)
        step("close(fd %d)\n"
             "fd %d CLOSE_WAIT: the client closed the connection (recv returned 0)\n"
             "our FIN finishes the close: the client's end goes to TIME_WAIT, fd gone",
             fd, fd);
    else
        step("close(fd %d)\n"
             "fd %d: the connection failed (%s)\n"
             "the fd is gone from lsof",
             fd, fd, why);
    close(fd);
    free(c->pending);
    c->pending = NULL;
    for (int i = 0; i < nactive; i++) {
        if (active[i] == fd) {
            active[i] = active[--nactive];
            break;
        }
    }
    if (!quiet)
        say("close(fd %d): client %s %s after %llu bytes (%d client%s now)", fd, c->peer, why,
            c->bytes, nactive, nactive == 1 ? "" : "s");
}

/* bind() failed: say why, and for EADDRINUSE which of the two it is. */
_Noreturn static void bind_failed(int lfd, const struct sockaddr_in *me, const char *here)
{
    int e = errno, port = ntohs(me->sin_port);
    char advice[400] = "";
    if (e == EADDRINUSE && port_has_listener(me))
        snprintf(advice, sizeof advice,
                 " (a server is listening on port %d now: lsof -n -P -i TCP:%d -s TCP:LISTEN "
                 "shows which)",
                 port, port);
    else if (e == EADDRINUSE)
        snprintf(advice, sizeof advice,
                 " (no server listens on port %d, but connections of an earlier server linger, "
                 "e.g. in TIME_WAIT for 60 s: -r restarts at once only if the earlier server "
                 "used -r too; else wait. ss -tan 'sport = :%d' shows them)",
                 port, port);
    else if (e == EADDRNOTAVAIL)
        snprintf(advice, sizeof advice, " (that address is not one of this machine's)");
    else if (e == EACCES)
        snprintf(advice, sizeof advice, " (ports below 1024 need root)");
    fprintf(stderr, "%s: bind(fd %d, %s): %s%s\n", prog, lfd, here, strerror(e), advice);
    exit(1);
}

/* Is a server listening on the port bind() found in use? Ask the kernel:
 * a non-blocking connect() to that address (to 127.0.0.1 for the
 * wildcard), 500 ms at most. Connected, or still waiting (a listener whose
 * queue is full drops our SYN): yes. Refused: no, only connections linger. */
static int port_has_listener(const struct sockaddr_in *me)
{
    struct sockaddr_in to = *me;
    if (to.sin_addr.s_addr == htonl(INADDR_ANY))
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    int flags = fcntl(fd, F_GETFL), listening = 0;
    if (flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0) {
        if (connect(fd, (struct sockaddr *)&to, sizeof to) == 0) {
            listening = 1;
        } else if (errno == EINPROGRESS && fd < FD_SETSIZE) {
            fd_set w;
            FD_ZERO(&w);
            FD_SET(fd, &w);
            struct timeval wait = {0, 500000};
            int ready = select(fd + 1, NULL, &w, NULL, &wait);
            int err = 0;
            socklen_t len = sizeof err;
            if (ready == 0) /* no answer in 500 ms: a listener with a full queue */
                listening = 1;
            else if (ready > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0)
                listening = err == 0;
        }
    }
    close(fd);
    return listening;
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-p PORT] [-a ADDRESS] [-l BACKLOG] [-m MAX] [-r] [-q] [-S] [-h]\n"
            "TCP echo server with a select() loop: many clients at once, one process.\n"
            "Each client gets back everything it sends, for as long as it stays.\n"
            "  -p PORT     TCP port to listen on (default %d)\n"
            "  -a ADDRESS  listen on this local address or host name only\n"
            "              (default: all interfaces, shown as *)\n"
            "  -l BACKLOG  listen() backlog (default %d)\n"
            "  -m MAX      at most MAX clients at once; more are closed at once\n"
            "              (default and highest: %d, FD_SETSIZE)\n"
            "  -r          set SO_REUSEADDR before bind()\n"
            "  -q          quiet: no line per client or message\n"
            "  -S          step mode: before each socket call, say what it will\n"
            "              change in lsof/netstat/ss, and wait for Enter\n"
            "  -h          this help\n",
            prog, DEFAULT_PORT, DEFAULT_BACKLOG, FD_SETSIZE);
}

/* --help is -h; any other --word is not an option of ours (getopt would
 * say "unknown option --"). */
static void long_options(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            exit(0);
        }
    }
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0 && argv[i][2] != '\0')
            usage_error("unknown option '%s': the options are single letters", argv[i]);
    }
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

/* One line of the log on stdout. When stdout fails (a closed pipe: EPIPE,
 * as SIGPIPE is ignored; a full disk), say so once on stderr and write no
 * more log: the clients are still served. */
static void say(const char *f, ...)
{
    if (log_lost)
        return;
    int saved = errno;
    va_list ap;
    errno = 0;
    printf("%s: ", prog);
    va_start(ap, f);
    vprintf(f, ap);
    va_end(ap);
    putchar('\n'); /* line-buffered: this writes the line */
    if (ferror(stdout) || fflush(stdout) == EOF) {
        log_lost = 1;
        fprintf(stderr, "%s: stdout: %s: the log is lost from here on; still serving\n", prog,
                strerror(errno != 0 ? errno : EIO));
    }
    errno = saved;
}

/* Step mode: say what the next call is, what lsof/netstat/ss show now and
 * what they will show after it, then wait for Enter. The three texts are
 * one printf format, "CALL\nNOW\nAFTER". Without -S: nothing. */
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
    if (now == NULL || after == NULL)
        now = after = text + strlen(text); /* not three texts: a bug here */
    else
        *now++ = *after++ = '\0';
    say("step: next: %s", text);
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
    if (!is_port(s))
        usage_error("bad port '%s': must be a number from 1 to 65535", s);
    return (int)strtol(s, NULL, 10);
}

/* A port number, 1 to 65535? (A leftover argument that is one was meant
 * for -p.) */
static int is_port(const char *s)
{
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > 65535)
            return 0;
    }
    return v > 0;
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

static void resolve_ipv4(const char *host, int port, struct sockaddr_in *out)
{
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((unsigned short)port);
    out->sin_addr.s_addr = htonl(INADDR_ANY);
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

/* An address as lsof -n -P shows it (*:12333, 127.0.0.1:43706), written
 * into the caller's buf, which is returned. */
static const char *addr_text(const struct sockaddr *sa, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
        if (s->sin_addr.s_addr == htonl(INADDR_ANY))
            snprintf(buf, size, "*:%u", ntohs(s->sin_port));
        else if (inet_ntop(AF_INET, &s->sin_addr, host, sizeof host) != NULL)
            snprintf(buf, size, "%s:%u", host, ntohs(s->sin_port));
        else
            snprintf(buf, size, "?:%u", ntohs(s->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)sa;
        if (inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host) != NULL)
            snprintf(buf, size, "[%s]:%u", host, ntohs(s->sin6_port));
        else
            snprintf(buf, size, "[?]:%u", ntohs(s->sin6_port));
    } else {
        snprintf(buf, size, "(address family %d)", sa->sa_family);
    }
    return buf;
}

/* The first 60 bytes of a message, quoted, with anything unprintable
 * escaped (\n, \x1b: a client cannot send escape sequences to the
 * operator's terminal), written into the caller's out, which is returned.
 * At most 60 x 4 + 40 bytes: TEXT_SIZE is plenty. */
static const char *payload_text(const unsigned char *p, size_t n, char out[TEXT_SIZE])
{
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
