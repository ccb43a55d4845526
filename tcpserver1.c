/*
 * tcpserver1.c - the basic TCP server (the C version of tcpserver1.py).
 *
 * The lecture order: socket() -> bind() -> listen() -> then for ever:
 * accept() -> recv() -> send() -> close(). One client at a time: while this
 * program talks to one client, the kernel completes the handshakes of the
 * next ones by itself and queues them until accept() takes them. That queue
 * is not service: see tcpserver3.c (select) and multi.c (fork) for the cure.
 *
 * Read main() first: it is the lesson, each call under what the kernel does
 * there, with the walkthrough steps it shows (README: T2, N3, ...), then
 * send_all(). After the lesson's end marker: what step mode and the log say
 * at each call (before_*, after_*, *_failed, in the same order), then the
 * options and usage. What all seven programs share and is not the lesson
 * (error lines, the log, step mode, address text, option parsing) is in
 * lab.h, the instrument; `make bare` writes this file without the narration.
 *
 *   cc -o tcpserver1 tcpserver1.c   (next to lab.h)
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
 * restart without -r gets "Address already in use"). But a close() with
 * bytes still unread (a message longer than our buffer) sends RST, not
 * FIN: no FIN_WAIT, no TIME_WAIT, and the client gets ECONNRESET (N9).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lab.h"

#define PROG "tcpserver1"
#define DEFAULT_PORT 12333
#define DEFAULT_BACKLOG 5

/* The command line, filled by parse_options(). */
static struct options {
    int port;            /* -p PORT */
    const char *address; /* -a ADDRESS; NULL: all interfaces, like '' in Python */
    int backlog;         /* -l BACKLOG: listen()'s queue */
    int reuse;           /* -r: SO_REUSEADDR before bind() */
} opt;

/* How the exchange with a client ended: what close() will find. */
enum client_state { CONNECTED, CLIENT_CLOSED, CLIENT_RESET };

static int send_all(int fd, const unsigned char *p, size_t n);
static void parse_options(int argc, char **argv);
static void usage(FILE *out);
static void before_socket(void);
static void after_socket(int lfd);
static void before_reuseaddr(int lfd);
static void after_reuseaddr(int lfd);
static void before_bind(int lfd, const struct sockaddr_in *me);
static void bind_failed(int lfd, const struct sockaddr_in *me);
static void after_bind(int lfd, const struct sockaddr_in *me);
static void before_listen(int lfd, const struct sockaddr_in *me);
static void after_listen(int lfd, const struct sockaddr_in *me);
static void before_accept(int lfd);
static void accept_failed(int lfd);
static void after_accept(int lfd, int cfd, const struct sockaddr_storage *peer);
static void before_recv(int cfd, const struct sockaddr_storage *peer);
static void after_recv(int cfd, const struct sockaddr_storage *peer, enum client_state client,
                       const unsigned char *buf, ssize_t n);
static void before_send(int cfd, const struct sockaddr_storage *peer, ssize_t n);
static void send_failed(int cfd);
static void after_send(int cfd, enum client_state client, ssize_t n);
static void before_close(int cfd, const struct sockaddr_storage *peer, enum client_state client);
static void after_close(int cfd, const struct sockaddr_storage *peer, enum client_state client);

