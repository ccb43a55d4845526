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
 *   ./tcpserver3 -S              step mode: pause before each socket call
 *
 * Watch it from another terminal (PID is on its first line):
 *   lsof -n -P -p PID            fd 3 (LISTEN), then one fd per client
 *                                (ESTABLISHED): many connections, one process
 *   ss -tanp 'sport = :12333'    the same (Linux); a client that does not
 *                                read shows as a growing Send-Q
 *   netstat -an -p tcp           (macOS; Linux: netstat -tan)
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
#include <stddef.h>
#include <stdint.h>
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
#define CHUNK 65536   /* one recv(); also the most a client can have pending */
#define TEXT_SIZE 512 /* a message as the log shows it: see payload_text() */

static const char *prog = "tcpserver3";

/* The command line, filled by parse_options(). */
static struct options {
    const char *address; /* -a: listen on this address only (NULL: all) */
    int port;            /* -p */
    int backlog;         /* -l: listen()'s queue */
    int max_clients;     /* -m; fds >= FD_SETSIZE are refused anyway */
    int reuse;           /* -r: SO_REUSEADDR before bind() */
    int quiet;           /* -q: no line per client or message (benchmarks) */
    int step;            /* -S: pause before each socket call */
} opt = {.port = DEFAULT_PORT, .backlog = DEFAULT_BACKLOG, .max_clients = FD_SETSIZE};

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
static long long accept_again_at; /* after EMFILE: when to try accept() again */
static int log_lost; /* stdout failed: no more log lines, the serving goes on */

/* The phases of the select() loop */
static int watch(int lfd, int accepting, fd_set *readable, fd_set *writable);
static void accept_clients(int lfd);
static void echo(int fd);
static void send_pending(int fd);
static ssize_t send_nonblocking(int fd, const unsigned char *p, size_t len);
static void close_client(int fd, const char *why);
/* What step mode and the log say at each call */
static void before_socket(void);
static void after_socket(int lfd);
static void before_setsockopt(int lfd);
static void after_setsockopt(int lfd);
static void before_bind(int lfd, const struct sockaddr_in *me);
_Noreturn static void bind_failed(int lfd, const struct sockaddr_in *me);
static int port_has_listener(const struct sockaddr_in *me);
static void after_bind(int lfd, const struct sockaddr_in *me);
static void before_listen(int lfd, const struct sockaddr_in *me);
static void after_listen(int lfd, const struct sockaddr_in *me);
static void before_select(int lfd, int maxfd);
static void before_accept(int lfd);
static void accept_failed(int lfd, int err);
static void turned_away(int lfd, int fd, const char *them);
static void after_accept(int lfd, int fd);
static void before_recv(int fd);
static void after_recv(int fd, const unsigned char *buf, ssize_t n);
static void before_send(int fd, ssize_t n);
static void after_send(int fd, size_t sent, ssize_t n);
static void before_send_pending(int fd);
static void after_send_pending(int fd);
static void before_close(int fd, const char *why);
static void after_close(int fd, const char *why);
/* Plumbing */
static void parse_options(int argc, char **argv);
static void long_options(int argc, char **argv);
static void usage(FILE *out);
_Noreturn static void usage_error(const char *fmt, ...);
_Noreturn static void fail(const char *what);
static void say(const char *fmt, ...);
static void step_byte_order(const struct sockaddr *sa);
static const char *err_text(int e);
static void step(const char *fmt, ...);
static int is_port(const char *s);
static int parse_port(const char *s);
static int parse_count(const char *s, const char *what, int min, int max);
static void server_address(struct sockaddr_in *out);
static int set_nonblocking(int fd);
static long long now_ms(void);
static const char *addr_text(const struct sockaddr *sa, char *buf, size_t size);
static const char *payload_text(const unsigned char *p, size_t n, char out[TEXT_SIZE]);

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0); /* the log goes out a line at a time */
    /* send() to a client that has reset the connection raises SIGPIPE,
     * which would kill the server and every other client with it. */
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in me;
    server_address(&me); /* *:PORT, or -a's address (getaddrinfo()) */

    /* socket(): a TCP socket, no address yet: lsof shows it, ss does not. */
    before_socket();
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        fail("socket");
    after_socket(lfd);

    /* -r: SO_REUSEADDR lets bind() take a port that connections of an
     * earlier server still hold (on Linux: if that server set it too). */
    if (opt.reuse) {
        int one = 1;
        before_setsockopt(lfd);
        if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            fail("setsockopt(SO_REUSEADDR)");
        after_setsockopt(lfd);
    }

    /* bind(): claim the port. Not LISTEN yet: a SYN here still gets RST. */
    before_bind(lfd, &me);
    if (bind(lfd, (struct sockaddr *)&me, sizeof me) < 0)
        bind_failed(lfd, &me); /* exit 1, with the EADDRINUSE advice */
    after_bind(lfd, &me);

    /* listen(): LISTEN. The kernel completes handshakes by itself now and
     * queues them for accept(). Non-blocking: accept() says EAGAIN instead
     * of sleeping when a client that select() announced has gone again. */
    before_listen(lfd, &me);
    if (listen(lfd, opt.backlog) < 0)
        fail("listen");
    if (set_nonblocking(lfd) < 0)
        fail("fcntl(O_NONBLOCK)");
    after_listen(lfd, &me);

    for (;;) {
        fd_set readable, writable; /* the fds to watch: see watch() */
        int accepting = now_ms() >= accept_again_at; /* not for 100 ms after EMFILE */
        int maxfd = watch(lfd, accepting, &readable, &writable);
        struct timeval retry = {0, 100000};

        /* select(): sleep until at least one of them is ready (without the
         * listener: 100 ms at most). It leaves only the ready fds in the sets. */
        before_select(lfd, maxfd);
        if (select(maxfd + 1, &readable, &writable, NULL, accepting ? NULL : &retry) < 0) {
            if (errno == EINTR) /* a signal: nothing is ready, just look again */
                continue;
            fail("select");
        }
        if (FD_ISSET(lfd, &readable))
            accept_clients(lfd); /* accept() the waiting connections */
        /* Backwards: close_client() moves the last client into the slot it frees. */
        for (int i = nactive - 1; i >= 0; i--) {
            int fd = active[i];
            if (FD_ISSET(fd, &writable))
                send_pending(fd); /* send() the bytes that did not fit before */
            else if (FD_ISSET(fd, &readable))
                echo(fd); /* recv(), and send() it back; or close() */
        }
    }
}

