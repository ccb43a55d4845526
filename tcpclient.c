/*
 * tcpclient.c - a TCP client (the C version of tcpclient.py).
 *
 * The lecture order of its calls:
 *   getaddrinfo() -> socket() -> [bind()] -> connect() -> send() -> recv()
 *   -> close()
 * Unlike UDP, connect() talks to the server's kernel before any data moves:
 * SYN, SYN-ACK, ACK all happen inside it, and if nothing listens there the
 * answer is a reset and connect() fails with "Connection refused".
 *
 *   cc -o tcpclient tcpclient.c        (lab.h next to it)
 *   ./tcpclient                        send lines from stdin to localhost:12333
 *   ./tcpclient -m hello -w            one message, then wait for Enter to close
 *   ./tcpclient -b 22222 -m hello      bind the client to port 22222 first
 *   ./tcpclient -t 2 -m hello          give up on connect or reply after 2 s
 *   ./tcpclient -S -m hello            step mode: pause before each socket call
 *   ./tcpclient ::1                    over IPv6 (tcpserver2 serves it)
 *
 * What to watch from another terminal (while -w or -S holds it still; the
 * client prints its pid):
 *   lsof -n -P -p PID        fd 3: "sock ... protocol: TCP" before connect()
 *                            (no port, even after bind()), then
 *                            "TCP 127.0.0.1:PORT->127.0.0.1:12333 (ESTABLISHED)"
 *   ss -tanp '( sport = :12333 or dport = :12333 )'
 *                            both ends: ESTAB; once the server has closed
 *                            (tcpserver1 does, right after its reply) ours
 *                            CLOSE-WAIT, and its FIN-WAIT-1, then FIN-WAIT-2
 *                            once our kernel ACKs its FIN; after both have
 *                            closed, the end that closed first in TIME-WAIT
 *   netstat -tanp | grep 12333   the same, in Linux netstat's spelling
 *
 * A TCP connection is a stream of bytes with no message boundaries, so each
 * message is sent with its newline, and a reply is complete when as many
 * bytes came back as were sent (an echo), a reply line ended, or the server
 * closed the connection (N6).
 *
 * The file: the lesson (main(), then the work of -b, -f, -w and the reply);
 * after the marker line that ends it, what step mode and the log say at
 * each call; then the options. lab.h is the instrument: messages, step
 * mode, parsing.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lab.h"

#define DEFAULT_PORT "12333"
#define MAX_MESSAGE (4L << 20) /* longest line we send as one message */
#define MAX_MESSAGES 100       /* -m options */

/* The command line, filled by parse_options(). */
static struct options {
    const char *host, *port;                       /* HOST [PORT], default localhost 12333 */
    const char *bind_spec, *bind_host, *bind_port; /* -b [ADDRESS:]PORT as given (or NULL),
                                                    * its ADDRESS (NULL: none), its PORT */
    int bind_family;                               /* the ADDRESS's; 0 (AF_UNSPEC): none */
    long timeout_ms;                               /* -t: -1 waits as long as the kernel does */
    int wait_at_end;                               /* -w: "enter to finish" */
    const char *messages[MAX_MESSAGES];            /* -m, in order */
    int nmessages;                                 /* how many -m */
    long fill;                                     /* -f BYTES: fill the buffers instead (N5) */
} opt = {.host = "localhost", .port = DEFAULT_PORT, .timeout_ms = -1};

/* What the server has done to the connection, as far as we have seen. */
enum peer { PEER_OPEN, PEER_CLOSED /* its FIN arrived */, PEER_RESET /* or gone */ };
/* How long watch() watches the connection: not at all, until a line of
 * standard input or the server's close, until Enter (-w). */
enum until { AT_ONCE, LINE_OR_CLOSE, ENTER };

/* One message and its reply so far. */
struct exchange {
    int number;           /* 1, 2, ...: which message */
    const char *msg;      /* the bytes we send, with their newline */
    long len, got;        /* how many; how many reply bytes came so far */
    int same, line_ended; /* the reply so far equals what we sent; its last byte is '\n' */
};

