/*
 * udpserver.c - a UDP echo server (the C version of udpserver.py).
 *
 * The lecture order: socket() -> bind() -> then for ever recvfrom() -> sendto().
 * UDP has no connections: this one socket serves every client, and each
 * datagram arrives with its sender's address, which is where the reply goes.
 * This server is IPv4 only (AF_INET), like udpserver.py: a client that
 * sends to ::1 gets no answer.
 *
 *   cc -o udpserver udpserver.c
 *   ./udpserver                 serve on all interfaces, port 12122
 *   ./udpserver -a 127.0.0.1    only datagrams sent to 127.0.0.1
 *   ./udpserver -S              step mode: pause before each socket call
 *   ./udpserver -q              no line per datagram (for benchmarks)
 *
 * Watch it from another terminal:
 *   lsof -n -P -p PID      after socket(): 'sock ... protocol: UDP', no port;
 *                          after bind(): 'UDP *:12122'
 *   ss -uanp (Linux)       from bind() on: 'UNCONN 0 0 0.0.0.0:12122 0.0.0.0:*'
 *                          (ss writes "any" as 0.0.0.0 where lsof writes *);
 *                          Recv-Q counts the kernel memory of the datagrams
 *                          waiting (832 for a 2-byte one), not their bytes
 *   netstat -an -p udp (macOS)     netstat -anup (Linux)
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define DEFAULT_PORT 12122
#define MAX_DATAGRAM 65507 /* 65535 - 20 (IPv4 header) - 8 (UDP header) */

static struct options {
    const char *address; /* -a: NULL for all interfaces, like '' in Python */
    int port;            /* -p */
    int quiet;           /* -q: no line per datagram (for benchmarks) */
    int step;            /* -S: pause before each socket call */
    int lose_percent;    /* -L: drop this share of the datagrams (a lossy network) */
    size_t recv_size;    /* -n: the most one recvfrom() takes (default: any datagram) */
} opt = {NULL, DEFAULT_PORT, 0, 0, 0, MAX_DATAGRAM + 1};

static const char *prog = "udpserver";

/* What step mode and the log say at each call, in lecture order. */
static void before_socket(void);
static void after_socket(int fd);
static void before_bind(int fd, const struct sockaddr_in *me);
_Noreturn static void bind_failed(int fd, const struct sockaddr_in *me);
static void after_bind(int fd, const struct sockaddr_in *me);
static void before_recvfrom(int fd, const struct sockaddr_in *me);
static void recvfrom_failed(int fd);
static void after_recvfrom(int fd, const unsigned char *buf, ssize_t n,
                           const struct sockaddr_storage *peer);
static void before_sendto(int fd, const struct sockaddr_in *me, ssize_t n,
                          const struct sockaddr_storage *peer);
static void sendto_failed(int fd, const struct sockaddr_storage *peer);
static void after_sendto(int fd, ssize_t n, const struct sockaddr_storage *peer);

/* The plumbing. */
static void parse_options(int argc, char **argv);
static void check_long_options(int argc, char **argv, const char *optstring);
static void usage(FILE *out);
_Noreturn static void usage_error(const char *fmt, ...);
_Noreturn static void fail(const char *what);
static void start_log(void);
static void say(const char *fmt, ...);
static void step_byte_order(const struct sockaddr *sa);
static const char *err_text(int e);
static void step(const char *call, const char *now, const char *after);
static const char *fmt(const char *f, ...);
static int port_value(const char *s);
static int parse_port(const char *s);
static int parse_percent(const char *s);
static size_t parse_size(const char *s);
static int lose_this_one(void);
static void local_address(const char *host, int port, struct sockaddr_in *out);
static const char *addr_text(const void *sa, char *buf, size_t size);
static const char *ss_text(const struct sockaddr_in *sa, char *buf, size_t size);
static const char *payload_text(const unsigned char *p, size_t n);

