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
 *   ./udpclient -S -m hello           step mode: pause before each socket call
 *
 * UDP messages are the text of a line without its newline: the datagram's
 * own boundaries mark where a message ends. The socket is IPv4 (AF_INET,
 * like udpclient.py) unless an address says IPv6 (::1, -b [::1]:22222);
 * udpserver is IPv4 only, so ::1 gets no reply from it.
 *
 * Watch it from another terminal (with -w, or -S, it stays long enough):
 *   lsof -n -P -p PID      after socket(): 'sock ... protocol: UDP', no port;
 *                          after the first sendto() (or bind()): 'UDP *:50887'
 *   ss -uanp (Linux)       nothing until the socket has a port, then
 *                          'UNCONN 0 0 0.0.0.0:50887 0.0.0.0:*': no peer, ever
 *   tcpdump -i lo 'udp port 12122 or icmp'    the datagram, and with no
 *                          server the ICMP "port unreachable" we never hear of
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
#include <stddef.h>
#include <stdint.h>
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

static struct options {
    const char *host, *port;      /* HOST [PORT]: localhost 12122 */
    const char *bind_spec;        /* -b [ADDRESS:]PORT, as given */
    const char *bind_host;        /* its ADDRESS (NULL: any) */
    const char *bind_port;        /* its PORT (NULL: no -b) */
    int family;                   /* AF_INET, or AF_INET6 if an address says so */
    long timeout_ms;              /* -t: -1 waits for ever, like udpclient.py */
    int wait_at_end;              /* -w: "enter to finish" */
    int step;                     /* -S: pause before each socket call */
    const char *messages[MAX_MESSAGES]; /* -m, in order */
    int nmessages;
    int keep_going;               /* -k: a reply missing after -t is counted, not fatal */
} opt = {"localhost", DEFAULT_PORT, NULL, NULL, NULL, AF_INET, -1, 0, 0, {NULL}, 0, 0};

static const char *prog = "udpclient";

/* What step mode and the log say at each call, in lecture order. */
static void before_socket(const struct sockaddr_storage *server);
static void after_socket(int fd);
static void before_bind(int fd, const struct sockaddr_storage *local);
_Noreturn static void bind_failed(int fd, const struct sockaddr_storage *local);
static void after_bind(int fd, const struct sockaddr_storage *local);
static void before_sendto(int fd, long len, const struct sockaddr_storage *server);
_Noreturn static void sendto_failed(int fd, const struct sockaddr_storage *server);
static void after_sendto(int fd, const char *msg, long len,
                         const struct sockaddr_storage *server);
static void before_recvfrom(int fd);
static void no_reply(int fd, const struct sockaddr_storage *server);
static void after_recvfrom(int fd, const unsigned char *reply, ssize_t n,
                           const struct sockaddr_storage *from, const char *msg, long len);
static void before_close(int fd);
static void after_close(int fd);
static void lost_one(int fd, const struct sockaddr_storage *server);
static int replies_lost(void);

/* The plumbing. */
static void parse_options(int argc, char **argv);
static void check_long_options(int argc, char **argv, const char *optstring);
static void check_host_port(int nargs, char **args);
static void split_bind_spec(void);
static void choose_family(void);
static void usage(FILE *out);
_Noreturn static void usage_error(const char *fmt, ...);
_Noreturn static void fail(const char *what);
static void start_log(void);
static void say(const char *fmt, ...);
static void stdout_check(void);
static void step_byte_order(const struct sockaddr *sa);
static const char *err_text(int e);
static void step(const char *call, const char *now, const char *after);
static const char *fmt(const char *f, ...);
static int all_digits(const char *s);
static int port_value(const char *s);
static int parse_port(const char *s);
static long parse_seconds(const char *s);
static int literal_family(const char *host);
static const char *family_name(int family);
static socklen_t resolve(const char *host, const char *port, int flags,
                         struct sockaddr_storage *out);
