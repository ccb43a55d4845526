/*
 * udpserver.c - a UDP echo server (the C version of udpserver.py).
 *
 * The lecture order: socket() -> bind() -> then for ever recvfrom() -> sendto().
 * UDP has no connections: this one socket serves every client, and each
 * datagram arrives with its sender's address, which is where the reply goes.
 *
 *   cc -o udpserver udpserver.c
 *   ./udpserver                 serve on all interfaces, port 12122
 *   ./udpserver -a 127.0.0.1    only datagrams sent to 127.0.0.1
 *   ./udpserver -S              step mode: pause before each socket call
 *
 * Watch it from another terminal:
 *   lsof -n -P -p PID      netstat -an -p udp (macOS)      ss -uanp (Linux)
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define DEFAULT_PORT 12122
#define MAX_DATAGRAM 65507 /* 65535 - 20 (IPv4 header) - 8 (UDP header) */

static const char *prog = "udpserver";
static int quiet;     /* -q: no line per datagram (for benchmarks) */
static int step_mode; /* -S: pause before each socket call */
static int log_lost;  /* stdout failed (a closed pipe, a full disk): no more log */

static void usage(FILE *out);
_Noreturn static void usage_error(const char *fmt, ...);
_Noreturn static void fail(const char *what);
static void say(const char *fmt, ...);
static const char *fmt(const char *f, ...);
static void check_long_options(int argc, char **argv, const char *optstring);
static int port_value(const char *s);
static void step(const char *call, const char *now, const char *after);
static int parse_port(const char *s);
static void resolve_ipv4(const char *host, int port, struct sockaddr_in *out);
static const char *addr_text(const struct sockaddr *sa, char *buf, size_t size);
static const char *ss_text(const struct sockaddr_in *sa, char *buf, size_t size);
static const char *payload_text(const unsigned char *p, size_t n);