int main(int argc, char **argv)
{
    parse_options(argc, argv);

    /* The address to claim: -a's (getaddrinfo() turns a name into it), or
     * 0.0.0.0 (INADDR_ANY): every interface of this machine. */
    struct sockaddr_in me;
    local_address(opt.address, opt.port, &me);

    /* socket(): the kernel creates a UDP endpoint and gives us a file
     * descriptor for it. It has no address or port yet. */
    before_socket();
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        fail("socket");
    after_socket(fd);

    /* bind(): ask the kernel for this address and port. From here on,
     * datagrams sent to it are queued on this socket (and only then does
     * netstat list it). Fails if another socket already owns the port. */
    before_bind(fd, &me);
    if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0)
        bind_failed(fd, &me); /* exit 1, with the likely cause */
    after_bind(fd, &me);

    static unsigned char buf[MAX_DATAGRAM + 1]; /* one recvfrom() holds any datagram */
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof peer;

        /* recvfrom(): sleep until a datagram is queued on the socket, then
         * take one whole datagram (never part of one, never two) and the
         * address it came from. An empty datagram is a valid one: n == 0.
         * (-n: a buffer too small for the datagram gets its start; the rest is lost.) */
        before_recvfrom(fd, &me);
        ssize_t n = recvfrom(fd, buf, opt.recv_size, 0, (struct sockaddr *)&peer, &peerlen);
        if (n < 0) {
            recvfrom_failed(fd); /* one line, and on to the next datagram */
            continue;
        }
        after_recvfrom(fd, buf, n, &peer);
        if (lose_this_one()) /* -L PERCENT: play a lossy network: no reply */
            continue;

        /* sendto(): one datagram back to whoever sent this one. There is
         * no connection, so a failure here concerns this client only. */
        before_sendto(fd, &me, n, &peer);
        if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, peerlen) < 0)
            sendto_failed(fd, &peer); /* one line, and on to the next datagram */
        else
            after_sendto(fd, n, &peer);
    }
}

/* ==== The lesson ends here. Below: what step mode and the log say at each call (in lecture order), then the plumbing. ==== */

static void before_socket(void)
{
    start_log();
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());
    step("socket(AF_INET, SOCK_DGRAM, 0)", "no socket yet",
         "a new fd: a UDP socket with no port (netstat and ss do not list it yet)");
}

static void after_socket(int fd)
{
    say("socket(AF_INET, SOCK_DGRAM, 0) = fd %d: a UDP socket, no port yet", fd);
}

/* lsof writes the address as *:12122, ss as 0.0.0.0:12122. */
static void before_bind(int fd, const struct sockaddr_in *me)
{
    step_byte_order((const struct sockaddr *)me);
    char here[64], ss_me[64];
    addr_text(me, here, sizeof here);
    ss_text(me, ss_me, sizeof ss_me);
    step(fmt("bind(fd %d, %s)", fd, here),
         fmt("fd %d has no port: netstat -an and ss -uan do not list it", fd),
         fmt("fd %d owns UDP %s: ss shows 'UNCONN ... %s', lsof 'UDP %s'", fd, here, ss_me,
             here));
}

/* UDP leaves nothing behind (no TIME_WAIT): a port in use is a socket that
 * has it now. */
_Noreturn static void bind_failed(int fd, const struct sockaddr_in *me)
{
    int e = errno, port = ntohs(me->sin_port);
    char here[64];
    fprintf(stderr, "%s: bind(fd %d, %s): %s", prog, fd, addr_text(me, here, sizeof here),
            err_text(e));
    if (e == EADDRINUSE)
        fprintf(stderr,
                " (another socket is bound to port %d now: lsof -n -P -i UDP:%d shows which)",
                port, port);
    else if (e == EADDRNOTAVAIL)
        fprintf(stderr, " (that address is not one of this machine's)");
    else if (e == EACCES)
        fprintf(stderr, " (ports below 1024 need root)");
    fprintf(stderr, "\n");
    exit(1);
}

