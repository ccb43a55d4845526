/*
 * lab.h - the instrument, not the lesson. The kit's seven programs keep
 * their lesson in their own file (main(), its phase handlers, every socket
 * call); this header holds what they share that is not the lesson. It is
 * header-only (static inline functions, its state in one struct, `lab`), so
 * each program builds alone next to it: cc -o tcpserver1 tcpserver1.c
 *
 * Contents
 *   1. State: struct lab, lab_start()
 *   2. Errors: fmt(), err_text(), fail(), explain(), usage_error(), fail_resolve()
 *   3. The log and step mode: check_stdout(), say(), step(), step_byte_order()
 *   4. Addresses and payloads as text: addr_text(), end_text(), family_name(), payload_text()
 *   5. Options and numbers: next_option(), all_digits(), port_value(), parse_port(),
 *      parse_count(), parse_seconds(), resolve_ipv4(), check_host_port(), split_bind_spec()
 *   6. Time and waiting: ms_left(), wait_for(), unread_bytes(), RST_ON_CLOSE
 *   7. Standard input, a line at a time: next_line(), wait_for_enter(), keep(), prompt_line()
 *   8. "Address already in use": bind_advice()
 *
 * Under LAB_BARE (make bare defines it) there is no -S and no -q: the bare
 * programs are the lessons without the narration.
 */
#ifndef LAB_H
#define LAB_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>
#include <errno.h>
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
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* The size of a caller's buffer for addr_text(): "[::1]:12333" and the like. */
#define ADDR_TEXT_SIZE (INET6_ADDRSTRLEN + 16)

/* ---- 1. State ---- */

enum lab_kind { LAB_SERVER = 1, LAB_CLIENT = 2 };

static struct lab {
    const char *prog;          /* the program's name, first on every line */
    enum lab_kind kind;        /* a server logs on; a client exits when stdout fails */
    void (*usage)(FILE *out);  /* the program's usage text, for -h and --help */
    int step;                  /* -S: pause before each socket call */
    int quiet;                 /* -q: no line per message (servers) */
    int log_lost;              /* a server's stdout failed: log no more */
    char what[256];            /* explain(): the failing call, as fail() names it */
    char advice[512];          /* explain(): the likely cause, after the error */
} lab;

/* First in main(): the name, the usage, server or client. The log is line
 * buffered; a peer gone while we send is an error (EPIPE), not SIGPIPE. */
static inline void lab_start(const char *prog, enum lab_kind kind, void (*usage)(FILE *))
{
    lab.prog = prog;
    lab.kind = kind;
    lab.usage = usage;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
}

/* ---- 2. Errors ---- */

/* printf into one of 8 static buffers, in turn: for the arguments of one
 * say() or step() call, never to keep (the 9th call overwrites it). */
static inline const char *fmt(const char *f, ...)
{
    static char bufs[8][1024];
    static unsigned next;
    char *b = bufs[next++ % 8];
    int e = errno;
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, sizeof bufs[0], f, ap);
    va_end(ap);
    errno = e;
    return b;
}

/* N4: an error's meaning and its errno name, "Connection refused
 * (ECONNREFUSED)": the name the man pages list, the same everywhere (the
 * words differ between C libraries). Every errno in the ERRORS sections of
 * the calls the programs make (socket, bind, listen, accept, connect, send,
 * recv, sendto, recvfrom, close, shutdown, select, poll, fork, waitpid,
 * setsockopt, getsockopt, getsockname, getpeername, fcntl, read, write,
 * clock_gettime). In a buffer of fmt(). */
