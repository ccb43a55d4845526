/*
 * udpclient.c - a UDP client (the C version of udpclient.py).
 *
 * The lecture order: socket() -> [bind()] -> sendto() -> recvfrom() -> close().
 * Watch for the moment the socket gets its port: not at socket(), but at the
 * first sendto() (or at bind() with -b). And note that sendto() succeeds
 * whether or not any server is listening: UDP just sends.
 *
 *   cc -o udpclient udpclient.c
 *   ./udpclient                       send lines from stdin to localhost:12122
 *   ./udpclient -m hello -w           one message, then wait for Enter to close
 *   ./udpclient -b 22222 -m hello     bind the client to port 22222 first
 *   ./udpclient -t 2 -m hello         give up after 2 s without a reply
 *
 * UDP messages are the text of a line without its newline: the datagram's
 * own boundaries mark where a message ends.
 */
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORT "12122"
#define MAX_DATAGRAM 65507 /* 65535 - 20 (IPv4 header) - 8 (UDP header) */
#define MAX_MESSAGES 100   /* -m options */

static const char *prog = "udpclient";
static int step_mode; /* -S: pause before each socket call */

_Noreturn static void usage_error(const char *fmt, ...);
_Noreturn static void fail(const char *what);
static void usage(FILE *out);
static void say(const char *fmt, ...);
static const char *fmt(const char *f, ...);
static void step(const char *call, const char *now, const char *after);
static void check_long_options(int argc, char **argv, const char *optstring);
static void check_host_port(int nargs, char **args);
static int literal_family(const char *host);
static int port_value(const char *s);
static int parse_port(const char *s);
static long parse_seconds(const char *s);
static void resolve(const char *host, const char *port, int family, int passive,
                    const char *why, struct sockaddr_storage *out, socklen_t *outlen);
static const char *family_name(int family);
static const char *addr_text(const struct sockaddr *sa, char *buf, size_t size);
static const char *local_text(int fd, char *buf, size_t size);
static const char *ss_no_peer(int fd);
static const char *ipv4_only_hint(const struct sockaddr_storage *server);
static void stdout_check(void);
static const char *payload_text(const unsigned char *p, size_t n);
static long next_line(char **line, size_t max);
static char *keep(const char *p, size_t n, int newline);
static int wait_for_enter(void);
static long ms_left(const struct timespec *start, long timeout_ms);
static int wait_readable(int fd, long timeout_ms);

