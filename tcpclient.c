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
 *   cc -o tcpclient tcpclient.c
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
 *                            (ESTABLISHED, CLOSE_WAIT, FIN_WAIT2, TIME_WAIT)
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
#include <stddef.h>
#include <stdint.h>
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

static const char *prog = "tcpclient";

/* The command line, filled by parse_options(). */
static struct options {
    const char *host, *port;            /* HOST [PORT], default localhost 12333 */
    const char *bind_spec;              /* -b [ADDRESS:]PORT as given, or NULL */
    int bind_port;                      /* -b's PORT */
    struct sockaddr_storage bind_addr;  /* -b's ADDRESS:PORT; AF_UNSPEC: no ADDRESS */
    socklen_t bind_len;                 /* its length */
    long timeout_ms;                    /* -t: -1 waits as long as the kernel does */
    int wait_at_end;                    /* -w: "enter to finish" */
    const char *messages[MAX_MESSAGES]; /* -m, in order */
    int nmessages;                      /* how many -m */
    int step_mode;                      /* -S: pause before each socket call */
    long fill;                          /* -f BYTES: fill the buffers instead (N5) */
} opt;

/* What the server has done to the connection, as far as we have seen. */
enum peer { PEER_OPEN, PEER_CLOSED /* its FIN arrived */, PEER_RESET /* or gone */ };

/* One message and its reply so far. */
struct exchange {
    int number;      /* 1, 2, ...: which message */
    const char *msg; /* the bytes we send, with their newline */
    long len;
    long got;        /* reply bytes so far */
    int same;        /* the reply so far equals what we sent */
    int line_ended;  /* the last reply byte was a newline */
};

/* The ends of a connection, for end_text(). */
enum end { OUR_END, SERVER_END };

/* What step mode and the log say at each call, in lecture order (after
 * main). */