int main(int argc, char **argv)
{
    parse_options(argc, argv); /* -p -a -l -r (lab.h: -q -S -h) into opt; a usage error exits 2 */

    /* The address to bind(), filled in by hand (tcpserver2 has getaddrinfo() do
     * it). Every byte 0 first: sin_zero must be. N3: the port in network byte
     * order, big end first, as it travels in the TCP header: htons(). N1: with
     * no -a, INADDR_ANY (0.0.0.0, the lecture's ''): every interface, now and
     * later; with -a, that one address (a host name through the resolver). */
    struct sockaddr_in me;
    memset(&me, 0, sizeof me);
    me.sin_family = AF_INET;
    me.sin_port = htons((unsigned short)opt.port);
    if (opt.address == NULL)
        me.sin_addr.s_addr = htonl(INADDR_ANY);
    else
        me.sin_addr = resolve_ipv4(opt.address); /* exit 1 if it has no IPv4 address */

    /* socket(): a TCP endpoint in the kernel, reached through a file
     * descriptor. AF_INET: IPv4 addresses; SOCK_STREAM: TCP. No address yet:
     * netstat and ss do not list it. N4: each failing call exits 1 with its
     * errno's name. */
    before_socket();
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        fail("socket");
    after_socket(lfd);

    /* T7: SO_REUSEADDR (-r): let bind() take the port even while connections of
     * an earlier server linger on it (TIME_WAIT). Off by default: "Address
     * already in use" until they are gone. */
    if (opt.reuse) {
        int one = 1;
        before_reuseaddr(lfd);
        if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            fail("setsockopt(SO_REUSEADDR)");
        after_reuseaddr(lfd);
    }

    /* bind(): the kernel gives this socket the address and port, or refuses
     * (T7: EADDRINUSE; EADDRNOTAVAIL: not one of this machine's addresses).
     * T2: not LISTEN yet: the kernel still answers a client's SYN with RST. */
    before_bind(lfd, &me);
    if (bind(lfd, (struct sockaddr *)&me, sizeof me) < 0) {
        bind_failed(lfd, &me);
        fail("bind");
    }
    after_bind(lfd, &me);

    /* listen(): T2: LISTEN. From now on the kernel answers SYNs on this port by
     * itself (T3: the handshake completes with no call of ours) and queues the
     * completed connections, about `backlog` of them, until accept() takes
     * them (T9); beyond that, clients wait in SYN-SENT (T10, N2). */
    before_listen(lfd, &me);
    if (listen(lfd, opt.backlog) < 0)
        fail("listen");
    after_listen(lfd, &me);

    /* T11: one client at a time, start to end; the next ones wait in the queue. */
    static unsigned char buf[65536];
    for (;;) {
        /* accept(): T4: the oldest completed connection, as a NEW socket with
         * its own fd; lfd goes on listening. N7: with none queued, we sleep
         * here in the kernel, using no CPU. None of its errors is fatal (a
         * client that reset while queued: ECONNABORTED; EINTR; EMFILE): go on. */
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof peer;
        before_accept(lfd);
        int cfd = accept(lfd, (struct sockaddr *)&peer, &peerlen);
        if (cfd < 0) {
            accept_failed(lfd);
            continue;
        }
        after_accept(lfd, cfd, &peer);

        /* recv(): the bytes that have arrived, up to sizeof buf, or sleep until
         * some do (N7). N6: whatever has arrived, not "a message": TCP keeps no
         * boundaries. 0: the client closed its end (its FIN came: our end is
         * CLOSE_WAIT); -1: the connection broke (ECONNRESET: the client reset it). */
        before_recv(cfd, &peer);
        ssize_t n;
        while ((n = recv(cfd, buf, sizeof buf, 0)) < 0 && errno == EINTR)
            continue; /* a signal woke us: wait again */
        enum client_state client = CONNECTED;
        if (n == 0)
            client = CLIENT_CLOSED;
        else if (n < 0)
            client = CLIENT_RESET;
        after_recv(cfd, &peer, client, buf, n);

        /* send(): N5: the kernel copies the echo into the socket's send buffer
         * and returns; the bytes leave after, and the client's kernel ACKs them.
         * It may take fewer bytes than offered: send_all() sends the rest. To a
         * client that reset: EPIPE or ECONNRESET (SIGPIPE is ignored: lab.h). */
        if (client == CONNECTED) {
            before_send(cfd, &peer, n);
            if (send_all(cfd, buf, (size_t)n) < 0) {
                send_failed(cfd);
                client = CLIENT_RESET;
            }
            after_send(cfd, client, n);
        }

        /* close(): T5: our FIN goes out. Closing first, our end is FIN_WAIT_1,
         * FIN_WAIT_2 once the client's kernel ACKs it, then TIME_WAIT (owned by
         * no process, T6) after the client's FIN. A client that closed first gets
         * our FIN in answer: our end LAST_ACK. After a reset only the fd is freed.
         * N9: if bytes we never read wait in the socket (a message longer than
         * buf), RST goes out instead of FIN (RFC 1122 4.2.2.13: data was lost),
         * and the client's next recv() or send() fails with ECONNRESET; bytes
         * that arrive after our FIN are answered with RST too.
         * Its result is not checked: the fd is gone even when it reports an
         * error (EINTR, EIO): there is nothing to retry or undo. */
        before_close(cfd, &peer, client);
        close(cfd);
        after_close(cfd, &peer, client);
    }
}

