/*
 * lab.h - the instrument, not the lesson.
 *
 * The seven programs of the sockets lab kit (udpclient.c, udpserver.c,
 * tcpclient.c, tcpserver1.c, tcpserver2.c, tcpserver3.c, multi.c) keep
 * their lesson in their own file: main(), its phase handlers, every socket
 * call. This header holds what they share and what is not the lesson: the
 * error messages, the log and step mode, address and payload text, option
 * and number parsing, a few time and poll helpers, and the line reader for
 * standard input. Header-only (static inline functions, its state in one
 * struct, `lab`), so each program still builds alone, next to this file:
 *
 *   cc -o tcpserver1 tcpserver1.c
 *
 * Contents
 *   1. State: struct lab, lab_start()
 *   2. Errors: err_text(), fail(), explain(), usage_error(), fail_resolve()
 *   3. The log and step mode: say(), fmt(), step(), step_byte_order()
 *   4. Text of addresses and payloads: addr_text(), end_text(),
 *      family_name(), payload_text()
 *   5. Options and numbers: next_option(), all_digits(), port_value(),
 *      parse_port(), parse_count(), parse_seconds(), resolve_ipv4(),
 *      check_host_port(), split_bind_spec()
 *   6. Time and waiting: ms_left(), wait_for(), unread_bytes()
 *   7. Standard input, a line at a time: next_line(), wait_for_enter(), keep(),
 *      prompt_line()
 *   8. "Address already in use": port_listens(), bind_advice()
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

/* Address text ("*:12333", "127.0.0.1:43706", "[::1]:12333") lives in the
 * caller's buffer of this size. */
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

/* Before anything else in main(): the name for messages, the usage text,
 * and whether it is a server or a client. The log is line buffered, and a
 * peer that goes away while we send gives an error (EPIPE), not SIGPIPE's
 * death. */
static inline void lab_start(const char *prog, enum lab_kind kind, void (*usage)(FILE *))
{
    lab.prog = prog;
    lab.kind = kind;
    lab.usage = usage;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
}

/* ---- 2. Errors ---- */

/* An error's meaning and its errno name: "Connection refused
 * (ECONNREFUSED)". The name is what the man pages list, the same on every
 * system; the words differ between C libraries. The names: every errno in
 * the ERRORS sections of the calls the programs make (socket, bind, listen,
 * accept, connect, send, recv, sendto, recvfrom, close, shutdown, select,
 * poll, fork, waitpid, setsockopt, getsockopt, getsockname, getpeername,
 * fcntl, read, write, clock_gettime). One of 4 static buffers, in turn. */
static inline const char *err_text(int e)
{
    static const struct { int e; const char *name; } names[] = {
#define LAB_E(x) {x, #x}
        LAB_E(EACCES), LAB_E(EADDRINUSE), LAB_E(EADDRNOTAVAIL), LAB_E(EAFNOSUPPORT),
        LAB_E(EAGAIN), LAB_E(EALREADY), LAB_E(EBADF), LAB_E(ECHILD), LAB_E(ECONNABORTED),
        LAB_E(ECONNREFUSED), LAB_E(ECONNRESET), LAB_E(EDEADLK), LAB_E(EDESTADDRREQ),
        LAB_E(EDQUOT), LAB_E(EFAULT), LAB_E(EFBIG), LAB_E(EHOSTUNREACH), LAB_E(EINPROGRESS),
        LAB_E(EINTR), LAB_E(EINVAL), LAB_E(EIO), LAB_E(EISCONN), LAB_E(EISDIR), LAB_E(ELOOP),
        LAB_E(EMFILE), LAB_E(EMSGSIZE), LAB_E(ENAMETOOLONG), LAB_E(ENETDOWN),
        LAB_E(ENETUNREACH), LAB_E(ENFILE), LAB_E(ENOBUFS), LAB_E(ENOENT), LAB_E(ENOLCK),
        LAB_E(ENOMEM), LAB_E(ENOPROTOOPT), LAB_E(ENOSPC), LAB_E(ENOSYS), LAB_E(ENOTCONN),
        LAB_E(ENOTDIR), LAB_E(ENOTSOCK), LAB_E(EOPNOTSUPP), LAB_E(EOVERFLOW), LAB_E(EPERM),
        LAB_E(EPIPE), LAB_E(EPROTO), LAB_E(EPROTONOSUPPORT), LAB_E(EPROTOTYPE),
        LAB_E(EROFS), LAB_E(ESPIPE), LAB_E(ETIMEDOUT), LAB_E(EXDEV),
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
    static char bufs[4][160];
    static unsigned next;
    char *b = bufs[next++ % 4];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].e == e) {
            snprintf(b, sizeof bufs[0], "%s (%s)", strerror(e), names[i].name);
            return b;
        }
    }
    snprintf(b, sizeof bufs[0], "%s (errno %d)", strerror(e), e);
    return b;
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