static const char *addr_text(const void *sa, char *buf, size_t size);
static void learn_local(int fd);
static const char *ipv4_only_hint(const struct sockaddr_storage *server);
static const char *payload_text(const unsigned char *p, size_t n);
static long next_message(int i, const char **msg);
static long next_line(char **line, size_t max);
static char *keep(const char *p, size_t n);
static int wait_for_enter(void);
static long ms_left(const struct timespec *start, long timeout_ms);
static int wait_readable(int fd, long timeout_ms);

int main(int argc, char **argv)
{
    parse_options(argc, argv);

    /* getaddrinfo(): the server's name and port become a socket address
     * (from /etc/hosts or DNS: nothing is sent to the server yet); with -b,
     * ours too (AI_PASSIVE: no address there means any). Both of one
     * family: IPv4 unless an address says IPv6 (choose_family()). */
    struct sockaddr_storage server, local;
    socklen_t serverlen, locallen = 0;
    if (opt.bind_port != NULL)
        locallen = resolve(opt.bind_host, opt.bind_port, AI_PASSIVE, &local);
    serverlen = resolve(opt.host, opt.port, 0, &server);

    /* socket(): a UDP endpoint in the kernel. It has no port yet: the kernel
     * assigns one when the socket first needs it (bind, or the first sendto). */
    before_socket(&server);
    int fd = socket(opt.family, SOCK_DGRAM, 0);
    if (fd < 0)
        fail("socket");
    after_socket(fd);

    /* bind() (-b): choose our own port (and address) instead of letting the
     * kernel pick one at the first sendto. */
    if (locallen > 0) {
        before_bind(fd, &local);
        if (bind(fd, (struct sockaddr *)&local, locallen) < 0)
            bind_failed(fd, &local); /* exit 1, with the likely cause */
        after_bind(fd, &local);
    }

    static unsigned char reply[MAX_DATAGRAM + 1];
    const char *msg;
    long len;
    for (int i = 0; (len = next_message(i, &msg)) >= 0; i++) {
        /* sendto(): hand one datagram to the kernel, addressed to the server.
         * It succeeds even if no server exists: nobody is asked first. */
        before_sendto(fd, len, &server);
        if (sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&server, serverlen) < 0)
            sendto_failed(fd, &server); /* exit 1 */
        after_sendto(fd, msg, len, &server);

        /* recvfrom(): sleep until a datagram arrives for our port. If the
         * server is not there, nothing ever comes: the kernel drops the ICMP
         * "port unreachable" for an unconnected socket, so we would wait for
         * ever. -t puts a limit on that wait: poll() first, with a timeout. */
        before_recvfrom(fd);
        if (!wait_readable(fd, opt.timeout_ms)) {
            no_reply(fd, &server); /* exit 1: UDP never says why (-k: counted) */
            continue;
        }
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n;
        do
            n = recvfrom(fd, reply, sizeof reply, 0, (struct sockaddr *)&from, &fromlen);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            fail(fmt("recvfrom(fd %d)", fd));
        after_recvfrom(fd, reply, n, &from, msg, len);
    }

    /* close(): the socket and its port go away at once: UDP has no
     * connection to shut down, so there is no TIME_WAIT. */
    before_close(fd);
    close(fd);
    after_close(fd);
    return replies_lost(); /* -k: how many never came back; 1 if any */
}

/* ==== The lesson ends here. Below: what step mode and the log say at each call (in lecture order), then the plumbing. ==== */

/* What the log knows of our socket between calls: its address as
 * getsockname() gave it after the last call that could change it (it
 * stays so afterwards), whether it has a port, and how many datagrams it
 * sent. */
static struct {
    struct sockaddr_storage addr;
    char text[128]; /* as lsof shows it: *:50887, or "none yet: ..." */
    int has_port, sent;
} mine;

