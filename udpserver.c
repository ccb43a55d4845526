/*
 * udpserver.c - a UDP echo server (the C version of udpserver.py).
 *
 * The lecture order: socket() -> bind() -> then for ever recvfrom() -> sendto().
 * UDP has no connections: this one socket serves every client, and each
 * datagram arrives with its sender's address, which is where the reply goes.
 * This server is IPv4 only (AF_INET), like udpserver.py: a client that
 * sends to ::1 gets no answer.
 *
 *   cc -o udpserver udpserver.c  (next to lab.h)
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
 *
 * This file: the lesson (main() and -L's lose_this_one()); then, after the
 * marker line where the lesson ends, what step mode and the log say at each
 * call (before_*, after_*, *_failed); then the options and usage. The
 * plumbing it shares with the other six programs (say(), step(), fail(),
 * the address and payload text, option parsing) is lab.h's.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include "lab.h"

#define PROG "udpserver"
#define DEFAULT_PORT 12122
#define MAX_DATAGRAM 65507 /* 65535 - 20 (IPv4 header) - 8 (UDP header) */

static struct options {
    const char *address; /* -a: NULL for all interfaces, like '' in Python */
    int port;            /* -p */
    int lose_percent;    /* -L: drop this share of the datagrams (a lossy network) */
    size_t recv_size;    /* -n: the most one recvfrom() takes (default: any datagram) */
} opt = {NULL, DEFAULT_PORT, 0, MAX_DATAGRAM + 1};

static int lose_this_one(void);
static void parse_options(int argc, char **argv);
static void usage(FILE *out);
static void before_socket(void); /* the narration, in lecture order */
static void after_socket(int fd);
static void before_bind(int fd, const struct sockaddr_in *me);
static void bind_failed(int fd, const struct sockaddr_in *me);
static void after_bind(int fd, const struct sockaddr_in *me);
static void before_recvfrom(int fd, const struct sockaddr_in *me);
static void recvfrom_failed(int fd);
static void after_recvfrom(int fd, const unsigned char *buf, ssize_t n, const void *peer);
static void before_sendto(int fd, const struct sockaddr_in *me, ssize_t n, const void *peer);
static void sendto_failed(int fd, const void *peer);
static void after_sendto(int fd, ssize_t n, const void *peer);

int main(int argc, char **argv)
{
    parse_options(argc, argv);

    /* N3, N1, U7-U9: the address to claim, port and address in network
     * byte order (htons, htonl): 0.0.0.0 (INADDR_ANY) is every interface
     * of this machine, now and later; -a names one (a host name is looked
     * up: getaddrinfo(), in lab.h's resolve_ipv4()). */
    struct sockaddr_in me;
    memset(&me, 0, sizeof me);
    me.sin_family = AF_INET;
    me.sin_port = htons((unsigned short)opt.port);
    if (opt.address == NULL)
        me.sin_addr.s_addr = htonl(INADDR_ANY);
    else
        me.sin_addr = resolve_ipv4(opt.address);

    /* U4: socket(): the kernel creates a UDP endpoint and gives us a file
     * descriptor for it. It has no address or port yet. */
    before_socket();
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        fail("socket");
    after_socket(fd);

    /* U4, N4: bind(): ask the kernel for this address and port. From here
     * on, datagrams sent to it are queued on this socket (and only then
     * does netstat list it). Fails if another socket already owns the port. */
    before_bind(fd, &me);
    if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0) {
        bind_failed(fd, &me);
        fail("bind");
    }
    after_bind(fd, &me);

    static unsigned char buf[MAX_DATAGRAM + 1]; /* one recvfrom() holds any datagram */
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof peer;

        /* N7, N6, U6: recvfrom(): sleep until a datagram is queued on the
         * socket, then take one whole datagram (never part of one, never
         * two) and the address it came from. An empty datagram is a valid
         * one: n == 0. (-n: a buffer too small for the datagram gets its
         * start; the kernel throws the rest away.) A failure (EINTR: a
         * signal came) ends nothing: wait for the next datagram. */
        before_recvfrom(fd, &me);
        ssize_t n = recvfrom(fd, buf, opt.recv_size, 0, (struct sockaddr *)&peer, &peerlen);
        if (n < 0) {
            recvfrom_failed(fd);
            continue;
        }
        after_recvfrom(fd, buf, n, &peer);
        if (lose_this_one()) /* N8: -L PERCENT: play a lossy network: no reply */
            continue;

        /* sendto(): one datagram back to whoever sent this one. There is
         * no connection, so a failure concerns this client only: on to the
         * next datagram. */
        before_sendto(fd, &me, n, &peer);
        if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, peerlen) < 0) {
            sendto_failed(fd, &peer);
            continue;
        }
        after_sendto(fd, n, &peer);
    }
}

/* N8: -L: should the datagram just received go unanswered? Datagram k is
 * lost when k * PERCENT / 100 reaches a new whole number: exactly PERCENT
 * of them, evenly spread, the same in every run (unlike the textbook's
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

/* ==== The lesson ends here. Below: what step mode and the log say at each call, in lecture order (make bare removes it), then the options. ==== */