/* The lesson's own parts, after main(). */
_Noreturn static void cannot_resolve(const char *host, int rc, int family);
_Noreturn static void fill_buffers(int fd);
static int next_message(int fd, struct exchange *x, enum peer *peer);
static enum peer peer_state(ssize_t n);
static int send_all(int fd, const char *p, size_t n);
static enum peer watch(int fd, enum peer peer, enum until until);
/* What step mode and the log say, in lecture order. */
static void after_getaddrinfo(void);
static void before_socket(const struct addrinfo *ai);
static void after_socket(int fd, const struct addrinfo *ai);
static void before_bind(int fd, const struct addrinfo *me);
static void bind_failed(int fd, const struct addrinfo *me);
static void after_bind(int fd, const struct addrinfo *me);
static void before_connect(int fd, const struct addrinfo *ai);
static void connect_failed(int fd, const struct addrinfo *ai, int err);
static void connecting_failed(const struct addrinfo *servers, int err);
static void after_connect(int fd);
static void before_fill(int fd);
static void after_fill_send(int fd, size_t want, ssize_t n, long calls);
static void after_eagain(int fd, long sent, long calls);
static void before_send(int fd, const struct exchange *x);
static void send_failed(int fd);
static void after_send(int fd, const struct exchange *x);
static void before_recv(int fd, const struct exchange *x);
static void after_recv(int fd, const unsigned char *buf, ssize_t n);
static void before_wait(int fd, enum peer peer, int hold);
static void after_watch(int fd, const unsigned char *buf, ssize_t n, enum until until);
static void after_wait(int hold);
static void before_close(int fd, enum peer peer);
/* The options. */
static void parse_options(int argc, char **argv);
static void usage(FILE *out);

