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
 *   cc -o tcpserver3 tcpserver3.c     (lab.h beside it)
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
 *
 * The file: the lesson (main(), its loop's phases); what step mode and the
 * log say (before_*, after_*, *_failed: make bare removes them); options.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lab.h"

#define PROG "tcpserver3"
#define DEFAULT_PORT 12333
#define DEFAULT_BACKLOG 5
#define CHUNK 65536 /* one recv(); also the most a client can have pending */

/* The command line, filled by parse_options(). */
static struct options {
    const char *address; /* -a: listen on this address only (NULL: all) */
    int port;            /* -p */
    int backlog;         /* -l: listen()'s queue */
    int max_clients;     /* -m; fds >= FD_SETSIZE are refused anyway */
    int reuse;           /* -r: SO_REUSEADDR before bind() */
} opt = {.port = DEFAULT_PORT, .backlog = DEFAULT_BACKLOG, .max_clients = FD_SETSIZE};

/* One connected client, found by its fd (always < FD_SETSIZE). */
struct client {
    unsigned char *pending; /* echo bytes send() could not take yet, or NULL */
    size_t pending_len, pending_off;
};
static struct client clients[FD_SETSIZE];
static int active[FD_SETSIZE]; /* the fds of connected clients */
static int nactive;
static long accept_again_at; /* after EMFILE: when to try accept() again */

/* The phases of the select() loop, then the options (at the end) */
static int fill_fd_sets(int lfd, int accepting, fd_set *readable, fd_set *writable);
static void accept_clients(int lfd);
static void echo(int fd);
static void send_pending(int fd);
static ssize_t send_nonblocking(int fd, const unsigned char *p, size_t len);
static void close_client(int fd);
static void parse_options(int argc, char **argv);
static void usage(FILE *out);

static void before_socket(void);
static void after_socket(int lfd);
static void before_setsockopt(int lfd);
static void after_setsockopt(int lfd);
static void before_bind(int lfd, const struct sockaddr_in *me);
static void bind_failed(int lfd, const struct sockaddr_in *me);
static void after_bind(int lfd, const struct sockaddr_in *me);
static void before_listen(int lfd, const struct sockaddr_in *me);
static void after_listen(int lfd, const struct sockaddr_in *me);
static void before_select(int lfd, int maxfd);
static void before_accept(int lfd);
static void after_accept(int lfd, int fd, const struct sockaddr_storage *peer);
static void before_turn_away(int fd);
static void after_turn_away(int fd, const struct sockaddr_storage *peer);
static void before_recv(int fd);
static void recv_failed(void);
static void after_recv(int fd, const unsigned char *buf, ssize_t n);
static void before_send(int fd, ssize_t n);
static void send_failed(void);
static void after_send(int fd, ssize_t sent, ssize_t n);
static void malloc_failed(void);
static void before_send_pending(int fd);
static void after_send_pending(int fd, ssize_t sent);
static void before_close(int fd);
static void after_close(int fd);

int main(int argc, char **argv)
{
    /* lab_start() (in parse_options) ignores SIGPIPE: a send() to a client that
     * has reset fails with EPIPE instead of killing us and every client. */
    parse_options(argc, argv);

    /* N1, N3: the address to bind. All interfaces (INADDR_ANY, "*"), or
     * -a's IPv4 address; port and address in network byte order. */
    struct sockaddr_in me;
    memset(&me, 0, sizeof me);
    me.sin_family = AF_INET;
    me.sin_port = htons(opt.port);
    me.sin_addr.s_addr = htonl(INADDR_ANY);
    if (opt.address != NULL)
        me.sin_addr = resolve_ipv4(opt.address); /* a name: getaddrinfo() */

    /* socket(): a TCP socket, no address yet: lsof shows it, ss does not. */
    before_socket();
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        fail("socket");
    after_socket(lfd);

    /* T7: -r: SO_REUSEADDR lets bind() take a port that connections of an
     * earlier server still hold (on Linux: if that server set it too). */
    if (opt.reuse) {
        int one = 1;
        before_setsockopt(lfd);
        if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            fail("setsockopt(SO_REUSEADDR)");
        after_setsockopt(lfd);
    }

    /* bind(): claim the port. Not LISTEN yet: a SYN here still gets RST.
     * N4, T7: EADDRINUSE when a server listens there, or old connections linger. */
    before_bind(lfd, &me);
    if (bind(lfd, (struct sockaddr *)&me, sizeof me) < 0) {
        bind_failed(lfd, &me);
        fail("bind");
    }
    after_bind(lfd, &me);

    /* T2, T9: listen(): LISTEN. The kernel completes handshakes by itself
     * now and queues them (up to the backlog) for accept(). */
    before_listen(lfd, &me);
    if (listen(lfd, opt.backlog) < 0)
        fail("listen");
    /* O_NONBLOCK: accept() says EAGAIN instead of sleeping when a client
     * that select() announced has gone again. */
    int flags = fcntl(lfd, F_GETFL);
    if (flags < 0 || fcntl(lfd, F_SETFL, flags | O_NONBLOCK) < 0)
        fail("fcntl(O_NONBLOCK)");
    after_listen(lfd, &me);

    /* T13: one process, one thread, every client at once. */
    for (;;) {
        fd_set readable, writable; /* the fds to watch: see fill_fd_sets() */
        int accepting = now_ms() >= accept_again_at; /* not for 100 ms after EMFILE */
        int maxfd = fill_fd_sets(lfd, accepting, &readable, &writable);
        struct timeval retry = {0, 100000};

        /* N7: select(): sleep in the kernel (no CPU) until at least one of
         * them is ready (without the listener: 100 ms at most). It leaves
         * only the ready fds in the sets. */
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
 * fill_fd_sets(): fill the two fd_sets for select() and return the highest fd.
 * readable: the listener (a waiting connection makes it readable), unless
 * accept() is paused after EMFILE, and each client with nothing pending
 * (its bytes to recv()). writable: each client with pending output (room in
 * its send buffer). A client with pending output is not read from: that
 * is what bounds its buffer.
 */
static int fill_fd_sets(int lfd, int accepting, fd_set *readable, fd_set *writable)
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
        char them[ADDR_TEXT_SIZE];
        /* T4: accept(): a new fd for the oldest connection in the queue. */
        before_accept(lfd);
        int fd = accept(lfd, (struct sockaddr *)&peer, &peerlen);
        if (fd < 0) {
            /* EAGAIN: the queue is empty; EINTR, ECONNABORTED: a client that
             * left again. EMFILE: out of fds. The connection stays queued, so
             * select() would report the listener at once, for ever: stop
             * watching it for 100 ms. */
            int e = errno;
            if (e == EMFILE || e == ENFILE) {
                accept_again_at = now_ms() + 100;
                fprintf(stderr, "%s: accept(fd %d): %s: not accepting for 100 ms\n", lab.prog,
                        lfd, err_text(e));
            } else if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR && e != ECONNABORTED) {
                fprintf(stderr, "%s: accept(fd %d): %s (going on)\n", lab.prog, lfd, err_text(e));
            }
            return;
        }
        /* FD_SET on an fd >= FD_SETSIZE would write past the end of the fd_set. */
        if (fd >= FD_SETSIZE || nactive >= opt.max_clients) {
            addr_text(&peer, them, sizeof them);
            if (fd >= FD_SETSIZE)
                fprintf(stderr, "%s: accept(fd %d) = fd %d from %s: select() can only watch fds "
                        "below FD_SETSIZE (%d): closing this connection\n",
                        lab.prog, lfd, fd, them, FD_SETSIZE);
            else
                fprintf(stderr, "%s: accept(fd %d) = fd %d from %s: already %d clients (-m): "
                        "closing this connection\n", lab.prog, lfd, fd, them, nactive);
            /* N9: our FIN; but RST if the client has sent already (its bytes
             * wait unread): its next recv() or send() fails with ECONNRESET. */
            before_turn_away(fd);
            close(fd);
            after_turn_away(fd, &peer);
            continue;
        }
        /* O_NONBLOCK: Linux does not pass it on from the listener; BSD does. */
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
            fprintf(stderr, "%s: fcntl(fd %d, O_NONBLOCK): %s: closing it\n", lab.prog, fd,
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
            fprintf(stderr, "%s: setsockopt(fd %d, TCP_NODELAY): %s (going on)\n", lab.prog, fd,
                    err_text(errno));
        memset(&clients[fd], 0, sizeof clients[fd]);
        active[nactive++] = fd;
        after_accept(lfd, fd, &peer);
    }
}

/*
 * echo(): select() found a client readable: bytes wait, or its FIN (recv()
 * returns 0), or an error. recv() takes up to one CHUNK and send() gives it
 * back. What the send buffer cannot take now waits in c->pending (at most
 * one CHUNK: 64 KiB), and the client is not read from until send_pending()
 * has sent it all.
 */
static void echo(int fd)
{
    static unsigned char buf[CHUNK];
    struct client *c = &clients[fd];
    /* N6: recv(): the bytes that are here, up to CHUNK: a stream, not messages. */
    before_recv(fd);
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return; /* nothing after all: select() will tell us again */
    if (n < 0) { /* N4: ECONNRESET: the client reset the connection */
        recv_failed();
        close_client(fd);
        return;
    }
    after_recv(fd, buf, n);
    if (n == 0) { /* T6: the client's FIN: it has closed */
        close_client(fd);
        return;
    }

    /* N5: send() queues what fits in the kernel's send buffer. */
    before_send(fd, n);
    ssize_t sent = send_nonblocking(fd, buf, (size_t)n);
    if (sent < 0) {
        send_failed();
        close_client(fd);
        return;
    }
    after_send(fd, sent, n);
    if (sent < n) {
        /* The client is not reading: keep the rest, stop reading from it. */
        c->pending_len = (size_t)(n - sent);
        c->pending_off = 0;
        c->pending = malloc(c->pending_len);
        if (c->pending == NULL) {
            malloc_failed();
            close_client(fd);
            return;
        }
        memcpy(c->pending, buf + sent, c->pending_len);
    }
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
        send_failed();
        close_client(fd);
        return;
    }
    c->pending_off += (size_t)sent;
    after_send_pending(fd, sent);
    if (c->pending_off < c->pending_len)
        return; /* the buffer is full again: select() tells us when there is room */
    free(c->pending);
    c->pending = NULL; /* all sent: read from this client again */
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
 * close_client(): T6: close() a client and forget it; the other clients
 * do not notice. After the client's FIN (recv() returned 0) our close()
 * sends our FIN and the connection ends; after an error the fd just goes.
 */
static void close_client(int fd)
{
    before_close(fd);
    close(fd); /* after its FIN, ours; the fd number is free again */
    free(clients[fd].pending);
    clients[fd].pending = NULL;
    for (int i = 0; i < nactive; i++) {
        if (active[i] == fd) {
            active[i] = active[--nactive];
            break;
        }
    }
    after_close(fd);
}

/* ==== The lesson ends here. Below: what step mode and the log say at each call, in lecture order (make bare removes it), then the options. ==== */

/* What the log remembers of each client, by fd: its address, the bytes
 * echoed to it, and why it is being closed (set just before close_client()). */
static char peer_text[FD_SETSIZE][ADDR_TEXT_SIZE];
static unsigned long long echoed[FD_SETSIZE];
static char close_why[160];

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

static void before_setsockopt(int lfd)
{
    step(fmt("setsockopt(fd %d, SO_REUSEADDR, 1)", lfd), fmt("fd %d has no address", lfd),
         "no visible change: bind() may now reuse a port old connections still hold");
}

static void after_setsockopt(int lfd)
{
    say("setsockopt(fd %d, SO_REUSEADDR, 1) ok", lfd);
}

static void before_bind(int lfd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    if (!lab.step)
        return;
    step_byte_order((const struct sockaddr *)me);
    addr_text(me, here, sizeof here);
    step(fmt("bind(fd %d, %s)", lfd, here),
         fmt("fd %d has no address: ss -tln does not show port %d", lfd, opt.port),
         fmt("fd %d owns %s but is not LISTEN yet", lfd, here));
}

/* bind() failed: the call as fail() names it, and for EADDRINUSE its two
 * causes (lab.h's bind_advice() probes the port without a packet). */
static void bind_failed(int lfd, const struct sockaddr_in *me)
{
    int e = errno;
    char here[ADDR_TEXT_SIZE];
    addr_text(me, here, sizeof here);
    const char *advice = bind_advice(e, (const struct sockaddr *)me);
    errno = e;
    explain(fmt("bind(fd %d, %s)", lfd, here), "%s", advice);
}

static void after_bind(int lfd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    say("bind(fd %d, %s) ok", lfd, addr_text(me, here, sizeof here));
}

static void before_listen(int lfd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    if (!lab.step)
        return;
    addr_text(me, here, sizeof here);
    step(fmt("listen(fd %d, %d)", lfd, opt.backlog),
         fmt("fd %d bound to %s, not listening: ss -tln does not show it", lfd, here),
         fmt("fd %d is LISTEN: lsof 'TCP %s (LISTEN)'", lfd, here));
}

static void after_listen(int lfd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    say("listen(fd %d, %d) ok: fd %d is LISTEN on %s; serving up to %d clients with select()",
        lfd, opt.backlog, lfd, addr_text(me, here, sizeof here), opt.max_clients);
}

static void before_select(int lfd, int maxfd)
{
    if (!lab.step)
        return;
    step(fmt("select(%d fds)", maxfd + 1),
         fmt("fd %d LISTEN and %d client socket(s), all in one process, each ESTABLISHED "
             "(CLOSE_WAIT once the client has closed)", lfd, nactive),
         "returns when a client connects, sends, or has room for our pending bytes");
}

static void before_accept(int lfd)
{
    if (!lab.step)
        return;
    step(fmt("accept(fd %d)", lfd), fmt("fd %d LISTEN; ss -tln Recv-Q: connections waiting", lfd),
         "a new fd for the oldest waiting connection, or EAGAIN if none");
}

static void after_accept(int lfd, int fd, const struct sockaddr_storage *peer)
{
    addr_text(peer, peer_text[fd], sizeof peer_text[fd]);
    echoed[fd] = 0;
    if (!lab.quiet)
        say("accept(fd %d) = fd %d: client %s connected (%d client%s now)", lfd, fd,
            peer_text[fd], nactive, nactive == 1 ? "" : "s");
}

/* N9: a client turned away may have sent already: then its bytes wait
 * unread, and close() sends RST, not FIN. Looked for first (lab.h's
 * unread_bytes(), a peek: close() still finds them), unless -q. */
static long turned_unread = -1;

static void before_turn_away(int fd)
{
    turned_unread = lab.quiet ? -1 : unread_bytes(fd);
}

static void after_turn_away(int fd, const struct sockaddr_storage *peer)
{
    char them[ADDR_TEXT_SIZE];
    if (lab.quiet)
        return;
    addr_text(peer, them, sizeof them);
    if (turned_unread > 0)
        say("close(fd %d): turned %s away: at least %ld bytes unread: " RST_ON_CLOSE, fd,
            them, turned_unread);
    else
        say("close(fd %d): turned %s away: our FIN goes out (its end CLOSE_WAIT); bytes still "
            "arriving from it will be answered with RST", fd, them);
}

static void before_recv(int fd)
{
    if (!lab.step)
        return;
    step(fmt("recv(fd %d)", fd),
         fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", fd,
             peer_text[fd]),
         "the bytes waiting (select said there are some), or 0 if the client closed");
}