/*
 * watch(): fill the two fd_sets for select() and return the highest fd.
 * readable: the listener (a waiting connection makes it readable), unless
 * accept() is paused after EMFILE, and each client with nothing pending
 * (its bytes to recv()). writable: each client with pending output (room in
 * its send buffer). A client with pending output is not read from: that
 * is what bounds its buffer.
 */
static int watch(int lfd, int accepting, fd_set *readable, fd_set *writable)
{
    int maxfd = -1;
    FD_ZERO(readable);
    FD_ZERO(writable);
    if (accepting) {
        FD_SET(lfd, readable);
        maxfd = lfd;
    }
    for (int i = 0; i < nactive; i++) {
        int fd = active[i];
        FD_SET(fd, clients[fd].pending != NULL ? writable : readable);
        if (fd > maxfd)
            maxfd = fd;
    }
    return maxfd;
}

/*
 * accept_clients(): the listener is readable: connections wait in its
 * queue. accept() takes them one by one until EAGAIN (64 at most, so that
 * the clients we have get their turn too). Each becomes a non-blocking
 * client socket, watched from the next select() on; unless select() cannot
 * watch its fd (FD_SETSIZE or more) or -m clients are here already: then
 * it is closed at once.
 */
static void accept_clients(int lfd)
{
    for (int batch = 0; batch < 64; batch++) {
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof peer;
        before_accept(lfd);
        int fd = accept(lfd, (struct sockaddr *)&peer, &peerlen);
        if (fd < 0) {
            /* EMFILE: out of fds. The connection stays queued, so select()
             * would report the listener at once, for ever: stop watching
             * it for 100 ms. (EAGAIN: the queue is empty.) */
            int e = errno;
            if (e == EMFILE || e == ENFILE)
                accept_again_at = now_ms() + 100;
            accept_failed(lfd, e);
            return;
        }
        char them[64];
        addr_text((struct sockaddr *)&peer, them, sizeof them);
        /* FD_SET on an fd >= FD_SETSIZE would write past the end of the fd_set. */
        if (fd >= FD_SETSIZE || nactive >= opt.max_clients) {
            turned_away(lfd, fd, them);
            close(fd);
            continue;
        }
        /* Linux does not pass O_NONBLOCK on from the listener; BSD does. */
        if (set_nonblocking(fd) < 0) {
            fprintf(stderr, "%s: fcntl(fd %d, O_NONBLOCK): %s: closing it\n", prog, fd,
                    err_text(errno));
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
                    err_text(errno));
        struct client *c = &clients[fd];
        memset(c, 0, sizeof *c);
        snprintf(c->peer, sizeof c->peer, "%s", them);
        active[nactive++] = fd;
        after_accept(lfd, fd);
    }
}