static void before_socket(void)
{
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
    char here[ADDR_TEXT_SIZE], ss_host[INET_ADDRSTRLEN] = "?";
    if (!lab.step)
        return;
    step_byte_order((const struct sockaddr *)me);
    addr_text(me, here, sizeof here);
    inet_ntop(AF_INET, &me->sin_addr, ss_host, sizeof ss_host);
    step(fmt("bind(fd %d, %s)", fd, here),
         fmt("fd %d has no port: netstat -an and ss -uan do not list it", fd),
         fmt("fd %d owns UDP %s: ss shows 'UNCONN ... %s:%u', lsof 'UDP %s'", fd, here,
             ss_host, ntohs(me->sin_port), here));
}

/* UDP leaves nothing behind (no TIME_WAIT) and has no listener to ask:
 * a port in use is a socket that has it now. (lab.h's bind_advice() probes
 * with a TCP socket, for a TCP server's two causes; its other advice is UDP's too.) */
static void bind_failed(int fd, const struct sockaddr_in *me)
{
    int e = errno;
    unsigned port = ntohs(me->sin_port);
    char here[ADDR_TEXT_SIZE];
    const char *call = fmt("bind(fd %d, %s)", fd, addr_text(me, here, sizeof here));
    const char *why = e != EADDRINUSE ? bind_advice(e, (const struct sockaddr *)me)
                                      : fmt(" (another socket is bound to port %u now: lsof "
                                            "-n -P -i UDP:%u shows which)", port, port);
    errno = e;
    explain(call, "%s", why);
}

static void after_bind(int fd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    say("bind(fd %d, %s) ok: UDP port %d is ours; netstat and ss list it now", fd,
        addr_text(me, here, sizeof here), ntohs(me->sin_port));
    say("serving: every datagram is echoed to its sender (Ctrl-C to stop)");
}

static void before_recvfrom(int fd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    if (!lab.step)
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
        fprintf(stderr, "%s: recvfrom(fd %d): %s (going on)\n", lab.prog, fd, err_text(errno));
}

static void after_recvfrom(int fd, const unsigned char *buf, ssize_t n, const void *peer)
{
    char from[ADDR_TEXT_SIZE];
    if (lab.quiet)
        return;
    say("recvfrom(fd %d) = %ld bytes from %s: %s%s", fd, (long)n,
        addr_text(peer, from, sizeof from), payload_text(buf, (size_t)n),
        (size_t)n == opt.recv_size ? " (it filled the -n buffer: the rest of a longer "
                                     "datagram is lost, UDP cuts it: MSG_TRUNC)"
                                   : "");
}

static void before_sendto(int fd, const struct sockaddr_in *me, ssize_t n, const void *peer)
{
    char here[ADDR_TEXT_SIZE], to[ADDR_TEXT_SIZE];
    if (!lab.step)
        return; /* nothing to say: no text made for every datagram */
    step(fmt("sendto(fd %d, %ld bytes, %s)", fd, (long)n, addr_text(peer, to, sizeof to)),
         fmt("fd %d bound to %s; still no peer (ss shows the peer as 0.0.0.0:*)", fd,
             addr_text(me, here, sizeof here)),
         "the datagram is queued for sending; the socket stays unconnected");
}

static void sendto_failed(int fd, const void *peer)
{
    int e = errno;
    char to[ADDR_TEXT_SIZE];
    fprintf(stderr, "%s: sendto(fd %d, %s): %s (going on)\n", lab.prog, fd,
            addr_text(peer, to, sizeof to), err_text(e));
}

static void after_sendto(int fd, ssize_t n, const void *peer)
{
    char to[ADDR_TEXT_SIZE];
    if (lab.quiet)
        return;
    say("sendto(fd %d, %ld bytes, %s) ok: echoed", fd, (long)n, addr_text(peer, to, sizeof to));
}

/* ==== Options and usage ==== */

static void parse_options(int argc, char **argv)
{
    lab_start(PROG, LAB_SERVER, usage);
    int c;
    while ((c = next_option(argc, argv, "p:a:L:n:")) != -1) {
        switch (c) {
        case 'p': opt.port = parse_port(optarg); break;
        case 'a': check_host_word(optarg); opt.address = optarg; break;
        case 'L': opt.lose_percent = parse_count(optarg, "percentage", 0, 100); break;
        case 'n':
            opt.recv_size = (size_t)parse_count(optarg, "buffer size", 1, MAX_DATAGRAM);
            break;
        default: break; /* next_option() handled the rest */
        }
    }
    if (optind < argc && port_value(argv[optind]) != 0)
        usage_error("unexpected argument '%s': the port goes with -p: %s -p %s", argv[optind],
                    PROG, argv[optind]);
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-p PORT] [-a ADDRESS] [-L PERCENT] [-n BYTES]"
            " [-q] [-S]" /* narration */
            " [-h]\n"
            "UDP echo server: sends every datagram back to its sender.\n"
            "  -p PORT     UDP port to bind (default %d)\n"
            "  -a ADDRESS  bind to this local address or host name only\n"
            "              (default: all interfaces, shown as *)\n"
            "  -L PERCENT  lose PERCENT of the datagrams, as a lossy network would:\n"
            "              receive them but send no reply (evenly spread: -L 25 is\n"
            "              every 4th); a line says which\n"
            "  -n BYTES    read each datagram into a buffer of BYTES bytes (default: room\n"
            "              for any): a longer datagram is cut to it, the rest is lost\n"
            "  -q          quiet: no line per datagram\n" /* narration */
            "  -S          step mode: before each socket call, say what it will\n" /* narration */
            "              change in lsof/netstat/ss, and wait for Enter\n" /* narration */
            "  -h          this help\n",
            PROG, DEFAULT_PORT);
}