static void recv_failed(void)
{
    snprintf(close_why, sizeof close_why, "recv: %s", err_text(errno));
}

static void after_recv(int fd, const unsigned char *buf, ssize_t n)
{
    if (n == 0)
        snprintf(close_why, sizeof close_why, "closed the connection");
    else if (!lab.quiet)
        say("recv(fd %d) = %ld bytes from %s: %s", fd, (long)n, peer_text[fd],
            payload_text(buf, (size_t)n));
}

static void before_send(int fd, ssize_t n)
{
    if (!lab.step)
        return;
    step(fmt("send(fd %d, %ld bytes)", fd, (long)n),
         fmt("fd %d ESTABLISHED (CLOSE_WAIT once the client has closed)", fd),
         "as much as fits in the send buffer is queued; the rest waits with us");
}

static void send_failed(void)
{
    snprintf(close_why, sizeof close_why, "send: %s", err_text(errno));
}

static void after_send(int fd, ssize_t sent, ssize_t n)
{
    echoed[fd] += (unsigned long long)sent;
    if (lab.quiet)
        return;
    if (sent < n)
        say("send(fd %d): %ld of %ld bytes sent, the client is not reading fast enough: "
            "waiting until it has room", fd, (long)sent, (long)n);
    else
        say("send(fd %d) = %ld bytes: echoed", fd, (long)n);
}