static inline const char *err_text(int e)
{
    static const struct { int e; const char *name; } names[] = {
#define LAB_E(x) {x, #x}
        LAB_E(EACCES), LAB_E(EADDRINUSE), LAB_E(EADDRNOTAVAIL), LAB_E(EAFNOSUPPORT), LAB_E(EAGAIN),
        LAB_E(EALREADY), LAB_E(EBADF), LAB_E(ECHILD), LAB_E(ECONNABORTED), LAB_E(ECONNREFUSED),
        LAB_E(ECONNRESET), LAB_E(EDEADLK), LAB_E(EDESTADDRREQ), LAB_E(EDQUOT), LAB_E(EFAULT),
        LAB_E(EFBIG), LAB_E(EHOSTUNREACH), LAB_E(EINPROGRESS), LAB_E(EINTR), LAB_E(EINVAL),
        LAB_E(EIO), LAB_E(EISCONN), LAB_E(EISDIR), LAB_E(ELOOP), LAB_E(EMFILE), LAB_E(EMSGSIZE),
        LAB_E(ENAMETOOLONG), LAB_E(ENETDOWN), LAB_E(ENETUNREACH), LAB_E(ENFILE), LAB_E(ENOBUFS),
        LAB_E(ENOENT), LAB_E(ENOLCK), LAB_E(ENOMEM), LAB_E(ENOPROTOOPT), LAB_E(ENOSPC),
        LAB_E(ENOSYS), LAB_E(ENOTCONN), LAB_E(ENOTDIR), LAB_E(ENOTSOCK), LAB_E(EOPNOTSUPP),
        LAB_E(EOVERFLOW), LAB_E(EPERM), LAB_E(EPIPE), LAB_E(EPROTO), LAB_E(EPROTONOSUPPORT),
        LAB_E(EPROTOTYPE), LAB_E(EROFS), LAB_E(ESPIPE), LAB_E(ETIMEDOUT), LAB_E(EXDEV),
#if EWOULDBLOCK != EAGAIN
        LAB_E(EWOULDBLOCK),
#endif
#if ENOTSUP != EOPNOTSUPP
        LAB_E(ENOTSUP),
#endif
#ifdef ESOCKTNOSUPPORT
        LAB_E(ESOCKTNOSUPPORT),
#endif
#ifdef EHOSTDOWN
        LAB_E(EHOSTDOWN),
#endif
#ifdef ENONET
        LAB_E(ENONET),
#endif
#ifdef ENOSR
        LAB_E(ENOSR),
#endif
#undef LAB_E
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].e == e)
            return fmt("%s (%s)", strerror(e), names[i].name);
    }
    return fmt("%s (errno %d)", strerror(e), e);
}

/* A failed call: one line on stderr, "prog: WHAT: error (ENAME)", exit 1.
 * A *_failed() narration before it may have named the call in more detail
 * and left the likely cause (explain()): then that is the line. */
_Noreturn static inline void fail(const char *what)
{
    int e = errno;
    fprintf(stderr, "%s: %s: %s%s\n", lab.prog, lab.what[0] != '\0' ? lab.what : what,
            err_text(e), lab.advice);
    exit(1);
}

/* For a *_failed() narration: the call as fail() will name it, and the
 * likely cause, printed after the error. errno is kept for fail(). */
static inline void explain(const char *what, const char *f, ...)
{
    int e = errno;
    snprintf(lab.what, sizeof lab.what, "%s", what);
    lab.advice[0] = '\0';
    if (f != NULL) {
        va_list ap;
        va_start(ap, f);
        vsnprintf(lab.advice, sizeof lab.advice, f, ap);
        va_end(ap);
    }
    errno = e;
}

/* A usage error: one line on stderr, exit 2. */
_Noreturn static inline void usage_error(const char *f, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", lab.prog);
    va_start(ap, f);
    vfprintf(stderr, f, ap);
    va_end(ap);
    fprintf(stderr, " (try '%s -h')\n", lab.prog);
    exit(2);
}

/* A failed getaddrinfo() (its error is rc, not errno), as fail() does:
 * "prog: cannot resolve 'HOST': Name or service not known" (HOST NULL,
 * AI_PASSIVE's any address, as '*'), or as explain() named the call. */
_Noreturn static inline void fail_resolve(const char *host, int rc)
{
    if (lab.what[0] == '\0')
        snprintf(lab.what, sizeof lab.what, "cannot resolve '%s'", host != NULL ? host : "*");
    fprintf(stderr, "%s: %s: %s%s\n", lab.prog, lab.what, gai_strerror(rc), lab.advice);
    exit(1);
}

/* ---- 3. The log and step mode ---- */