static void before_socket(const struct sockaddr_storage *server)
{
    char there[INET6_ADDRSTRLEN + 8];
    start_log();
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());
    say("server %s port %s is %s", opt.host, opt.port, addr_text(server, there, sizeof there));
    step(fmt("socket(%s, SOCK_DGRAM, 0)", opt.family == AF_INET ? "AF_INET" : "AF_INET6"),
         "no socket yet", "a new fd with no port: lsof shows it without one, "
                          "netstat and ss do not list it");
}

static void after_socket(int fd)
{
    say("socket(%s, SOCK_DGRAM, 0) = fd %d", opt.family == AF_INET ? "AF_INET" : "AF_INET6",
        fd);
    learn_local(fd);
    say("fd %d local address: %s", fd, mine.text);
}

static void before_bind(int fd, const struct sockaddr_storage *local)
{
    step_byte_order((const struct sockaddr *)local);
    char me[INET6_ADDRSTRLEN + 8];
    addr_text(local, me, sizeof me);
    step(fmt("bind(fd %d, %s)", fd, me),
         fmt("fd %d has no port: netstat and ss do not list it", fd),
         fmt("fd %d owns %s before anything is sent: lsof 'UDP %s'", fd, me, me));
}

_Noreturn static void bind_failed(int fd, const struct sockaddr_storage *local)
{
    int e = errno;
    char me[INET6_ADDRSTRLEN + 8];
    fprintf(stderr, "%s: bind(fd %d, %s): %s%s\n", prog, fd, addr_text(local, me, sizeof me),
            err_text(e),
            e == EADDRINUSE      ? " (another socket already has this port)"
            : e == EADDRNOTAVAIL ? " (that address is not one of this machine's)"
            : e == EACCES        ? " (ports below 1024 need root)"
                                 : "");
    exit(1);
}

static void after_bind(int fd, const struct sockaddr_storage *local)
{
    char me[INET6_ADDRSTRLEN + 8];
    learn_local(fd);
    mine.has_port = 1;
    say("bind(fd %d, %s) ok: fd %d is %s before sending anything", fd,
        addr_text(local, me, sizeof me), fd, mine.text);
}

/* How ss shows the peer of our unconnected socket: 0.0.0.0:* for IPv4;
 * for IPv6, *:* when bound to any address (::), else [::]:*. */