int main(int argc, char **argv)
{
    /* The command line into opt. Its lab_start() also ignores SIGPIPE:
     * send() on a connection the server has reset then fails with EPIPE
     * instead of killing us. */
    parse_options(argc, argv);

    /* getaddrinfo() (T14): HOST and PORT as socket addresses, IPv4 and/or
     * IPv6, from /etc/hosts or DNS; nothing goes to the server yet. With
     * -b ADDRESS, of its family only: a socket has one family. */
    struct addrinfo hints = {.ai_family = opt.bind_family, .ai_socktype = SOCK_STREAM},
                    *servers, *ai;
    int rc = getaddrinfo(opt.host, opt.port, &hints, &servers);
    if (rc != 0)
        cannot_resolve(opt.host, rc, hints.ai_family); /* exit 1 */
    after_getaddrinfo();

    /* Try each address until one connects; close() each that does not. */
    int fd = -1, err = 0;
    for (ai = servers; ai != NULL; ai = ai->ai_next) {
        /* socket(): a TCP endpoint in our kernel: an fd, with no address
         * and no connection yet. Its family is the address's. */
        before_socket(ai);
        fd = socket(ai->ai_family, SOCK_STREAM, 0);
        if (fd < 0)
            fail("socket");
        after_socket(fd, ai);

        /* bind() (-b, T10): our own port (and address), instead of the one
         * the kernel would pick at connect(). getaddrinfo() with AI_PASSIVE
         * makes the sockaddr, in this socket's family: ADDRESS:PORT, or
         * without an ADDRESS any address of ours (0.0.0.0 or ::, shown as
         * * or [::]), the port in network byte order (as htons(), N3). */
        if (opt.bind_spec != NULL) {
            struct addrinfo want = {.ai_family = ai->ai_family, .ai_socktype = SOCK_STREAM,
                                    .ai_flags = AI_PASSIVE}, *me;
            if ((rc = getaddrinfo(opt.bind_host, opt.bind_port, &want, &me)) != 0)
                cannot_resolve(opt.bind_host, rc, AF_UNSPEC);
            before_bind(fd, me);
            if (bind(fd, me->ai_addr, me->ai_addrlen) < 0) { bind_failed(fd, me); fail("bind"); }
            after_bind(fd, me);
            freeaddrinfo(me);
        }

        /* -t: a non-blocking socket, so that connect() returns at once
         * (EINPROGRESS) and we wait for the handshake ourselves. */
        if (opt.timeout_ms >= 0 && fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
            fail("fcntl");

        /* connect() (T1, T3, N3): our kernel sends SYN; the server's kernel
         * answers SYN-ACK if a socket LISTENs on that port (its program need
         * not do anything), or RST if none does (ECONNREFUSED); we ACK. The
         * kernel picks our port here (unless -b did). */
        before_connect(fd, ai);
        err = connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? errno : 0;
        if (err == EINPROGRESS || err == EINTR) {
            /* The handshake goes on in the kernel (-t, or a signal came).
             * poll() until fd is writable (the handshake ended, either way)
             * or -t runs out (T10: err stays EINPROGRESS, still SYN-SENT);
             * then SO_ERROR says how it ended: 0 or connect()'s errno. */
            socklen_t len = sizeof err;
            err = EINPROGRESS;
            if (wait_for(fd, POLLOUT, opt.timeout_ms) &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                fail("getsockopt");
        }
        if (err == 0)
            break;
        connect_failed(fd, ai, err);
        close(fd);
    }
    if (ai == NULL) { /* every address failed: err is the last one's (lab.advice: a hint) */
        connecting_failed(servers, err);
        fprintf(stderr, "%s: cannot connect to %s port %s: %s%s\n", lab.prog, opt.host, opt.port,
                err == ETIMEDOUT || err == EINPROGRESS ? "no SYN-ACK in time (ETIMEDOUT, see above)"
                                                       : err_text(err), lab.advice);
        exit(1);
    }
    freeaddrinfo(servers);
    if (opt.timeout_ms >= 0 && fcntl(fd, F_SETFL, 0) < 0) /* blocking again, for send/recv */
        fail("fcntl");
    after_connect(fd);
    if (opt.fill > 0)
        fill_buffers(fd); /* -f: the send-buffer experiment instead of messages; exits */

    /* Each message (-m, or each line of standard input): send(), recv(). */
    static unsigned char buf[65536]; /* one recv()'s worth of reply */
    struct exchange x = {0};
    enum peer peer = PEER_OPEN;
    while (peer == PEER_OPEN && next_message(fd, &x, &peer)) {
        /* send() (N5): copy the bytes into the kernel's send buffer. The
         * kernel sends them when it likes; send() returning says nothing
         * about the server having them. EPIPE, ECONNRESET: the server is
         * gone. */
        before_send(fd, &x);
        if (send_all(fd, x.msg, (size_t)x.len) < 0) { send_failed(fd); fail("send"); }
        after_send(fd, &x);

        /* recv() (N6): the bytes that have arrived, sleeping until some do.
         * TCP keeps no message boundaries: the reply is complete when as
         * many bytes came back as we sent, or a line ended (a line is a
         * whole reply, even if shorter). 0 is the server's FIN, an error
         * (ECONNRESET) its RST. */
        while (peer == PEER_OPEN && x.got < x.len && !x.line_ended) {
            before_recv(fd, &x);
            if (!wait_for(fd, POLLIN, opt.timeout_ms)) { /* -t: poll() that long at most */
                fprintf(stderr, "%s: no reply within %.3g s on fd %d: the connection is up (the "
                        "server's kernel accepted it), but the server program has not "
                        "answered: busy with another client, or not yet at accept()?\n",
                        lab.prog, (double)opt.timeout_ms / 1000.0, fd);
                exit(1);
            }
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            peer = peer_state(n); /* EINTR: nothing yet, recv() again */
            after_recv(fd, buf, n);
            if (n > 0) {
                if (x.got + n > x.len || memcmp(buf, x.msg + x.got, (size_t)n) != 0)
                    x.same = 0;
                x.got += n;
                x.line_ended = buf[n - 1] == '\n';
            }
        }
        /* The reply, as the user sees it; a server that closed too early
         * (before the whole reply, or before the next -m) makes exit 1. */
        if (x.got > 0)
            say("reply: %ld bytes, %s", x.got, x.same && x.got == x.len ? fmt("the same as we "
                "sent: %s", payload_text(x.msg, (size_t)x.len)) : fmt("we sent %ld", x.len));
    }
    /* The server closed too early (before the whole reply, or before a
     * message we have: T7): say what we know, exit 1. Then wait for Enter
     * with -w (T5, T12), or when it closed while we waited for a line of
     * standard input, watching the connection meanwhile; else only read a
     * FIN already here, so that the close step is true. */
    int status = peer != PEER_OPEN;
    int hold = opt.wait_at_end || (status && opt.nmessages == 0 && !input_ready());
    if (status)
        fprintf(stderr, "%s: the server closed the connection after %s\n", lab.prog,
                x.got < x.len && !x.line_ended ? fmt("%ld of %ld reply bytes", x.got, x.len)
                : fmt("%d repl%s", x.number, x.number == 1 ? "y" : "ies"));
    before_wait(fd, peer, hold);
    peer = watch(fd, peer, hold ? ENTER : AT_ONCE);
    if (hold)
        wait_for_enter(); /* Enter, or the end of standard input */
    after_wait(hold);

    /* close() (T5, T6): the kernel sends our FIN. The end that closed first
     * waits in TIME_WAIT: the server's if it closed first (tcpserver1),
     * else ours. */
    before_close(fd, peer);
    close(fd);
    return status;
}

/* getaddrinfo() found no address for host. With -b ADDRESS, family is that
 * address's: a host that has addresses, but none of that family, is told
 * so. Exit 1. */
_Noreturn static void cannot_resolve(const char *host, int rc, int family)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    const char *v = family == AF_INET6 ? "IPv6" : "IPv4";
    if (family != AF_UNSPEC && getaddrinfo(host, opt.port, &hints, &res) == 0)
        fprintf(stderr, "%s: '%s' has no %s address here, but -b %s is %s (use %s as HOST, or "
                "an %s -b address)\n", lab.prog, host, v, opt.bind_spec, v,
                family == AF_INET6 ? "::1" : "127.0.0.1", family == AF_INET6 ? "IPv4" : "IPv6");
    else
        fprintf(stderr, "%s: cannot resolve '%s': %s\n", lab.prog, host, gai_strerror(rc));
    exit(1);
}

/* -f BYTES (N5): send() returns when the bytes are in our kernel, not when
 * the server has them. Non-blocking, each send() takes what fits in the
 * buffers (ours, and the server's receive buffer across the connection);
 * when they are full it fails with EAGAIN where a blocking send() would
 * sleep. Says how much fitted, and the buffer sizes the kernel uses. */
_Noreturn static void fill_buffers(int fd)
{
    static unsigned char zeros[65536];
    long sent = 0, calls = 0;
    before_fill(fd);
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
        fail("fcntl(O_NONBLOCK)");
    while (sent < opt.fill) {
        long left = opt.fill - sent;
        size_t want = left < (long)sizeof zeros ? (size_t)left : sizeof zeros;
        ssize_t n = send(fd, zeros, want, 0);
        if (n >= 0) {
            after_fill_send(fd, want, n, calls);
            calls++;
            sent += n;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            after_eagain(fd, sent, calls);
            if (!wait_for(fd, POLLOUT, opt.timeout_ms)) { /* -t: that long at most */
                fprintf(stderr, "%s: send(fd %d): no room within %.3g s: %ld of %ld bytes "
                        "sent, the rest never left\n", lab.prog, fd,
                        (double)opt.timeout_ms / 1000.0, sent, opt.fill);
                exit(1);
            }
        } else if (errno != EINTR) {
            fail("send");
        }
    }
    say("-f: all %ld bytes handed to the kernel in %ld send()s", sent, calls);
    close(fd);
    exit(0);
}

/* The next message in *x (-m's, or a line of standard input, with a prompt
 * on a terminal); 0 when there are no more, or when the server has closed
 * or reset the connection (*peer): what it does meanwhile is watched (T7). */
static int next_message(int fd, struct exchange *x, enum peer *peer)
{
    const char *msg = NULL;
    char *line;
    long len = 0;
    if (x->number < opt.nmessages) {
        len = (long)strlen(opt.messages[x->number]) + 1;
        msg = keep(opt.messages[x->number], (size_t)len - 1, 1); /* a line, as if typed */
    } else if (opt.nmessages == 0) {
        if (isatty(STDIN_FILENO)) { /* a prompt (a failed stdout: the next say() exits) */
            printf("%s: message to send (Ctrl-D to finish): ", lab.prog);
            fflush(stdout);
        }
        if ((*peer = watch(fd, PEER_OPEN, LINE_OR_CLOSE)) == PEER_OPEN &&
            (len = next_line(&line, MAX_MESSAGE)) >= 0)
            msg = keep(line, (size_t)len, 0);
    }
    /* A FIN or RST that came before the line, or before this -m (tcpserver1
     * closes after one reply): nothing to send. */
    if (msg == NULL || (*peer = watch(fd, PEER_OPEN, AT_ONCE)) != PEER_OPEN)
        return 0;
    *x = (struct exchange){.number = x->number + 1, .msg = msg, .len = len, .same = 1};
    return 1;
}

/* What recv()'s return value n says about the server: bytes (or EINTR, a
 * signal: nothing yet): still open; 0: its FIN; an error: its RST. */
static enum peer peer_state(ssize_t n)
{
    return n > 0 || (n < 0 && errno == EINTR) ? PEER_OPEN : n == 0 ? PEER_CLOSED : PEER_RESET;
}

/* send() may take fewer bytes than offered (a full buffer, a signal):
 * keep sending the rest until all of it is in the kernel. */
static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = send(fd, p, n, 0);
        if (r < 0 && errno != EINTR)
            return -1;
        if (r > 0) {
            p += r;
            n -= (size_t)r;
        }
    }
    return 0;
}