/* After a line (or a prompt) on stdout, errno 0 before it: when stdout
 * fails (its reader is gone: EPIPE; or a full disk), a server says so once
 * on stderr and logs no more, still serving; a client, whose output nobody
 * can see, exits 1. */
static inline void check_stdout(void)
{
    if (!ferror(stdout) && fflush(stdout) != EOF)
        return;
    fprintf(stderr, "%s: stdout: %s: %s\n", lab.prog, err_text(errno != 0 ? errno : EIO),
            lab.kind == LAB_CLIENT ? "cannot show the output"
                                   : "the log is lost from here on; still serving");
    if (lab.kind == LAB_CLIENT)
        exit(1);
    lab.log_lost = 1;
}

/* One line of the log on stdout (check_stdout(): if it fails); errno kept. */
static inline void say(const char *f, ...)
{
    int e = errno;
    va_list ap;
    if (lab.log_lost)
        return;
    errno = 0;
    printf("%s: ", lab.prog);
    va_start(ap, f);
    vprintf(f, ap);
    va_end(ap);
    putchar('\n');
    check_stdout();
    errno = e;
}

static inline int wait_for_enter(void);

/* Step mode (-S): say which call comes next, what lsof/netstat/ss show now
 * and what they will show after it, then wait for Enter. Nothing without
 * -S. At the end of standard input, run on without pauses. */
static inline void step(const char *call, const char *now, const char *after)
{
    int e = errno;
    if (!lab.step)
        return;
    say("step: next: %s", call);
    say("step:   now:   %s", now);
    say("step:   after: %s", after);
    say("step: press Enter to run it");
    if (!wait_for_enter()) {
        say("step: standard input is closed: running on without pauses");
        lab.step = 0;
    }
    errno = e;
}

/* Step mode, before bind/connect/sendto: the port in both byte orders (N3).
 * htons() put it into the sockaddr in network order (big end first), which
 * is how it travels in the TCP/UDP header; an int of the same value lies
 * in this machine's memory in its own order. */
static inline void step_byte_order(const struct sockaddr *sa)
{
    size_t at = sa->sa_family == AF_INET6 ? offsetof(struct sockaddr_in6, sin6_port)
                                          : offsetof(struct sockaddr_in, sin_port);
    unsigned char net[2], host[sizeof(int)];
    const int one = 1;
    if (!lab.step)
        return;
    memcpy(net, (const unsigned char *)sa + at, sizeof net);
    int port = net[0] << 8 | net[1]; /* what ntohs() does: big end first */
    memcpy(host, &port, sizeof host);
    say("step: byte order: port %d = 0x%04x: the sockaddr holds %02x %02x (htons: network "
        "order, big end first, as on the wire); an int %d in this machine's memory: "
        "%02x %02x %02x %02x (%s)", port, port, net[0], net[1], port, host[0], host[1],
        host[2], host[3], *(const unsigned char *)&one ? "little endian" : "big endian");
}

/* ---- 4. Text of addresses and payloads ---- */

/* An address as lsof and ss write it: "127.0.0.1:12333", "[::1]:12333";
 * IPv4's any address as "*:12333" (lsof), IPv6's as "[::]:12333" (ss), so
 * the two listeners of a dual-stack server read apart. In buf, returned. */
static inline char *addr_text(const void *addr, char *buf, size_t size)
{
    const struct sockaddr *sa = addr;
    char host[INET6_ADDRSTRLEN];
    snprintf(buf, size, "?");
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = addr;
        if (s->sin_addr.s_addr == htonl(INADDR_ANY))
            snprintf(buf, size, "*:%u", ntohs(s->sin_port));
        else if (inet_ntop(AF_INET, &s->sin_addr, host, sizeof host) != NULL)
            snprintf(buf, size, "%s:%u", host, ntohs(s->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = addr;
        uint16_t port; /* copied: s->sin6_port trips gcc's -Warray-bounds for IPv4 callers */
        memcpy(&port, (const char *)addr + offsetof(struct sockaddr_in6, sin6_port), sizeof port);
        if (inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host) != NULL)
            snprintf(buf, size, "[%s]:%u", host, ntohs(port));
    } else {
        snprintf(buf, size, "(address family %d)", sa->sa_family);
    }
    return buf;
}