/*
 * echo(): select() found a client readable: bytes wait, or its FIN (recv()
 * returns 0), or an error. recv() takes up to one CHUNK and send() gives it
 * back. What the send buffer cannot take now waits in c->pending (at most
 * one CHUNK), and the client is not read from until send_pending() has
 * sent it all.
 */
static void echo(int fd)
{
    static unsigned char buf[CHUNK];
    struct client *c = &clients[fd];
    char why[128];
    before_recv(fd);
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return; /* nothing after all: select() will tell us again */
    if (n < 0) {
        snprintf(why, sizeof why, "recv: %s", err_text(errno));
        close_client(fd, why);
        return;
    }
    if (n == 0) {
        close_client(fd, "closed the connection");
        return;
    }
    after_recv(fd, buf, n);

    before_send(fd, n);
    ssize_t sent = send_nonblocking(fd, buf, (size_t)n);
    if (sent < 0) {
        snprintf(why, sizeof why, "send: %s", err_text(errno));
        close_client(fd, why);
        return;
    }
    c->bytes += (size_t)sent;
    if (sent < n) {
        /* The client is not reading: keep the rest, stop reading from it. */
        c->pending_len = (size_t)(n - sent);
        c->pending_off = 0;
        c->pending = malloc(c->pending_len);
        if (c->pending == NULL) {
            close_client(fd, "out of memory");
            return;
        }
        memcpy(c->pending, buf + sent, c->pending_len);
    }
    after_send(fd, (size_t)sent, n);
}

/*
 * send_pending(): select() found room in the send buffer of a client with
 * pending bytes (it has read some). send() more of them; once all are
 * gone, the client is read from again.
 */
static void send_pending(int fd)
{
    struct client *c = &clients[fd];
    before_send_pending(fd);
    ssize_t sent = send_nonblocking(fd, c->pending + c->pending_off,
                                    c->pending_len - c->pending_off);
    if (sent < 0) {
        char why[128];
        snprintf(why, sizeof why, "send: %s", err_text(errno));
        close_client(fd, why);
        return;
    }
    c->pending_off += (size_t)sent;
    c->bytes += (size_t)sent;
    if (c->pending_off < c->pending_len)
        return; /* the buffer is full again: select() tells us when there is room */
    free(c->pending);
    c->pending = NULL; /* all sent: read from this client again */
    after_send_pending(fd);
}

/*
 * send_nonblocking(): send() on a non-blocking socket takes what fits in
 * the kernel's send buffer and returns at once; EAGAIN means it is full.
 * Returns how many bytes went (maybe fewer than len), or -1 on an error.
 */
static ssize_t send_nonblocking(int fd, const unsigned char *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, p + off, len - off, 0);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w < 0)
            return -1;
        off += (size_t)w;
    }
    return (ssize_t)off;
}

/*
 * close_client(): close() a client and forget it; the other clients do not
 * notice. After the client's FIN (recv() returned 0) our close() sends our
 * FIN and the connection ends; after an error the fd just goes.
 */
static void close_client(int fd, const char *why)
{
    struct client *c = &clients[fd];
    before_close(fd, why);
    close(fd);
    free(c->pending);
    c->pending = NULL;
    for (int i = 0; i < nactive; i++) {
        if (active[i] == fd) {
            active[i] = active[--nactive];
            break;
        }
    }
    after_close(fd, why);
}

/* ==== The lesson ends here. Below: what step mode and the log say at each call (in lecture order), then the plumbing. ==== */

static void before_socket(void)
{
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());
    step("socket(AF_INET, SOCK_STREAM, 0)\n"
         "no socket yet\n"
         "a new fd: a TCP socket with no address (netstat and ss do not list it)");
}

static void after_socket(int lfd)
{
    say("socket(AF_INET, SOCK_STREAM, 0) = fd %d", lfd);
}