_Noreturn static void getaddrinfo_failed(int rc, int family);
static void after_getaddrinfo(void);
static void before_socket(const struct addrinfo *ai);
static void after_socket(int fd, const struct addrinfo *ai);
static void before_bind(int fd, const struct sockaddr_storage *me);
_Noreturn static void bind_failed(int fd, const struct sockaddr_storage *me);
static void after_bind(int fd, const struct sockaddr_storage *me);
static void before_connect(int fd, const struct addrinfo *ai);
static int connect_failed(int fd, const struct addrinfo *ai, int rc);
_Noreturn static void cannot_connect(struct addrinfo *servers, int err);
static void after_connect(int fd);
_Noreturn static void fill_buffers(int fd);
static int next_message(struct exchange *x);
static ssize_t recv_unasked(int fd);
static enum peer reset_seen(int fd);
static enum peer peek_closed(int fd);
static int closed_before(const struct exchange *x);
static void before_send(int fd, const struct exchange *x);
static enum peer send_failed(int fd);
static void after_send(int fd, const struct exchange *x);
static int awaiting_reply(const struct exchange *x);
static void before_recv(int fd);
_Noreturn static void no_reply(int fd);
static enum peer after_recv(int fd, const unsigned char *buf, ssize_t n, struct exchange *x);
static int after_reply(const struct exchange *x, enum peer peer);
static enum peer wait_at_end(int fd, enum peer peer);
static void before_close(int fd, enum peer peer);
/* The plumbing: options, formatting, errors. */
static void parse_options(int argc, char **argv);
static void parse_bind_spec(void);
static socklen_t bind_address(int family, struct sockaddr_storage *me);
static void usage(FILE *out);
static void long_options(int argc, char **argv);
static int all_digits(const char *s);
static void misplaced_words(const char *host, const char *port);
static int parse_port(const char *s);
static long parse_seconds(const char *s);
static long parse_bytes(const char *s);
_Noreturn static void usage_error(const char *fmt, ...);
_Noreturn static void cannot_resolve(const char *host, int rc);
_Noreturn static void fail(const char *what);
static void say(const char *fmt, ...);
static void stdout_check(void);
static void step_byte_order(const struct sockaddr *sa);
static const char *err_text(int e);
static void step(const char *fmt, ...);
static const char *family_name(int family);
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len, long timeout_ms);
static int send_all(int fd, const char *p, size_t n);
static int wait_for(int fd, short events, long timeout_ms);
static long ms_left(const struct timespec *start, long timeout_ms);
static char *addr_text(const struct sockaddr *sa, char *buf, size_t size);
static char *end_text(int fd, enum end which, char *buf, size_t size);
static char *payload_text(const unsigned char *p, size_t n, char *buf, size_t size);
static char *keep(const char *p, size_t n, int newline);
static int in_ready(void);
static void in_fill(size_t max);
static long next_line(char **line, size_t max);
static int wait_for_enter(void);

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    /* send() on a connection the server has reset raises SIGPIPE, which
     * kills; ignored, it is the error EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);

    /* getaddrinfo(): HOST and PORT as socket addresses, IPv4 and/or IPv6, from
     * /etc/hosts or DNS; nothing goes to the server yet. -b ADDRESS: its family only. */
    struct addrinfo hints = {.ai_family = opt.bind_addr.ss_family, .ai_socktype = SOCK_STREAM},
                    *servers, *ai;
    int rc = getaddrinfo(opt.host, opt.port, &hints, &servers);
    if (rc != 0)
        getaddrinfo_failed(rc, hints.ai_family); /* exit 1 */
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

        /* bind() (-b): our own port (and address), instead of the one the
         * kernel would pick at connect(). */
        if (opt.bind_spec != NULL) {
            struct sockaddr_storage me;
            socklen_t melen = bind_address(ai->ai_family, &me);
            before_bind(fd, &me);
            if (bind(fd, (struct sockaddr *)&me, melen) < 0)
                bind_failed(fd, &me); /* exit 1, with the likely cause */
            after_bind(fd, &me);
        }

        /* connect(): our kernel sends SYN; the server's kernel answers
         * SYN-ACK if a socket LISTENs on that port (its program need not do
         * anything), or RST if none does; we ACK. All before connect()
         * returns (-t: or gives up), and the kernel picks our port here. */
        before_connect(fd, ai);
        if ((rc = connect_within(fd, ai->ai_addr, ai->ai_addrlen, opt.timeout_ms)) == 0)
            break;
        err = connect_failed(fd, ai, rc); /* says why; returns errno */
        close(fd);
    }
    if (ai == NULL)
        cannot_connect(servers, err); /* exit 1 */
    freeaddrinfo(servers);
    after_connect(fd);

    /* Each message (-m, or each line of standard input): send(), recv(). */
    static unsigned char buf[65536]; /* one recv()'s worth of reply */
    struct exchange x = {0};
    enum peer peer = PEER_OPEN;
    int status = 0;
    while (peer == PEER_OPEN && next_message(&x)) {
        /* Has the server gone meanwhile? Its FIN shows as end of file, its
         * RST as an error, both waiting for recv() (poll() says so). */
        if (x.number > 1 && (peer = peek_closed(fd)) != PEER_OPEN) {
            status = closed_before(&x); /* exit status 1 */
            break;
        }

        /* send(): copy the bytes into the kernel's send buffer. The kernel
         * sends them when it likes; send() returning says nothing about the
         * server having them. */
        before_send(fd, &x);
        if (send_all(fd, x.msg, (size_t)x.len) < 0) {
            peer = send_failed(fd); /* EPIPE or ECONNRESET: the server is gone */
            status = 1;
            break;
        }
        after_send(fd, &x);

        /* recv(): the bytes that have arrived, sleeping until some do. TCP keeps
         * no message boundaries: recv() until as many bytes came back as we sent,
         * or a line ended. 0 is the server's FIN, an error (ECONNRESET) its RST. */
        while (peer == PEER_OPEN && awaiting_reply(&x)) {
            before_recv(fd);
            if (!wait_for(fd, POLLIN, opt.timeout_ms)) /* -t: poll() that long at most */
                no_reply(fd);                          /* exit 1 */
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            peer = after_recv(fd, buf, n, &x); /* EINTR: nothing yet, recv() again */
        }
        status |= after_reply(&x, peer); /* 1: the server closed too early */
    }

    /* -w: keep the connection open until Enter (watching it meanwhile);
     * without -w, read a FIN already here, so that the close step is true. */
    peer = wait_at_end(fd, peer);

    /* close(): the kernel sends our FIN. The end that closed first waits in
     * TIME_WAIT: the server's if it closed first (tcpserver1), else ours. */
    before_close(fd, peer);
    close(fd);
    return status;
}