/* The address of one end of fd, in buf: ours (getsockname) or the peer's
 * (getpeername). */
enum lab_end { OUR_END, PEER_END };
static inline char *end_text(int fd, enum lab_end which, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int e = errno;
    int rc = which == PEER_END ? getpeername(fd, (struct sockaddr *)&ss, &len)
                               : getsockname(fd, (struct sockaddr *)&ss, &len);
    if (rc == 0)
        addr_text(&ss, buf, size);
    else
        snprintf(buf, size, "%s (%s: %s)", which == PEER_END ? "no peer" : "unknown",
                 which == PEER_END ? "getpeername" : "getsockname", err_text(errno));
    errno = e;
    return buf;
}

static inline const char *family_name(int family)
{
    return family == AF_INET ? "AF_INET" : family == AF_INET6 ? "AF_INET6" : "AF_UNSPEC";
}

/* Bytes from the network, quoted and escaped (never raw: an escape
 * sequence could rewrite the terminal), at most 60 of them. One of 2
 * static buffers, in turn. */
static inline const char *payload_text(const void *data, size_t n)
{
    static char bufs[2][512];
    static unsigned next;
    const unsigned char *p = data;
    char *out = bufs[next++ % 2];
    static const char special[] = "\n\r\t\"\\", escaped[] = "nrt\"\\"; /* as C writes them */
    size_t o = 0, shown = n < 60 ? n : 60;
    out[o++] = '"';
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = p[i];
        const char *at = c != '\0' ? strchr(special, c) : NULL;
        if (at != NULL)
            o += (size_t)sprintf(out + o, "\\%c", escaped[at - special]);
        else if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)sprintf(out + o, "\\x%02x", c);
    }
    snprintf(out + o, sizeof bufs[0] - o, "\"%s",
             shown < n ? fmt("... (%lu more bytes)", (unsigned long)(n - shown)) : "");
    return out;
}

/* ---- 5. Options and numbers ---- */

/* getopt(), with the kit's rules around it, for every program alike:
 * -h and --help print the usage and exit 0; any other --word is a usage
 * error (getopt would say "unknown option --"); the word after an option
 * that takes an argument is that argument ("-m --help" sends "--help");
 * "--" ends the options. -S (and -q for a server) are the instrument's:
 * handled here, not by the program. Returns the next option letter, or -1. */
static inline int next_option(int argc, char **argv, const char *letters)
{
    static char optstring[64];
    if (optstring[0] == '\0') {
#ifdef LAB_BARE
        snprintf(optstring, sizeof optstring, ":%sh", letters);
#else
        snprintf(optstring, sizeof optstring, ":%s%sSh", letters,
                 lab.kind == LAB_SERVER ? "q" : "");
#endif
        for (int i = 1; i < argc; i++) {
            const char *a = argv[i];
            if (strcmp(a, "--") == 0)
                break;
            if (strcmp(a, "--help") == 0) {
                lab.usage(stdout);
                exit(0);
            }
            if (a[0] == '-' && a[1] == '-')
                usage_error("unknown option '%s': the options are single letters", a);
            for (size_t j = 1; a[0] == '-' && a[j] != '\0'; j++) {
                const char *o = strchr(optstring + 1, a[j]);
                if (o != NULL && o[1] == ':') { /* "-m", "-wm": the rest is its argument */
                    i += a[j + 1] == '\0';
                    break;
                }
            }
        }
        opterr = 0;
    }
    int c = getopt(argc, argv, optstring);
    switch (c) {
    case 'h': lab.usage(stdout); exit(0);
    case ':': usage_error("option -%c needs an argument", optopt);
    case '?': usage_error("unknown option -%c", optopt);
#ifndef LAB_BARE
    case 'S': lab.step = 1; return next_option(argc, argv, letters);
    case 'q': lab.quiet = 1; return next_option(argc, argv, letters);
#endif
    default: return c;
    }
}

static inline int all_digits(const char *s)
{
    return *s != '\0' && strspn(s, "0123456789") == strlen(s);
}