int main(int argc, char **argv)
{
    const char *address = NULL; /* NULL: all interfaces, like '' in Python */
    int port = DEFAULT_PORT;
    const char *optstring = ":p:a:qSh";
    int opt;

    check_long_options(argc, argv, optstring);
    opterr = 0; /* we print our own one-line messages */
    while ((opt = getopt(argc, argv, optstring)) != -1) {
        switch (opt) {
        case 'p': port = parse_port(optarg); break;
        case 'a': address = optarg; break;
        case 'q': quiet = 1; break;
        case 'S': step_mode = 1; break;
        case 'h': usage(stdout); return 0;
        case ':': usage_error("option -%c needs an argument", optopt);
        default: usage_error("unknown option -%c", optopt);
        }
    }
    if (optind < argc && port_value(argv[optind]) != 0)
        usage_error("unexpected argument '%s': the port goes with -p: %s -p %s", argv[optind],
                    prog, argv[optind]);
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);

    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    /* A reader that goes away (./udpserver | head -1) must not kill the
     * server: with SIGPIPE ignored, the write fails with EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in me;
    resolve_ipv4(address, port, &me);
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());

    /* socket(): the kernel creates a UDP endpoint and gives us a file
     * descriptor for it. It has no address or port yet. */
    step("socket(AF_INET, SOCK_DGRAM, 0)", "no socket yet",
         "a new fd: a UDP socket with no port (netstat and ss do not list it yet)");
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        fail("socket");
    say("socket(AF_INET, SOCK_DGRAM, 0) = fd %d: a UDP socket, no port yet", fd);

    /* bind(): ask the kernel for this address and port. From here on,
     * datagrams sent to it are queued on this socket (and only then does
     * netstat list it). Fails if another socket already owns the port. */
    char here[64];  /* our address, as lsof shows it: *:12122 */
    char ss_me[64]; /* and as ss shows it: 0.0.0.0:12122 */
    addr_text((struct sockaddr *)&me, here, sizeof here);
    ss_text(&me, ss_me, sizeof ss_me);
    step(fmt("bind(fd %d, %s)", fd, here),
         fmt("fd %d has no port: netstat -an and ss -uan do not list it", fd),
         fmt("fd %d owns UDP %s: ss shows 'UNCONN ... %s', lsof 'UDP %s'", fd, here,
             ss_me, here));
    if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0) {
        int e = errno;
        fprintf(stderr, "%s: bind(fd %d, %s): %s", prog, fd, here, strerror(e));
        if (e == EADDRINUSE)
            fprintf(stderr,
                    " (another socket is bound to port %d now: lsof -n -P -i UDP:%d shows which)",
                    port, port);
        else if (e == EADDRNOTAVAIL)
            fprintf(stderr, " (that address is not one of this machine's)");
        else if (e == EACCES)
            fprintf(stderr, " (ports below 1024 need root)");
        fprintf(stderr, "\n");
        return 1;
    }
    say("bind(fd %d, %s) ok: UDP port %d is ours; netstat and ss list it now", fd, here, port);
    say("serving: every datagram is echoed to its sender (Ctrl-C to stop)");

    static unsigned char buf[MAX_DATAGRAM + 1]; /* one recvfrom() holds any datagram */
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof peer;

        /* recvfrom(): sleep until a datagram is queued on the socket, then
         * take one whole datagram (never part of one, never two) and the
         * address it came from. An empty datagram is a valid one: n == 0. */
        if (step_mode)
            step(fmt("recvfrom(fd %d)", fd),
                 fmt("fd %d bound to %s; Recv-Q in ss -uan is not 0 while datagrams wait "
                     "(it counts the kernel memory they take, not their bytes)", fd, here),
                 "returns the first waiting datagram, or sleeps until one arrives");
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &peerlen);
        if (n < 0) {
            if (errno != EINTR)
                fprintf(stderr, "%s: recvfrom(fd %d): %s (going on)\n", prog, fd, strerror(errno));
            continue;
        }
        char from[INET6_ADDRSTRLEN + 8];
        addr_text((struct sockaddr *)&peer, from, sizeof from);
        if (!quiet)
            say("recvfrom(fd %d) = %ld bytes from %s: %s", fd, (long)n, from,
                payload_text(buf, (size_t)n));

        /* sendto(): one datagram back to whoever sent this one. There is
         * no connection, so a failure here concerns this client only. */
        if (step_mode)
            step(fmt("sendto(fd %d, %ld bytes, %s)", fd, (long)n, from),
                 fmt("fd %d bound to %s; still no peer (ss shows the peer as 0.0.0.0:*)", fd,
                     here),
                 "the datagram is queued for sending; the socket stays unconnected");
        if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, peerlen) < 0)
            fprintf(stderr, "%s: sendto(fd %d, %s): %s (going on)\n", prog, fd, from,
                    strerror(errno));
        else if (!quiet)
            say("sendto(fd %d, %ld bytes, %s) ok: echoed", fd, (long)n, from);
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-p PORT] [-a ADDRESS] [-q] [-S] [-h]\n"
            "UDP echo server: sends every datagram back to its sender.\n"
            "  -p PORT     UDP port to bind (default %d)\n"
            "  -a ADDRESS  bind to this local address or host name only\n"
            "              (default: all interfaces, shown as *)\n"
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

/* A failed system call: its name and the kernel's reason, exit status 1. */
_Noreturn static void fail(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
    exit(1);
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
                strerror(errno != 0 ? errno : EIO));
        log_lost = 1;
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

/* Step mode: announce the call, then wait for a line on standard input.
 * Read a byte at a time so nothing beyond the Enter is consumed. */
static void step(const char *call, const char *now, const char *after)
{
    if (!step_mode)
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
            step_mode = 0;
            return;
        }
        if (c == '\n')
            return;
    }
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
static void resolve_ipv4(const char *host, int port, struct sockaddr_in *out)
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

/* An address as lsof prints it, in the caller's buf: 127.0.0.1:12122, or
 * *:12122 for "any". Returns buf. */
static const char *addr_text(const struct sockaddr *sa, char *buf, size_t size)
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
        snprintf(buf, size, "[%s]:%u", inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host),
                 ntohs(s->sin6_port));
    } else {
        snprintf(buf, size, "(address family %d)", sa->sa_family);
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
