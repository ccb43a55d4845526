/*
 * checkpeer.c - the client side of scripts/check: the clients each check
 * needs (echo payloads, a silent client and a second one, a thousand at
 * once, resets, a killed client, a half-close, a client that never reads,
 * junk), run against a server on HOST PORT. It prints ONE line: what was
 * sent and what came back (the check's evidence). scripts/check builds it
 * (cc -o scripts/checkpeer scripts/checkpeer.c) and starts and watches the
 * server; this program never touches the server's process.
 *
 *   checkpeer [-u] [-t MS] HOST PORT ACTION [ARG]
 *   -u     UDP (default TCP)          -t MS  deadline of the whole action
 *
 * TCP actions: ready, probe, echo KIND (text binary one 64k 10m split two),
 * concurrent, many N, reset, vanish, halfclose, slowreader, junk, sigpipe,
 * churn N, hold (connect, echo, print "held", wait until the deadline).
 * UDP actions: ready, probe, echo KIND (text binary one max), concurrent,
 * junk, churn N.
 * Exit status: 0 as expected, 1 not, 2 usage, 3 connection refused,
 * 4 the deadline passed.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OK 0
#define NOT_OK 1
#define USAGE 2
#define REFUSED 3
#define LATE 4
#define IDLE_MS 2000 /* an exchange where nothing moves for this long ends */

static int udp;               /* -u */
static long deadline_ms = 10000; /* -t */
static long t_end;            /* ms on the monotonic clock */
static struct addrinfo *peer; /* HOST PORT */
static char evidence[1024];   /* the line we print */

static long left_ms(void)
{
    long l = t_end - now_ms();
    return l > 0 ? l : 0;
}

/* say(...): set the evidence line (printf format). */
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(evidence, sizeof evidence, fmt, ap);
    va_end(ap);
}
static int finish(int rc)
{
    printf("%s\n", evidence);
    return rc;
}

/* The hard backstop: whatever blocks, the deadline ends the program. */
static void on_alarm(int sig)
{
    static const char msg[] = "the check's deadline passed (checkpeer stopped)\n";
    (void)sig;
    if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0) {
        /* nothing more to do */
    }
    _exit(LATE);
}

static const char *size_text(size_t n, char *buf, size_t len)
{
    if (n >= 1048576 && n % 1048576 == 0)
        snprintf(buf, len, "%zu MB", n / 1048576);
    else if (n >= 1024 && n % 1024 == 0)
        snprintf(buf, len, "%zu KiB", n / 1024);
    else
        snprintf(buf, len, "%zu B", n);
    return buf;
}

/* Reproducible "random" bytes (xorshift). */
static unsigned long rnd_state = 2463534242UL;
static unsigned char rnd_byte(void)
{
    rnd_state ^= (rnd_state << 13) & 0xffffffffUL;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= (rnd_state << 5) & 0xffffffffUL;
    return (unsigned char)(rnd_state & 0xff);
}


/* open_conn(&err, wait_ms): a non-blocking socket connected to the peer
 * (TCP: the handshake done, waiting at most wait_ms), or -1 and *err. */