/* ==== The lesson ends here. Below: what step mode and the log say at each call (in lecture order), then the plumbing. ==== */

/* getaddrinfo() found no address. With -b ADDRESS, family is that
 * address's: a host that has addresses, but none of that family, is told
 * so. */
_Noreturn static void getaddrinfo_failed(int rc, int family)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (family != AF_UNSPEC && getaddrinfo(opt.host, opt.port, &hints, &res) == 0) {
        freeaddrinfo(res);
        int v6 = family == AF_INET6;
        fprintf(stderr,
                "%s: '%s' has no %s address here, but -b %s is %s (use %s as HOST, or an "
                "%s -b address)\n",
                prog, opt.host, v6 ? "IPv6" : "IPv4", opt.bind_spec, v6 ? "IPv6" : "IPv4",
                v6 ? "::1" : "127.0.0.1", v6 ? "IPv4" : "IPv6");
        exit(1);
    }
    cannot_resolve(opt.host, rc);
}

/* getaddrinfo() worked: the addresses are known. Say who we are. */
static void after_getaddrinfo(void)
{
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());
}

static void before_socket(const struct addrinfo *ai)
{
    char there[ADDR_TEXT];
    say("server %s port %s: trying %s", opt.host, opt.port,
        addr_text(ai->ai_addr, there, sizeof there));
    step("socket(%s, SOCK_STREAM, 0)\n"
         "no socket yet\n"
         "a new fd, with no port: netstat and ss do not list it",
         family_name(ai->ai_family));
}

static void after_socket(int fd, const struct addrinfo *ai)
{
    say("socket(%s, SOCK_STREAM, 0) = fd %d", family_name(ai->ai_family), fd);
}

static void before_bind(int fd, const struct sockaddr_storage *me)
{
    step_byte_order((const struct sockaddr *)me);
    char here[ADDR_TEXT];
    addr_text((const struct sockaddr *)me, here, sizeof here);
    step("bind(fd %d, %s)\n"
         "fd %d has no port\n"
         "fd %d owns %s, not yet connected: ss and netstat do not list it, lsof shows "
         "'sock ... protocol: TCP'",
         fd, here, fd, fd, here);
}

_Noreturn static void bind_failed(int fd, const struct sockaddr_storage *me)
{
    int e = errno;
    char here[ADDR_TEXT];
    fprintf(stderr, "%s: bind(fd %d, %s): %s%s\n", prog, fd,
            addr_text((const struct sockaddr *)me, here, sizeof here), err_text(e),
            e == EADDRINUSE      ? " (an earlier connection from this port may "
                                   "still be in TIME_WAIT: see ss -tan)"
            : e == EADDRNOTAVAIL ? " (that address is not one of this machine's)"
                                 : "");
    exit(1);
}

static void after_bind(int fd, const struct sockaddr_storage *me)
{
    char here[ADDR_TEXT];
    say("bind(fd %d, %s) ok", fd, addr_text((const struct sockaddr *)me, here, sizeof here));
}