static void malloc_failed(void)
{
    snprintf(close_why, sizeof close_why, "out of memory");
}

static void before_send_pending(int fd)
{
    const struct client *c = &clients[fd];
    if (!lab.step)
        return;
    step(fmt("send(fd %d, %lu pending bytes)", fd,
             (unsigned long)(c->pending_len - c->pending_off)),
         fmt("fd %d ESTABLISHED (CLOSE_WAIT once the client has closed); its send buffer had "
             "been full", fd),
         "more of the pending bytes are queued");
}

static void after_send_pending(int fd, ssize_t sent)
{
    echoed[fd] += (unsigned long long)sent;
    if (!lab.quiet && clients[fd].pending_off == clients[fd].pending_len)
        say("send(fd %d): pending bytes all sent, reading from %s again", fd, peer_text[fd]);
}

static void before_close(int fd)
{
    if (!lab.step)
        return;
    if (strcmp(close_why, "closed the connection") == 0)
        step(fmt("close(fd %d)", fd),
             fmt("fd %d CLOSE_WAIT: the client closed the connection (recv returned 0)", fd),
             "our FIN finishes the close: the client's end goes to TIME_WAIT, fd gone");
    else
        step(fmt("close(fd %d)", fd), fmt("fd %d: the connection failed (%s)", fd, close_why),
             "the fd is gone from lsof");
}