/* What the server does, at once (AT_ONCE: poll() only looks) or while we
 * wait for a line of standard input (T7) or for Enter (-w, T5): poll()
 * watches the connection while it is open, and standard input while no
 * line (or its end) is buffered. The server's bytes are read and shown, its
 * FIN or RST at once; only -w's wait goes on after them. Returns what the
 * server has done by then. */
static enum peer watch(int fd, enum peer peer, enum until until)
{
    unsigned char buf[4096];
    while (until == AT_ONCE ? peer == PEER_OPEN
                            : !input_ready() && (peer == PEER_OPEN || until == ENTER)) {
        struct pollfd p[2] = {{.fd = until == AT_ONCE ? -1 : STDIN_FILENO, .events = POLLIN},
                              {.fd = peer == PEER_OPEN ? fd : -1, .events = POLLIN}};
        int r = poll(p, 2, until == AT_ONCE ? 0 : -1);
        if (r < 0 && errno != EINTR)
            fail("poll");
        if (r == 0)
            break; /* nothing waiting */
        if (p[0].revents != 0)
            input_fill(MAX_MESSAGE);
        /* Standard input first: a line (or its end) that came with the FIN
         * is the user's answer, and the FIN is read after it. */
        if (p[1].revents != 0 && (until != LINE_OR_CLOSE || !input_ready())) {
            if (until == LINE_OR_CLOSE && isatty(STDIN_FILENO))
                putchar('\n'); /* ends the prompt's line */
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            peer = peer_state(n);
            after_watch(fd, buf, n, until);
        }
    }
    return peer;
}

