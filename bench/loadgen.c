/*
 * loadgen.c - drives an echo server over loopback and checks every byte.
 *
 *   loadgen -M rr     -c 100 -n 500 -s 64   100 connections, 500 round trips each
 *   loadgen -M conn -e -c 1 -n 2000 -s 64   a new connection per round trip,
 *                                           then the server's EOF (tcpserver1/2)
 *   loadgen -M stream -B 1000000000         one connection, 1 GB out and back
 *   loadgen -M udp    -c 1 -n 20000 -s 64   UDP round trips, 200 ms per datagram
 *   loadgen -M conn -c 1 -i 1000 -T 500     connect-to-first-echo of one more client
 *                                           while 1000 others stay connected
 *   loadgen -M hold -c 1000 -T 5000         1000 connections, one echo each, then
 *                                           held open (for measuring the server)
 *
 * One thread, non-blocking sockets, poll(). Every message is unique: an
 * 8-byte header (connection id, round number) then bytes taken from a
 * random pattern at an offset that depends on both, so a byte that comes
 * back to the wrong connection, in the wrong round or out of place is
 * caught. A stream takes the pattern at its own offset (the pattern length
 * is prime, so no chunk size lines up with it). The exit status is 0 only
 * when every byte came back intact, nothing failed and nothing timed out.
 *
 * Output: one line for people, then one "RESULT key=value ..." line for
 * scripts (bench/run parses it).
 *
 * POSIX.1-2008 (TCP_NODELAY included) plus setrlimit(), an XSI extension
 * every Unix has. SIGPIPE is ignored: a send() to a reset peer fails with
 * EPIPE instead of killing the program.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PAT_LEN 1048573u       /* prime: no chunk size is a multiple of it */
#define MAX_MSG (4u << 20)     /* the longest message tcpclient sends */
#define IO_CHUNK (256u << 10)  /* one send()/recv() in stream mode */
#define MAX_UDP 65507u         /* 65535 - IPv4 header - UDP header */
#define SLOW_NS 30000000ull    /* a round trip this slow smells of Nagle/delayed ACK */

enum mode { RR, CONN, STREAM, UDP, HOLD };
enum state { FREE, CONNECTING, EXCHANGE, WAIT_EOF, BARRIER, IDLE, DONE };

struct conn {
    int fd;
    enum state st;
    uint32_t id, round;   /* round counts every exchange, warm-up included */
    uint32_t done;        /* measured round trips (or connections) completed */
    size_t sent, rcvd;
    uint64_t t0;          /* when this round trip (or connection) began */
    uint64_t udp_deadline;
    unsigned char *msg;   /* what we sent this round, to compare the echo with */
};

static const char *prog = "loadgen";
static enum mode mode = RR;
static const char *host = "127.0.0.1", *port = "12333";
static unsigned nconn = 1, rounds = 1000, warmup = 1, size = 64;
static unsigned nidle;              /* -i: connections held open, not measured */
static const char *lat_file;        /* -o: every latency, sorted, in us */
static unsigned long long stream_bytes = 1000000000ull;
static unsigned deadline_s = 60, udp_timeout_ms = 200;
static int expect_eof, nagle, family = AF_UNSPEC;

static unsigned char *pat;          /* PAT_LEN random bytes, then its start again */
static unsigned char iobuf[IO_CHUNK];
static struct addrinfo *target;
static uint64_t *lat;               /* measured latencies in ns */
static size_t nlat, lat_cap;
static double duration_s;           /* -T: stop starting round trips after this */
static uint64_t stop_at;            /* ... at this time (0: run all R rounds) */
static unsigned long long errors, mismatches, lost, late, slow, over_1s, bytes_ok;
static volatile sig_atomic_t stop_requested; /* hold: SIGTERM or SIGINT */
static char first_error[160];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* splitmix64: fills the pattern and spreads (connection, round) over it. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void error_seen(const char *what, int e)
{
    errors++;
    if (!first_error[0])
        snprintf(first_error, sizeof first_error, "%s%s%s", what, e ? ": " : "",
                 e ? strerror(e) : "");
}