static void before_connect(int fd, const struct addrinfo *ai)
{
    step_byte_order(ai->ai_addr);
    char there[ADDR_TEXT];
    addr_text(ai->ai_addr, there, sizeof there);
    step("connect(fd %d, %s)\n"
         "fd %d is not connected: not in ss -tan as ESTAB\n"
         "SYN, SYN-ACK, ACK: fd %d ESTABLISHED to %s %s, or RST: Connection refused",
         fd, there, fd, fd, there,
         opt.bind_spec != NULL ? "from the port bind() gave it" : "with a port the kernel picked");
    say("connect(fd %d, %s): SYN sent, waiting for the server's SYN-ACK", fd, there);
}

/* connect_within() returned rc (-1: failed, errno says why; -2: the -t
 * limit ran out). Says why this address did not work; returns errno. */
static int connect_failed(int fd, const struct addrinfo *ai, int rc)
{
    int err = errno;
    char there[ADDR_TEXT], when[80];
    addr_text(ai->ai_addr, there, sizeof there);
    if (rc == -2 || err == ETIMEDOUT) {
        if (rc == -2) /* our time limit ran out: the kernel is still trying */
            snprintf(when, sizeof when, "within %.3g s: still SYN-SENT",
                     (double)opt.timeout_ms / 1000.0);
        else /* the kernel's own retries ran out */
            snprintf(when, sizeof when, "after the kernel's retries: it gave up (%s)",
                     err_text(err));
        say("connect(fd %d, %s): no SYN-ACK %s. A server whose accept queue is full drops SYNs "
            "silently (Linux); a firewall may too",
            fd, there, when);
    } else
        say("connect(fd %d, %s): %s%s%s", fd, there, err_text(err),
            err == ECONNREFUSED ? ": the server's kernel answered our SYN with RST, "
                                  "since no socket LISTENs on that port"
                                : "",
            err == ECONNREFUSED && ai->ai_family == AF_INET6 ? IPV4_ONLY_HINT : "");
    return err;
}

/* Every address failed; err is the last one's errno. */
_Noreturn static void cannot_connect(struct addrinfo *servers, int err)
{
    int tried_v4 = 0;
    for (const struct addrinfo *ai = servers; ai != NULL; ai = ai->ai_next)
        tried_v4 |= ai->ai_family == AF_INET;
    freeaddrinfo(servers);
    fprintf(stderr, "%s: cannot connect to %s port %s: %s%s\n", prog, opt.host, opt.port,
            err == ETIMEDOUT ? "no SYN-ACK in time (ETIMEDOUT, see above)" : err_text(err),
            err == ECONNREFUSED && !tried_v4 ? IPV4_ONLY_HINT : "");
    exit(1);
}

static void after_connect(int fd)
{
    char here[ADDR_TEXT], there[ADDR_TEXT];
    say("connected: fd %d is %s -> %s (ESTABLISHED; the SYN, SYN-ACK, ACK handshake is "
        "already done)",
        fd, end_text(fd, OUR_END, here, sizeof here),
        end_text(fd, SERVER_END, there, sizeof there));
    if (opt.fill > 0)
        fill_buffers(fd); /* -f: the send-buffer experiment instead of messages; exits */
}

/* The next message in *x (-m's, or a line of standard input, with a prompt
 * on a terminal); 0 when there are no more. */
static int next_message(struct exchange *x)
{
    const char *msg;
    long len;
    if (opt.nmessages > 0) {
        if (x->number >= opt.nmessages)
            return 0;
        len = (long)strlen(opt.messages[x->number]) + 1;
        msg = keep(opt.messages[x->number], (size_t)len - 1, 1); /* a line, as if typed */
    } else {
        if (isatty(STDIN_FILENO)) {
            errno = 0;
            printf("%s: message to send (Ctrl-D to finish): ", prog);
            stdout_check();
        }
        char *line;
        if ((len = next_line(&line, MAX_MESSAGE)) < 0)
            return 0;
        msg = keep(line, (size_t)len, 0);
    }
    *x = (struct exchange){.number = x->number + 1, .msg = msg, .len = len, .same = 1};
    return 1;
}