static void before_sendto(int fd, long len, const struct sockaddr_storage *server)
{
    step_byte_order((const struct sockaddr *)server);
    char there[INET6_ADDRSTRLEN + 8];
    const struct sockaddr_in6 *me6 = (const struct sockaddr_in6 *)(const void *)&mine.addr;
    const char *no_peer = mine.addr.ss_family == AF_INET ? "0.0.0.0:*"
                          : memcmp(&me6->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0
                              ? "*:*"
                              : "[::]:*";
    step(fmt("sendto(fd %d, %ld bytes, %s)", fd, len, addr_text(server, there, sizeof there)),
         mine.has_port ? fmt("fd %d is %s", fd, mine.text)
                       : fmt("fd %d has no port yet: netstat and ss do not list it", fd),
         mine.has_port
             ? fmt("the datagram leaves; the socket stays unconnected (ss shows the peer as %s)",
                   no_peer)
             : "the kernel binds the socket to a free port, then the datagram leaves");
}

_Noreturn static void sendto_failed(int fd, const struct sockaddr_storage *server)
{
    int e = errno;
    char there[INET6_ADDRSTRLEN + 8];
    addr_text(server, there, sizeof there);
    errno = e;
    fail(fmt("sendto(fd %d, %s)", fd, there));
}

static void after_sendto(int fd, const char *msg, long len,
                         const struct sockaddr_storage *server)
{
    char there[INET6_ADDRSTRLEN + 8];
    mine.sent++;
    say("sendto(fd %d, %ld bytes, %s) ok: %s", fd, len, addr_text(server, there, sizeof there),
        payload_text((const unsigned char *)msg, (size_t)len));
    if (!mine.has_port) {
        mine.has_port = 1;
        learn_local(fd);
        say("fd %d is now bound to %s: the kernel picked that port during sendto()", fd,
            mine.text);
    }
}

static void before_recvfrom(int fd)
{
    step(fmt("recvfrom(fd %d)", fd), fmt("fd %d is %s", fd, mine.text),
         "returns the reply datagram, or sleeps until one arrives");
    if (opt.timeout_ms < 0)
        say("waiting in recvfrom(fd %d) for the reply (no time limit: -t sets one)", fd);
    else
        say("waiting in recvfrom(fd %d) for the reply (at most %.3g s)", fd,
            (double)opt.timeout_ms / 1000.0);
}

/* -t ran out. The kernel got an ICMP "port unreachable" if no server was
 * there, but does not pass it to an unconnected socket: we cannot know. */
static void no_reply(int fd, const struct sockaddr_storage *server)
{
    if (opt.keep_going) {
        lost_one(fd, server); /* counted; on to the next message */
        return;
    }
    char there[INET6_ADDRSTRLEN + 8];
    fprintf(stderr,
            "%s: no reply from %s within %.3g s: the datagram left, but UDP never "
            "tells us why nothing came back (no server on that address and port?%s)\n",
            prog, addr_text(server, there, sizeof there), (double)opt.timeout_ms / 1000.0,
            ipv4_only_hint(server));
    close(fd);
    exit(1);
}

static void after_recvfrom(int fd, const unsigned char *reply, ssize_t n,
                           const struct sockaddr_storage *from, const char *msg, long len)
{
    char sender[INET6_ADDRSTRLEN + 8];
    say("recvfrom(fd %d) = %ld bytes from %s: %s%s", fd, (long)n,
        addr_text(from, sender, sizeof sender), payload_text(reply, (size_t)n),
        n == len && memcmp(reply, msg, (size_t)n) == 0 ? " (same as sent)"
                                                      : " (not what we sent)");
}

/* Before close: a word if nothing was sent, and with -w a pause while the
 * socket is still there to look at. */
static void before_close(int fd)
{
    if (mine.sent == 0 && mine.has_port)
        say("no message to send: fd %d has the port bind() gave it all the same", fd);
    else if (mine.sent == 0)
        say("no message to send: fd %d never got a port", fd);
    if (opt.wait_at_end) {
        say("fd %d is %s, with no peer: UDP keeps no connection. Press Enter to close it", fd,
            mine.text);
        if (!wait_for_enter())
            say("standard input is closed: not waiting");
    }
    step(fmt("close(fd %d)", fd), fmt("fd %d is %s", fd, mine.text),
         "the fd and its port are gone from lsof, netstat and ss");
}

static void after_close(int fd)
{
    if (mine.has_port)
        say("close(fd %d): %s is free again", fd, mine.text);
    else
        say("close(fd %d): the socket is gone; it never had a port to free", fd);
}

/* ---- plumbing: options, formatting, errors ---- */

static void parse_options(int argc, char **argv)
{
    const char *optstring = ":b:t:wkm:Sh";
    int c;

    check_long_options(argc, argv, optstring);
    opterr = 0; /* we print our own one-line messages */
    while ((c = getopt(argc, argv, optstring)) != -1) {
        switch (c) {
        case 'b': opt.bind_spec = optarg; break;
        case 't': opt.timeout_ms = parse_seconds(optarg); break;
        case 'w': opt.wait_at_end = 1; break;
        case 'k': opt.keep_going = 1; break;
        case 'm':
            if (opt.nmessages == MAX_MESSAGES)
                usage_error("too many -m messages (at most %d)", MAX_MESSAGES);
            opt.messages[opt.nmessages++] = optarg;
            break;
        case 'S': opt.step = 1; break;
        case 'h': usage(stdout); exit(0);
        case ':': usage_error("option -%c needs an argument", optopt);
        default: usage_error("unknown option -%c", optopt);
        }
    }
    check_host_port(argc - optind, argv + optind);
    if (optind < argc)
        opt.host = argv[optind++];
    if (optind < argc)
        parse_port(opt.port = argv[optind++]);
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (opt.keep_going && opt.timeout_ms < 0)
        usage_error("-k needs -t SECONDS: without a time limit a lost reply is waited for for ever");
    split_bind_spec();
    choose_family();
}

/* -b: "22222", "127.0.0.1:22222" or "[::1]:22222" */
static void split_bind_spec(void)
{
    static char copy[300];
    if (opt.bind_spec == NULL)
        return;
    snprintf(copy, sizeof copy, "%s", opt.bind_spec);
    char *colon = strrchr(copy, ':');
    opt.bind_port = copy;
    if (colon != NULL) {
        *colon = '\0';
        opt.bind_port = colon + 1;
        opt.bind_host = copy;
        if (*copy == '[' && colon > copy + 1 && colon[-1] == ']') {
            colon[-1] = '\0';
            opt.bind_host = copy + 1;
        }
    }
    parse_port(opt.bind_port);
}

/* IPv4 unless an IPv6 address is given, like udpclient.py's AF_INET: with
 * UDP nothing would tell us that "localhost" as ::1 was the wrong guess,
 * the datagram would just be lost. One socket has one family, so -b and
 * the server must agree: an address decides, a name follows. */
static void choose_family(void)
{
    int server_family = literal_family(opt.host);
    int bind_family = opt.bind_host != NULL ? literal_family(opt.bind_host) : 0;
    if (server_family != 0 && bind_family != 0 && server_family != bind_family)
        usage_error("-b %s is %s but the server %s is %s: a socket has one family, so give "
                    "both as IPv4 or both as IPv6",
                    opt.bind_spec, family_name(bind_family), opt.host,
                    family_name(server_family));
    opt.family = server_family ? server_family : bind_family ? bind_family : AF_INET;
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

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-b [ADDRESS:]PORT] [-t SECONDS] [-k] [-w] [-m MESSAGE]... [-S] [-h]"
            " [HOST [PORT]]\n"
            "UDP client: sends each message as one datagram to HOST PORT (default\n"
            "localhost %s) and prints the reply. Messages are the lines of standard\n"
            "input (without the newline) unless -m is given.\n"
            "  -b [ADDRESS:]PORT  bind the socket to this port (and address) first\n"
            "  -t SECONDS         give up waiting for a reply after SECONDS (default:\n"
            "                     wait for ever, as udpclient.py does)\n"
            "  -k                 with -t: a reply that does not come is counted as lost\n"
            "                     and the next message is sent; at the end, how many\n"
            "                     were sent and lost (exit 1 if any was lost)\n"
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
    fprintf(stderr, "%s: %s: %s\n", prog, what, err_text(errno));
    exit(1);
}