_Noreturn static void usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "%s: %s%s%s (try -h)\n", prog, msg, arg ? " " : "", arg ? arg : "");
    exit(2);
}

static void usage(void)
{
    printf("usage: %s [-M rr|conn|stream|udp|hold] [-a HOST] [-p PORT] [-c N] [-n R]\n"
           "               [-T MS] [-s BYTES] [-w W] [-i N] [-B BYTES] [-e] [-N] [-t MS]\n"
           "               [-d SECONDS] [-o FILE] [-4|-6] [-h]\n"
           "Drives an echo server and verifies every byte that comes back.\n"
           "  -M rr      N connections, each R round trips of S bytes (default)\n"
           "  -M conn    N at once, each R times: connect, S bytes there and back,\n"
           "             close (-e: wait for the server's EOF first): connections/s\n"
           "  -M stream  one connection sends B bytes while reading the echo\n"
           "  -M udp     N sockets, each R round trips; -t MS per datagram, then lost\n"
           "  -M hold    N connections, one round trip each (timed from connect()),\n"
           "             then held open for MS ms (-T) or until SIGTERM/SIGINT\n"
           "  -a HOST    server address (default 127.0.0.1); -p PORT (default 12333)\n"
           "  -c N       concurrent connections or sockets (default 1)\n"
           "  -n R       round trips per connection (default 1000; with -T: no limit)\n"
           "  -T MS      measure for MS milliseconds, then let each connection finish\n"
           "             the round trip it is in (rr, conn, udp)\n"
           "  -s BYTES   message size (default 64; at most 4 MiB, UDP 65507)\n"
           "  -w W       warm-up round trips per connection before the clock starts\n"
           "             (rr and udp; default 1)\n"
           "  -i N       rr, conn: first open N more connections, one round trip each,\n"
           "             and keep them open, idle, while measuring (default 0)\n"
           "  -B BYTES   stream size (default 1000000000)\n"
           "  -e         conn mode: the server closes first (tcpserver1/2)\n"
           "  -N         leave Nagle on (no TCP_NODELAY), like tcpclient\n"
           "  -t MS      UDP reply timeout (default 200)\n"
           "  -d SECONDS give up after this long, counting what is missing (default 60)\n"
           "  -o FILE    write every measured latency to FILE, in us, sorted\n"
           "  -4, -6     IPv4 or IPv6 only when resolving HOST\n"
           "Exit status: 0 when every byte came back intact and nothing failed.\n",
           prog);
}

static unsigned long long number(const char *s, unsigned long long lo, unsigned long long hi)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
        usage_error("bad number", s);
    return v;
}

/* The message of connection id, round r: header, then pattern bytes. */
static void make_msg(struct conn *c)
{
    unsigned char hdr[8];
    for (int i = 0; i < 4; i++) {
        hdr[i] = (unsigned char)(c->id >> (24 - 8 * i));
        hdr[4 + i] = (unsigned char)(c->round >> (24 - 8 * i));
    }
    size_t off = (size_t)(mix((uint64_t)c->id << 32 | c->round) % PAT_LEN);
    size_t h = size < 8 ? size : 8;
    memcpy(c->msg, hdr, h);
    memcpy(c->msg + h, pat + off + h, size - h);
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void record(uint64_t ns)
{
    if (ns >= SLOW_NS)
        slow++;
    if (ns >= 1000000000u)
        over_1s++; /* on loopback: a SYN (or SYN-ACK) sent again after 1 s */
    if (nlat == lat_cap) {
        lat_cap = lat_cap ? 2 * lat_cap : 65536;
        lat = realloc(lat, lat_cap * sizeof *lat);
        if (!lat) {
            perror("realloc");
            exit(1);
        }
    }
    lat[nlat++] = ns;
}

/* -T: the clock has started; the run ends T seconds later. */
static void clock_started(uint64_t t)
{
    if (duration_s > 0)
        stop_at = t + (uint64_t)(duration_s * 1e9);
}

static int time_is_up(uint64_t t)
{
    return stop_at != 0 && t >= stop_at;
}

/* ---- TCP: rr and conn modes ---- */

static struct conn *conns;
static struct pollfd *pfd;
static unsigned active;      /* measured connections not DONE */
static unsigned idle_pending; /* -i, hold: idle connections not yet IDLE (or failed) */
static unsigned at_barrier;  /* rr: connections done with warm-up */
static int measuring;        /* rr: the clock is running */

/* Idle connections (-i, and every connection in hold mode) come after the
 * nconn measured ones. */
static int is_idle(const struct conn *c)
{
    return c->id >= nconn;
}

static void finish(struct conn *c, struct pollfd *p)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = p->fd = -1;
    if (c->st != DONE) {
        if (!is_idle(c))
            active--;
        else if (c->st != IDLE)
            idle_pending--;
        c->st = DONE;
    }
}