/* recv() what the server sent unasked, and show it. Returns what recv()
 * returned (-1 with errno). */
static ssize_t recv_unasked(int fd)
{
    unsigned char buf[4096];
    char shown[PAYLOAD_TEXT];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0)
        say("recv(fd %d) = %ld more bytes: %s", fd, (long)n,
            payload_text(buf, (size_t)n, shown, sizeof shown));
    return n;
}

/* recv() failed (errno): the server's RST. */
static enum peer reset_seen(int fd)
{
    say("recv(fd %d): %s: the server reset the connection", fd, err_text(errno));
    return PEER_RESET;
}

/* Has the server closed (PEER_CLOSED) or reset (PEER_RESET) the
 * connection? poll() looks without waiting; what is waiting is read with
 * recv(), and bytes the server sent meanwhile are shown. */
static enum peer peek_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, 0) > 0) {
        ssize_t n = recv_unasked(fd);
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        if (n < 0)
            return reset_seen(fd);
        say("recv(fd %d) = 0: the server closed the connection (its FIN arrived)", fd);
        return PEER_CLOSED;
    }
    return PEER_OPEN;
}

/* The server closed the connection before message x: says so, returns
 * the exit status (1). */
static int closed_before(const struct exchange *x)
{
    fprintf(stderr, "%s: the server closed the connection before message %d: it serves one "
                    "exchange per connection?\n",
            prog, x->number);
    return 1;
}

static void before_send(int fd, const struct exchange *x)
{
    char here[ADDR_TEXT], there[ADDR_TEXT];
    step("send(fd %d, %ld bytes)\n"
         "fd %d ESTABLISHED %s -> %s (CLOSE_WAIT once the server has closed)\n"
         "the bytes go out; the server's kernel ACKs them even before its program "
         "reads them",
         fd, x->len, fd, end_text(fd, OUR_END, here, sizeof here),
         end_text(fd, SERVER_END, there, sizeof there));
}

/* send() failed: the connection is gone (PEER_RESET). */
static enum peer send_failed(int fd)
{
    fprintf(stderr, "%s: send(fd %d): %s (the server is gone)\n", prog, fd, err_text(errno));
    return PEER_RESET;
}

static void after_send(int fd, const struct exchange *x)
{
    char shown[PAYLOAD_TEXT];
    say("send(fd %d) = %ld bytes: %s", fd, x->len,
        payload_text((const unsigned char *)x->msg, (size_t)x->len, shown, sizeof shown));
}

/* The reply is not complete yet: fewer bytes than we sent, and no line
 * ended (a line is a whole reply, even if shorter than what we sent). */
static int awaiting_reply(const struct exchange *x)
{
    return x->got < x->len && !x->line_ended;
}

static void before_recv(int fd)
{
    step("recv(fd %d)\n"
         "fd %d ESTABLISHED (CLOSE_WAIT once the server has closed: tcpserver1 "
         "closes right after its reply); ss Recv-Q counts bytes waiting\n"
         "returns the bytes waiting, or sleeps until some arrive",
         fd, fd);
}

_Noreturn static void no_reply(int fd)
{
    fprintf(stderr,
            "%s: no reply within %.3g s on fd %d: the connection is up (the server's kernel "
            "accepted it), but the server program has not answered: busy with another "
            "client, or not yet at accept()?\n",
            prog, (double)opt.timeout_ms / 1000.0, fd);
    close(fd);
    exit(1);
}

/* recv() returned n bytes of the reply in buf (0: the server's FIN; -1:
 * its RST, or a signal (EINTR): nothing happened): say so, and count them
 * in *x. */