/* The log is stdout, one line at a time even into a pipe. A reader that
 * goes away (./udpclient | head -1) gives EPIPE on the next write rather
 * than killing us silently (SIGPIPE): stdout_check() says so. */
static void start_log(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
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
                err_text(errno != 0 ? errno : EIO));
        exit(1);
    }
}

/* Step mode (-S; otherwise nothing): announce the call, then wait for a
 * line on standard input. */
static void step(const char *call, const char *now, const char *after)
{
    if (!opt.step)
        return;
    say("step: next: %s", call);
    say("step:   now:   %s", now);
    say("step:   after: %s", after);
    say("step: press Enter to run it");
    if (!wait_for_enter()) {
        say("step: standard input is closed: running on without pauses");
        opt.step = 0;
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

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    while (*s >= '0' && *s <= '9')
        s++;
    return *s == '\0';
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

/* getaddrinfo() turns a name (or an address) and a port into a socket
 * address of opt.family; the resolver's own message explains a name that
 * does not exist. Returns the address's length. */
static socklen_t resolve(const char *host, const char *port, int flags,
                         struct sockaddr_storage *out)
{
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = opt.family;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = flags;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        /* a name is looked up in the family of the address beside it */
        char why[400] = "";
        if (host != NULL && literal_family(host) == 0 && host == opt.host &&
            opt.bind_host != NULL && literal_family(opt.bind_host) != 0)
            snprintf(why, sizeof why, " (as %s, the family of -b %s)", family_name(opt.family),
                     opt.bind_spec);
        else if (host != NULL && literal_family(host) == 0 && host == opt.bind_host &&
                 literal_family(opt.host) != 0)
            snprintf(why, sizeof why, " (as %s, the family of the server %s)",
                     family_name(opt.family), opt.host);
        fprintf(stderr, "%s: cannot resolve '%s'%s: %s\n", prog, host ? host : "*", why,
                gai_strerror(rc));
        exit(1);
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    socklen_t len = res->ai_addrlen;
    freeaddrinfo(res);
    return len;
}

/* A socket address (struct sockaddr_in, _in6 or _storage) as lsof prints
 * it, in the caller's buf: 127.0.0.1:12122,
 * [::1]:12122, *:12122. Returns buf. */
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
        if (memcmp(&s->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0)
            snprintf(buf, size, "*:%u", ntohs(s->sin6_port));
        else
            snprintf(buf, size, "[%s]:%u", inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host),
                     ntohs(s->sin6_port));
    } else {
        snprintf(buf, size, "(address family %d)", family);
    }
    return buf;
}

