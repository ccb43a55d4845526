/*
 * refserver.c - the smallest fast echo server: the yardstick for `make bench`.
 *
 *   refserver -p 20001              TCP echo, poll(), any number of clients
 *   refserver -p 20001 -1           accept, one recv(), echo, close (like tcpserver1/2)
 *   refserver -p 20001 -u           UDP echo
 *
 * It does only what the kernel must do for an echo: one process, one thread,
 * non-blocking sockets and poll() (with -1 and -u, plain blocking calls: for
 * one exchange at a time nothing is cheaper), 64 KiB per recv(), no logging. Its figures are what
 * this machine's loopback allows, not a competitor: the lab kit's servers are
 * measured as ratios against it. TCP_NODELAY is set on every connection so
 * that the small tail of a big echo never waits for a delayed ACK (-N leaves
 * Nagle on, to see the difference).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define BUF 65536

struct client {
    unsigned char *pending; /* echo bytes the socket did not take yet */
    size_t len, off;
};

static const char *prog = "refserver";
static unsigned char buf[BUF + 1]; /* +1: a UDP datagram longer than BUF shows as truncated */

_Noreturn static void usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "%s: %s %s (try -h)\n", prog, msg, arg ? arg : "");
    exit(2);
}

_Noreturn static void fail(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
    exit(1);
}

static int drop(int fd, struct client *c)
{
    close(fd);
    free(c->pending);
    c->pending = NULL;
    return 1;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int open_socket(const char *addr, const char *port, int type, int backlog)
{
    struct addrinfo hints, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = type;
    hints.ai_flags = AI_PASSIVE;
    int e = getaddrinfo(addr, port, &hints, &ai);
    if (e != 0) {
        fprintf(stderr, "%s: %s port %s: %s\n", prog, addr ? addr : "*", port, gai_strerror(e));
        exit(1);
    }
    int fd = socket(ai->ai_family, type, 0), one = 1;
    if (fd < 0)
        fail("socket");
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        fail("setsockopt(SO_REUSEADDR)");
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        fail("bind");
    if (type == SOCK_STREAM && (listen(fd, backlog) < 0 || set_nonblock(fd) < 0))
        fail("listen");
    freeaddrinfo(ai);
    return fd;
}

_Noreturn static void serve_udp(int fd)
{
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
        if (n >= 0)
            sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, len);
    }
}

/* One ready client: read and echo, or send what is pending. Returns 1
 * when the connection is closed. */