int main(int argc, char **argv)
{
    const char *host = "localhost", *port = DEFAULT_PORT;
    const char *bind_spec = NULL; /* -b [ADDRESS:]PORT */
    long timeout_ms = -1;         /* -t: -1 waits for ever, like udpclient.py */
    int wait_at_end = 0;          /* -w: "enter to finish" */
    const char *messages[MAX_MESSAGES]; /* -m, in order */
    int nmessages = 0, opt;
    const char *optstring = ":b:t:wm:Sh";

    check_long_options(argc, argv, optstring);
    opterr = 0;
    while ((opt = getopt(argc, argv, optstring)) != -1) {
        switch (opt) {
        case 'b': bind_spec = optarg; break;
        case 't': timeout_ms = parse_seconds(optarg); break;
        case 'w': wait_at_end = 1; break;
        case 'm':
            if (nmessages == MAX_MESSAGES)
                usage_error("too many -m messages (at most %d)", MAX_MESSAGES);
            messages[nmessages++] = optarg;
            break;
        case 'S': step_mode = 1; break;
        case 'h': usage(stdout); return 0;
        case ':': usage_error("option -%c needs an argument", optopt);
        default: usage_error("unknown option -%c", optopt);
        }
    }
    check_host_port(argc - optind, argv + optind);
    if (optind < argc)
        host = argv[optind++];
    if (optind < argc)
        parse_port(port = argv[optind++]);
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);

    /* -b: "22222", "127.0.0.1:22222" or "[::1]:22222" */
    const char *bind_host = NULL, *bind_port = NULL;
    if (bind_spec != NULL) {
        static char copy[300];
        snprintf(copy, sizeof copy, "%s", bind_spec);
        char *colon = strrchr(copy, ':');
        bind_port = copy;
        if (colon != NULL) {
            *colon = '\0';
            bind_port = colon + 1;
            bind_host = copy;
            if (*copy == '[' && colon > copy + 1 && colon[-1] == ']') {
                colon[-1] = '\0';
                bind_host = copy + 1;
            }
        }
        parse_port(bind_port);
    }

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A reader that goes away (./udpclient | head -1) gives EPIPE on the
     * next write rather than killing us silently: stdout_check() says so. */
    signal(SIGPIPE, SIG_IGN);

    /* IPv4 unless an IPv6 address is given, like udpclient.py's AF_INET:
     * with UDP nothing would tell us that "localhost" as ::1 was the wrong
     * guess, the datagram would just be lost. One socket has one family,
     * so -b and the server must agree: an address decides, a name follows. */
    struct sockaddr_storage server, local;
    socklen_t serverlen, locallen = 0;
    int server_family = literal_family(host);
    int bind_family = bind_host != NULL ? literal_family(bind_host) : 0;
    if (server_family != 0 && bind_family != 0 && server_family != bind_family)
        usage_error("-b %s is %s but the server %s is %s: a socket has one family, so give "
                    "both as IPv4 or both as IPv6",
                    bind_spec, family_name(bind_family), host, family_name(server_family));
    int family = server_family ? server_family : bind_family ? bind_family : AF_INET;
    char why[400]; /* for a name resolved in the family of the other word */
    if (bind_host != NULL) {
        snprintf(why, sizeof why, "as %s, the family of the server %s", family_name(family),
                 host);
        resolve(bind_host, bind_port, family, 1, server_family ? why : NULL, &local, &locallen);
    } else if (bind_port != NULL) {
        resolve(NULL, bind_port, family, 1, NULL, &local, &locallen);
    }
    snprintf(why, sizeof why, "as %s, the family of -b %s", family_name(family),
             bind_spec != NULL ? bind_spec : "");
    resolve(host, port, family, 0, bind_family && !server_family ? why : NULL, &server,
            &serverlen);
    char there[INET6_ADDRSTRLEN + 8];
    addr_text((struct sockaddr *)&server, there, sizeof there);
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());
    say("server %s port %s is %s", host, port, there);

    /* socket(): a UDP endpoint in the kernel. It has no port yet: the kernel
     * assigns one when the socket first needs it (bind, or the first sendto). */
    step(fmt("socket(%s, SOCK_DGRAM, 0)", family == AF_INET ? "AF_INET" : "AF_INET6"),
         "no socket yet", "a new fd with no port: lsof shows it without one, "
                          "netstat and ss do not list it");
    int fd = socket(family, SOCK_DGRAM, 0);
    if (fd < 0)
        fail("socket");
    say("socket(%s, SOCK_DGRAM, 0) = fd %d", family == AF_INET ? "AF_INET" : "AF_INET6", fd);
    char mine[128]; /* our address, as lsof shows it (getsockname) */
    say("fd %d local address: %s", fd, local_text(fd, mine, sizeof mine));

    /* bind() (-b): choose our own port (and address) instead of letting the
     * kernel pick one at the first sendto. */
    int bound = 0;
    if (locallen > 0) {
        char me[INET6_ADDRSTRLEN + 8];
        addr_text((struct sockaddr *)&local, me, sizeof me);
        step(fmt("bind(fd %d, %s)", fd, me),
             fmt("fd %d has no port: netstat and ss do not list it", fd),
             fmt("fd %d owns %s before anything is sent: lsof 'UDP %s'", fd, me, me));
        if (bind(fd, (struct sockaddr *)&local, locallen) < 0) {
            int e = errno;
            fprintf(stderr, "%s: bind(fd %d, %s): %s%s\n", prog, fd, me, strerror(e),
                    e == EADDRINUSE      ? " (another socket already has this port)"
                    : e == EADDRNOTAVAIL ? " (that address is not one of this machine's)"
                    : e == EACCES        ? " (ports below 1024 need root)"
                                         : "");
            return 1;
        }
        bound = 1;
        say("bind(fd %d, %s) ok: fd %d is %s before sending anything", fd, me, fd,
            local_text(fd, mine, sizeof mine));
    }

    static unsigned char reply[MAX_DATAGRAM + 1];
    int sent_count = 0;
    for (int i = 0;; i++) {
        const char *msg;
        long len;
        if (nmessages > 0) {
            if (i >= nmessages)
                break;
            msg = messages[i];
            len = (long)strlen(msg);
        } else {
            if (isatty(STDIN_FILENO)) {
                errno = 0;
                printf("%s: message to send (Ctrl-D to finish): ", prog);
                stdout_check();
            }
            char *line;
            if ((len = next_line(&line, MAX_DATAGRAM + 1)) < 0)
                break;
            if (len > 0 && line[len - 1] == '\n')
                len--; /* the datagram is the message: no newline needed */
            msg = keep(line, (size_t)len, 0);
        }
        if (len > MAX_DATAGRAM) {
            fprintf(stderr, "%s: message %d is %ld bytes: more than fits in one datagram (%d)\n",
                    prog, i + 1, len, MAX_DATAGRAM);
            return 1;
        }

        /* sendto(): hand one datagram to the kernel, addressed to the server.
         * It succeeds even if no server exists: nobody is asked first. */
        if (step_mode)
            step(fmt("sendto(fd %d, %ld bytes, %s)", fd, len, there),
                 bound ? fmt("fd %d is %s", fd, local_text(fd, mine, sizeof mine))
                       : fmt("fd %d has no port yet: netstat and ss do not list it", fd),
                 bound ? fmt("the datagram leaves; the socket stays unconnected (ss shows the "
                             "peer as %s)",
                             ss_no_peer(fd))
                       : "the kernel binds the socket to a free port, then the datagram leaves");
        if (sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&server, serverlen) < 0)
            fail(fmt("sendto(fd %d, %s)", fd, there));
        sent_count++;
        say("sendto(fd %d, %ld bytes, %s) ok: %s", fd, len, there,
            payload_text((const unsigned char *)msg, (size_t)len));
        if (!bound) {
            bound = 1;
            say("fd %d is now bound to %s: the kernel picked that port during sendto()", fd,
                local_text(fd, mine, sizeof mine));
        }

        /* recvfrom(): sleep until a datagram arrives for our port. If the
         * server is not there, nothing ever comes: the kernel drops the ICMP
         * "port unreachable" for an unconnected socket, so we would wait for
         * ever. -t puts a limit on that wait. */
        if (step_mode)
            step(fmt("recvfrom(fd %d)", fd),
                 fmt("fd %d is %s", fd, local_text(fd, mine, sizeof mine)),
                 "returns the reply datagram, or sleeps until one arrives");
        if (timeout_ms < 0)
            say("waiting in recvfrom(fd %d) for the reply (no time limit: -t sets one)", fd);
        else
            say("waiting in recvfrom(fd %d) for the reply (at most %.3g s)", fd,
                (double)timeout_ms / 1000.0);
        if (!wait_readable(fd, timeout_ms)) {
            fprintf(stderr,
                    "%s: no reply from %s within %.3g s: the datagram left, but UDP never "
                    "tells us why nothing came back (no server on that address and port?%s)\n",
                    prog, there, (double)timeout_ms / 1000.0, ipv4_only_hint(&server));
            close(fd);
            return 1;
        }
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n;
        do
            n = recvfrom(fd, reply, sizeof reply, 0, (struct sockaddr *)&from, &fromlen);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            fail(fmt("recvfrom(fd %d)", fd));
        char sender[INET6_ADDRSTRLEN + 8];
        say("recvfrom(fd %d) = %ld bytes from %s: %s%s", fd, (long)n,
            addr_text((struct sockaddr *)&from, sender, sizeof sender),
            payload_text(reply, (size_t)n),
            n == len && memcmp(reply, msg, (size_t)n) == 0 ? " (same as sent)"
                                                          : " (not what we sent)");
    }
    if (sent_count == 0 && bound)
        say("no message to send: fd %d has the port bind() gave it all the same", fd);
    else if (sent_count == 0)
        say("no message to send: fd %d never got a port", fd);

    if (wait_at_end) {
        say("fd %d is %s, with no peer: UDP keeps no connection. Press Enter to close it", fd,
            local_text(fd, mine, sizeof mine));
        if (!wait_for_enter())
            say("standard input is closed: not waiting");
    }

    /* close(): the socket and its port go away at once: UDP has no
     * connection to shut down, so there is no TIME_WAIT. */
    local_text(fd, mine, sizeof mine);
    step(fmt("close(fd %d)", fd), fmt("fd %d is %s", fd, mine),
         "the fd and its port are gone from lsof, netstat and ss");
    close(fd);
    if (bound)
        say("close(fd %d): %s is free again", fd, mine);
    else
        say("close(fd %d): the socket is gone; it never had a port to free", fd);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-b [ADDRESS:]PORT] [-t SECONDS] [-w] [-m MESSAGE]... [-S] [-h]"
            " [HOST [PORT]]\n"
            "UDP client: sends each message as one datagram to HOST PORT (default\n"
            "localhost %s) and prints the reply. Messages are the lines of standard\n"
            "input (without the newline) unless -m is given.\n"
            "  -b [ADDRESS:]PORT  bind the socket to this port (and address) first\n"
            "  -t SECONDS         give up waiting for a reply after SECONDS (default:\n"
            "                     wait for ever, as udpclient.py does)\n"
            "  -w                 wait for Enter before closing the socket\n"
            "  -m MESSAGE         send MESSAGE instead of reading standard input\n"
            "                     (repeat -m for several messages)\n"
            "  -S                 step mode: before each socket call, say what it will\n"
            "                     change in lsof/netstat/ss, and wait for Enter\n"
            "  -h                 this help\n",
            prog, DEFAULT_PORT);
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