/* The port number S spells in decimal digits only (not " 80", "+80"), or 0. */
static inline long port_value(const char *s)
{
    long v = all_digits(s) ? strtol(s, NULL, 10) : 0; /* too many digits: LONG_MAX */
    return v <= 65535 ? v : 0;
}

static inline int parse_port(const char *s)
{
    if (port_value(s) == 0)
        usage_error("bad port '%s': must be a number from 1 to 65535", s);
    return (int)port_value(s);
}

/* A whole number from min to max, in decimal digits only. */
static inline int parse_count(const char *s, const char *what, int min, int max)
{
    long long v = all_digits(s) ? strtoll(s, NULL, 10) : -1; /* too many digits: LLONG_MAX */
    if (v < min || v > max)
        usage_error("bad %s '%s': must be a number from %d to %d", what, s, min, max);
    return (int)v;
}

/* Seconds ("2", "0.5", "007", "1.") as milliseconds, above 0 and at most
 * a day: digits, at most one '.', digits (past the third, not counted). */
static inline long parse_seconds(const char *s)
{
    const char *n = s + strspn(s, "0"), *digits = "0123456789";
    size_t whole = strspn(n, digits), dot = n[whole] == '.';
    size_t frac = dot ? strspn(n + whole + 1, digits) : 0;
    char milli[4] = "000";
    long ms = 0;
    if (n[whole + dot + frac] == '\0' && whole <= 5 && (n > s || whole + frac > 0)) {
        memcpy(milli, n + whole + dot, frac < 3 ? frac : 3);
        ms = strtol(n, NULL, 10) * 1000 + strtol(milli, NULL, 10);
    }
    if (ms <= 0 || ms > 86400L * 1000)
        usage_error("bad timeout '%s': must be a number of seconds above 0 (at most 86400)", s);
    return ms;
}

/* The text of -a ADDRESS (or -b's ADDRESS) is a host: never an option
 * ("-a --x", "-a -r"), never a number alone ("-a 12333": the resolver, as
 * inet_aton(), reads it as one 32-bit IPv4 address, 0.0.48.45). A usage
 * error each, the same in every program, before any socket exists. */
static inline void check_host_word(const char *host)
{
    if (host != NULL && host[0] == '-')
        usage_error("bad address '%s': an address or host name, not an option", host);
    if (host != NULL && all_digits(host))
        usage_error("bad address '%s': a number alone is not an address (it would be read as "
                    "one 32-bit IPv4 address): a name or a dotted address, e.g. 127.0.0.1%s",
                    host, lab.kind == LAB_SERVER ? fmt("; the port is -p %s", host) : "");
}

/* An IPv4 server's -a HOST: its IPv4 address (a name through the
 * resolver: /etc/hosts or DNS); exit 1 if none. IPv6 addresses only (::1,
 * or such a name): a usage error, found by asking again for IPv6, not from
 * the error, whose words and code differ between C libraries. */