/* Opens the next connection; its round trip clock starts before socket(). */
static void start_connect(struct conn *c, struct pollfd *p)
{
    c->t0 = now_ns();
    int fd = socket(target->ai_family, SOCK_STREAM, 0);
    if (fd < 0) {
        error_seen("socket", errno);
        finish(c, p);
        return;
    }
    int one = 1;
    if (set_nonblock(fd) < 0 ||
        (!nagle && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)) {
        error_seen("fcntl/setsockopt", errno);
        close(fd);
        finish(c, p);
        return;
    }
    c->fd = p->fd = fd;
    c->st = CONNECTING;
    p->events = POLLOUT;
    if (connect(fd, target->ai_addr, target->ai_addrlen) < 0 && errno != EINPROGRESS) {
        error_seen("connect", errno);
        finish(c, p);
    }
}

/* Sends what the socket takes now; reading goes on at the same time so a
 * big message cannot deadlock with the server's echo. */
static int pump_send(struct conn *c, struct pollfd *p)
{
    while (c->sent < size) {
        ssize_t n = send(c->fd, c->msg + c->sent, size - c->sent, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            error_seen("send", errno);
            return -1;
        }
        c->sent += (size_t)n;
    }
    p->events = (short)(POLLIN | (c->sent < size ? POLLOUT : 0));
    return 0;
}

static void start_round(struct conn *c, struct pollfd *p)
{
    make_msg(c);
    c->sent = c->rcvd = 0;
    if (mode == RR)
        c->t0 = now_ns();
    c->st = EXCHANGE;
    if (pump_send(c, p) < 0)
        finish(c, p);
}

/* A connection's round trip (or connection) is complete: what next? */
static void round_done(struct conn *c, struct pollfd *p, uint64_t t)
{
    int warm = mode == RR && c->round < warmup;
    c->round++;
    if (is_idle(c)) { /* its one round trip: the server has it; now idle */
        if (mode == HOLD)
            record(t - c->t0); /* from connect() to the echo */
        c->st = IDLE;
        p->events = POLLIN; /* only to see the server close it */
        idle_pending--;
        return;
    }
    if (mode == CONN) {
        record(t - c->t0);
        close(c->fd);
        c->fd = p->fd = -1;
        if (++c->done >= rounds || time_is_up(t))
            finish(c, p);
        else
            start_connect(c, p);
        return;
    }
    if (warm && c->round == warmup) {
        c->st = BARRIER; /* rr: wait for the others before the clock starts */
        p->events = 0;
        at_barrier++;
        return;
    }
    if (!warm) {
        record(t - c->t0);
        if (++c->done >= rounds || time_is_up(t)) {
            finish(c, p);
            return;
        }
    }
    start_round(c, p);
}

static void on_readable(struct conn *c, struct pollfd *p)
{
    for (;;) {
        ssize_t n = recv(c->fd, iobuf, sizeof iobuf, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            error_seen("recv", errno);
            finish(c, p);
            return;
        }
        if (n == 0) {
            if (c->st == IDLE) {
                error_seen("the server closed an idle connection", 0);
                finish(c, p);
            } else if (c->st == WAIT_EOF) {
                round_done(c, p, now_ns());
            } else {
                error_seen("the server closed the connection before the whole echo came back",
                           0);
                finish(c, p);
            }
            return;
        }
        size_t got = (size_t)n;
        if (c->st != EXCHANGE || c->rcvd + got > size) {
            mismatches++;
            error_seen("more bytes came back than were sent", 0);
            finish(c, p);
            return;
        }
        if (memcmp(iobuf, c->msg + c->rcvd, got) != 0) {
            mismatches++;
            error_seen("echoed bytes differ from the bytes sent", 0);
            finish(c, p);
            return;
        }
        c->rcvd += got;
        bytes_ok += got;
        if (c->rcvd == size) {
            if (mode == CONN && expect_eof) {
                c->st = WAIT_EOF;
                p->events = POLLIN;
                continue; /* the FIN may be here already */
            }
            round_done(c, p, now_ns());
            return;
        }
        if ((size_t)n < sizeof iobuf)
            return; /* drained: poll again */
    }
}