static int serve(struct pollfd *p, struct client *c, short re)
{
    int fd = p->fd;
    if (c->pending && (re & (POLLOUT | POLLERR | POLLHUP))) {
        ssize_t w = send(fd, c->pending + c->off, c->len - c->off, 0);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return drop(fd, c);
        if (w > 0 && (c->off += (size_t)w) == c->len) {
            free(c->pending);
            c->pending = NULL;
            p->events = POLLIN;
        }
        return 0;
    }
    if (c->pending || !(re & (POLLIN | POLLERR | POLLHUP)))
        return 0;
    ssize_t r = recv(fd, buf, BUF, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (r <= 0)
        return drop(fd, c);
    ssize_t w = send(fd, buf, (size_t)r, 0);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return drop(fd, c);
    if (w < r) { /* keep the rest; stop reading until it is gone */
        size_t done = w > 0 ? (size_t)w : 0;
        c->len = (size_t)r - done;
        c->off = 0;
        c->pending = malloc(c->len);
        if (!c->pending)
            fail("malloc");
        memcpy(c->pending, buf + done, c->len);
        p->events = POLLOUT;
        return 0;
    }
    return 0;
}

/* -1: the least a server can do for one exchange per connection is what
 * tcpserver1 does: accept(), one recv(), send(), close(), all blocking. */
_Noreturn static void serve_once(int lfd)
{
    int fl = fcntl(lfd, F_GETFL);
    if (fl < 0 || fcntl(lfd, F_SETFL, fl & ~O_NONBLOCK) < 0)
        fail("fcntl");
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        ssize_t r = recv(fd, buf, BUF, 0);
        for (ssize_t off = 0, w; r > 0 && off < r; off += w)
            if ((w = send(fd, buf + off, (size_t)(r - off), 0)) < 0)
                break;
        close(fd);
    }
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1", *port = "12333";
    int backlog = 1024, udp = 0, once = 0, nagle = 0, opt;
    while ((opt = getopt(argc, argv, ":a:p:l:u1Nh")) != -1) {
        switch (opt) {
        case 'a': addr = optarg; break;
        case 'p': port = optarg; break;
        case 'l': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 0 || v > 65535)
                usage_error("bad backlog", optarg);
            backlog = (int)v;
            break;
        }
        case 'u': udp = 1; break;
        case '1': once = 1; break;
        case 'N': nagle = 1; break;
        case 'h':
            printf("usage: %s [-a ADDRESS] [-p PORT] [-l BACKLOG] [-u | -1] [-N] [-h]\n"
                   "Minimal echo server (poll, non-blocking, 64 KiB buffer, no log), the\n"
                   "reference for make bench. It listens on loopback unless told otherwise.\n"
                   "  -a ADDRESS  listen here (default 127.0.0.1)\n"
                   "  -p PORT     port (default 12333)\n"
                   "  -l BACKLOG  listen() backlog (default 1024)\n"
                   "  -u          UDP instead of TCP\n"
                   "  -1          echo one recv() and close, like tcpserver1/2 (blocking,\n"
                   "              one client at a time)\n"
                   "  -N          no TCP_NODELAY (leave Nagle on)\n",
                   prog);
            return 0;
        case ':': usage_error("option needs an argument:", argv[optind - 1]);
        default: usage_error("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument", argv[optind]);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    int lfd = open_socket(addr, port, udp ? SOCK_DGRAM : SOCK_STREAM, backlog);
    printf("%s: pid %ld: %s echo on %s port %s%s\n", prog, (long)getpid(), udp ? "UDP" : "TCP",
           addr, port, once ? ", one recv per connection" : "");
    if (udp)
        serve_udp(lfd);
    if (once)
        serve_once(lfd);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    nfds_t cap = 1024, n = 1;
    struct pollfd *pfd = malloc(cap * sizeof *pfd);
    struct client *cl = malloc(cap * sizeof *cl);
    if (!pfd || !cl)
        fail("malloc");
    pfd[0].fd = lfd;
    pfd[0].events = POLLIN;

    for (;;) {
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            fail("poll");
        }
        /* Backwards, so that closing slot i (the last one moves in) is safe. */
        for (nfds_t i = n - 1; i >= 1; i--) {
            if (pfd[i].revents && serve(&pfd[i], &cl[i], pfd[i].revents)) {
                pfd[i] = pfd[n - 1];
                cl[i] = cl[n - 1];
                n--;
            }
        }
        if (pfd[0].revents & POLLIN) {
            for (;;) {
                int fd = accept(lfd, NULL, NULL), one = 1;
                if (fd < 0) {
                    if (errno == EMFILE || errno == ENFILE)
                        fprintf(stderr, "%s: accept: %s\n", prog, strerror(errno));
                    break;
                }
                if (set_nonblock(fd) < 0 ||
                    (!nagle && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)) {
                    close(fd);
                    continue;
                }
                if (n == cap) {
                    cap *= 2;
                    struct pollfd *np = realloc(pfd, cap * sizeof *pfd);
                    struct client *nc = np ? realloc(cl, cap * sizeof *cl) : NULL;
                    if (!np || !nc)
                        fail("realloc"); /* and exit: nothing to free */
                    pfd = np;
                    cl = nc;
                }
                pfd[n].fd = fd;
                pfd[n].events = POLLIN;
                pfd[n].revents = 0;
                cl[n].pending = NULL;
                /* The client's first bytes often follow its handshake at
                 * once: read now rather than after one more poll(). */
                if (!serve(&pfd[n], &cl[n], POLLIN))
                    n++;
            }
        }
    }
}