static inline struct in_addr resolve_ipv4(const char *host)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    check_host_word(host);
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        hints.ai_family = AF_INET6;
        if (getaddrinfo(host, NULL, &hints, &res) == 0)
            usage_error("bad address '%s': IPv6 only, and %s is IPv4 only (AF_INET): give an "
                        "IPv4 address, e.g. 127.0.0.1%s", host, lab.prog,
                        strncmp(lab.prog, "udp", 3) != 0 ? "; tcpserver2 serves IPv6" : "");
        fail_resolve(host, rc);
    }
    struct in_addr a = ((const struct sockaddr_in *)(const void *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return a;
}

/* A client's HOST [PORT] in the wrong shape, a usage error each: the port
 * first ("12333 localhost"), a number alone (check_host_word() says why),
 * or both in one word ("localhost:12333", "[::1]:12333"; a bare IPv6
 * address such as ::1 has two colons or more and is a host). */
static inline void check_host_port(const char *host, const char *port)
{
    if (all_digits(host) && !all_digits(port))
        usage_error("'%s' is not a port: the host comes first: %s %s %s", port, lab.prog, port,
                    host);
    if (all_digits(host))
        usage_error("'%s' is not a host (a number alone would be read as one 32-bit IPv4 "
                    "address): the host comes first: %s localhost %s", host, lab.prog, host);
    const char *colon = strrchr(host, ':');
    if (colon == NULL || !all_digits(colon + 1))
        return;
    int len = (int)(colon - host), brackets = host[0] == '[' && len > 2 && colon[-1] == ']';
    if (brackets || (len > 0 && strchr(host, ':') == colon))
        usage_error("'%s' looks like HOST:PORT: give them as two words: %s %.*s %s", host,
                    lab.prog, len - 2 * brackets, host + brackets, colon + 1);
}

/* A client's -b [ADDRESS:]PORT: "22222", "127.0.0.1:22222", "[::1]:22222".
 * *host: the ADDRESS (NULL when none is given: any), *port: the PORT, both
 * in a static copy. A bad PORT, or an ADDRESS that looks like an option, is
 * a usage error. Returns the port number. */
static inline int split_bind_spec(const char *spec, const char **host, const char **port)
{
    static char copy[300];
    snprintf(copy, sizeof copy, "%s", spec);
    char *colon = strrchr(copy, ':');
    *host = colon != NULL ? copy : NULL;
    *port = colon != NULL ? colon + 1 : copy;
    if (colon != NULL)
        *colon = '\0';
    if (colon != NULL && copy[0] == '[' && colon > copy + 1 && colon[-1] == ']') {
        colon[-1] = '\0';
        *host = copy + 1;
    }
    check_host_word(*host);
    return parse_port(*port);
}

/* ---- 6. Time and waiting ---- */

/* Milliseconds on a clock that only goes forward. */
static inline long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* Milliseconds left of timeout_ms counted from start (now_ms()): -1 for no
 * limit (timeout_ms < 0), 0 once it has run out. */
static inline long ms_left(long start, long timeout_ms)
{
    long left = timeout_ms - (now_ms() - start);
    return timeout_ms < 0 ? -1 : left < 0 ? 0 : left;
}

/* poll() until fd is ready for events (POLLIN: something to read; POLLOUT:
 * room to send, or connect() has ended): 1, or 0 when timeout_ms (-1:
 * none) ran out. */
static inline int wait_for(int fd, short events, long timeout_ms)
{
    long start = now_ms();
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)ms_left(start, timeout_ms));
        if (r >= 0)
            return r > 0;
        if (errno != EINTR)
            fail("poll");
    }
}

/* N9: bytes that arrived on fd and were never read: 0 if none (or only the
 * peer's FIN), -1 on an error; a lower bound (64 KiB looked at). poll()
 * without waiting, then a peek: the bytes stay, so close() still finds them. */
static inline long unread_bytes(int fd)
{
    static char peek[65536];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 ? (long)recv(fd, peek, sizeof peek, MSG_PEEK) : 0;
}
/* N9: what close() does when unread_bytes() found some, as the servers say it. */
#define RST_ON_CLOSE "close() sends RST, not FIN (Linux and macOS); the client's next recv() " \
                     "or send() fails with ECONNRESET"

/* ---- 7. Standard input, a line at a time ---- */

/* Read with read() rather than stdio, so that poll() on fd 0 tells the
 * truth and a line meant for a later step pause is never swallowed early. */
static struct lab_input {
    char *buf;
    size_t len, cap, used;
    int eof;
} lab_in;

/* 1 if a whole line, or the end of input, is already buffered. */
static inline int input_ready(void)
{
    if (lab_in.used > 0) {
        memmove(lab_in.buf, lab_in.buf + lab_in.used, lab_in.len - lab_in.used);
        lab_in.len -= lab_in.used;
        lab_in.used = 0;
    }
    return lab_in.eof || (lab_in.len > 0 && memchr(lab_in.buf, '\n', lab_in.len) != NULL);
}

/* One read() from standard input into the buffer. */
static inline void input_fill(size_t max)
{
    if (lab_in.len > max) {
        fprintf(stderr, "%s: a line of standard input is longer than %lu bytes\n", lab.prog,
                (unsigned long)max);
        exit(1);
    }
    if (lab_in.cap - lab_in.len < 4096) {
        char *bigger = realloc(lab_in.buf, lab_in.cap = lab_in.cap * 2 + 8192);
        if (bigger == NULL)
            fail("realloc");
        lab_in.buf = bigger;
    }
    ssize_t r;
    do
        r = read(STDIN_FILENO, lab_in.buf + lab_in.len, lab_in.cap - lab_in.len);
    while (r < 0 && errno == EINTR);
    lab_in.eof = r <= 0; /* called only before the end: 0 until now */
    lab_in.len += r > 0 ? (size_t)r : 0;
}