/* A failed getaddrinfo() (its error is rc, not errno): "prog: cannot
 * resolve 'HOST': Name or service not known", exit 1 (HOST NULL, the any
 * address of AI_PASSIVE, as '*'); or the call as a *_failed() narration
 * named it with explain(). */
_Noreturn static inline void fail_resolve(const char *host, int rc)
{
    if (lab.what[0] == '\0')
        snprintf(lab.what, sizeof lab.what, "cannot resolve '%s'", host != NULL ? host : "*");
    fprintf(stderr, "%s: %s: %s%s\n", lab.prog, lab.what, gai_strerror(rc), lab.advice);
    exit(1);
}

/* ---- 3. The log and step mode ---- */

/* One line of the log on stdout. When stdout fails (its reader is gone:
 * EPIPE; or a full disk): a server says so once on stderr and logs no
 * more, still serving; a client, whose output nobody can see, exits 1.
 * errno is kept. */
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
    if (ferror(stdout) || fflush(stdout) == EOF) {
        int why = errno != 0 ? errno : EIO;
        if (lab.kind == LAB_CLIENT) {
            fprintf(stderr, "%s: stdout: %s: cannot show the output\n", lab.prog, err_text(why));
            exit(1);
        }
        fprintf(stderr, "%s: stdout: %s: the log is lost from here on; still serving\n",
                lab.prog, err_text(why));
        lab.log_lost = 1;
    }
    errno = e;
}

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
    uint16_t nport;
    if (!lab.step)
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

/* The port number S spells, in decimal digits only; 0 if it is none. */
static inline long port_value(const char *s)
{
    long v = 0;
    if (!all_digits(s))
        return 0;
    for (const char *p = s; *p; p++) {
        if ((v = v * 10 + (*p - '0')) > 65535)
            return 0;
    }
    return v;
}

static inline int parse_port(const char *s)
{
    long v = port_value(s);
    if (v == 0)
        usage_error("bad port '%s': must be a number from 1 to 65535", s);
    return (int)v;
}

/* A whole number from min to max, in decimal digits only. */
static inline int parse_count(const char *s, const char *what, int min, int max)
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

/* Seconds ("2", "0.5") as milliseconds, above 0 and at most a day. */
static inline long parse_seconds(const char *s)
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

/* The text of -a ADDRESS (or -b's ADDRESS) is a host, never an option
 * ("-a --x", "-a -r": a usage error, the same in every program). */
static inline void check_host_word(const char *host)
{
    if (host != NULL && host[0] == '-')
        usage_error("bad address '%s': an address or host name, not an option", host);
}

/* HOST's IPv4 address (a name through the resolver: /etc/hosts or DNS).
 * Exit 1 when it has none. */