static enum peer after_recv(int fd, const unsigned char *buf, ssize_t n, struct exchange *x)
{
    char shown[PAYLOAD_TEXT];
    if (n < 0 && errno == EINTR)
        return PEER_OPEN;
    if (n < 0)
        return reset_seen(fd);
    if (n == 0) {
        say("recv(fd %d) = 0: the server closed the connection (its FIN arrived); fd %d is now "
            "CLOSE_WAIT until we close it",
            fd, fd);
        return PEER_CLOSED;
    }
    say("recv(fd %d) = %ld bytes: %s", fd, (long)n,
        payload_text(buf, (size_t)n, shown, sizeof shown));
    if (x->got + n > x->len || memcmp(buf, x->msg + x->got, (size_t)n) != 0)
        x->same = 0;
    x->got += n;
    x->line_ended = buf[n - 1] == '\n';
    return PEER_OPEN;
}

/* The reply is complete, or the server has closed or reset the connection
 * (peer). Returns 1 when it closed too early: before the whole reply, or
 * before the next -m message. */
static int after_reply(const struct exchange *x, enum peer peer)
{
    if (x->got > 0 && x->same && x->got == x->len)
        say("reply: %ld bytes, the same as we sent", x->got);
    else if (x->got > 0)
        say("reply: %ld bytes, we sent %ld", x->got, x->len);
    if (peer == PEER_OPEN)
        return 0;
    if (x->got < x->len) {
        fprintf(stderr, "%s: the server closed the connection after %ld of %ld reply bytes\n",
                prog, x->got, x->len);
        return 1;
    }
    if (x->number < opt.nmessages) {
        fprintf(stderr, "%s: the server closed the connection before message %d\n", prog,
                x->number + 1);
        return 1;
    }
    return 0;
}

/* -w: wait for Enter; while the connection is open, poll() watches it
 * too, and what the server does meanwhile is said (with tcpserver1 its FIN
 * arrives now). Without -w: peek_closed(). Returns what the server has
 * done by then. */
static enum peer wait_at_end(int fd, enum peer peer)
{
    if (!opt.wait_at_end)
        return peer == PEER_OPEN ? peek_closed(fd) : peer;
    char here[ADDR_TEXT], there[ADDR_TEXT];
    end_text(fd, OUR_END, here, sizeof here);
    if (peer == PEER_OPEN)
        say("fd %d is %s -> %s. Press Enter to close it", fd, here,
            end_text(fd, SERVER_END, there, sizeof there));
    else if (peer == PEER_CLOSED)
        say("fd %d is %s -> the server, which has closed its end (CLOSE_WAIT). Press Enter "
            "to close it",
            fd, here);
    else
        say("fd %d is %s, reset by the server: the connection is gone (CLOSED). Press "
            "Enter to close it",
            fd, here);
    while (!in_ready()) {
        struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                              {.fd = peer == PEER_OPEN ? fd : -1, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            fail("poll");
        }
        ssize_t n = p[1].revents != 0 ? recv_unasked(fd) : 1;
        if (n == 0) {
            say("the server closed its end (its FIN arrived): fd %d is CLOSE_WAIT until we "
                "close; the server's end is FIN_WAIT_1 until our kernel ACKs its FIN "
                "(delayed ACK, up to ~40 ms), then FIN_WAIT_2",
                fd);
            peer = PEER_CLOSED;
        } else if (n < 0 && errno != EINTR) {
            say("recv(fd %d): %s", fd, err_text(errno));
            peer = PEER_RESET;
        }
        if (p[0].revents != 0)
            in_fill(1 << 20);
    }
    if (!wait_for_enter())
        say("standard input is closed: not waiting");
    return peer;
}

static void before_close(int fd, enum peer peer)
{
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
}

/* ---- plumbing: options, formatting, errors ---- */