/* The next line (with its '\n' if it has one) in *line, valid until the
 * next call; returns its length, or -1 at the end of input. */
static inline long next_line(char **line, size_t max)
{
    while (!input_ready())
        input_fill(max);
    char *nl = lab_in.len > 0 ? memchr(lab_in.buf, '\n', lab_in.len) : NULL;
    lab_in.used = nl != NULL ? (size_t)(nl - lab_in.buf) + 1 : lab_in.len;
    *line = lab_in.buf;
    return lab_in.used > 0 ? (long)lab_in.used : -1;
}

/* Step mode's pause: 1 after Enter, 0 at the end of standard input. */
static inline int wait_for_enter(void)
{
    char *line;
    return next_line(&line, 1 << 20) >= 0;
}

/* A copy of a message that outlives the next read of standard input (a
 * step pause reads the next line over it): one buffer, reused. With
 * `newline`, a '\n' is added after the n bytes. */
static inline char *keep(const char *p, size_t n, int newline)
{
    static char *buf;
    static size_t cap;
    if (buf == NULL || n + 1 > cap) {
        char *bigger = realloc(buf, cap = n + 1);
        if (bigger == NULL)
            fail("realloc");
        buf = bigger;
    }
    memcpy(buf, p, n);
    if (newline)
        buf[n] = '\n';
    return buf;
}

/* A client's next message from standard input: next_line(), after the
 * prompt "prog: PROMPT: " when a person types it (on a terminal). Exit 1,
 * as say() does, if the prompt cannot be shown. */
static inline long prompt_line(const char *prompt, char **line, size_t max)
{
    if (isatty(STDIN_FILENO)) {
        errno = 0;
        printf("%s: %s: ", lab.prog, prompt);
        check_stdout();
    }
    return next_line(line, max);
}

/* ---- 8. "Address already in use" ---- */

/* The likely cause of a TCP server's failed bind() (errno e, address sa),
 * as " (...)" after the error, or "" when there is nothing to add.
 * EADDRINUSE has two causes: a server listens on the port, or connections
 * of an earlier server remain (TIME_WAIT, FIN_WAIT_2). Only the other
 * server could tell them apart (a connect() would be a client in its log),
 * so one silent probe instead, no packet: a throwaway socket of the same
 * family with SO_REUSEADDR, what -r sets, bound to the same address. The
 * kernel refuses it while a socket listens there (and on Linux while the
 * connections left come from a server that ran without -r). */
static inline const char *bind_advice(int e, const struct sockaddr *sa)
{
    if (e != EADDRINUSE)
        return e == EADDRNOTAVAIL ? " (that address is not one of this machine's)"
               : e == EACCES      ? " (ports below 1024 need root)"
                                  : "";
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    char port[16] = "?"; /* NI_NUMERICSERV: the number, never a service name */
    getnameinfo(sa, len, NULL, 0, port, sizeof port, NI_NUMERICSERV);
    int one = 1, probe = socket(sa->sa_family, SOCK_STREAM, 0);
    int free_now = probe >= 0 && setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0
                   && bind(probe, sa, len) == 0;
    struct utsname os; /* the command that shows the port's sockets: Linux's, or macOS's */
    int mac = uname(&os) == 0 && strcmp(os.sysname, "Darwin") == 0;
    if (probe >= 0)
        close(probe); /* never listened, never connected: it leaves nothing behind */
    errno = e;
    if (free_now)
        return " (only connections of an earlier server remain: -r starts now)";
    return fmt(" (a server listens on port %s, or connections of an earlier server that ran "
               "without -r remain: %s tells them apart)", port,
               mac ? fmt("netstat -an -p tcp | grep '\\.%s '", port)
                   : fmt("ss -tan 'sport = :%s'", port));
}

#endif /* LAB_H */