/* One line on stdout, prefixed with the program name. */
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

/* After a write to stdout (errno 0 before it): if it failed (the reader of
 * a pipe went away, a full disk), nobody can see what we do: stop, exit 1. */
static void stdout_check(void)
{
    if (fflush(stdout) == EOF || ferror(stdout)) {
        fprintf(stderr, "%s: stdout: %s: cannot show the output\n", prog,
                strerror(errno != 0 ? errno : EIO));
        exit(1);
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

static void step(const char *call, const char *now, const char *after)
{
    if (!step_mode)
        return;
    say("step: next: %s", call);
    say("step:   now:   %s", now);
    say("step:   after: %s", after);
    say("step: press Enter to run it");
    if (!wait_for_enter()) {
        say("step: standard input is closed: running on without pauses");
        step_mode = 0;
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

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    while (*s >= '0' && *s <= '9')
        s++;
    return *s == '\0';
}

/* Before getopt(): --help is -h, anywhere among the options; any other
 * --word is a usage error (getopt would call it "unknown option -"). The
 * word after an option that takes one (-m --x) is that option's. */
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
                    i++; /* -m MESSAGE: the next word is the message */
                break;   /* -mMESSAGE: the rest of the word is */
            }
        }
    }
}

/* HOST [PORT] in the wrong shape: the port first (12122 localhost), or
 * both in one word (localhost:12122, 127.0.0.1:12122, [::1]:12122; a bare
 * IPv6 address such as ::1 or fe80::1 has two colons or more, and is not
 * this). One line each, exit 2. */