/* The command line into opt; usage errors exit 2. */
static void parse_options(int argc, char **argv)
{
    int c;
    opt.host = "localhost";
    opt.port = DEFAULT_PORT;
    opt.timeout_ms = -1;
    long_options(argc, argv);
    opterr = 0;
    while ((c = getopt(argc, argv, ":b:t:wm:f:Sh")) != -1) {
        switch (c) {
        case 'b': opt.bind_spec = optarg; break;
        case 't': opt.timeout_ms = parse_seconds(optarg); break;
        case 'w': opt.wait_at_end = 1; break;
        case 'f': opt.fill = parse_bytes(optarg); break;
        case 'm':
            if (opt.nmessages == MAX_MESSAGES)
                usage_error("too many -m messages (at most %d)", MAX_MESSAGES);
            opt.messages[opt.nmessages++] = optarg;
            break;
        case 'S': opt.step_mode = 1; break;
        case 'h': usage(stdout); exit(0);
        case ':': usage_error("option -%c needs an argument", optopt);
        default: usage_error("unknown option -%c", optopt);
        }
    }
    if (optind < argc)
        opt.host = argv[optind++];
    if (optind < argc)
        opt.port = argv[optind++];
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    misplaced_words(opt.host, opt.port);
    parse_port(opt.port);
    opt.bind_addr.ss_family = AF_UNSPEC;
    if (opt.bind_spec != NULL)
        parse_bind_spec();
    setvbuf(stdout, NULL, _IOLBF, 0); /* each log line as soon as it is said */
}

/* -b: "22222", "127.0.0.1:22222" or "[::1]:22222". The PORT's checks are
 * usage errors; an ADDRESS is resolved here, once (exit 1 if it cannot
 * be). */
static void parse_bind_spec(void)
{
    char copy[300];
    snprintf(copy, sizeof copy, "%s", opt.bind_spec);
    const char *host = NULL, *port = copy;
    char *colon = strrchr(copy, ':');
    if (colon != NULL) {
        *colon = '\0';
        port = colon + 1;
        host = copy;
        if (*copy == '[' && colon > copy + 1 && colon[-1] == ']') {
            colon[-1] = '\0';
            host = copy + 1;
        }
    }
    opt.bind_port = parse_port(port);
    if (host == NULL)
        return;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        cannot_resolve(host, rc);
    memcpy(&opt.bind_addr, res->ai_addr, res->ai_addrlen);
    opt.bind_len = res->ai_addrlen;
    freeaddrinfo(res);
}

/* -b's address for a socket of this family: ADDRESS:PORT, or without an
 * ADDRESS the wildcard (any address of ours, shown as *) with PORT.
 * Returns its length. */
static socklen_t bind_address(int family, struct sockaddr_storage *me)
{
    if (opt.bind_addr.ss_family != AF_UNSPEC) {
        *me = opt.bind_addr;
        return opt.bind_len;
    }
    memset(me, 0, sizeof *me);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)(void *)me;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        sin->sin_port = htons((unsigned short)opt.bind_port);
        return sizeof *sin;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)me;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_any;
    sin6->sin6_port = htons((unsigned short)opt.bind_port);
    return sizeof *sin6;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-b [ADDRESS:]PORT] [-t SECONDS] [-w] [-m MESSAGE]... [-f BYTES] [-S] [-h]"
            " [HOST [PORT]]\n"
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

_Noreturn static void cannot_resolve(const char *host, int rc)
{
    fprintf(stderr, "%s: cannot resolve '%s': %s\n", prog, host, gai_strerror(rc));
    exit(1);
}

_Noreturn static void fail(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, err_text(errno));
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
            err_text(errno != 0 ? errno : EIO));
    exit(1);
}

/* Step mode: say which call comes next, what lsof/netstat/ss show now and
 * what they will show after it, then wait for Enter. The format makes
 * three lines: "CALL\nNOW\nAFTER". Without -S it does nothing. */
static void step(const char *f, ...)
{
    if (!opt.step_mode)
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
        opt.step_mode = 0;
    }
}