static void before_setsockopt(int lfd)
{
    step("setsockopt(fd %d, SO_REUSEADDR, 1)\n"
         "fd %d has no address\n"
         "no visible change: bind() may now reuse a port old connections still hold",
         lfd, lfd);
}

static void after_setsockopt(int lfd)
{
    say("setsockopt(fd %d, SO_REUSEADDR, 1) ok", lfd);
}

static void before_bind(int lfd, const struct sockaddr_in *me)
{
    step_byte_order((const struct sockaddr *)me);
    char here[64];
    addr_text((const struct sockaddr *)me, here, sizeof here);
    step("bind(fd %d, %s)\n"
         "fd %d has no address: ss -tln does not show port %d\n"
         "fd %d owns %s but is not LISTEN yet",
         lfd, here, lfd, opt.port, lfd, here);
}

/* bind() failed: say why, and for EADDRINUSE which of the two it is. */
_Noreturn static void bind_failed(int lfd, const struct sockaddr_in *me)
{
    int e = errno, port = ntohs(me->sin_port);
    char here[64], advice[400] = "";
    addr_text((const struct sockaddr *)me, here, sizeof here);
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
    fprintf(stderr, "%s: bind(fd %d, %s): %s%s\n", prog, lfd, here, err_text(e), advice);
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
    int fd = socket(AF_INET, SOCK_STREAM, 0), listening = 0;
    if (fd < 0)
        return 0;
    if (set_nonblocking(fd) == 0) {
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

static void after_bind(int lfd, const struct sockaddr_in *me)
{
    char here[64];
    say("bind(fd %d, %s) ok", lfd, addr_text((const struct sockaddr *)me, here, sizeof here));
}

static void before_listen(int lfd, const struct sockaddr_in *me)
{
    char here[64];
    addr_text((const struct sockaddr *)me, here, sizeof here);
    step("listen(fd %d, %d)\n"
         "fd %d bound to %s, not listening: ss -tln does not show it\n"
         "fd %d is LISTEN: lsof 'TCP %s (LISTEN)'",
         lfd, opt.backlog, lfd, here, lfd, here);
}

static void after_listen(int lfd, const struct sockaddr_in *me)
{
    char here[64];
    addr_text((const struct sockaddr *)me, here, sizeof here);
    say("listen(fd %d, %d) ok: fd %d is LISTEN on %s; serving up to %d clients with select()",
        lfd, opt.backlog, lfd, here, opt.max_clients);
}

static void before_select(int lfd, int maxfd)
{
    step("select(%d fds)\n"
         "fd %d LISTEN and %d client socket(s), all in one process, each ESTABLISHED "
         "(CLOSE_WAIT once the client has closed)\n"
         "returns when a client connects, sends, or has room for our pending bytes",
         maxfd + 1, lfd, nactive);
}

static void before_accept(int lfd)
{
    step("accept(fd %d)\n"
         "fd %d LISTEN; ss -tln Recv-Q: connections waiting\n"
         "a new fd for the oldest waiting connection, or EAGAIN if none",
         lfd, lfd);
}

/* accept() failed with err: EAGAIN (the queue is empty), EINTR and
 * ECONNABORTED (a client that left again) are no news. */
static void accept_failed(int lfd, int err)
{
    if (err == EMFILE || err == ENFILE)
        fprintf(stderr, "%s: accept(fd %d): %s: not accepting for 100 ms\n", prog, lfd,
                err_text(err));
    else if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR && err != ECONNABORTED)
        fprintf(stderr, "%s: accept(fd %d): %s (going on)\n", prog, lfd, err_text(err));
}

/* accept() gave fd, but we close it at once: why. */
static void turned_away(int lfd, int fd, const char *them)
{
    if (fd >= FD_SETSIZE)
        fprintf(stderr,
                "%s: accept(fd %d) = fd %d from %s: select() can only watch fds below "
                "FD_SETSIZE (%d): closing this connection\n",
                prog, lfd, fd, them, FD_SETSIZE);
    else
        fprintf(stderr,
                "%s: accept(fd %d) = fd %d from %s: already %d clients (-m): closing this "
                "connection\n",
                prog, lfd, fd, them, nactive);
}

static void after_accept(int lfd, int fd)
{
    if (!opt.quiet)
        say("accept(fd %d) = fd %d: client %s connected (%d client%s now)", lfd, fd,
            clients[fd].peer, nactive, nactive == 1 ? "" : "s");
}

static void before_recv(int fd)
{
    step("recv(fd %d)\n"
         "fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)\n"
         "the bytes waiting (select said there are some), or 0 if the client closed",
         fd, fd, clients[fd].peer);
}

static void after_recv(int fd, const unsigned char *buf, ssize_t n)
{
    char text[TEXT_SIZE];
    if (!opt.quiet)
        say("recv(fd %d) = %ld bytes from %s: %s", fd, (long)n, clients[fd].peer,
            payload_text(buf, (size_t)n, text));
}

static void before_send(int fd, ssize_t n)
{
    step("send(fd %d, %ld bytes)\n"
         "fd %d ESTABLISHED (CLOSE_WAIT once the client has closed)\n"
         "as much as fits in the send buffer is queued; the rest waits with us",
         fd, (long)n, fd);
}

static void after_send(int fd, size_t sent, ssize_t n)
{
    if (opt.quiet)
        return;
    if (sent < (size_t)n)
        say("send(fd %d): %lu of %ld bytes sent, the client is not reading fast enough: "
            "waiting until it has room",
            fd, (unsigned long)sent, (long)n);
    else
        say("send(fd %d) = %ld bytes: echoed", fd, (long)n);
}

static void before_send_pending(int fd)
{
    const struct client *c = &clients[fd];
    step("send(fd %d, %lu pending bytes)\n"
         "fd %d ESTABLISHED (CLOSE_WAIT once the client has closed); its send buffer had been "
         "full\n"
         "more of the pending bytes are queued",
         fd, (unsigned long)(c->pending_len - c->pending_off), fd);
}

static void after_send_pending(int fd)
{
    if (!opt.quiet)
        say("send(fd %d): pending bytes all sent, reading from %s again", fd, clients[fd].peer);
}

static void before_close(int fd, const char *why)
{
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
}

static void after_close(int fd, const char *why)
{
    if (!opt.quiet)
        say("close(fd %d): client %s %s after %llu bytes (%d client%s now)", fd, clients[fd].peer,
            why, clients[fd].bytes, nactive, nactive == 1 ? "" : "s");
}

/* ---- plumbing: options, formatting, errors ---- */

/* The command line into opt. -h and --help print the usage; a mistake is
 * one line on stderr and exit 2. */
static void parse_options(int argc, char **argv)
{
    int o;
    long_options(argc, argv);
    opterr = 0;
    while ((o = getopt(argc, argv, ":p:a:l:m:rqSh")) != -1) {
        switch (o) {
        case 'p': opt.port = parse_port(optarg); break;
        case 'a': opt.address = optarg; break;
        case 'l': opt.backlog = parse_count(optarg, "backlog", 0, 65535); break;
        case 'm': opt.max_clients = parse_count(optarg, "client limit", 1, FD_SETSIZE); break;
        case 'r': opt.reuse = 1; break;
        case 'q': opt.quiet = 1; break;
        case 'S': opt.step = 1; break;
        case 'h': usage(stdout); exit(0);
        case ':': usage_error("option -%c needs an argument", optopt);
        default: usage_error("unknown option -%c", optopt);
        }
    }
    if (optind < argc && is_port(argv[optind]))
        usage_error("unexpected argument '%s': the port goes with -p: %s -p %s", argv[optind],
                    prog, argv[optind]);
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
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
                err_text(errno != 0 ? errno : EIO));
    }
    errno = saved;
}

/* Step mode: say what the next call is, what lsof/netstat/ss show now and
 * what they will show after it, then wait for Enter. The three texts are
 * one printf format, "CALL\nNOW\nAFTER". Without -S: nothing. */
static void step(const char *f, ...)
{
    if (!opt.step)
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
            opt.step = 0;
            return;
        }
        if (c == '\n')
            return;
    }
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

static int parse_port(const char *s)
{
    if (!is_port(s))
        usage_error("bad port '%s': must be a number from 1 to 65535", s);
    return (int)strtol(s, NULL, 10);
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

/* The address to bind: all interfaces (INADDR_ANY), or the IPv4 address
 * of -a ADDRESS, which getaddrinfo() finds for a name; port -p. */
static void server_address(struct sockaddr_in *out)
{
    const char *host = opt.address;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((unsigned short)opt.port);
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

/* O_NONBLOCK on fd: its calls return EAGAIN instead of sleeping. */
static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
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