static void check_host_port(int nargs, char **args)
{
    if (nargs >= 2 && all_digits(args[0]) && !all_digits(args[1]))
        usage_error("'%s' is not a port: the host comes first: %s %s %s", args[1], prog, args[1],
                    args[0]);
    if (nargs < 1)
        return;
    const char *w = args[0], *colon = strrchr(w, ':');
    if (colon == NULL || !all_digits(colon + 1))
        return;
    int host_len = (int)(colon - w);
    if (w[0] == '[' && host_len > 2 && colon[-1] == ']')
        usage_error("'%s' looks like HOST:PORT: give them as two words: %s %.*s %s", w, prog,
                    host_len - 2, w + 1, colon + 1);
    if (host_len > 0 && strchr(w, ':') == colon)
        usage_error("'%s' looks like HOST:PORT: give them as two words: %s %.*s %s", w, prog,
                    host_len, w, colon + 1);
}

/* The family of a host word: AF_INET for an IPv4 address (127.0.0.1),
 * AF_INET6 for an IPv6 one (::1), 0 for a name, whose family is chosen by
 * the other word. */
static int literal_family(const char *host)
{
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) == 1)
        return AF_INET;
    return strchr(host, ':') != NULL ? AF_INET6 : 0;
}

static const char *family_name(int family)
{
    return family == AF_INET6 ? "IPv6" : "IPv4";
}