/* ==== The lesson ends here. Below: what step mode and the log say at each call, in lecture order (make bare removes it), then the options. ==== */

/* Said when an IPv6 connect is refused: most of the kit's servers are IPv4. */
#define IPV4_ONLY_HINT                                                                   \
    " (tcpserver1, tcpserver3 and multi listen on IPv4 only: try 127.0.0.1; tcpserver2 " \
    "serves both)"

/* getaddrinfo() worked: the addresses are known. Say who we are. */
static void after_getaddrinfo(void)
{
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());
}

static void before_socket(const struct addrinfo *ai)
{
    char there[ADDR_TEXT_SIZE];
    say("server %s port %s: trying %s", opt.host, opt.port,
        addr_text(ai->ai_addr, there, sizeof there));
    step(fmt("socket(%s, SOCK_STREAM, 0)", family_name(ai->ai_family)), "no socket yet",
         "a new fd, with no port: netstat and ss do not list it");
}

static void after_socket(int fd, const struct addrinfo *ai)
{
    say("socket(%s, SOCK_STREAM, 0) = fd %d", family_name(ai->ai_family), fd);
}

static void before_bind(int fd, const struct addrinfo *me)
{
    char here[ADDR_TEXT_SIZE];
    if (!lab.step)
        return;
    step_byte_order(me->ai_addr);
    addr_text(me->ai_addr, here, sizeof here);
    step(fmt("bind(fd %d, %s)", fd, here), fmt("fd %d has no port", fd),
         fmt("fd %d owns %s, not yet connected: ss and netstat do not list it, lsof shows "
             "'sock ... protocol: TCP'", fd, here));
}

/* For fail(): the call in full, and the likely cause (lab.h's bind_advice()
 * for the rest: EADDRNOTAVAIL, and EACCES below port 1024). */
static void bind_failed(int fd, const struct addrinfo *me)
{
    char here[ADDR_TEXT_SIZE];
    explain(fmt("bind(fd %d, %s)", fd, addr_text(me->ai_addr, here, sizeof here)), "%s",
            errno == EADDRINUSE ? " (an earlier connection from this port may still be in "
                                  "TIME_WAIT: see ss -tan)"
                                : bind_advice(errno, me->ai_addr));
}