/* getsockname(): the address the kernel has given our socket so far, kept
 * in mine (the text as lsof shows it). */
static void learn_local(int fd)
{
    socklen_t len = sizeof mine.addr;
    memset(&mine.addr, 0, sizeof mine.addr);
    if (getsockname(fd, (struct sockaddr *)&mine.addr, &len) < 0)
        snprintf(mine.text, sizeof mine.text, "unknown (getsockname: %s)", err_text(errno));
    else if (strcmp(addr_text(&mine.addr, mine.text, sizeof mine.text), "*:0") == 0)
        snprintf(mine.text, sizeof mine.text,
                 "none yet: no port until bind() or the first sendto()");
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

/* Message i (from 0): the i-th -m, or else the next line of standard input
 * without its newline (after a prompt on a terminal). Returns its length,
 * or -1 when there is none left; exit 1 if it cannot fit in a datagram. */
static long next_message(int i, const char **msg)
{
    long len;
    if (opt.nmessages > 0) {
        if (i >= opt.nmessages)
            return -1;
        *msg = opt.messages[i];
        len = (long)strlen(*msg);
    } else {
        if (isatty(STDIN_FILENO)) {
            errno = 0;
            printf("%s: message to send (Ctrl-D to finish): ", prog);
            stdout_check();
        }
        char *line;
        if ((len = next_line(&line, MAX_DATAGRAM + 1)) < 0)
            return -1;
        if (len > 0 && line[len - 1] == '\n')
            len--; /* the datagram is the message: no newline needed */
        *msg = keep(line, (size_t)len);
    }
    if (len > MAX_DATAGRAM) {
        fprintf(stderr, "%s: message %d is %ld bytes: more than fits in one datagram (%d)\n",
                prog, i + 1, len, MAX_DATAGRAM);
        exit(1);
    }
    return len;
}

/* A copy of a message that outlives the next read of standard input (a
 * step-mode pause reads the next line over it): one buffer, reused. */
static char *keep(const char *p, size_t n)
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

/* -k: the replies that never came back */
static long lost_replies;

static void lost_one(int fd, const struct sockaddr_storage *server)
{
    char there[INET6_ADDRSTRLEN + 8];
    lost_replies++;
    say("recvfrom(fd %d): no reply from %s within %.3g s: lost (%ld so far); UDP never "
        "says why, so on to the next message",
        fd, addr_text(server, there, sizeof there), (double)opt.timeout_ms / 1000.0,
        lost_replies);
}

/* -k: one line with the counts; the exit status (1 if any reply was lost) */
static int replies_lost(void)
{
    if (!opt.keep_going)
        return 0;
    say("%ld datagrams sent, %ld replies, %ld lost", (long)mine.sent, mine.sent - lost_replies,
        lost_replies);
    return lost_replies > 0;
}