static void tcp_event(struct conn *c, struct pollfd *p)
{
    short re = p->revents;
    if (c->st == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            error_seen("connect", err);
            finish(c, p);
            return;
        }
        start_round(c, p); /* a warm-up round first, unless -w 0 */
        return;
    }
    if (re & (POLLIN | POLLHUP | POLLERR))
        on_readable(c, p);
    if (c->st == EXCHANGE && c->fd >= 0 && (re & POLLOUT))
        if (pump_send(c, p) < 0)
            finish(c, p);
}

static void release_barrier(void)
{
    for (unsigned i = 0; i < nconn; i++)
        if (conns[i].st == BARRIER)
            start_round(&conns[i], &pfd[i]);
}

/* One connection record and one pollfd per connection or socket. */
static void alloc_conns(unsigned n)
{
    conns = calloc(n, sizeof *conns);
    pfd = calloc(n, sizeof *pfd);
    if (!conns || !pfd) {
        perror("calloc");
        exit(1);
    }
}

/* One poll() over all n connections, idle ones included, and their events.
 * Returns 0 once `until` has passed. */
static int step(unsigned n, uint64_t until)
{
    uint64_t t = now_ns();
    if (t >= until)
        return 0;
    int r = poll(pfd, n, (int)((until - t) / 1000000u) + 1);
    if (r < 0) {
        if (errno == EINTR)
            return 1;
        perror("poll");
        exit(1);
    }
    for (unsigned i = 0; i < n && r > 0; i++) {
        if (pfd[i].fd < 0 || pfd[i].revents == 0)
            continue;
        r--;
        tcp_event(&conns[i], &pfd[i]);
    }
    return 1;
}