static inline struct in_addr resolve_ipv4(const char *host)
{
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    check_host_word(host);
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot resolve '%s': %s\n", lab.prog, host, gai_strerror(rc));
        exit(1);
    }
    struct in_addr a = ((const struct sockaddr_in *)(const void *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return a;
}

/* A client's HOST [PORT] in the wrong shape: the port first ("12333
 * localhost"), or both in one word ("localhost:12333", "[::1]:12333"; a
 * bare IPv6 address such as ::1 has two colons or more and is a host).
 * A usage error each. */
static inline void check_host_port(const char *host, const char *port)
{
    if (all_digits(host) && !all_digits(port))
        usage_error("'%s' is not a port: the host comes first: %s %s %s", port, lab.prog, port,
                    host);
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
    *host = NULL;
    *port = copy;
    if (colon != NULL) {
        *colon = '\0';
        *port = colon + 1;
        *host = copy;
        if (copy[0] == '[' && colon > copy + 1 && colon[-1] == ']') {
            colon[-1] = '\0';
            *host = copy + 1;
        }
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
    if (timeout_ms < 0)
        return -1;
    long left = timeout_ms - (now_ms() - start);
    return left < 0 ? 0 : left;
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
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
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
    if (r <= 0)
        lab_in.eof = 1;
    else
        lab_in.len += (size_t)r;
}

/* The next line (with its '\n' if it has one) in *line, valid until the
 * next call; returns its length, or -1 at the end of input. */
static inline long next_line(char **line, size_t max)
{
    while (!input_ready())
        input_fill(max);
    char *nl = lab_in.len > 0 ? memchr(lab_in.buf, '\n', lab_in.len) : NULL;
    lab_in.used = nl != NULL ? (size_t)(nl - lab_in.buf) + 1 : lab_in.len;
    if (lab_in.used == 0)
        return -1;
    *line = lab_in.buf;
    return (long)lab_in.used;
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

/* A client's next message from standard input: next_line(), after the
 * prompt "prog: PROMPT: " when a person types it (on a terminal). Exit 1,
 * as say() does, if the prompt cannot be shown. */
static inline long prompt_line(const char *prompt, char **line, size_t max)
{
    if (isatty(STDIN_FILENO)) {
        errno = 0;
        printf("%s: %s: ", lab.prog, prompt);
        if (fflush(stdout) == EOF || ferror(stdout)) {
            fprintf(stderr, "%s: stdout: %s: cannot show the output\n", lab.prog,
                    err_text(errno != 0 ? errno : EIO));
            exit(1);
        }
    }
    return next_line(line, max);
}

/* ---- 8. "Address already in use" ---- */

/* Does a TCP server listen on SA's port? connect() to it (to the loopback
 * address for "any address"), non-blocking, 500 ms at most: a listener
 * completes the handshake, or leaves us waiting when its queue is full; a
 * port without one answers RST (refused), even while old connections
 * linger on it. 1: a listener, 0: none, -1: cannot tell. */
static inline int port_listens(const struct sockaddr *sa)
{
    struct sockaddr_storage to;
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    memset(&to, 0, sizeof to);
    memcpy(&to, sa, len); /* no more than SA's family has (gcc -Warray-bounds) */
    if (to.ss_family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)(void *)&to;
        if (s->sin_addr.s_addr == htonl(INADDR_ANY))
            s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (to.ss_family == AF_INET6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)(void *)&to;
        if (memcmp(&s->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0)
            s->sin6_addr = in6addr_loopback;
    } else {
        return -1;
    }
    int e = errno, answer = -1;
    int s = socket(to.ss_family, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    if (fcntl(s, F_SETFL, O_NONBLOCK) == 0) {
        if (connect(s, (struct sockaddr *)&to, len) == 0)
            answer = 1;
        else if (errno == ECONNREFUSED)
            answer = 0;
        else if (errno == EINPROGRESS) {
            struct pollfd p = {.fd = s, .events = POLLOUT};
            int r = poll(&p, 1, 500), soerr = 0;
            socklen_t elen = sizeof soerr;
            if (r == 0)
                answer = 1; /* still connecting: a listener with a full queue */
            else if (r > 0 && getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &elen) == 0)
                answer = soerr == 0 ? 1 : soerr == ECONNREFUSED ? 0 : -1;
        }
    }
    close(s);
    errno = e;
    return answer;
}

/* The likely cause of a TCP server's failed bind() (errno e, address sa),
 * as " (...)" after the error, or "" when there is nothing to add.
 * EADDRINUSE has two causes, told apart by asking the port itself. */
static inline const char *bind_advice(int e, const struct sockaddr *sa)
{
    static char why[320];
    uint16_t nport; /* copied, as in addr_text() */
    memcpy(&nport, (const char *)sa + (sa->sa_family == AF_INET6 ? offsetof(struct sockaddr_in6,
           sin6_port) : offsetof(struct sockaddr_in, sin_port)), sizeof nport);
    unsigned port = ntohs(nport);
    int listens = e == EADDRINUSE ? port_listens(sa) : -1;
    why[0] = '\0';
    if (e == EADDRINUSE && listens == 1)
        snprintf(why, sizeof why,
                 " (a server is listening on port %u now: lsof -n -P -i TCP:%u -s TCP:LISTEN "
                 "shows which)", port, port);
    else if (e == EADDRINUSE && listens == 0)
        snprintf(why, sizeof why,
                 " (no server listens on port %u, but connections of an earlier server linger, "
                 "e.g. in TIME_WAIT for 60 s: -r restarts at once only if the earlier server "
                 "used -r too; else wait. ss -tan 'sport = :%u' shows them)", port, port);
    else if (e == EADDRINUSE)
        snprintf(why, sizeof why,
                 " (a server listens on port %u, or connections of an earlier one linger: "
                 "ss -tan 'sport = :%u' shows which)", port, port);
    else if (e == EADDRNOTAVAIL)
        snprintf(why, sizeof why, " (that address is not one of this machine's)");
    else if (e == EACCES)
        snprintf(why, sizeof why, " (ports below 1024 need root)");
    errno = e;
    return why;
}

#endif /* LAB_H */