static void after_bind(int fd, const struct addrinfo *me)
{
    char here[ADDR_TEXT_SIZE];
    say("bind(fd %d, %s) ok", fd, addr_text(me->ai_addr, here, sizeof here));
}

static void before_connect(int fd, const struct addrinfo *ai)
{
    char there[ADDR_TEXT_SIZE];
    addr_text(ai->ai_addr, there, sizeof there);
    step_byte_order(ai->ai_addr);
    step(fmt("connect(fd %d, %s)", fd, there),
         fmt("fd %d is not connected: not in ss -tan as ESTAB", fd),
         fmt("SYN, SYN-ACK, ACK: fd %d ESTABLISHED to %s %s, or RST: Connection refused", fd,
             there, opt.bind_spec != NULL ? "from the port bind() gave it"
                                          : "with a port the kernel picked"));
    say("connect(fd %d, %s): sending SYN, waiting for the server's SYN-ACK", fd, there);
}

/* This address did not work (err: connect()'s errno; EINPROGRESS: -t ran
 * out with the handshake still going on). */
static void connect_failed(int fd, const struct addrinfo *ai, int err)
{
    char there[ADDR_TEXT_SIZE];
    addr_text(ai->ai_addr, there, sizeof there);
    if (err == EINPROGRESS || err == ETIMEDOUT)
        say("connect(fd %d, %s): no SYN-ACK %s. A server whose accept queue is full drops SYNs "
            "silently (Linux); a firewall may too", fd, there,
            err == EINPROGRESS /* our time limit ran out: the kernel is still trying */
                ? fmt("within %.3g s: still SYN-SENT", (double)opt.timeout_ms / 1000.0)
                : fmt("after the kernel's retries: it gave up (%s)", err_text(err)));
    else
        say("connect(fd %d, %s): %s%s%s", fd, there, err_text(err),
            err == ECONNREFUSED ? ": the server's kernel answered our SYN with RST, "
                                  "since no socket LISTENs on that port"
                                : "",
            err == ECONNREFUSED && ai->ai_family == AF_INET6 ? IPV4_ONLY_HINT : "");
}

/* Every address failed (err: the last one's errno). The advice after the
 * error: an IPv6 address refused, with no IPv4 one to try. */
static void connecting_failed(const struct addrinfo *servers, int err)
{
    int tried_v4 = 0;
    for (const struct addrinfo *ai = servers; ai != NULL; ai = ai->ai_next)
        tried_v4 |= ai->ai_family == AF_INET;
    explain("connect", "%s", err == ECONNREFUSED && !tried_v4 ? IPV4_ONLY_HINT : "");
}

static void after_connect(int fd)
{
    char here[ADDR_TEXT_SIZE], there[ADDR_TEXT_SIZE];
    say("connected: fd %d is %s -> %s (ESTABLISHED; the SYN, SYN-ACK, ACK handshake is "
        "already done)",
        fd, end_text(fd, OUR_END, here, sizeof here), end_text(fd, PEER_END, there, sizeof there));
}

/* -f: the buffer sizes the kernel uses (getsockopt). */
static void before_fill(int fd)
{
    int sndbuf = 0, rcvbuf = 0;
    socklen_t slen = sizeof sndbuf, rlen = sizeof rcvbuf;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &slen) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &rlen) < 0)
        say("-f: fd %d: getsockopt(SO_SNDBUF, SO_RCVBUF): %s", fd, err_text(errno));
    else
        say("-f: fd %d: SO_SNDBUF %d bytes, SO_RCVBUF %d bytes (getsockopt: the sizes the "
            "kernel uses now; Linux grows them as needed)", fd, sndbuf, rcvbuf);
}

/* -f: the first send(), and each that took only part. */
static void after_fill_send(int fd, size_t want, ssize_t n, long calls)
{
    if (calls == 0 || (size_t)n < want)
        say("send(fd %d, %lu bytes) = %ld: returned at once, the bytes are in the kernel%s", fd,
            (unsigned long)want, (long)n, (size_t)n < want ? " (only part fitted)" : "");
}