/* send() may take fewer bytes than offered (N5: as much as the send buffer
 * has room for): send the rest until all n are the kernel's. -1 on error. */
static int send_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = send(fd, p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue; /* a signal came before any byte was taken: again */
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* ==== The lesson ends here. Below: what step mode and the log say at each call, in lecture order (make bare removes it), then the options. ==== */

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
    if (!lab.step)
        return;
    step(fmt("setsockopt(fd %d, SO_REUSEADDR, 1)", lfd), fmt("fd %d has no address", lfd),
         "no visible change: bind() may now reuse a port old connections still hold");
}

static void after_reuseaddr(int lfd)
{
    say("setsockopt(fd %d, SO_REUSEADDR, 1) ok", lfd);
}

static void before_bind(int lfd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    step_byte_order((const struct sockaddr *)me); /* N3 */
    if (!lab.step)
        return;
    addr_text(me, here, sizeof here);
    step(fmt("bind(fd %d, %s)", lfd, here),
         fmt("fd %d has no address: ss -tln does not show port %d", lfd, opt.port),
         fmt("fd %d owns %s but is not LISTEN yet (a connect() is still refused)", lfd, here));
}

/* The line fail() prints names the call in full and the likely cause:
 * EADDRINUSE has two, and lab.h's bind_advice() probes without a packet. */
static void bind_failed(int lfd, const struct sockaddr_in *me)
{
    int e = errno;
    char here[ADDR_TEXT_SIZE];
    const char *why = bind_advice(e, (const struct sockaddr *)me);
    addr_text(me, here, sizeof here);
    errno = e;
    explain(fmt("bind(fd %d, %s)", lfd, here), "%s", why);
}

static void after_bind(int lfd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    say("bind(fd %d, %s) ok: the port is ours, but not LISTEN yet", lfd,
        addr_text(me, here, sizeof here));
}

static void before_listen(int lfd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    if (!lab.step)
        return;
    addr_text(me, here, sizeof here);
    step(fmt("listen(fd %d, %d)", lfd, opt.backlog),
         fmt("fd %d bound to %s, not listening: ss -tln does not show it", lfd, here),
         fmt("fd %d is LISTEN: lsof 'TCP %s (LISTEN)', ss -tln 'LISTEN 0 %d'", lfd, here,
             opt.backlog));
}

static void after_listen(int lfd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    say("listen(fd %d, %d) ok: fd %d is LISTEN on %s", lfd, opt.backlog, lfd,
        addr_text(me, here, sizeof here));
}

static void before_accept(int lfd)
{
    /* The pause first, then the line: accept() runs once Enter is pressed.
     * Without -S no step text is made for every client. */
    if (lab.step)
        step(fmt("accept(fd %d)", lfd),
             fmt("fd %d LISTEN; ss -tln Recv-Q counts connections waiting for accept()", lfd),
             "a new fd for the oldest waiting connection (or sleep until one comes)");
    if (!lab.quiet)
        say("waiting in accept(fd %d) for a client", lfd);
}

/* EINTR, or a client that reset before we got to it (ECONNABORTED), or out
 * of fds: none of them is fatal. A signal is not worth a line. */
static void accept_failed(int lfd)
{
    if (errno != EINTR)
        fprintf(stderr, "%s: accept(fd %d): %s (going on)\n", lab.prog, lfd, err_text(errno));
}

static void after_accept(int lfd, int cfd, const struct sockaddr_storage *peer)
{
    char us[ADDR_TEXT_SIZE], them[ADDR_TEXT_SIZE];
    if (lab.quiet)
        return; /* no getsockname() per client for a line nobody sees */
    say("accept(fd %d) = fd %d: %s <- %s (a new socket for this client; fd %d keeps listening)",
        lfd, cfd, end_text(cfd, OUR_END, us, sizeof us), addr_text(peer, them, sizeof them),
        lfd);
}