static const char *family_name(int family)
{
    return family == AF_INET ? "AF_INET" : "AF_INET6";
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
    if (!wait_for(fd, POLLOUT, timeout_ms)) {
        errno = ETIMEDOUT;
        return -2;
    }
    int soerr = 0;
    socklen_t l = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0)
        return -1;
    if (soerr == 0)
        return 0;
    errno = soerr;
    return -1;
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

/* poll() until fd is ready for events (POLLIN: something to read;
 * POLLOUT: connect() has ended): 1, or 0 when timeout_ms (-1: none) ran
 * out. */
static int wait_for(int fd, short events, long timeout_ms)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)ms_left(&start, timeout_ms));
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            fail("poll");
    }
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

/* The address of one end of fd, in buf: ours (OUR_END, getsockname) or
 * the server's (SERVER_END, getpeername). */
static char *end_text(int fd, enum end which, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int rc = which == SERVER_END ? getpeername(fd, (struct sockaddr *)&ss, &len)
                                 : getsockname(fd, (struct sockaddr *)&ss, &len);
    if (rc == 0)
        return addr_text((struct sockaddr *)&ss, buf, size);
    snprintf(buf, size, "%s (%s: %s)", which == SERVER_END ? "no peer" : "unknown",
             which == SERVER_END ? "getpeername" : "getsockname", err_text(errno));
    return buf;
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
    if (!opt.step_mode)
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

/* -f BYTES: 1 to 2^31 - 1, else a usage error */
static long parse_bytes(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 2147483647L)
        usage_error("-f wants a number of bytes from 1 to 2147483647, not '%s'", s);
    return v;
}

/* -f BYTES (N5): send() returns when the bytes are in our kernel, not when
 * the server has them. Non-blocking, each send() takes what fits in the
 * buffers (ours, and the server's receive buffer across the connection);
 * when they are full it fails with EAGAIN where a blocking send() would
 * sleep. Says how much fitted, and the buffer sizes the kernel uses. */
_Noreturn static void fill_buffers(int fd)
{
    static unsigned char zeros[65536];
    int sndbuf = 0, rcvbuf = 0, flags = fcntl(fd, F_GETFL);
    socklen_t len = sizeof sndbuf;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) < 0)
        fail("getsockopt(SO_SNDBUF)");
    len = sizeof rcvbuf;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len) < 0)
        fail("getsockopt(SO_RCVBUF)");
    say("-f: fd %d: SO_SNDBUF %d bytes, SO_RCVBUF %d bytes (getsockopt: the sizes the kernel "
        "uses now; Linux grows them as needed)", fd, sndbuf, rcvbuf);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        fail("fcntl(O_NONBLOCK)");
    long sent = 0, calls = 0;
    while (sent < opt.fill) {
        long left = opt.fill - sent;
        size_t want = left < (long)sizeof zeros ? (size_t)left : sizeof zeros;
        ssize_t n = send(fd, zeros, want, 0);
        if (n >= 0) {
            if (calls++ == 0 || (size_t)n < want)
                say("send(fd %d, %lu bytes) = %ld: returned at once, the bytes are in the "
                    "kernel%s", fd, (unsigned long)want, (long)n,
                    (size_t)n < want ? " (only part fitted)" : "");
            sent += n;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            say("send(fd %d): %s after %ld bytes in %ld send()s: the buffers are full (the "
                "server does not read); a blocking send() would sleep here",
                fd, err_text(errno), sent, calls);
            if (!wait_for(fd, POLLOUT, opt.timeout_ms)) {
                fprintf(stderr, "%s: send(fd %d): no room within %.3g s: %ld of %ld bytes "
                        "sent, the rest never left\n", prog, fd,
                        (double)opt.timeout_ms / 1000.0, sent, opt.fill);
                exit(1);
            }
        } else if (errno != EINTR)
            fail("send");
    }
    say("-f: all %ld bytes handed to the kernel in %ld send()s", sent, calls);
    close(fd);
    exit(0);
}