/* Runs rr, conn or hold mode; returns the measured seconds. */
static double run_tcp(uint64_t deadline)
{
    unsigned total = nconn + nidle;
    alloc_conns(total);
    for (unsigned i = 0; i < total; i++) {
        conns[i].id = i;
        conns[i].fd = pfd[i].fd = -1;
        conns[i].msg = malloc(size);
        if (!conns[i].msg) {
            perror("malloc");
            exit(1);
        }
    }
    active = nconn;
    /* Idle connections first, all at once: each is connected and has done
     * its round trip before any measured connection starts. */
    idle_pending = nidle;
    for (unsigned i = nconn; i < total; i++)
        start_connect(&conns[i], &pfd[i]);
    uint64_t t_start = now_ns();
    while (idle_pending > 0 && !stop_requested && step(total, deadline))
        ;
    if (idle_pending > 0)
        error_seen(stop_requested ? "stopped (SIGTERM or SIGINT) with idle connections not yet connected"
                                  : "deadline reached (-d) with idle connections not yet connected", 0);
    if (mode == HOLD) {
        unsigned held = 0;
        for (unsigned i = 0; i < total; i++)
            held += conns[i].st == IDLE;
        printf("%s: holding %u connections\n", prog, held);
        fflush(stdout);
        t_start = now_ns();
        uint64_t until = duration_s > 0 ? t_start + (uint64_t)(duration_s * 1e9) : deadline;
        while (!stop_requested && step(total, until < deadline ? until : deadline))
            ;
    } else if (idle_pending == 0) {
        t_start = now_ns();
        if (mode == CONN || warmup == 0) {
            measuring = 1;
            clock_started(t_start);
        }
        /* rr: connect all first; the clock starts once each has done its
         * warm-up, so connection setup and a fork per client are not timed. */
        for (unsigned i = 0; i < nconn; i++)
            start_connect(&conns[i], &pfd[i]);
        while (active > 0) {
            if (!measuring && at_barrier == active) {
                measuring = 1;
                t_start = now_ns();
                clock_started(t_start);
                release_barrier();
                continue;
            }
            /* Only the measured connections: polling the idle ones too
             * would add loadgen's own O(n) scan to what is measured. */
            if (!step(nconn, deadline))
                break;
        }
    }
    double secs = (double)(now_ns() - t_start) / 1e9;
    if (mode != HOLD && active > 0)
        error_seen("deadline reached (-d) with round trips missing", 0);
    /* Did the server keep every idle connection? EOF, or bytes, say no. */
    for (unsigned i = nconn; i < total; i++) {
        if (conns[i].st != IDLE)
            continue;
        ssize_t n = recv(conns[i].fd, iobuf, sizeof iobuf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            error_seen("the server closed an idle connection", n < 0 ? errno : 0);
        else if (n > 0)
            error_seen("bytes came on an idle connection", 0);
    }
    for (unsigned i = 0; i < total; i++)
        finish(&conns[i], &pfd[i]);
    return secs;
}

/* ---- TCP: stream mode ---- */

static double run_stream(uint64_t deadline)
{
    int fd = socket(target->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || set_nonblock(fd) < 0) {
        error_seen("socket", errno);
        return 0;
    }
    uint64_t t_start = now_ns();
    if (connect(fd, target->ai_addr, target->ai_addrlen) < 0 && errno != EINPROGRESS) {
        error_seen("connect", errno);
        close(fd);
        return 0;
    }
    /* A per-run offset, so two runs do not send the same bytes. */
    unsigned long long start = mix((uint64_t)t_start) % PAT_LEN, sent = 0, rcvd = 0;
    struct pollfd p = {fd, POLLOUT, 0};
    int connected = 0;
    while (rcvd < stream_bytes) {
        uint64_t t = now_ns();
        if (t >= deadline) {
            error_seen("deadline reached (-d) with bytes missing", 0);
            break;
        }
        int r = poll(&p, 1, (int)((deadline - t) / 1000000u) + 1);
        if (r < 0 && errno != EINTR) {
            perror("poll");
            exit(1);
        }
        if (r <= 0)
            continue;
        if (!connected) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) {
                error_seen("connect", err);
                break;
            }
            connected = 1;
        }
        int failed = 0;
        /* Send until the socket is full, then read until it is empty: one
         * poll() per buffer-full, not per chunk. */
        while ((p.revents & POLLOUT) && sent < stream_bytes) {
            size_t off = (size_t)((start + sent) % PAT_LEN);
            size_t len = stream_bytes - sent < IO_CHUNK ? (size_t)(stream_bytes - sent) : IO_CHUNK;
            ssize_t n = send(fd, pat + off, len, 0);
            if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    error_seen("send", errno);
                    failed = 1;
                }
                break;
            }
            sent += (unsigned long long)n;
            if ((size_t)n < len)
                break;
        }
        while (!failed && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = recv(fd, iobuf, sizeof iobuf, 0);
            if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    error_seen("recv", errno);
                    failed = 1;
                }
                break;
            }
            if (n == 0) {
                error_seen("the server closed the connection before the whole echo came back", 0);
                failed = 1;
                break;
            }
            size_t off = (size_t)((start + rcvd) % PAT_LEN);
            if (rcvd + (unsigned long long)n > sent || memcmp(iobuf, pat + off, (size_t)n) != 0) {
                mismatches++;
                error_seen("echoed bytes differ from the bytes sent", 0);
                failed = 1;
                break;
            }
            rcvd += (unsigned long long)n;
            if ((size_t)n < sizeof iobuf)
                break;
        }
        if (failed)
            break;
        p.events = (short)(POLLIN | (sent < stream_bytes ? POLLOUT : 0));
    }
    double secs = (double)(now_ns() - t_start) / 1e9;
    bytes_ok = rcvd;
    close(fd);
    return secs;
}

/* ---- UDP ---- */

static unsigned warm_left; /* udp: sockets still in their warm-up rounds */