/* -f: send() failed with EAGAIN: the buffers are full. */
static void after_eagain(int fd, long sent, long calls)
{
    say("send(fd %d): %s after %ld bytes in %ld send()s: the buffers are full (the server does "
        "not read); a blocking send() would sleep here", fd, err_text(errno), sent, calls);
}

static void before_send(int fd, const struct exchange *x)
{
    char here[ADDR_TEXT_SIZE], there[ADDR_TEXT_SIZE];
    if (!lab.step)
        return;
    step(fmt("send(fd %d, %ld bytes)", fd, x->len),
         fmt("fd %d ESTABLISHED %s -> %s (CLOSE_WAIT once the server has closed)", fd,
             end_text(fd, OUR_END, here, sizeof here), end_text(fd, PEER_END, there, sizeof there)),
         "the bytes go out; the server's kernel ACKs them even before its program reads them");
}

/* For fail(): the server is gone (EPIPE: its RST came before; ECONNRESET:
 * it comes now). */
static void send_failed(int fd)
{
    explain(fmt("send(fd %d)", fd), " (the server is gone)");
}

static void after_send(int fd, const struct exchange *x)
{
    say("send(fd %d) = %ld bytes: %s", fd, x->len, payload_text(x->msg, (size_t)x->len));
}

/* Each recv() of the reply; the first says that we wait (the pause first:
 * recv() runs once Enter is pressed). A client behind a busy tcpserver1
 * waits here (T11). */
static void before_recv(int fd, const struct exchange *x)
{
    if (lab.step)
        step(fmt("recv(fd %d)", fd),
             fmt("fd %d ESTABLISHED (CLOSE_WAIT once the server has closed: tcpserver1 closes "
                 "right after its reply); ss Recv-Q counts bytes waiting", fd),
             "returns the bytes waiting, or sleeps until some arrive");
    if (x->got > 0)
        return;
    if (opt.timeout_ms < 0)
        say("waiting in recv(fd %d) for the reply (no time limit: -t sets one)", fd);
    else
        say("waiting in recv(fd %d) for the reply (at most %.3g s)", fd,
            (double)opt.timeout_ms / 1000.0);
}

/* recv() returned n bytes of the reply in buf (0: the server's FIN; -1:
 * its RST, or a signal (EINTR): nothing happened). */
static void after_recv(int fd, const unsigned char *buf, ssize_t n)
{
    if (n > 0)
        say("recv(fd %d) = %ld bytes: %s", fd, (long)n, payload_text(buf, (size_t)n));
    else if (n == 0)
        say("recv(fd %d) = 0: the server closed the connection (its FIN arrived); fd %d is now "
            "CLOSE_WAIT until we close it", fd, fd);
    else if (errno != EINTR)
        say("recv(fd %d): %s: the server reset the connection", fd, err_text(errno));
}

/* -w, or the server closed while we waited for a line (hold): where the
 * connection stands, and the pause. */
static void before_wait(int fd, enum peer peer, int hold)
{
    char here[ADDR_TEXT_SIZE], there[ADDR_TEXT_SIZE];
    if (!hold)
        return;
    end_text(fd, OUR_END, here, sizeof here);
    if (peer == PEER_OPEN)
        say("fd %d is %s -> %s. Press Enter to close it", fd, here,
            end_text(fd, PEER_END, there, sizeof there));
    else if (peer == PEER_CLOSED)
        say("fd %d is %s -> the server, which has closed its end (CLOSE_WAIT). Press Enter "
            "to close it", fd, here);
    else
        say("fd %d is %s, reset by the server: the connection is gone (CLOSED). Press "
            "Enter to close it", fd, here);
}

/* recv() of what the server did unasked: between messages, while we
 * waited for a line, or for Enter (-w). */
static void after_watch(int fd, const unsigned char *buf, ssize_t n, enum until until)
{
    if (n > 0)
        say("recv(fd %d) = %ld more bytes: %s", fd, (long)n, payload_text(buf, (size_t)n));
    else if (n == 0 && until == ENTER)
        say("the server closed its end (its FIN arrived): fd %d is CLOSE_WAIT until we "
            "close; the server's end is FIN_WAIT_1 until our kernel ACKs its FIN "
            "(delayed ACK, up to ~40 ms), then FIN_WAIT_2", fd);
    else if (n == 0)
        say("recv(fd %d) = 0: the server closed the connection (its FIN arrived)", fd);
    else if (errno != EINTR)
        say("recv(fd %d): %s: the server reset the connection", fd, err_text(errno));
}