static int small_conn; /* the next open_conn: small segments and window */
static int open_conn(int *err, long wait_ms)
{
    int fd = socket(peer->ai_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (small_conn) {
        int v = 4096;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
#ifdef TCP_MAXSEG
        v = 536;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof v);
#endif
    }
    set_nonblock(fd);
    if (connect(fd, peer->ai_addr, peer->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        *err = errno;
        close(fd);
        return -1;
    }
    struct pollfd p = {fd, POLLOUT, 0};
    long w = wait_ms < left_ms() ? wait_ms : left_ms();
    int n = poll(&p, 1, (int)w);
    if (n <= 0) {
        *err = n == 0 ? ETIMEDOUT : errno;
        close(fd);
        return -1;
    }
    int e = 0;
    socklen_t el = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
        e = errno;
    if (e != 0) {
        *err = e;
        close(fd);
        return -1;
    }
    return fd;
}

/* The result of one exchange: bytes sent and received, how it ended. */
struct xfer {
    size_t sent, got;
    int eof;      /* the server closed (recv() == 0) */
    int err;      /* errno of a failed send/recv, or ETIMEDOUT */
    long ms;      /* how long it took */
    size_t diff;  /* first differing byte, or (size_t)-1 */
};

/* exchange(fd, out, n, pieces, pause, want_eof, wait_ms, in, &x): send out
 * (in `pieces` parts, `pause` ms apart) while reading into in (room for n),
 * until n bytes came back (and then EOF, if want_eof), an error, EOF, or
 * wait_ms. Writing and reading at once: a big echo cannot deadlock. */
static void exchange(int fd, const unsigned char *out, size_t n, int pieces, long pause,
                     int want_eof, long wait_ms, unsigned char *in, struct xfer *x)
{
    long start = now_ms(), end = start + wait_ms, next_piece = start, moved = start;
    size_t piece_end = pieces > 1 ? n / (size_t)pieces : n;
    int piece = 1;
    memset(x, 0, sizeof *x);
    if (pieces == 0) /* sent already: only read */
        x->sent = n;
    x->diff = (size_t)-1;
    if (end > t_end)
        end = t_end;
    for (;;) {
        long now = now_ms();
        if (x->got >= n && !want_eof)
            break;
        if (now >= end || now - moved > IDLE_MS) {
            x->err = ETIMEDOUT;
            break;
        }
        if (x->sent >= piece_end && piece < pieces && now >= next_piece) {
            piece++;
            piece_end = piece == pieces ? n : n / (size_t)pieces * (size_t)piece;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (x->sent < piece_end)
            p.events |= POLLOUT;
        long w = end - now < IDLE_MS ? end - now : IDLE_MS;
        if (x->sent >= piece_end && piece < pieces && next_piece - now < w)
            w = next_piece - now > 0 ? next_piece - now : 0;
        int r = poll(&p, 1, (int)w);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            x->err = errno;
            break;
        }
        if (p.revents & POLLOUT) {
            ssize_t s = send(fd, out + x->sent, piece_end - x->sent, 0);
            if (s > 0) {
                moved = now_ms();
                x->sent += (size_t)s;
                if (x->sent == piece_end)
                    next_piece = now_ms() + pause;
            } else if (s < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                x->err = errno;
                break;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            unsigned char sink[65536];
            unsigned char *dst = x->got < n ? in + x->got : sink;
            size_t room = x->got < n ? n - x->got : sizeof sink;
            ssize_t g = recv(fd, dst, room, 0);
            if (g > 0) {
                moved = now_ms();
                x->got += (size_t)g;
            } else if (g == 0) {
                x->eof = 1;
                break;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                x->err = errno;
                break;
            }
        }
    }
    x->ms = now_ms() - start;
    size_t cmp = x->got < n ? x->got : n;
    for (size_t i = 0; i < cmp; i++)
        if (in[i] != out[i]) {
            x->diff = i;
            break;
        }
    if (x->diff == (size_t)-1 && x->got != n)
        x->diff = cmp;
}

/* describe(x, n, buf): "got 65536 B of 10 MB back, then EOF" etc. */
static const char *describe(const struct xfer *x, size_t n, char *buf, size_t len)
{
    char a[32], b[32];
    const char *how = x->eof ? "then the server closed" :
                      x->err == ETIMEDOUT ? "then nothing more" :
                      x->err ? strerror(x->err) : "";
    if (x->got == n && x->diff == (size_t)-1)
        snprintf(buf, len, "%s back byte-exact in %ld ms", size_text(n, a, sizeof a), x->ms);
    else if (x->sent < n)
        snprintf(buf, len, "sent only %zu B of %s (%s), %zu B came back",
                 x->sent, size_text(n, a, sizeof a), how, x->got);
    else if (x->got >= n || (x->diff < x->got))
        snprintf(buf, len, "sent %s, %zu B came back, first difference at byte %zu",
                 size_text(n, a, sizeof a), x->got, x->diff);
    else
        snprintf(buf, len, "sent %s, got %s back (%s after %ld ms)", size_text(n, a, sizeof a),
                 size_text(x->got, b, sizeof b), how, x->ms);
    return buf;
}

/* One line on a new connection, echoed: 0 and *ms, or the errno-ish code
 * (REFUSED for ECONNREFUSED) and evidence in why. */
static int one_line(const char *line, long wait_ms, long *ms, char *why, size_t whylen)
{
    int err = 0, fd = open_conn(&err, wait_ms);
    if (fd < 0) {
        snprintf(why, whylen, "connect: %s", strerror(err));
        return err == ECONNREFUSED ? REFUSED : NOT_OK;
    }
    size_t n = strlen(line);
    unsigned char in[256];
    struct xfer x;
    exchange(fd, (const unsigned char *)line, n, 1, 0, 0, wait_ms, in, &x);
    close(fd);
    *ms = x.ms;
    if (x.got == n && x.diff == (size_t)-1)
        return OK;
    describe(&x, n, why, whylen);
    return NOT_OK;
}

/* ---- UDP ---- */

/* udp_echo(fd, out, n, tries): send a datagram, the same one must come
 * back (each try waits 1 s). 0, or NOT_OK/REFUSED with why. */
static int udp_echo(int fd, const unsigned char *out, size_t n, unsigned char *in, size_t inlen,
                    char *why, size_t whylen)
{
    for (int t = 0; t < 3 && left_ms() > 0; t++) {
        if (send(fd, out, n, 0) < 0) {
            snprintf(why, whylen, "send: %s", strerror(errno));
            return errno == ECONNREFUSED ? REFUSED : NOT_OK;
        }
        long end = now_ms() + 1000;
        while (now_ms() < end && left_ms() > 0) {
            struct pollfd p = {fd, POLLIN, 0};
            int r = poll(&p, 1, (int)(end - now_ms()));
            if (r <= 0)
                break;
            ssize_t g = recv(fd, in, inlen, 0);
            if (g < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    continue;
                snprintf(why, whylen, "recv: %s", strerror(errno));
                return errno == ECONNREFUSED ? REFUSED : NOT_OK;
            }
            if ((size_t)g == n && memcmp(in, out, n) == 0)
                return OK;
            snprintf(why, whylen, "sent %zu B, a datagram of %zd B came back (%s)", n, g,
                     (size_t)g == n ? "different bytes" : "not the same size");
            return NOT_OK;
        }
    }
    snprintf(why, whylen, "sent a %zu-byte datagram 3 times, no reply in 1 s each", n);
    return NOT_OK;
}

static int udp_probe(const char *text, char *why, size_t whylen)
{
    int err = 0, fd = open_conn(&err, 1000);
    unsigned char in[65536];
    if (fd < 0) {
        snprintf(why, whylen, "socket/connect: %s", strerror(err));
        return NOT_OK;
    }
    int rc = udp_echo(fd, (const unsigned char *)text, strlen(text), in, sizeof in, why, whylen);
    close(fd);
    return rc;
}

/* ---- the actions ---- */

static int act_ready(void)
{
    if (udp) {
        char why[256];
        int rc = udp_probe("ready?\n", why, sizeof why);
        say("%s", rc == OK ? "a datagram echoed" : why);
        return rc;
    }
    int err = 0, fd = open_conn(&err, left_ms());
    if (fd < 0) {
        say("connect: %s", strerror(err));
        return err == ECONNREFUSED ? REFUSED : NOT_OK;
    }
    close(fd);
    say("connected");
    return OK;
}

static int act_probe(void)
{
    char why[256];
    long ms = 0;
    int rc = udp ? udp_probe("are you there?\n", why, sizeof why)
                 : one_line("are you there?\n", 2000, &ms, why, sizeof why);
    if (rc == OK)
        say("a fresh client was echoed");
    else
        say("a fresh client was not echoed: %s", why);
    return rc;
}

static unsigned char *xmalloc(size_t n)
{
    unsigned char *p = malloc(n ? n : 1);
    if (p == NULL) {
        say("malloc(%zu): %s", n, strerror(errno));
        exit(finish(NOT_OK));
    }
    return p;
}

/* fill(kind, &n): the payload of an echo KIND, ending in "\n". */
static unsigned char *fill(const char *kind, size_t *n)
{
    unsigned char *b;
    size_t i;
    if (strcmp(kind, "text") == 0 || strcmp(kind, "split") == 0) {
        const char *t = strcmp(kind, "text") == 0 ? "hello, echo server\n"
                                                    : "one line, sent in three pieces\n";
        *n = strlen(t);
        b = xmalloc(*n);
        memcpy(b, t, *n);
    } else if (strcmp(kind, "two") == 0) {
        const char *t = "first line\nsecond line\n";
        *n = strlen(t);
        b = xmalloc(*n);
        memcpy(b, t, *n);
    } else if (strcmp(kind, "binary") == 0) {
        *n = 257;
        b = xmalloc(*n);
        for (i = 0; i < 256; i++)
            b[i] = (unsigned char)i;
        b[256] = '\n';
    } else if (strcmp(kind, "one") == 0) {
        *n = 1;
        b = xmalloc(1);
        b[0] = '\n';
    } else if (strcmp(kind, "64k") == 0 || strcmp(kind, "10m") == 0 || strcmp(kind, "max") == 0) {
        *n = kind[0] == '6' ? 65536 : kind[0] == '1' ? 10485760 : 65507;
        b = xmalloc(*n);
        for (i = 0; i + 1 < *n; i++)
            b[i] = kind[0] == '6' ? (unsigned char)('a' + i % 26) : rnd_byte();
        b[*n - 1] = '\n';
    } else {
        return NULL;
    }
    return b;
}

static const char *kind_text(const char *kind)
{
    return strcmp(kind, "text") == 0 ? "a text line" :
           strcmp(kind, "binary") == 0 ? "binary (all 256 byte values)" :
           strcmp(kind, "one") == 0 ? "1 byte" :
           strcmp(kind, "64k") == 0 ? "64 KiB" :
           strcmp(kind, "10m") == 0 ? "10 MB of random bytes" :
           strcmp(kind, "split") == 0 ? "a line in 3 pieces, 200 ms apart" :
           strcmp(kind, "two") == 0 ? "two lines in one send()" :
           strcmp(kind, "max") == 0 ? "65507 bytes (the largest datagram)" : kind;
}

static int act_echo(const char *kind)
{
    size_t n;
    unsigned char *out = fill(kind, &n);
    char why[512];
    if (out == NULL) {
        fprintf(stderr, "checkpeer: unknown echo kind '%s'\n", kind);
        return USAGE;
    }
    int err = 0, fd = open_conn(&err, 3000), rc;
    if (fd < 0) {
        say("%s: connect: %s", kind_text(kind), strerror(err));
        free(out);
        return err == ECONNREFUSED ? REFUSED : NOT_OK;
    }
    unsigned char *in = xmalloc(udp ? 65536 : n);
    if (udp) {
        rc = udp_echo(fd, out, n, in, 65536, why, sizeof why);
        say("%s: %s", kind_text(kind), rc == OK ? "the same datagram came back" : why);
    } else {
        struct xfer x;
        int split = strcmp(kind, "split") == 0;
        exchange(fd, out, n, split ? 3 : 1, split ? 200 : 0, 0, left_ms(), in, &x);
        rc = x.got == n && x.diff == (size_t)-1 ? OK : NOT_OK;
        say("%s: %s", kind_text(kind), describe(&x, n, why, sizeof why));
    }
    close(fd);
    free(out);
    free(in);
    return rc;
}

/* concurrent: A connects and stays silent; B must be echoed within 1 s. */
static int act_concurrent(void)
{
    int err = 0, a = open_conn(&err, 3000);
    char why[256];
    long ms = 0;
    if (a < 0) {
        say("client A: connect: %s", strerror(err));
        return NOT_OK;
    }
    if (udp) {
        /* two clients, their datagrams interleaved: each gets its own */
        int b = open_conn(&err, 3000), rc = OK;
        unsigned char in[256];
        const char *msgs[4] = {"from A 1\n", "from B 1\n", "from A 2\n", "from B 2\n"};
        if (b < 0) {
            say("client B: socket: %s", strerror(err));
            close(a);
            return NOT_OK;
        }
        for (int i = 0; i < 4 && rc == OK; i++)
            rc = udp_echo(i % 2 ? b : a, (const unsigned char *)msgs[i], strlen(msgs[i]), in,
                          sizeof in, why, sizeof why);
        say(rc == OK ? "clients A and B, interleaved, each got its own datagrams back"
                     : "clients A and B, interleaved: %s", why);
        close(a);
        close(b);
        return rc;
    }
    sleep_ms(100); /* A is accepted (or queued) first */
    int rc = one_line("client B\n", 1000, &ms, why, sizeof why);
    close(a);
    if (rc == OK) {
        say("client B was echoed in %ld ms while client A stayed connected and silent", ms);
        return OK;
    }
    int conn = strncmp(why, "connect", 7) == 0; /* else: nothing came back */
    say("serves one client at a time: client B got no echo within 1 s while client A stayed "
        "connected and silent%s%s%s", conn ? " (B's " : "", conn ? why : "", conn ? ")" : "");
    return NOT_OK;
}

/* many N: N clients connected at once, each echoed while all stay open.
 * At most 4 are waiting for their echo at a time, so a listen backlog of 5
 * never overflows (no SYN is dropped, no 1 s retry). */
static int act_many(long n)
{
    int *fds = malloc((size_t)n * sizeof *fds);
    long done = 0, i, waiting = 0, next = 0, stuck_since = now_ms();
    char line[32];
    int rc = OK;
    struct pollfd *p = malloc((size_t)n * sizeof *p);
    size_t *got = calloc((size_t)n, sizeof *got);
    long *idx = malloc((size_t)n * sizeof *idx); /* p[k] is client idx[k] */
    if (fds == NULL || p == NULL || got == NULL || idx == NULL) {
        say("malloc: %s", strerror(errno));
        free(fds);
        free(p);
        free(got);
        free(idx);
        return NOT_OK;
    }
    while (done < n) {
        while (next < n && waiting < 4) {
            int err = 0;
            fds[next] = open_conn(&err, left_ms());
            if (fds[next] < 0) {
                say("%ld clients connected and echoed, client %ld: connect: %s", done, next + 1,
                    strerror(err));
                rc = err == ETIMEDOUT && left_ms() == 0 ? LATE : NOT_OK;
                goto out;
            }
            snprintf(line, sizeof line, "client %ld\n", next + 1);
            if (send(fds[next], line, strlen(line), 0) != (ssize_t)strlen(line)) {
                say("%ld clients connected and echoed, client %ld: send: %s", done, next + 1,
                    strerror(errno));
                rc = NOT_OK;
                next++;
                goto out;
            }
            next++;
            waiting++;
        }
        int np = 0;
        for (i = 0; i < next; i++)
            if (fds[i] >= 0 && got[i] < (size_t)snprintf(line, sizeof line, "client %ld\n", i + 1)) {
                p[np].fd = fds[i];
                p[np].events = POLLIN;
                p[np].revents = 0;
                idx[np++] = i;
            }
        long w = left_ms();
        if (w > 200)
            w = 200;
        int r = poll(p, (nfds_t)np, (int)w);
        if (r < 0 && errno != EINTR) {
            say("poll: %s", strerror(errno));
            rc = NOT_OK;
            goto out;
        }
        if (r > 0) {
            for (int k = 0; k < np; k++) {
                if (!p[k].revents)
                    continue;
                i = idx[k];
                char buf[64];
                size_t want = (size_t)snprintf(line, sizeof line, "client %ld\n", i + 1);
                ssize_t g = recv(fds[i], buf, sizeof buf, 0);
                if (g > 0) {
                    got[i] += (size_t)g;
                    if (got[i] >= want) {
                        done++;
                        waiting--;
                        stuck_since = now_ms();
                    }
                } else if (g == 0 || (errno != EAGAIN && errno != EINTR)) {
                    say("%ld of %ld clients echoed (all kept open), then client %ld: %s", done, n,
                        i + 1, g == 0 ? "the server closed it before its echo" : strerror(errno));
                    rc = NOT_OK;
                    goto out;
                }
            }
        }
        if (left_ms() == 0 || now_ms() - stuck_since > 3000) {
            say("%ld of %ld clients echoed while all stayed connected; client %ld and the next "
                "waited %ld s with no echo: the server serves at most %ld clients at once?",
                done, n, done + 1, (now_ms() - stuck_since) / 1000, done);
            rc = NOT_OK;
            goto out;
        }
    }
    say("%ld clients connected at once, each echoed", n);
out:
    for (i = 0; i < next; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    free(p);
    free(got);
    free(idx);
    return rc;
}

/* reset: an RST with nothing sent; then a line, and an RST before reading. */
static int act_reset(void)
{
    int err = 0, fd = open_conn(&err, 3000);
    if (fd < 0) {
        say("connect: %s", strerror(err));
        return NOT_OK;
    }
    close_rst(fd);
    fd = open_conn(&err, 3000);
    if (fd < 0) {
        say("a client reset at once; the next: connect: %s", strerror(err));
        return NOT_OK;
    }
    if (send(fd, "reset before reading\n", 21, 0) < 0) {
        /* the server may have closed already: the check is whether it lives */
    }
    sleep_ms(50);
    close_rst(fd);
    say("a client connected and reset at once (SO_LINGER 0, nothing sent); another sent a line "
        "and reset before reading its echo");
    return OK;
}

/* vanish: a child process connects, sends half a line and is killed. */
static int act_vanish(void)
{
    int pfd[2];
    if (pipe(pfd) != 0) {
        say("pipe: %s", strerror(errno));
        return NOT_OK;
    }
    pid_t pid = fork();
    if (pid < 0) {
        say("fork: %s", strerror(errno));
        return NOT_OK;
    }
    if (pid == 0) {
        int err = 0, fd = open_conn(&err, 3000);
        char c = fd >= 0 && send(fd, "half a li", 9, 0) == 9 ? 'y' : 'n';
        if (write(pfd[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(pfd[1]);
    char c = 'n';
    struct pollfd p = {pfd[0], POLLIN, 0};
    if (poll(&p, 1, (int)left_ms()) <= 0 || read(pfd[0], &c, 1) != 1)
        c = 'n';
    sleep_ms(100); /* the server has read the half line */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(pfd[0]);
    if (c != 'y') {
        say("the client could not connect and send");
        return NOT_OK;
    }
    say("a client process connected, sent \"half a li\" (no newline) and was killed (SIGKILL)");
    return OK;
}

static int act_halfclose(void)
{
    const char *t = "no newline at the end";
    size_t n = strlen(t);
    unsigned char in[64];
    char why[256];
    int err = 0, fd = open_conn(&err, 3000);
    if (fd < 0) {
        say("connect: %s", strerror(err));
        return NOT_OK;
    }
    if (send(fd, t, n, 0) != (ssize_t)n || shutdown(fd, SHUT_WR) != 0) {
        say("send/shutdown: %s", strerror(errno));
        close(fd);
        return NOT_OK;
    }
    struct xfer x;
    exchange(fd, (const unsigned char *)t, n, 0, 0, 1, left_ms(), in, &x);
    close(fd);
    if (x.got == n && x.diff == (size_t)-1 && x.eof) {
        say("sent \"%s\" and shutdown(SHUT_WR): the %zu bytes came back, then EOF (%ld ms)", t, n,
            x.ms);
        return OK;
    }
    if (x.got == n && x.diff == (size_t)-1)
        say("sent \"%s\" and shutdown(SHUT_WR): the bytes came back but no EOF followed (%s)", t,
            x.err ? strerror(x.err) : "?");
    else
        say("sent \"%s\" (no newline) and shutdown(SHUT_WR): %s", t,
            describe(&x, n, why, sizeof why));
    return NOT_OK;
}

/* fill_unread(fd, max, &sent): send up to max bytes without reading, until
 * send() would block for half a second. */
static void fill_unread(int fd, size_t max, size_t *sent)
{
    static unsigned char junk[65536];
    *sent = 0;
    for (size_t i = 0; i < sizeof junk; i++) /* lines of 1 KiB */
        junk[i] = i % 1024 == 1023 ? '\n' : 'x';
    while (*sent < max && left_ms() > 0) {
        size_t len = max - *sent < sizeof junk ? max - *sent : sizeof junk;
        ssize_t s = send(fd, junk, len, 0);
        if (s > 0) {
            *sent += (size_t)s;
            continue;
        }
        if (s < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return;
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, 500) == 0)
            return; /* blocked */
    }
}

static int act_slowreader(void)
{
    int err = 0, s = open_conn(&err, 3000);
    char why[256], a[32];
    long ms = 0;
    size_t sent = 0;
    if (s < 0) {
        say("client S: connect: %s", strerror(err));
        return NOT_OK;
    }
    fill_unread(s, 128u << 20, &sent); /* more than both socket buffers can hold, even grown */
    int rc = one_line("while S is stuck\n", 1000, &ms, why, sizeof why);
    close_rst(s);
    size_text(sent, a, sizeof a);
    if (rc == OK) {
        say("client S sent %.1f MB without reading (until send() blocked); meanwhile client B was "
            "echoed in %ld ms", (double)sent / 1048576, ms);
        return OK;
    }
    int conn = strncmp(why, "connect", 7) == 0; /* else: nothing came back */
    say("client S sent %.1f MB and never read; client B got no echo within 1 s meanwhile%s%s%s: "
        "a blocking send() to one client stalls the others", (double)sent / 1048576,
        conn ? " (B's " : "", conn ? why : "", conn ? ")" : "");
    return NOT_OK;
}

/* junk: UDP: 200 datagrams of random bytes and sizes. TCP: 1 MB random, a
 * 1 MB line with no newline, 200 connect-and-close (half with RST). */
static int act_junk(void)
{
    size_t n = 1048576, i;
    unsigned char *out = xmalloc(n), *in = xmalloc(n);
    struct xfer x1, x2;
    int err = 0, fd;
    if (udp) {
        fd = open_conn(&err, 1000);
        if (fd < 0) {
            say("socket: %s", strerror(err));
            free(out);
            free(in);
            return NOT_OK;
        }
        for (i = 0; i < 200; i++) {
            size_t len = (size_t)rnd_byte() * 200 + rnd_byte();
            for (size_t k = 0; k < len; k++)
                out[k] = rnd_byte();
            (void)send(fd, out, len, 0);
        }
        close(fd);
        free(out);
        free(in);
        say("200 datagrams of random bytes (0 to 51255 bytes each), replies not read");
        return OK;
    }
    for (i = 0; i < n; i++)
        out[i] = rnd_byte();
    memset(&x1, 0, sizeof x1);
    memset(&x2, 0, sizeof x2);
    if ((fd = open_conn(&err, 3000)) >= 0) {
        exchange(fd, out, n, 1, 0, 0, 3000, in, &x1);
        close(fd);
    }
    for (i = 0; i < n; i++)
        out[i] = (unsigned char)('a' + i % 26);
    if ((fd = open_conn(&err, 3000)) >= 0) {
        exchange(fd, out, n, 1, 0, 0, 3000, in, &x2);
        close(fd);
    }
    /* a line echoed after every 4: the server's accept queue never
     * overflows (no SYN dropped, no 1 s retry), however it accepts. A
     * plain close (FIN): resets are the reset check's. */
    int storm = 0;
    char why[256];
    long ms;
    for (i = 0; i < 200 && left_ms() > 0; i++) {
        if (i % 4 == 3 && one_line("still there?\n", 2000, &ms, why, sizeof why) != OK)
            break;
        if ((fd = open_conn(&err, 2000)) < 0)
            break;
        storm++;
        close(fd);
    }
    free(out);
    free(in);
    say("1 MB of random bytes (sent %zu B, %zu B came back), a 1 MB line with no newline (sent "
        "%zu B, %zu B came back), %d of 200 connect-and-close",
        x1.sent, x1.got, x2.sent, x2.got, storm);
    return OK;
}

/* sigpipe: 3 times: a client with a small window and small segments sends
 * 96 KiB (lines of 1 KiB) and never reads, so the server's echo cannot all
 * go out; it shuts down writing (the server's end: CLOSE_WAIT), then resets.
 * The server's next send() fails with EPIPE (not ECONNRESET: the RST came
 * in CLOSE_WAIT), which is what raises SIGPIPE, even in a server that
 * closes a connection at its first error. */
static int act_sigpipe(void)
{
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        int err = 0, fd;
        size_t sent = 0;
        small_conn = 1;
        fd = open_conn(&err, 3000);
        small_conn = 0;
        if (fd < 0) {
            say("%d client%s sent 96 KiB, never read, shut down writing and reset while the server "
                "was still writing its echo; the next: connect: %s", i, i == 1 ? "" : "s",
                strerror(err));
            return i > 0 ? OK : NOT_OK;
        }
        fill_unread(fd, 96u << 10, &sent);
        (void)shutdown(fd, SHUT_WR);
        sleep_ms(200);
        close_rst(fd);
        total += sent;
    }
    say("3 clients each sent %zu KiB in all, never read, shut down writing and reset while the "
        "server was still writing its echo", total / 3 / 1024);
    return OK;
}

/* churn N: N clients one after the other: connect, a line echoed, close
 * (every tenth with RST). */
static int act_churn(long n)
{
    long i, rst = 0;
    char why[256], line[32];
    unsigned char in[64];
    for (i = 0; i < n; i++) {
        int err = 0, fd = open_conn(&err, 3000);
        if (fd < 0) {
            say("client %ld of %ld: connect: %s", i + 1, n, strerror(err));
            return NOT_OK;
        }
        snprintf(line, sizeof line, "client %ld\n", i + 1);
        if (udp) {
            if (udp_echo(fd, (const unsigned char *)line, strlen(line), in, sizeof in, why,
                         sizeof why) != OK) {
                say("client %ld of %ld: %s", i + 1, n, why);
                close(fd);
                return NOT_OK;
            }
            close(fd);
            continue;
        }
        struct xfer x;
        exchange(fd, (const unsigned char *)line, strlen(line), 1, 0, 0, 3000, in, &x);
        if (x.got != strlen(line) || x.diff != (size_t)-1) {
            say("client %ld of %ld: %s", i + 1, n, describe(&x, strlen(line), why, sizeof why));
            close(fd);
            return NOT_OK;
        }
        if (i % 10 == 9) {
            close_rst(fd);
            rst++;
        } else {
            close(fd);
        }
    }
    if (udp)
        say("%ld clients came and went (each a datagram echoed)", n);
    else
        say("%ld clients came and went (each echoed; %ld closed with RST)", n, rst);
    return OK;
}

static int act_hold(void)
{
    char why[256];
    unsigned char in[64];
    const char *t = "held\n";
    int err = 0, fd = open_conn(&err, 3000);
    struct xfer x;
    if (fd < 0) {
        say("connect: %s", strerror(err));
        return finish(NOT_OK);
    }
    exchange(fd, (const unsigned char *)t, 5, 1, 0, 0, 3000, in, &x);
    if (x.got != 5 || x.diff != (size_t)-1) {
        say("a line: %s", describe(&x, 5, why, sizeof why));
        return finish(NOT_OK);
    }
    say("held");
    finish(OK);
    fflush(stdout);
    while (left_ms() > 0)
        poll(NULL, 0, (int)left_ms());
    close(fd);
    return OK;
}

/* ---- HTTP: the clients of a proxy (scripts/check -P) ----
 * HOST PORT is the proxy; the origin (check/origin) listens on 127.0.0.1
 * port -o. Every request is HTTP/1.0, with an absolute URI naming the
 * origin; this program connects to the proxy only, never to the host a
 * URI names. */

static int origin_port; /* -o */

/* One exchange with the proxy: the request (sent in `pieces` parts,
 * `pause` ms apart), and the whole response, read until the proxy closes. */
struct hx {
    int fd;
    char out[1024];
    size_t outlen, sent, piece_end;
    int pieces, piece;
    long pause, next;
    unsigned char *in;
    size_t got, cap;
    int eof, err, done;
    long start, ms;
    size_t read_max; /* stop reading (and reset) after this many bytes; 0: no */
};

static void hx_init(struct hx *h, const char *fmt, ...)
{
    va_list ap;
    memset(h, 0, sizeof *h);
    h->fd = -1;
    h->pieces = 1;
    va_start(ap, fmt);
    int n = vsnprintf(h->out, sizeof h->out, fmt, ap);
    va_end(ap);
    h->outlen = n < 0 ? 0 : (size_t)n < sizeof h->out ? (size_t)n : sizeof h->out - 1;
}
static void hx_free(struct hx *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    free(h->in);
    h->in = NULL;
}

/* hx_run(hs, n, wait_ms): connect each, send, read every response until
 * the proxy closes, an error, or wait_ms; all at once (poll). */
static void hx_run(struct hx *hs, int n, long wait_ms)
{
    long end = now_ms() + wait_ms;
    struct pollfd *p = calloc((size_t)n, sizeof *p);
    if (end > t_end)
        end = t_end;
    for (int i = 0; i < n; i++) {
        struct hx *h = &hs[i];
        h->start = now_ms();
        h->piece_end = h->pieces > 1 ? h->outlen / (size_t)h->pieces : h->outlen;
        h->piece = 1;
        h->fd = open_conn(&h->err, 3000);
        if (h->fd < 0)
            h->done = 1;
    }
    for (;;) {
        long now = now_ms();
        int live = 0;
        long w = end - now;
        for (int i = 0; i < n; i++) {
            struct hx *h = &hs[i];
            p[i].fd = -1;
            p[i].events = 0;
            p[i].revents = 0;
            if (h->done)
                continue;
            if (h->sent >= h->piece_end && h->piece < h->pieces) {
                if (now >= h->next) {
                    h->piece++;
                    h->piece_end = h->piece == h->pieces ? h->outlen
                                 : h->outlen / (size_t)h->pieces * (size_t)h->piece;
                } else if (h->next - now < w) {
                    w = h->next - now;
                }
            }
            p[i].fd = h->fd;
            p[i].events = POLLIN | (h->sent < h->piece_end ? POLLOUT : 0);
            live++;
        }
        if (live == 0 || now >= end)
            break;
        if (poll(p, (nfds_t)n, (int)(w > 0 ? w : 0)) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            struct hx *h = &hs[i];
            if (h->done || p[i].fd < 0)
                continue;
            if (p[i].revents & POLLOUT) {
                ssize_t s = send(h->fd, h->out + h->sent, h->piece_end - h->sent, 0);
                if (s > 0) {
                    h->sent += (size_t)s;
                    if (h->sent == h->piece_end)
                        h->next = now_ms() + h->pause;
                }
            }
            if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                if (h->cap - h->got < 65536) {
                    size_t cap = h->cap ? h->cap * 2 : 131072;
                    unsigned char *m = realloc(h->in, cap);
                    if (m == NULL) {
                        h->err = ENOMEM;
                        h->done = 1;
                        continue;
                    }
                    h->in = m;
                    h->cap = cap;
                }
                ssize_t g = recv(h->fd, h->in + h->got, h->cap - h->got, 0);
                if (g > 0) {
                    h->got += (size_t)g;
                    if (h->read_max && h->got >= h->read_max)
                        h->done = 1;
                } else if (g == 0) {
                    h->eof = h->done = 1;
                    close(h->fd); /* the response is all here: we are done too */
                    h->fd = -1;
                } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    h->err = errno;
                    h->done = 1;
                }
                if (h->done)
                    h->ms = now_ms() - h->start;
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (!hs[i].done) {
            hs[i].err = ETIMEDOUT;
            hs[i].ms = now_ms() - hs[i].start;
        }
    free(p);
}

/* The parts of a response: the status code, the headers, the body. */
struct hres {
    int status;
    char line[128];             /* the status line, printable */
    const char *hdr;            /* from the second line */
    size_t hdrlen;
    const unsigned char *body;
    size_t bodylen;
};
static int hx_parse(const struct hx *h, struct hres *r)
{
    memset(r, 0, sizeof *r);
    const unsigned char *in = h->in, *e = NULL;
    size_t i, skip = 0;
    for (i = 0; in && i + 1 < h->got; i++) {
        if (in[i] == '\n' && in[i + 1] == '\n') {
            e = in + i, skip = 2;
            break;
        }
        if (i + 3 < h->got && memcmp(in + i, "\r\n\r\n", 4) == 0) {
            e = in + i, skip = 4;
            break;
        }
    }
    size_t ll = 0;
    while (in && ll < h->got && ll < sizeof r->line - 1 && in[ll] != '\r' && in[ll] != '\n') {
        r->line[ll] = (char)(in[ll] >= 32 && in[ll] < 127 ? in[ll] : '?');
        ll++;
    }
    if (e == NULL)
        return -1;
    /* "HTTP/x.y NNN reason" */
    const char *sp = strchr(r->line, ' ');
    char *after = NULL;
    long code = sp && strncmp(r->line, "HTTP/", 5) == 0 ? strtol(sp + 1, &after, 10) : -1;
    r->status = after && after != sp + 1 && (*after == ' ' || *after == '\0') ? (int)code : -1;
    r->hdr = (const char *)in + ll;
    r->hdrlen = (size_t)(e - in) - ll + 2;
    r->body = e + skip;
    r->bodylen = h->got - (size_t)(e + skip - in);
    return 0;
}
/* hdr_value(r, name, buf): the value of header name (case-insensitive). */
static int hdr_value(const struct hres *r, const char *name, char *buf, size_t len)
{
    size_t nl = strlen(name);
    const char *p = r->hdr, *end = r->hdr + r->hdrlen;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - p) > nl && p[nl] == ':') {
            size_t k = 0;
            while (k < nl && (p[k] | 0x20) == (name[k] | 0x20))
                k++;
            if (k == nl) {
                const char *v = p + nl + 1;
                while (v < eol && *v == ' ')
                    v++;
                size_t vl = (size_t)(eol - v);
                while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                    vl--;
                snprintf(buf, len, "%.*s", (int)vl, v);
                return 1;
            }
        }
        p = eol + 1;
    }
    return 0;
}

/* how(h): how an exchange ended, for the evidence. */
static const char *how(const struct hx *h, char *buf, size_t len)
{
    if (h->fd < 0 && h->sent == 0 && h->err && !h->eof)
        snprintf(buf, len, "connect to the proxy: %s", strerror(h->err));
    else if (h->err == ETIMEDOUT)
        snprintf(buf, len, "%zu B came back, then nothing for %ld ms (no reply, and the proxy did "
                 "not close)", h->got, h->ms);
    else if (h->err)
        snprintf(buf, len, "%zu B came back, then %s", h->got, strerror(h->err));
    else
        snprintf(buf, len, "%zu B came back in %ld ms, then the proxy closed", h->got, h->ms);
    return buf;
}

/* verify(h, path, why): the response is the origin's for path: status,
 * end-to-end headers with their values, the body byte for byte. */
static int verify(const struct hx *h, const char *path, char *why, size_t len)
{
    struct hres r;
    char v[256], e[256], a[32], b[32];
    size_t n = 0;
    unsigned char *want = kit_body(path, &n);
    const char *type = "?";
    for (size_t i = 0; i < KIT_NBODIES; i++)
        if (strcmp(kit_bodies[i].path, path) == 0)
            type = kit_bodies[i].type;
    int rc = NOT_OK;
    if (want == NULL) {
        snprintf(why, len, "no body %s", path);
    } else if (hx_parse(h, &r) != 0) {
        snprintf(why, len, "no complete response head: %s", how(h, e, sizeof e));
    } else if (r.status != 200) {
        snprintf(why, len, "status line \"%s\", want 200 OK", r.line);
    } else if (!hdr_value(&r, "Content-Type", v, sizeof v) || strcmp(v, type) != 0) {
        snprintf(why, len, "the origin's header Content-Type: %s did not arrive (got: %s)", type,
                 hdr_value(&r, "Content-Type", v, sizeof v) ? v : "none");
    } else if (!hdr_value(&r, "X-Kit-Origin", v, sizeof v) || strcmp(v, "check/origin") != 0) {
        snprintf(why, len, "the origin's header X-Kit-Origin: check/origin did not arrive");
    } else {
        size_t cmp = r.bodylen < n ? r.bodylen : n, d = 0;
        while (d < cmp && r.body[d] == want[d])
            d++;
        if (d == n && r.bodylen == n) {
            rc = OK;
            snprintf(why, len, "%s byte-identical in %ld ms", size_text(n, a, sizeof a), h->ms);
        } else if (d < cmp) {
            snprintf(why, len, "body: %zu B of %s came, first difference at byte %zu", r.bodylen,
                     size_text(n, a, sizeof a), d);
        } else {
            snprintf(why, len, "body: %s of %s came (%s)%s", size_text(r.bodylen, b, sizeof b),
                     size_text(n, a, sizeof a), how(h, e, sizeof e),
                     d < n && want[d] == 0 ? ", cut where the body has a NUL byte" : "");
        }
    }
    free(want);
    return rc;
}

static void get(struct hx *h, const char *path)
{
    hx_init(h, "GET http://127.0.0.1:%d%s HTTP/1.0\r\nUser-Agent: kit-check\r\n\r\n",
            origin_port, path);
}
/* fetch_as(path, body, pieces, pause, wait, why): a fetch of path through
 * the proxy (the request in pieces, pause ms apart), verified as body. */
static int fetch_as(const char *path, const char *body, int pieces, long pause, long wait,
                    char *why, size_t len)
{
    struct hx h;
    get(&h, path);
    h.pieces = pieces;
    h.pause = pause;
    hx_run(&h, 1, wait);
    int rc = verify(&h, body, why, len);
    hx_free(&h);
    return rc;
}
static int fetch_one(const char *path, long wait, char *why, size_t len)
{
    return fetch_as(path, path, 1, 0, wait, why, len);
}
/* silent(a): a request to the silent origin, sent and left waiting; 0,
 * or -1 (and the evidence says why). */
static int silent(struct hx *a, const char *who)
{
    int err = 0;
    get(a, "/silent");
    a->fd = open_conn(&err, 3000);
    if (a->fd < 0 || send(a->fd, a->out, a->outlen, 0) != (ssize_t)a->outlen) {
        say("%s: connect or send: %s", who, strerror(a->fd < 0 ? err : errno));
        hx_free(a);
        return -1;
    }
    return 0;
}

static int act_hprobe(void)
{
    char why[512];
    int rc = fetch_one("/text", 5000, why, sizeof why);
    say(rc == OK ? "a fresh client fetched /text" : "a fresh client could not fetch /text: %s", why);
    return rc;
}

/* fetch: every body, each byte-identical with its headers. */
static int act_fetch(void)
{
    char why[512], list[512] = "";
    for (size_t i = 0; i < KIT_NBODIES; i++) {
        if (fetch_one(kit_bodies[i].path, 10000, why, sizeof why) != OK) {
            say("%s (%s): %s", kit_bodies[i].path, kit_bodies[i].what, why);
            return NOT_OK;
        }
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", kit_bodies[i].what);
    }
    say("%s: each byte-identical, status 200 and the origin's headers kept", list);
    return OK;
}

/* request: what the origin received (the reflect path). */
static int check_reflect(const char *hostport, const char *url, const char *target, char *why,
                         size_t len)
{
    struct hx h;
    struct hres r;
    char e[256], line[512], v[256];
    hx_init(&h, "GET %s HTTP/1.0\r\nUser-Agent: kit-check\r\nAccept: */*\r\n"
            "X-Kit-Client: kept\r\n\r\n", url);
    hx_run(&h, 1, 10000);
    int rc = NOT_OK;
    if (hx_parse(&h, &r) != 0 || r.status != 200) {
        snprintf(why, len, "GET %s: %s", url, r.status ? r.line : how(&h, e, sizeof e));
        hx_free(&h);
        return rc;
    }
    /* the body is the request the origin got: its headers */
    size_t ll = strcspn((const char *)r.body, "\r\n");
    snprintf(line, sizeof line, "%.*s", (int)(ll < r.bodylen ? ll : r.bodylen), (const char *)r.body);
    struct hres q;
    memcpy(&q, &r, sizeof q);
    q.hdr = (const char *)r.body + ll;
    q.hdrlen = r.bodylen - ll;
    char want_line[512];
    snprintf(want_line, sizeof want_line, "GET %s HTTP/1.0", target);
    if (strcmp(line, want_line) != 0)
        snprintf(why, len, "the origin received \"%.200s\", want \"%.200s\" (origin-form, HTTP/1.0)", line,
                 want_line);
    else if (!hdr_value(&q, "Host", v, sizeof v) || strcmp(v, hostport) != 0)
        snprintf(why, len, "the origin received %s%s, want Host: %s", hdr_value(&q, "Host", v, sizeof v) ? "Host: " : "no Host header",
                 hdr_value(&q, "Host", v, sizeof v) ? v : "", hostport);
    else if (!hdr_value(&q, "Connection", v, sizeof v) || strcmp(v, "close") != 0)
        snprintf(why, len, "the origin received %s%s, want Connection: close",
                 hdr_value(&q, "Connection", v, sizeof v) ? "Connection: " : "no Connection header",
                 hdr_value(&q, "Connection", v, sizeof v) ? v : "");
    else if (!hdr_value(&q, "X-Kit-Client", v, sizeof v) || strcmp(v, "kept") != 0)
        snprintf(why, len, "the client's header X-Kit-Client: kept did not reach the origin");
    else if (!hdr_value(&q, "User-Agent", v, sizeof v) || strcmp(v, "kit-check") != 0)
        snprintf(why, len, "the client's header User-Agent: kit-check did not reach the origin");
    else {
        snprintf(why, len, "\"%s\", Host: %s, Connection: close, the client's headers kept", line,
                 hostport);
        rc = OK;
    }
    hx_free(&h);
    return rc;
}
static int act_request(const char *port80)
{
    char why[768], why80[512], url[256], hp[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/reflect?a=1&b=two", origin_port);
    snprintf(hp, sizeof hp, "127.0.0.1:%d", origin_port);
    if (check_reflect(hp, url, "/reflect?a=1&b=two", why, sizeof why) != OK) {
        say("%s", why);
        return NOT_OK;
    }
    if (port80 == NULL) {
        say("the origin received %s", why);
        return OK;
    }
    if (check_reflect("127.0.0.1", "http://127.0.0.1/reflect", "/reflect", why80, sizeof why80) != OK) {
        say("no port means 80: %s", why80);
        return NOT_OK;
    }
    say("the origin received %s; no port: %s", why, why80);
    return OK;
}

/* errors: malformed requests get 400, other methods 501, an unknown host
 * and a refused origin an error or a close within 10 s; after each, the
 * proxy serves the next client. */
static int act_errors(long refused)
{
    struct {
        const char *what, *fmt;
        int want; /* 400, 501, or 0: any error reply or a close */
    } cases[] = {
        {"a relative URL", "GET /text HTTP/1.0\r\n\r\n", 400},
        {"no HTTP version", "GET http://127.0.0.1:%d/text\r\n\r\n", 400},
        {"a header without a colon", "GET http://127.0.0.1:%d/text HTTP/1.0\r\nNo colon here\r\n\r\n", 400},
        {"binary junk", "\x01\x02\xfe\xff junk \x7f\x80 %d\r\n\r\n", 400},
        {"POST", "POST http://127.0.0.1:%d/reflect HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", 501},
        {"HEAD", "HEAD http://127.0.0.1:%d/text HTTP/1.0\r\n\r\n", 501},
        {"PUT", "PUT http://127.0.0.1:%d/reflect HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", 501},
        {"nosuchhost.invalid", "GET http://nosuchhost.invalid/%d HTTP/1.0\r\n\r\n", 0},
        {"a refused origin", "GET http://127.0.0.1:%d/ HTTP/1.0\r\n\r\n", 0},
    };
    char bad[1024] = "", why[512], e[256];
    int nbad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hx h;
        struct hres r;
        int port = cases[i].want == 0 && i == 8 ? (int)refused : origin_port;
        hx_init(&h, cases[i].fmt, port);
        hx_run(&h, 1, cases[i].want ? 3000 : 10000);
        int parsed = hx_parse(&h, &r) == 0;
        int ok = cases[i].want ? parsed && r.status == cases[i].want
                               : (parsed && r.status >= 400) || (!parsed && h.eof);
        size_t l = strlen(bad);
        if (!ok) {
            nbad++;
            if (parsed)
                snprintf(bad + l, sizeof bad - l, "%s%s got \"%s\"%s", nbad > 1 ? "; " : "",
                         cases[i].what, r.line,
                         cases[i].want == 501 && r.status == 200 ? " (forwarded to the origin)" : "");
            else
                snprintf(bad + l, sizeof bad - l, "%s%s: %s", nbad > 1 ? "; " : "",
                         cases[i].what, how(&h, e, sizeof e));
            if (cases[i].want)
                snprintf(bad + strlen(bad), sizeof bad - strlen(bad), ", want %d", cases[i].want);
        }
        hx_free(&h);
        if (fetch_one("/text", 5000, why, sizeof why) != OK) {
            say("%s%sthen the next client could not fetch /text: %s", bad, nbad ? "; " : "", why);
            return NOT_OK;
        }
    }
    if (nbad) {
        say("%s", bad);
        return NOT_OK;
    }
    say("relative URL, no version, a header without a colon, binary junk: 400; POST, HEAD, PUT: "
        "501; nosuchhost.invalid and a refused origin: an error within 10 s; the next client "
        "served after each");
    return OK;
}

/* split: the request in 3 pieces, 300 ms apart. slow: the origin's body
 * in pieces over 2 s. */
static int act_split(void)
{
    char why[512];
    int rc = fetch_as("/text", "/text", 3, 300, 3000, why, sizeof why);
    say("GET in 3 pieces, 300 ms apart: %s", why);
    return rc;
}
static int act_slow(void)
{
    char why[512];
    int rc = fetch_as("/slow", "/text", 1, 0, 10000, why, sizeof why); /* the text body */
    say("/slow (the origin sends the body in 5 pieces, 400 ms apart): %s", why);
    return rc;
}

/* concurrent: a request to the silent origin hangs; meanwhile a fetch
 * must complete within 2 s. Then the same with an idle client. */
static int act_hconcurrent(void)
{
    char why[512];
    struct hx a;
    int err = 0;
    if (silent(&a, "client A") != 0)
        return NOT_OK;
    sleep_ms(200);
    long t0 = now_ms();
    int rc = fetch_one("/text", 2000, why, sizeof why);
    hx_free(&a);
    if (rc != OK) {
        say("serves one client at a time: blocked on the origin: while client A's request waited "
            "on a silent origin, client B's fetch of /text did not complete within 2 s (%s)", why);
        return NOT_OK;
    }
    long ms1 = now_ms() - t0;
    int idle = open_conn(&err, 3000);
    sleep_ms(200);
    t0 = now_ms();
    rc = fetch_one("/text", 2000, why, sizeof why);
    if (idle >= 0)
        close(idle);
    if (rc != OK) {
        say("serves one client at a time: while client A stayed connected and silent, client B's "
            "fetch did not complete within 2 s (%s)", why);
        return NOT_OK;
    }
    say("client B fetched /text in %ld ms while client A waited on a silent origin, and in %ld "
        "ms while client A stayed connected and silent", ms1, now_ms() - t0);
    return OK;
}

/* many N: N fetches of the 1 MiB body at once. */
static int act_hmany(long n)
{
    struct hx *hs = calloc((size_t)n, sizeof *hs);
    char why[512];
    int rc = OK;
    long ok = 0;
    if (hs == NULL) {
        say("calloc: %s", strerror(errno));
        return NOT_OK;
    }
    for (long i = 0; i < n; i++)
        get(&hs[i], "/1m");
    long t0 = now_ms();
    hx_run(hs, (int)n, 10000);
    for (long i = 0; i < n; i++) {
        if (verify(&hs[i], "/1m", why, sizeof why) == OK)
            ok++;
        else if (rc == OK) {
            rc = NOT_OK;
            say("%ld fetches of /1m at once: fetch %ld: %s", n, i + 1, why);
        }
        hx_free(&hs[i]);
    }
    free(hs);
    if (rc == OK)
        say("%ld fetches of 1 MiB at once: all byte-identical (%ld ms)", n, now_ms() - t0);
    else
        snprintf(evidence + strlen(evidence), sizeof evidence - strlen(evidence),
                 " (%ld of %ld right)", ok, n);
    return rc;
}

/* churn N: N fetches one after the other. */
static int act_hchurn(long n)
{
    char why[512];
    for (long i = 0; i < n; i++)
        if (fetch_one("/text", 5000, why, sizeof why) != OK) {
            say("fetch %ld of %ld: %s", i + 1, n, why);
            return NOT_OK;
        }
    say("%ld fetches, one after the other", n);
    return OK;
}

/* reset: a client that stops reading mid-response, shuts down writing
 * and resets; an origin that resets mid-body. (The proxy must live on: scripts/check looks.) */
static int act_hreset(void)
{
    struct hx h;
    get(&h, "/10m");
    h.read_max = 65536;
    hx_run(&h, 1, 5000);
    size_t got1 = h.got;
    if (h.fd >= 0) {
        /* shut down writing first: the proxy's end is in CLOSE_WAIT when
         * the RST comes, so its next send() fails with EPIPE (SIGPIPE) */
        (void)shutdown(h.fd, SHUT_WR);
        sleep_ms(100);
        close_rst(h.fd);
    }
    h.fd = -1;
    hx_free(&h);
    sleep_ms(200);
    get(&h, "/reset");
    hx_run(&h, 1, 5000);
    say("a client reset after %zu B of /10m; the origin reset mid-body of /reset (the client got "
        "%zu B%s)", got1, h.got, h.err ? ", then an error" : h.eof ? ", then a close" : "");
    hx_free(&h);
    return OK;
}

/* hhold: a request to the silent origin, held (for restart). */
static int act_hhold(void)
{
    struct hx a;
    if (silent(&a, "the held client") != 0)
        return finish(NOT_OK);
    say("held");
    finish(OK);
    fflush(stdout);
    while (left_ms() > 0)
        poll(NULL, 0, (int)left_ms());
    hx_free(&a);
    return OK;
}

/* hold N: N clients connected to the server at once (for the model
 * report), each idle; "held N" when they are. */
static int act_holdn(long n)
{
    int *fds = malloc((size_t)n * sizeof *fds), err = 0;
    if (fds == NULL)
        return finish(NOT_OK);
    for (long i = 0; i < n; i++) {
        fds[i] = open_conn(&err, 3000);
        if (fds[i] >= 0 && origin_port) {
            char req[128];
            int l = snprintf(req, sizeof req, "GET http://127.0.0.1:%d/silent HTTP/1.0\r\n\r\n",
                             origin_port);
            (void)send(fds[i], req, (size_t)l, 0);
        } else if (fds[i] >= 0) {
            (void)send(fds[i], "hold\n", 5, 0);
        }
    }
    /* an echo server: each client's line back (1 s at most), so that the
     * server has taken them all in */
    for (long end = now_ms() + 1000, i = 0; !origin_port && i < n && now_ms() < end;) {
        struct pollfd p = {fds[i], POLLIN, 0};
        char b[16];
        if (fds[i] < 0 || (poll(&p, 1, (int)(end - now_ms())) > 0 && recv(fds[i], b, sizeof b, 0) >= 0))
            i++;
    }
    say("held %ld", n);
    finish(OK);
    fflush(stdout);
    while (left_ms() > 0)
        poll(NULL, 0, (int)left_ms());
    for (long i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    return OK;
}

/* get PATH-OR-URL: one request, printed as "STATUS-LINE, N B, fnv HEX". */
static int act_get(const char *what)
{
    struct hx h;
    struct hres r;
    char e[256];
    if (what[0] == '/')
        get(&h, what);
    else
        hx_init(&h, "GET %s HTTP/1.0\r\nUser-Agent: kit-check\r\n\r\n", what);
    hx_run(&h, 1, 10000);
    int rc = hx_parse(&h, &r) == 0 ? OK : NOT_OK;
    if (rc == OK) {
        unsigned long f = 2166136261UL;
        for (size_t i = 0; i < r.bodylen; i++)
            f = ((f ^ r.body[i]) * 16777619UL) & 0xffffffffUL;
        say("\"%s\", %zu B, fnv %08lx", r.line, r.bodylen, f);
    } else {
        say("%s", how(&h, e, sizeof e));
    }
    hx_free(&h);
    return rc;
}

static long number(const char *s)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (s == NULL || *end != '\0' || v < 1 || v > 100000) {
        fprintf(stderr, "checkpeer: need a number from 1 to 100000, not '%s'\n", s ? s : "");
        exit(USAGE);
    }
    return v;
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "ut:o:")) != -1) {
        switch (opt) {
        case 'u': udp = 1; break;
        case 'o': origin_port = (int)number(optarg); break;
        case 't': deadline_ms = number(optarg); break;
        default:
            fprintf(stderr, "usage: checkpeer [-u] [-t MS] [-o ORIGIN-PORT] HOST PORT ACTION [ARG]\n");
            return USAGE;
        }
    }
    if (argc - optind < 3) {
        fprintf(stderr, "usage: checkpeer [-u] [-t MS] [-o ORIGIN-PORT] HOST PORT ACTION [ARG]\n");
        return USAGE;
    }
    const char *host = argv[optind], *port = argv[optind + 1], *act = argv[optind + 2];
    const char *arg = argc - optind > 3 ? argv[optind + 3] : NULL;

    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    t_end = now_ms() + deadline_ms;
    alarm((unsigned)(deadline_ms / 1000 + 2));

    /* room for a thousand clients */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }

    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &peer);
    if (gai != 0) {
        fprintf(stderr, "checkpeer: getaddrinfo(%s, %s): %s\n", host, port, gai_strerror(gai));
        return USAGE;
    }

    int rc;
    if (strcmp(act, "ready") == 0)
        rc = act_ready();
    else if (strcmp(act, "probe") == 0)
        rc = act_probe();
    else if (strcmp(act, "echo") == 0 && arg)
        rc = act_echo(arg);
    else if (strcmp(act, "concurrent") == 0)
        rc = act_concurrent();
    else if (strcmp(act, "many") == 0 && !udp)
        rc = act_many(number(arg));
    else if (strcmp(act, "reset") == 0 && !udp)
        rc = act_reset();
    else if (strcmp(act, "vanish") == 0 && !udp)
        rc = act_vanish();
    else if (strcmp(act, "halfclose") == 0 && !udp)
        rc = act_halfclose();
    else if (strcmp(act, "slowreader") == 0 && !udp)
        rc = act_slowreader();
    else if (strcmp(act, "junk") == 0)
        rc = act_junk();
    else if (strcmp(act, "sigpipe") == 0 && !udp)
        rc = act_sigpipe();
    else if (strcmp(act, "churn") == 0)
        rc = act_churn(number(arg));
    else if (strcmp(act, "hold") == 0 && !udp)
        return act_hold();
    else if (strcmp(act, "holdn") == 0 && !udp)
        return act_holdn(number(arg));
    else if (strcmp(act, "hhold") == 0 && origin_port)
        return act_hhold();
    else if (strcmp(act, "hprobe") == 0 && origin_port)
        rc = act_hprobe();
    else if (strcmp(act, "fetch") == 0 && origin_port)
        rc = act_fetch();
    else if (strcmp(act, "request") == 0 && origin_port)
        rc = act_request(arg);
    else if (strcmp(act, "errors") == 0 && origin_port)
        rc = act_errors(number(arg));
    else if (strcmp(act, "split") == 0 && origin_port)
        rc = act_split();
    else if (strcmp(act, "slow") == 0 && origin_port)
        rc = act_slow();
    else if (strcmp(act, "hconcurrent") == 0 && origin_port)
        rc = act_hconcurrent();
    else if (strcmp(act, "hmany") == 0 && origin_port)
        rc = act_hmany(number(arg));
    else if (strcmp(act, "hchurn") == 0 && origin_port)
        rc = act_hchurn(number(arg));
    else if (strcmp(act, "hreset") == 0 && origin_port)
        rc = act_hreset();
    else if (strcmp(act, "get") == 0 && arg)
        rc = act_get(arg);
    else {
        fprintf(stderr, "checkpeer: no action '%s'%s\n", act, udp ? " for UDP" : "");
        return USAGE;
    }
    freeaddrinfo(peer);
    if (rc == USAGE)
        return rc;
    return finish(rc);
}