static void after_bind(int fd, const struct sockaddr_in *me)
{
    char here[64];
    say("bind(fd %d, %s) ok: UDP port %d is ours; netstat and ss list it now", fd,
        addr_text(me, here, sizeof here), ntohs(me->sin_port));
    say("serving: every datagram is echoed to its sender (Ctrl-C to stop)");
}

static void before_recvfrom(int fd, const struct sockaddr_in *me)
{
    char here[64];
    if (!opt.step)
        return; /* nothing to say: no text made for every datagram */
    step(fmt("recvfrom(fd %d)", fd),
         fmt("fd %d bound to %s; Recv-Q in ss -uan is not 0 while datagrams wait "
             "(it counts the kernel memory they take, not their bytes)",
             fd, addr_text(me, here, sizeof here)),
         "returns the first waiting datagram, or sleeps until one arrives");
}

/* EINTR (a signal came): nothing to say, just wait again. */
static void recvfrom_failed(int fd)
{
    if (errno != EINTR)
        fprintf(stderr, "%s: recvfrom(fd %d): %s (going on)\n", prog, fd, err_text(errno));
}

static void after_recvfrom(int fd, const unsigned char *buf, ssize_t n,
                           const struct sockaddr_storage *peer)
{
    char from[INET6_ADDRSTRLEN + 8];
    if (!opt.quiet)
        say("recvfrom(fd %d) = %ld bytes from %s: %s%s", fd, (long)n,
            addr_text(peer, from, sizeof from), payload_text(buf, (size_t)n),
            (size_t)n == opt.recv_size ? " (it filled the -n buffer: the rest of a longer "
                                         "datagram is lost, UDP cuts it: MSG_TRUNC)"
                                       : "");
}

static void before_sendto(int fd, const struct sockaddr_in *me, ssize_t n,
                          const struct sockaddr_storage *peer)
{
    char here[64], to[INET6_ADDRSTRLEN + 8];
    if (!opt.step)
        return; /* nothing to say: no text made for every datagram */
    step(fmt("sendto(fd %d, %ld bytes, %s)", fd, (long)n, addr_text(peer, to, sizeof to)),
         fmt("fd %d bound to %s; still no peer (ss shows the peer as 0.0.0.0:*)", fd,
             addr_text(me, here, sizeof here)),
         "the datagram is queued for sending; the socket stays unconnected");
}

static void sendto_failed(int fd, const struct sockaddr_storage *peer)
{
    int e = errno;
    char to[INET6_ADDRSTRLEN + 8];
    fprintf(stderr, "%s: sendto(fd %d, %s): %s (going on)\n", prog, fd,
            addr_text(peer, to, sizeof to), err_text(e));
}

static void after_sendto(int fd, ssize_t n, const struct sockaddr_storage *peer)
{
    char to[INET6_ADDRSTRLEN + 8];
    if (!opt.quiet)
        say("sendto(fd %d, %ld bytes, %s) ok: echoed", fd, (long)n,
            addr_text(peer, to, sizeof to));
}

/* ---- plumbing: options, formatting, errors ---- */

static void parse_options(int argc, char **argv)
{
    const char *optstring = ":p:a:L:n:qSh";
    int c;

    check_long_options(argc, argv, optstring);
    opterr = 0; /* we print our own one-line messages */
    while ((c = getopt(argc, argv, optstring)) != -1) {
        switch (c) {
        case 'p': opt.port = parse_port(optarg); break;
        case 'a': opt.address = optarg; break;
        case 'q': opt.quiet = 1; break;
        case 'L': opt.lose_percent = parse_percent(optarg); break;
        case 'n': opt.recv_size = parse_size(optarg); break;
        case 'S': opt.step = 1; break;
        case 'h': usage(stdout); exit(0);
        case ':': usage_error("option -%c needs an argument", optopt);
        default: usage_error("unknown option -%c", optopt);
        }
    }
    if (optind < argc && port_value(argv[optind]) != 0)
        usage_error("unexpected argument '%s': the port goes with -p: %s -p %s", argv[optind],
                    prog, argv[optind]);
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
}