static void after_close(int fd)
{
    if (!lab.quiet)
        say("close(fd %d): client %s %s after %llu bytes (%d client%s now)", fd, peer_text[fd],
            close_why, echoed[fd], nactive, nactive == 1 ? "" : "s");
}

/* ==== Options and usage ==== */

/* The command line into opt (lab.h's next_option() does -h, --help, -S
 * and -q). A mistake is one line on stderr and exit 2. */
static void parse_options(int argc, char **argv)
{
    int o;
    lab_start(PROG, LAB_SERVER, usage);
    while ((o = next_option(argc, argv, "p:a:l:m:r")) != -1) {
        switch (o) {
        case 'p': opt.port = parse_port(optarg); break;
        case 'a': opt.address = optarg; break;
        case 'l': opt.backlog = parse_count(optarg, "backlog", 0, 65535); break;
        case 'm': opt.max_clients = parse_count(optarg, "client limit", 1, FD_SETSIZE); break;
        case 'r': opt.reuse = 1; break;
        default: usage_error("unknown option -%c", o);
        }
    }
    if (optind < argc && port_value(argv[optind]) > 0)
        usage_error("unexpected argument '%s': the port goes with -p: %s -p %s", argv[optind],
                    lab.prog, argv[optind]);
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-p PORT] [-a ADDRESS] [-l BACKLOG] [-m MAX] [-r]"
            " [-q] [-S]" /* narration */
            " [-h]\n"
            "TCP echo server with a select() loop: many clients at once, one process.\n"
            "Each client gets back everything it sends, for as long as it stays.\n"
            "  -p PORT     TCP port to listen on (default %d)\n"
            "  -a ADDRESS  listen on this local address or host name only\n"
            "              (default: all interfaces, shown as *)\n"
            "  -l BACKLOG  listen() backlog (default %d)\n"
            "  -m MAX      at most MAX clients at once; more are closed at once\n"
            "              (default and highest: %d, FD_SETSIZE)\n"
            "  -r          set SO_REUSEADDR before bind()\n"
            "  -q          quiet: no line per client or message\n" /* narration */
            "  -S          step mode: before each socket call, say what it will\n" /* narration */
            "              change in lsof/netstat/ss, and wait for Enter\n" /* narration */
            "  -h          this help\n",
            PROG, DEFAULT_PORT, DEFAULT_BACKLOG, FD_SETSIZE);
}