/* -t: a positive number of seconds, like 2 or 0.5 (at most a day). */
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

/* getaddrinfo() turns a name and a port into a socket address; the
 * resolver's own message explains a name that does not exist. */
static void resolve(const char *host, const char *port, int family, int passive,
                    const char *why, struct sockaddr_storage *out, socklen_t *outlen)
{
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot resolve '%s'%s%s%s: %s\n", prog, host ? host : "*",
                why ? " (" : "", why ? why : "", why ? ")" : "", gai_strerror(rc));
        exit(1);
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *outlen = res->ai_addrlen;
    freeaddrinfo(res);
}

/* An address as lsof prints it, in the caller's buf: 127.0.0.1:12122,
 * [::1]:12122, *:12122. Returns buf. */
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
        if (memcmp(&s->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0)
            snprintf(buf, size, "*:%u", ntohs(s->sin6_port));
        else
            snprintf(buf, size, "[%s]:%u", inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host),
                     ntohs(s->sin6_port));
    } else {
        snprintf(buf, size, "(address family %d)", sa->sa_family);
    }
    return buf;
}

/* getsockname(): the address the kernel has given our socket so far, in
 * the caller's buf. Returns buf. */
static const char *local_text(int fd, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        snprintf(buf, size, "unknown (getsockname: %s)", strerror(errno));
    else if (strcmp(addr_text((struct sockaddr *)&ss, buf, size), "*:0") == 0)
        snprintf(buf, size, "none yet: no port until bind() or the first sendto()");
    return buf;
}

/* How ss shows the peer of our unconnected socket: 0.0.0.0:* for IPv4;
 * for IPv6, *:* when bound to any address (::), else [::]:*. */
static const char *ss_no_peer(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 || ss.ss_family == AF_INET)
        return "0.0.0.0:*";
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)&ss;
    return memcmp(&s->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0 ? "*:*" : "[::]:*";
}

/* When no reply came from an IPv6 address: udpserver (and udpserver.py)
 * have an AF_INET socket, which never sees IPv6 datagrams. */
static const char *ipv4_only_hint(const struct sockaddr_storage *server)
{
    if (server->ss_family != AF_INET6)
        return "";
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)server;
    if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr))
        return ""; /* ::ffff:127.0.0.1 leaves as IPv4 */
    if (IN6_IS_ADDR_LOOPBACK(&s->sin6_addr))
        return " udpserver and udpserver.py listen on IPv4 only (AF_INET): send to 127.0.0.1";
    return " udpserver and udpserver.py listen on IPv4 only (AF_INET): send to the host's IPv4 "
           "address";
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
 * so that a line meant for a later pause is never swallowed early. */
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

/* 1 when fd has something to read, 0 when timeout_ms (-1: none) ran out. */
static int wait_readable(int fd, long timeout_ms)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)ms_left(&start, timeout_ms));
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            fail("poll");
    }
}
