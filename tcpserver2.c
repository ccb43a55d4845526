/*
 * tcpserver2.c - a TCP server that finds its address with getaddrinfo()
 * (the C version of tcpserver2.py): IPv4 and IPv6 from one program.
 *
 * The lecture order: getaddrinfo() -> socket() -> [setsockopt(IPV6_V6ONLY)]
 * -> bind() -> listen() -> then, exactly like tcpserver1.c, one client at a
 * time: accept() -> recv() -> send() -> close().
 *
 * getaddrinfo() turns "which address, which port" into a list of ready-made
 * socket addresses, IPv4 and IPv6 alike, so no code here depends on the
 * address family. By default the server takes the IPv6 "any" address with
 * IPV6_V6ONLY off: one socket, dual stack, that IPv4 clients reach too (they
 * show up as ::ffff:a.b.c.d).
 *
 *   cc -o tcpserver2 tcpserver2.c
 *   ./tcpserver2                 IPv4 and IPv6 clients, port 12333
 *   ./tcpserver2 -4              IPv4 only      ./tcpserver2 -6   IPv6 only
 *   ./tcpserver2 -a ::1          one address    ./tcpserver2 -p http  a service name
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

#define DEFAULT_PORT "12333"
#define DEFAULT_BACKLOG 5

static const char *prog = "tcpserver2";
static int quiet;     /* -q: no line per message (for benchmarks) */
static int step_mode; /* -S: pause before each socket call */

_Noreturn static void usage_error(const char *fmt, ...);
_Noreturn static void fail(const char *what);
static void usage(FILE *out);
static void say(const char *fmt, ...);
static const char *fmt(const char *f, ...);
static void step(const char *call, const char *now, const char *after);
static void check_port(const char *s);
static int parse_count(const char *s, const char *what, int min, int max);
static int is_wildcard(const struct sockaddr *sa);
static int send_all(int fd, const unsigned char *p, size_t n);
static const char *family_name(int family);
static const char *addr_text(const struct sockaddr *sa);
static const char *payload_text(const unsigned char *p, size_t n);