/* The round is over (reply or timeout): on to the next, or done. */
static void udp_next(struct conn *c, struct pollfd *p)
{
    if (++c->round == warmup)
        warm_left--;
    c->t0 = 0; /* nothing in flight: the loop sends the next one */
    if (c->done >= rounds || (c->round > warmup && time_is_up(now_ns())))
        finish(c, p);
}

static double run_udp(uint64_t deadline)
{
    alloc_conns(nconn);
    active = nconn;
    for (unsigned i = 0; i < nconn; i++) {
        struct conn *c = &conns[i];
        c->id = i;
        c->st = EXCHANGE;
        c->msg = malloc(size);
        /* A connected UDP socket: replies from anyone else are dropped by
         * the kernel, and ICMP port unreachable shows as ECONNREFUSED. */
        c->fd = pfd[i].fd = socket(target->ai_family, SOCK_DGRAM, 0);
        pfd[i].events = POLLIN;
        if (!c->msg || c->fd < 0 || set_nonblock(c->fd) < 0 ||
            connect(c->fd, target->ai_addr, target->ai_addrlen) < 0) {
            error_seen("UDP socket", errno);
            finish(c, &pfd[i]);
        } else if (warmup > 0) {
            warm_left++;
        }
    }
    uint64_t t_start = now_ns();
    int timing = warm_left == 0;
    if (timing)
        clock_started(t_start);
    while (active > 0) {
        uint64_t t = now_ns();
        if (t >= deadline) {
            error_seen("deadline reached (-d) with round trips missing", 0);
            break;
        }
        if (!timing && warm_left == 0) {
            timing = 1;
            t_start = t;
            clock_started(t);
        }
        uint64_t next = deadline;
        for (unsigned i = 0; i < nconn; i++) {
            struct conn *c = &conns[i];
            if (c->st != EXCHANGE)
                continue;
            if (c->t0 != 0 && t >= c->udp_deadline) {
                if (c->round >= warmup) { /* no reply in time: lost */
                    lost++;
                    c->done++;
                }
                udp_next(c, &pfd[i]);
                if (c->st != EXCHANGE)
                    continue;
            }
            if (c->t0 == 0) {
                if (c->round >= warmup && !timing)
                    continue; /* warm-up done: wait for the others */
                make_msg(c);
                c->t0 = now_ns();
                c->udp_deadline = c->t0 + (uint64_t)udp_timeout_ms * 1000000u;
                if (send(c->fd, c->msg, size, 0) < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                    error_seen("send", errno); /* ECONNREFUSED: no server */
                    finish(c, &pfd[i]);
                    continue;
                }
            }
            if (c->udp_deadline < next)
                next = c->udp_deadline;
        }
        if (active == 0)
            break;
        if (!timing && warm_left == 0)
            continue;
        t = now_ns();
        int ms = next > t ? (int)((next - t + 999999u) / 1000000u) : 0;
        int r = poll(pfd, nconn, ms);
        if (r < 0 && errno != EINTR) {
            perror("poll");
            exit(1);
        }
        for (unsigned i = 0; i < nconn && r > 0; i++) {
            struct conn *c = &conns[i];
            if (pfd[i].fd < 0 || pfd[i].revents == 0)
                continue;
            r--;
            while (c->st == EXCHANGE) {
                ssize_t n = recv(c->fd, iobuf, sizeof iobuf, 0);
                if (n < 0) {
                    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                        error_seen("recv", errno);
                        finish(c, &pfd[i]);
                    }
                    break;
                }
                uint64_t tr = now_ns();
                if (c->t0 == 0 || (size_t)n != size || memcmp(iobuf, c->msg, size) != 0) {
                    /* A reply that came after its round timed out carries
                     * that round's number: late, not corrupt. */
                    uint32_t r_id = 0, r_round = 0;
                    for (int k = 0; k < 4; k++) {
                        r_id = r_id << 8 | iobuf[k];
                        r_round = r_round << 8 | iobuf[4 + k];
                    }
                    if ((size_t)n == size && size >= 8 && r_id == c->id && r_round < c->round) {
                        late++;
                    } else {
                        mismatches++;
                        error_seen("a datagram came back different", 0);
                    }
                    continue;
                }
                bytes_ok += size;
                if (c->round >= warmup) {
                    record(tr - c->t0);
                    c->done++;
                }
                udp_next(c, &pfd[i]);
            }
        }
    }
    double secs = (double)(now_ns() - t_start) / 1e9;
    for (unsigned i = 0; i < nconn; i++)
        finish(&conns[i], &pfd[i]);
    return secs;
}

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double pct_us(double q)
{
    if (nlat == 0)
        return 0;
    size_t i = (size_t)(q * (double)(nlat - 1) + 0.5);
    return (double)lat[i] / 1000.0;
}