static void before_recv(int cfd, const struct sockaddr_storage *peer)
{
    char them[ADDR_TEXT_SIZE];
    if (!lab.step)
        return; /* nothing to say without -S: no text made for every client */
    step(fmt("recv(fd %d)", cfd),
         fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed); ss Recv-Q "
             "counts bytes waiting", cfd, addr_text(peer, them, sizeof them)),
         "our buffer gets the waiting bytes (or we sleep until some arrive)");
}

static void after_recv(int cfd, const struct sockaddr_storage *peer, enum client_state client,
                       const unsigned char *buf, ssize_t n)
{
    char them[ADDR_TEXT_SIZE];
    if (client == CLIENT_RESET)
        say("recv(fd %d): %s: the client reset the connection", cfd, err_text(errno));
    else if (client == CLIENT_CLOSED)
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

static void after_send(int cfd, enum client_state client, ssize_t n)
{
    if (client == CONNECTED && !lab.quiet)
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
             fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", cfd, them),
             "our FIN goes out: if the client is still there, our end (no fd any more) is "
             "FIN_WAIT_1, then FIN_WAIT_2 once the client's kernel ACKs our FIN (delayed ACK, "
             "up to ~40 ms), and the client's end is CLOSE_WAIT; bytes still arriving from "
             "it will be answered with RST");
    if (client == CONNECTED && !lab.quiet)
        unread = unread_bytes(cfd); /* again: bytes may have come during the pause */
}

static void after_close(int cfd, const struct sockaddr_storage *peer, enum client_state client)
{
    char them[ADDR_TEXT_SIZE];
    if (lab.quiet)
        return;
    addr_text(peer, them, sizeof them);
    if (client == CLIENT_CLOSED)
        say("close(fd %d): done with %s (it closed first: our end LAST_ACK until its kernel "
            "ACKs our FIN, then gone; its end TIME_WAIT)", cfd, them);
    else if (client == CLIENT_RESET)
        say("close(fd %d): done with %s (the connection was reset: only the fd was left to "
            "close)", cfd, them);
    else if (unread > 0)
        say("close(fd %d): done with %s: at least %ld bytes unread: " RST_ON_CLOSE, cfd,
            them, unread);
    else
        say("close(fd %d): done with %s (if it is still connected: our end FIN_WAIT_1, then "
            "FIN_WAIT_2 once the client's kernel ACKs our FIN; its end CLOSE_WAIT until it "
            "closes too; bytes still arriving from it will be answered with RST)", cfd, them);
}

/* ==== Options and usage ==== */

static void parse_options(int argc, char **argv)
{
    int c;
    lab_start(PROG, LAB_SERVER, usage);
    opt.port = DEFAULT_PORT;
    opt.backlog = DEFAULT_BACKLOG;
    while ((c = next_option(argc, argv, "p:a:l:r")) != -1) {
        switch (c) {
        case 'p': opt.port = parse_port(optarg); break;
        case 'a': opt.address = optarg; break;
        case 'l': opt.backlog = parse_count(optarg, "backlog", 0, 65535); break;
        case 'r': opt.reuse = 1; break;
        default: break; /* next_option() has handled the rest */
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
            "usage: %s [-p PORT] [-a ADDRESS] [-l BACKLOG] [-r]"
            " [-q] [-S]" /* narration */
            " [-h]\n"
            "Iterative TCP server: accepts one client at a time, echoes one message\n"
            "back, closes the connection, then accepts the next client.\n"
            "  -p PORT     TCP port to listen on (default %d)\n"
            "  -a ADDRESS  listen on this local address or host name only\n"
            "              (default: all interfaces, shown as *)\n"
            "  -l BACKLOG  listen() backlog (default %d)\n"
            "  -r          set SO_REUSEADDR before bind()\n"
            "  -q          quiet: no line per message\n" /* narration */
            "  -S          step mode: before each socket call, say what it will\n" /* narration */
            "              change in lsof/netstat/ss, and wait for Enter\n" /* narration */
            "  -h          this help\n",
            PROG, DEFAULT_PORT, DEFAULT_BACKLOG);
}