int main(int argc, char **argv)
{
    const char *address = NULL, *port = DEFAULT_PORT;
    int family = AF_UNSPEC; /* -4: AF_INET, -6: AF_INET6 */
    int backlog = DEFAULT_BACKLOG, reuse = 0, opt;

    opterr = 0;
    while ((opt = getopt(argc, argv, ":p:a:l:46rqSh")) != -1) {
        switch (opt) {
        case 'p': check_port(port = optarg); break;
        case 'a': address = optarg; break;
        case 'l': backlog = parse_count(optarg, "backlog", 0, 65535); break;
        case '4': family = AF_INET; break;
        case '6': family = AF_INET6; break;
        case 'r': reuse = 1; break;
        case 'q': quiet = 1; break;
        case 'S': step_mode = 1; break;
        case 'h': usage(stdout); return 0;
        case ':': usage_error("option -%c needs an argument", optopt);
        default: usage_error("unknown option -%c", optopt);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);

    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a reset client must not kill us in send() */
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());

    /* getaddrinfo(): AI_PASSIVE asks for addresses to bind() a server to;
     * with no host that means "any address" of each family it can offer. */
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    step(fmt("getaddrinfo(%s, \"%s\", AI_PASSIVE, %s)", address ? address : "NULL", port,
             family == AF_UNSPEC ? "AF_UNSPEC" : family_name(family)),
         "no socket yet", "a list of candidate addresses; still no socket");
    int rc = getaddrinfo(address, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot resolve '%s' port '%s': %s\n", prog,
                address ? address : "(any)", port, gai_strerror(rc));
        return 1;
    }

    /* Every candidate, in the resolver's order; then the order we try
     * them in. glibc lists 0.0.0.0 before ::, but the IPv6 "any" socket
     * can serve both families, so by default it goes first. */
    struct addrinfo *order[64];
    int n = 0, first_v6 = -1;
    for (struct addrinfo *ai = res; ai != NULL && n < 64; ai = ai->ai_next, n++) {
        order[n] = ai;
        char host[INET6_ADDRSTRLEN], serv[16];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, serv, sizeof serv,
                        NI_NUMERICHOST | NI_NUMERICSERV) != 0)
            snprintf(host, sizeof host, "?"), snprintf(serv, sizeof serv, "?");
        say("getaddrinfo candidate %d: %s address %s port %s", n + 1,
            family_name(ai->ai_family), host, serv);
        if (first_v6 < 0 && ai->ai_family == AF_INET6 && is_wildcard(ai->ai_addr))
            first_v6 = n;
    }
    if (family == AF_UNSPEC && first_v6 > 0) {
        struct addrinfo *v6 = order[first_v6];
        for (int k = first_v6; k > 0; k--)
            order[k] = order[k - 1];
        order[0] = v6;
    }
    if (family == AF_UNSPEC && first_v6 >= 0)
        say("trying %s first: with IPV6_V6ONLY off, one IPv6 socket also takes IPv4 "
            "clients (dual stack)",
            addr_text(order[0]->ai_addr));
    else
        say("trying the candidates in getaddrinfo's order: the first that binds is used");

    int lfd = -1, err = 0;
    const struct addrinfo *chosen = NULL;
    for (int i = 0; i < n && lfd < 0; i++) {
        const struct addrinfo *ai = order[i];
        const char *here = addr_text(ai->ai_addr);

        /* socket(): the family comes from the candidate, not from the code. */
        step(fmt("socket(%s, SOCK_STREAM, 0)", family_name(ai->ai_family)), "no socket",
             "a new fd with no address (netstat and ss do not list it)");
        int s = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (s < 0) {
            err = errno;
            say("socket(%s): %s: %s", family_name(ai->ai_family), strerror(err),
                ai->ai_family == AF_INET6 ? "no IPv6 on this host, trying the next candidate"
                                          : "trying the next candidate");
            continue;
        }
        say("socket(%s, SOCK_STREAM, 0) = fd %d", family_name(ai->ai_family), s);

        /* IPV6_V6ONLY: 0 lets this IPv6 socket take IPv4 connections too
         * (dual stack); 1 (-6) keeps it IPv6 only. Set it explicitly: the
         * system default (Linux: net.ipv6.bindv6only) varies. */
        if (ai->ai_family == AF_INET6) {
            int v6only = family == AF_INET6;
            step(fmt("setsockopt(fd %d, IPV6_V6ONLY, %d)", s, v6only), fmt("fd %d has no address", s),
                 v6only ? "this socket will take IPv6 clients only"
                        : "this socket will also take IPv4 clients, as ::ffff:a.b.c.d");
            if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0)
                fail("setsockopt(IPV6_V6ONLY)");
            say("setsockopt(fd %d, IPV6_V6ONLY, %d) ok", s, v6only);
        }
        if (reuse) {
            int one = 1;
            step(fmt("setsockopt(fd %d, SO_REUSEADDR, 1)", s), fmt("fd %d has no address", s),
                 "no visible change: bind() may now reuse a port old connections still hold");
            if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                fail("setsockopt(SO_REUSEADDR)");
            say("setsockopt(fd %d, SO_REUSEADDR, 1) ok", s);
        }

        step(fmt("bind(fd %d, %s)", s, here), fmt("fd %d has no address", s),
             fmt("fd %d owns %s but is not LISTEN yet", s, here));
        if (bind(s, ai->ai_addr, ai->ai_addrlen) < 0) {
            err = errno;
            say("bind(fd %d, %s): %s%s", s, here, strerror(err),
                err == EADDRINUSE      ? " (a server runs on this port, or connections of an "
                                         "earlier one linger: see ss -tan)"
                : err == EADDRNOTAVAIL ? " (not an address of this machine)"
                                       : "");
            close(s);
            continue;
        }
        say("bind(fd %d, %s) ok", s, here);

        step(fmt("listen(fd %d, %d)", s, backlog), fmt("fd %d bound, not listening", s),
             fmt("fd %d is LISTEN on %s", s, here));
        if (listen(s, backlog) < 0) {
            err = errno;
            say("listen(fd %d): %s", s, strerror(err));
            close(s);
            continue;
        }
        lfd = s;
        chosen = ai;
    }
    if (lfd < 0) {
        fprintf(stderr, "%s: no candidate address could be used: %s%s\n", prog, strerror(err),
                err == EADDRINUSE ? " (a server runs on this port, or connections of an earlier one "
                                  "linger: see ss -tan; -r restarts at once only if the "
                                  "earlier server used -r too, else wait for its TIME_WAIT, "
                                  "60 s)"
                                : "");
        freeaddrinfo(res);
        return 1;
    }
    char here[80];
    snprintf(here, sizeof here, "%s", addr_text(chosen->ai_addr));
    if (chosen->ai_family == AF_INET6 && family != AF_INET6 && is_wildcard(chosen->ai_addr))
        say("listen(fd %d, %d) ok: fd %d is LISTEN on %s, dual stack: IPv4 and IPv6 clients",
            lfd, backlog, lfd, here);
    else if (chosen->ai_family == AF_INET6)
        say("listen(fd %d, %d) ok: fd %d is LISTEN on %s, IPv6 only", lfd, backlog, lfd, here);
    else
        say("listen(fd %d, %d) ok: fd %d is LISTEN on %s, IPv4 only%s", lfd, backlog, lfd, here,
            family == AF_UNSPEC && address == NULL ? " (no IPv6 here: fell back to IPv4)" : "");
    freeaddrinfo(res);

    /* From here on, the same one-client-at-a-time loop as tcpserver1.c. */
    static unsigned char buf[65536];
    for (;;) {
        if (!quiet)
            say("waiting in accept(fd %d) for a client", lfd);
        step(fmt("accept(fd %d)", lfd), fmt("fd %d LISTEN on %s", lfd, here),
             "a new fd for the oldest waiting connection (or sleep until one comes)");
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof peer;
        int cfd = accept(lfd, (struct sockaddr *)&peer, &peerlen);
        if (cfd < 0) {
            if (errno != EINTR)
                fprintf(stderr, "%s: accept(fd %d): %s (going on)\n", prog, lfd, strerror(errno));
            continue;
        }
        char them[80];
        snprintf(them, sizeof them, "%s", addr_text((struct sockaddr *)&peer));
        if (!quiet) {
            const struct sockaddr_in6 *p6 = (const struct sockaddr_in6 *)(const void *)&peer;
            say("accept(fd %d) = fd %d: %s client %s%s", lfd, cfd, family_name(peer.ss_family),
                them,
                peer.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&p6->sin6_addr)
                    ? " (an IPv4 client on our IPv6 socket: the kernel shows its address "
                      "mapped into IPv6, ::ffff:a.b.c.d)"
                    : "");
        }

        step(fmt("recv(fd %d)", cfd),
             fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", cfd, them),
             "our buffer gets the waiting bytes (or we sleep until some arrive)");
        ssize_t got;
        do
            got = recv(cfd, buf, sizeof buf, 0);
        while (got < 0 && errno == EINTR);
        if (got < 0)
            say("recv(fd %d): %s: the client reset the connection", cfd, strerror(errno));
        else if (got == 0)
            say("recv(fd %d) = 0: %s closed the connection without sending", cfd, them);
        else {
            if (!quiet)
                say("recv(fd %d) = %ld bytes from %s: %s", cfd, (long)got, them,
                    payload_text(buf, (size_t)got));
            step(fmt("send(fd %d, %ld bytes)", cfd, (long)got),
                 fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", cfd,
                     them),
                 "the bytes are queued; the client's kernel ACKs them");
            if (send_all(cfd, buf, (size_t)got) < 0)
                say("send(fd %d): %s: the client is gone", cfd, strerror(errno));
            else if (!quiet)
                say("send(fd %d) = %ld bytes: echoed", cfd, (long)got);
        }

        step(fmt("close(fd %d)", cfd),
             fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed)", cfd, them),
             "our FIN goes out: if the client is still there, our end goes to FIN_WAIT_2 "
             "(no fd any more) and the client's to CLOSE_WAIT");
        close(cfd);
        if (!quiet)
            say("close(fd %d): done with %s", cfd, them);
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-4 | -6] [-p PORT] [-a ADDRESS] [-l BACKLOG] [-r] [-q] [-S] [-h]\n"
            "Iterative TCP server like tcpserver1, but its address comes from\n"
            "getaddrinfo(): by default one IPv6 socket that also takes IPv4 clients.\n"
            "  -4          IPv4 only\n"
            "  -6          IPv6 only (IPV6_V6ONLY on: IPv4 clients are refused)\n"
            "  -p PORT     port number or service name (default %s)\n"
            "  -a ADDRESS  listen on this address or host name only, IPv4 or IPv6\n"
            "              (default: all interfaces)\n"
            "  -l BACKLOG  listen() backlog (default %d)\n"
            "  -r          set SO_REUSEADDR before bind()\n"
            "  -q          quiet: no line per client\n"
            "  -S          step mode: before each socket call, say what it will\n"
            "              change in lsof/netstat/ss, and wait for Enter\n"
            "  -h          this help\n",
            prog, DEFAULT_PORT, DEFAULT_BACKLOG);
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