int main(int argc, char **argv)
{
    int opt, n_given = 0;
    while ((opt = getopt(argc, argv, ":M:a:p:c:n:s:w:i:B:eNt:d:T:o:46h")) != -1) {
        switch (opt) {
        case 'M':
            if (!strcmp(optarg, "rr")) mode = RR;
            else if (!strcmp(optarg, "conn")) mode = CONN;
            else if (!strcmp(optarg, "stream")) mode = STREAM;
            else if (!strcmp(optarg, "udp")) mode = UDP;
            else if (!strcmp(optarg, "hold")) mode = HOLD;
            else usage_error("unknown mode", optarg);
            break;
        case 'a': host = optarg; break;
        case 'p': port = optarg; break;
        case 'c': nconn = (unsigned)number(optarg, 1, 100000); break;
        case 'n': rounds = (unsigned)number(optarg, 1, 100000000), n_given = 1; break;
        case 's': size = (unsigned)number(optarg, 1, MAX_MSG); break;
        case 'w': warmup = (unsigned)number(optarg, 0, 1000000); break;
        case 'i': nidle = (unsigned)number(optarg, 0, 100000); break;
        case 'o': lat_file = optarg; break;
        case 'B': stream_bytes = number(optarg, 1, 1ull << 50); break;
        case 'e': expect_eof = 1; break;
        case 'N': nagle = 1; break;
        case 't': udp_timeout_ms = (unsigned)number(optarg, 1, 600000); break;
        case 'd': deadline_s = (unsigned)number(optarg, 1, 86400); break;
        case 'T': duration_s = (double)number(optarg, 1, 3600000) / 1000.0; break;
        case '4': family = AF_INET; break;
        case '6': family = AF_INET6; break;
        case 'h': usage(); return 0;
        case ':': usage_error("option needs an argument:", argv[optind - 1]);
        default: usage_error("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument", argv[optind]);
    if (duration_s > 0 && !n_given)
        rounds = 4000000000u;
    if (mode == UDP && size > MAX_UDP)
        usage_error("-s: a UDP datagram holds at most 65507 bytes", NULL);
    if (nidle > 0 && (mode == STREAM || mode == UDP || mode == HOLD || expect_eof))
        usage_error("-i: only with -M rr or -M conn, and not with -e", NULL);
    if (mode == HOLD) { /* every connection is an idle one */
        nidle = nconn;
        nconn = 0;
    }
    if ((unsigned long long)(nconn + nidle) * size > (1ull << 30))
        usage_error("connections times message size is over 1 GiB", NULL);

    /* 1000 connections need 1000 fds: take what the hard limit allows. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    if (mode == HOLD) { /* SIGTERM or SIGINT ends the hold, and loadgen reports */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0) {
            perror("sigaction");
            return 1;
        }
    }

    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = mode == UDP ? SOCK_DGRAM : SOCK_STREAM;
    int gai = getaddrinfo(host, port, &hints, &target);
    if (gai != 0) {
        fprintf(stderr, "%s: %s port %s: %s\n", prog, host, port, gai_strerror(gai));
        return 1;
    }

    size_t maxlen = size > IO_CHUNK ? size : IO_CHUNK;
    pat = malloc(PAT_LEN + maxlen);
    if (!pat) {
        perror("malloc");
        return 1;
    }
    for (size_t i = 0; i < PAT_LEN; i += 8) {
        uint64_t r = mix(i);
        memcpy(pat + i, &r, PAT_LEN - i < 8 ? PAT_LEN - i : 8);
    }
    memcpy(pat + PAT_LEN, pat, maxlen); /* any offset has maxlen bytes after it */

    uint64_t deadline = now_ns() + (uint64_t)deadline_s * 1000000000ull;
    double secs = mode == STREAM ? run_stream(deadline)
                : mode == UDP    ? run_udp(deadline)
                                 : run_tcp(deadline);
    if (secs <= 0)
        secs = 1e-9;

    static const char *names[] = {"rr", "conn", "stream", "udp", "hold"};
    /* Round trips never done (with -T only an error can leave some out). */
    unsigned long long total = mode == HOLD     ? nidle
                             : duration_s > 0 ? nlat + lost
                                              : (unsigned long long)nconn * rounds;
    unsigned long long missing = mode == STREAM ? (bytes_ok < stream_bytes)
                                : total > nlat + lost ? total - nlat - lost : 0;
    int ok = errors == 0 && mismatches == 0 && lost == 0 && missing == 0;
    if (nlat > 0)
        qsort(lat, nlat, sizeof *lat, cmp_u64);
    if (lat_file) {
        FILE *f = fopen(lat_file, "w");
        if (!f) {
            fprintf(stderr, "%s: fopen %s: %s\n", prog, lat_file, strerror(errno));
            return 1;
        }
        for (size_t i = 0; i < nlat; i++)
            fprintf(f, "%.1f\n", (double)lat[i] / 1000.0);
        if (fclose(f) != 0) {
            fprintf(stderr, "%s: writing %s: %s\n", prog, lat_file, strerror(errno));
            return 1;
        }
    }
    double mean = 0;
    for (size_t i = 0; i < nlat; i++)
        mean += (double)lat[i];
    mean = nlat ? mean / (double)nlat / 1000.0 : 0;
    double rps = (double)nlat / secs;
    double mbps = (double)(mode == STREAM ? bytes_ok : (unsigned long long)nlat * size) / secs / 1e6;

    if (mode == STREAM)
        printf("%s: stream %s port %s: %llu of %llu bytes echoed in %.3f s = %.1f MB/s each way; "
               "errors %llu, mismatches %llu: %s%s%s\n",
               prog, host, port, bytes_ok, stream_bytes, secs, mbps, errors, mismatches,
               ok ? "OK" : "FAILED", first_error[0] ? ": " : "", first_error);
    else {
        char plan[80];
        if (duration_s > 0)
            snprintf(plan, sizeof plan, "for %.1f s", duration_s);
        else
            snprintf(plan, sizeof plan, "x %u", rounds);
        printf("%s: %s %s port %s, %u %s %s, %u bytes: %zu %s in %.3f s = %.0f/s; "
               "latency p50 %.1f us, p99 %.1f us, max %.1f us; %llu over 30 ms; "
               "errors %llu, mismatches %llu, lost %llu, missing %llu: %s%s%s\n",
               prog, names[mode], host, port, mode == HOLD ? nidle : nconn,
               mode == UDP ? "sockets" : "connections", plan, size, nlat,
               mode == CONN || mode == HOLD ? "connections" : "round trips", secs, rps,
               pct_us(0.50), pct_us(0.99), pct_us(1.0), slow, errors, mismatches, lost, missing,
               ok ? "OK" : "FAILED", first_error[0] ? ": " : "", first_error);
    }
    printf("RESULT mode=%s clients=%u idle=%u size=%u count=%zu secs=%.6f rps=%.1f p50_us=%.2f "
           "p99_us=%.2f max_us=%.1f mean_us=%.2f mbps=%.1f slow=%llu over_1s=%llu errors=%llu "
           "mismatches=%llu lost=%llu late=%llu missing=%llu status=%s\n",
           names[mode], mode == HOLD ? nidle : nconn, mode == HOLD ? 0 : nidle,
           mode == STREAM ? 0 : size, mode == STREAM ? (size_t)bytes_ok : nlat, secs, rps,
           pct_us(0.50), pct_us(0.99), pct_us(1.0), mean, mbps, slow, over_1s, errors,
           mismatches, lost, late, missing, ok ? "ok" : "failed");
    freeaddrinfo(target);
    return ok ? 0 : 1;
}