/* Before getopt(): --help is -h, anywhere among the options; any other
 * --word is a usage error (getopt would call it "unknown option -"). The
 * word after an option that takes one (-p --x) is that option's. */
static void check_long_options(int argc, char **argv, const char *optstring)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2) == 0) {
            fprintf(stderr,
                    "%s: unknown option '%s': the options are single letters (try '%s -h')\n",
                    prog, a, prog);
            exit(2);
        }
        for (int k = 1; a[0] == '-' && a[k] != '\0'; k++) {
            const char *o = strchr(optstring, a[k]);
            if (o != NULL && a[k] != ':' && o[1] == ':') {
                if (a[k + 1] == '\0')
                    i++; /* -p PORT: the next word is the port */
                break;   /* -pPORT: the rest of the word is */
            }
        }
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-p PORT] [-a ADDRESS] [-L PERCENT] [-n BYTES] [-q] [-S] [-h]\n"
            "UDP echo server: sends every datagram back to its sender.\n"
            "  -p PORT     UDP port to bind (default %d)\n"
            "  -a ADDRESS  bind to this local address or host name only\n"
            "              (default: all interfaces, shown as *)\n"
            "  -L PERCENT  lose PERCENT of the datagrams, as a lossy network would:\n"
            "              receive them but send no reply (evenly spread: -L 25 is\n"
            "              every 4th); a line says which\n"
            "  -n BYTES    read each datagram into a buffer of BYTES bytes (default: room\n"
            "              for any): a longer datagram is cut to it, the rest is lost\n"
            "  -q          quiet: no line per datagram\n"
            "  -S          step mode: before each socket call, say what it will\n"
            "              change in lsof/netstat/ss, and wait for Enter\n"
            "  -h          this help\n",
            prog, DEFAULT_PORT);
}

/* A usage error: one line on stderr, exit status 2. */
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

/* A failed system call: its name and the kernel's reason, exit status 1. */
_Noreturn static void fail(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, err_text(errno));
    exit(1);
}

/* The log is stdout, one line at a time even into a pipe. A reader that
 * goes away (./udpserver | head -1) must not kill the server: with SIGPIPE
 * ignored, the write fails with EPIPE instead, and say() copes. */
static int log_lost; /* stdout failed (a closed pipe, a full disk): no more log */

static void start_log(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
}

/* One line on stdout, prefixed with the program name. If stdout fails (the
 * reader of a pipe went away, a full disk), say so once on stderr and keep
 * serving without a log: the clients matter more than the log. */
static void say(const char *f, ...)
{
    va_list ap;
    if (log_lost)
        return;
    errno = 0;
    printf("%s: ", prog);
    va_start(ap, f);
    vprintf(f, ap);
    va_end(ap);
    putchar('\n');
    if (fflush(stdout) == EOF || ferror(stdout)) {
        fprintf(stderr, "%s: stdout: %s: the log is lost from here on; still serving\n", prog,
                err_text(errno != 0 ? errno : EIO));
        log_lost = 1;
    }
}

/* Step mode (-S; otherwise nothing): announce the call, then wait for a
 * line on standard input. Read a byte at a time so nothing beyond the
 * Enter is consumed. */
static void step(const char *call, const char *now, const char *after)
{
    if (!opt.step)
        return;
    say("step: next: %s", call);
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

/* printf into one of 8 rotating static buffers: for the arguments of one
 * call only. Never keep the pointer: the 8th call after reuses the buffer. */
static const char *fmt(const char *f, ...)
{
    static char bufs[8][256];
    static unsigned next;
    char *b = bufs[next++ % 8];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, sizeof bufs[0], f, ap);
    va_end(ap);
    return b;
}