_Noreturn static void fail(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
    exit(1);
}

static void say(const char *f, ...)
{
    va_list ap;
    printf("%s: ", prog);
    va_start(ap, f);
    vprintf(f, ap);
    va_end(ap);
    putchar('\n');
}

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

/* -p: a number from 1 to 65535, or a service name from /etc/services. */
static void check_port(const char *s)
{
    int digits = *s != '\0';
    long v = 0;
    for (const char *p = s; *p && digits; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > 65535)
            digits = 0;
    }
    if (digits && v > 0)
        return;
    if (digits || *s == '\0' || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        usage_error("bad port '%s': must be a number from 1 to 65535 or a service name", s);
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(NULL, s, &hints, &res) != 0)
        usage_error("bad port '%s': not a number from 1 to 65535, nor a TCP service in "
                    "/etc/services",
                    s);
    freeaddrinfo(res);
}

static int parse_count(const char *s, const char *what, int min, int max)
{
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > max)
            usage_error("bad %s '%s': must be a number from %d to %d", what, s, min, max);
    }
    if (*s == '\0' || v < min)
        usage_error("bad %s '%s': must be a number from %d to %d", what, s, min, max);
    return (int)v;
}

static int is_wildcard(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr ==
               htonl(INADDR_ANY);
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
    return sa->sa_family == AF_INET6 &&
           memcmp(&s6->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0;
}

static int send_all(int fd, const unsigned char *p, size_t n)
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

static const char *family_name(int family)
{
    return family == AF_INET ? "AF_INET" : family == AF_INET6 ? "AF_INET6" : "AF_?";
}

/* As lsof prints it: 127.0.0.1:12333, [::1]:12333, [::ffff:127.0.0.1]:43706,
 * and *:12333 for "any address" of either family. */
static const char *addr_text(const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
        if (s->sin_addr.s_addr == htonl(INADDR_ANY))
            return fmt("*:%u", ntohs(s->sin_port));
        inet_ntop(AF_INET, &s->sin_addr, host, sizeof host);
        return fmt("%s:%u", host, ntohs(s->sin_port));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)sa;
        if (is_wildcard(sa))
            return fmt("*:%u", ntohs(s->sin6_port));
        inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host);
        return fmt("[%s]:%u", host, ntohs(s->sin6_port));
    }
    return fmt("(address family %d)", sa->sa_family);
}

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