/* The wait ended without Enter when standard input had ended (the line
 * reader holds nothing, at its end). */
static void after_wait(int hold)
{
    if (hold && lab_in.eof && lab_in.len == 0)
        say("standard input is closed: not waiting");
}

static void before_close(int fd, enum peer peer)
{
    if (peer == PEER_OPEN)
        step(fmt("close(fd %d)", fd),
             fmt("fd %d ESTABLISHED (CLOSE_WAIT once the server has closed)", fd),
             "we close first: our end goes to FIN_WAIT_1, then FIN_WAIT_2 once the server's "
             "kernel ACKs our FIN, then TIME_WAIT once the server closes too");
    else if (peer == PEER_CLOSED)
        step(fmt("close(fd %d)", fd),
             fmt("fd %d CLOSE_WAIT (the server closed first: its end is FIN_WAIT_1 until our "
                 "kernel ACKs its FIN, then FIN_WAIT_2)", fd),
             "our FIN finishes the close: the server's end goes to TIME_WAIT; ours is LAST_ACK "
             "until the server's kernel ACKs our FIN, then gone");
    else
        step(fmt("close(fd %d)", fd),
             fmt("fd %d CLOSED: the server reset the connection, so ss and netstat no longer "
                 "list it", fd),
             fmt("close() only frees fd %d: the connection is already gone, no FIN goes out", fd));
    say("close(fd %d)", fd);
}

/* ==== Options and usage ==== */

/* The command line into opt; usage errors exit 2. */
static void parse_options(int argc, char **argv)
{
    lab_start("tcpclient", LAB_CLIENT, usage);
    for (int c; (c = next_option(argc, argv, "b:t:wm:f:")) != -1;) {
        switch (c) {
        case 'b': opt.bind_spec = optarg; break;
        case 't': opt.timeout_ms = parse_seconds(optarg); break;
        case 'w': opt.wait_at_end = 1; break;
        case 'f': opt.fill = parse_count(optarg, "byte count", 1, 2147483647); break;
        case 'm':
            if (opt.nmessages == MAX_MESSAGES)
                usage_error("too many -m messages (at most %d)", MAX_MESSAGES);
            opt.messages[opt.nmessages++] = optarg;
            break;
        }
    }
    if (optind < argc)
        opt.host = argv[optind++];
    if (optind < argc)
        opt.port = argv[optind++];
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    check_host_port(opt.host, opt.port);
    parse_port(opt.port);
    if (opt.bind_spec != NULL)
        split_bind_spec(opt.bind_spec, &opt.bind_host, &opt.bind_port);
    if (opt.bind_host == NULL)
        return;
    /* -b ADDRESS:PORT: the ADDRESS is resolved here, once (exit 1 if it
     * cannot be), for its family: the socket's, and the server's. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *res;
    int rc = getaddrinfo(opt.bind_host, opt.bind_port, &hints, &res);
    if (rc != 0)
        cannot_resolve(opt.bind_host, rc, AF_UNSPEC);
    opt.bind_family = res->ai_family;
    freeaddrinfo(res);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-b [ADDRESS:]PORT] [-t SECONDS] [-w] [-m MESSAGE]... [-f BYTES]"
            " [-S]" /* narration */
            " [-h] [HOST [PORT]]\n"
            "TCP client: connects to HOST PORT (default localhost %s), sends each\n"
            "message (a line, with its newline) and prints the reply. Messages are\n"
            "the lines of standard input unless -m is given.\n"
            "  -b [ADDRESS:]PORT  bind the socket to this port (and address) first\n"
            "  -t SECONDS         give up on connect() or on a reply after SECONDS\n"
            "  -w                 wait for Enter before closing the connection\n"
            "  -m MESSAGE         send MESSAGE instead of reading standard input\n"
            "                     (repeat -m for several messages)\n"
            "  -f BYTES           instead of messages, send BYTES zero bytes without\n"
            "                     blocking, and say where the kernel's buffers were full\n"
            "                     (EAGAIN); wait for room (-t: that long at most, then exit 1)\n"
            "  -S                 step mode: before each socket call, say what it will\n" /* narration */
            "                     change in lsof/netstat/ss, and wait for Enter\n" /* narration */
            "  -h                 this help\n",
            lab.prog, DEFAULT_PORT);
}