/* The port in s: 1-65535, written in decimal digits only; 0 if s is not one. */
static int port_value(const char *s)
{
    long v = 0;
    if (*s == '\0')
        return 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > 65535)
            return 0;
    }
    return (int)v;
}

static int parse_port(const char *s)
{
    int v = port_value(s);
    if (v == 0)
        usage_error("bad port '%s': must be a number from 1 to 65535", s);
    return v;
}

/* Turn -a (a name or a dotted address, or NULL for all interfaces) into an
 * IPv4 socket address. This program is IPv4 only, like udpserver.py. */
static void local_address(const char *host, int port, struct sockaddr_in *out)
{
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((unsigned short)port); /* network byte order */
    out->sin_addr.s_addr = htonl(INADDR_ANY);   /* 0.0.0.0: every interface */
    if (host == NULL)
        return;

    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot resolve '%s': %s\n", prog, host, gai_strerror(rc));
        exit(1);
    }
    out->sin_addr = ((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
}

/* A socket address (struct sockaddr_in, _in6 or _storage) as lsof prints
 * it, in the caller's buf: 127.0.0.1:12122, or *:12122 for "any". Returns
 * buf. */
static const char *addr_text(const void *sa, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    int family = ((const struct sockaddr *)sa)->sa_family;
    if (family == AF_INET) {
        const struct sockaddr_in *s = sa;
        if (s->sin_addr.s_addr == htonl(INADDR_ANY))
            snprintf(buf, size, "*:%u", ntohs(s->sin_port));
        else
            snprintf(buf, size, "%s:%u", inet_ntop(AF_INET, &s->sin_addr, host, sizeof host),
                     ntohs(s->sin_port));
    } else if (family == AF_INET6) {
        const struct sockaddr_in6 *s = sa;
        snprintf(buf, size, "[%s]:%u", inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host),
                 ntohs(s->sin6_port));
    } else {
        snprintf(buf, size, "(address family %d)", family);
    }
    return buf;
}

/* An IPv4 address as ss prints it, in the caller's buf: "any" is 0.0.0.0
 * there (lsof says *). Returns buf. */
static const char *ss_text(const struct sockaddr_in *sa, char *buf, size_t size)
{
    char host[INET_ADDRSTRLEN];
    snprintf(buf, size, "%s:%u", inet_ntop(AF_INET, &sa->sin_addr, host, sizeof host),
             ntohs(sa->sin_port));
    return buf;
}

/* Bytes from the network, made safe for a terminal: quoted, with escapes
 * for anything not printable, and cut after 60 bytes. */
static const char *payload_text(const unsigned char *p, size_t n)
{
    static char out[512];
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

/* -L PERCENT: 0 to 100, else a usage error */
static int parse_percent(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 100)
        usage_error("-L wants a percentage from 0 to 100, not '%s'", s);
    return (int)v;
}

/* -L: should the datagram just received go unanswered? Datagram k is lost
 * when k * PERCENT / 100 reaches a new whole number: exactly PERCENT of
 * them, evenly spread, the same in every run (unlike the textbook's
 * random UDP pinger, so that a test can count on it). */
static int lose_this_one(void)
{
    static unsigned long received, lost;
    unsigned long p = (unsigned long)opt.lose_percent;
    received++;
    if (received * p / 100 == (received - 1) * p / 100)
        return 0;
    lost++;
    say("-L %d: datagram %lu lost on purpose: no reply (%lu of %lu lost so far)",
        opt.lose_percent, received, lost, received);
    return 1;
}

/* -n BYTES: 1 to MAX_DATAGRAM, else a usage error */
static size_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > MAX_DATAGRAM)
        usage_error("-n wants a number of bytes from 1 to %d, not '%s'", MAX_DATAGRAM, s);
    return (size_t)v;
}
