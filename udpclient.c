/*
 * udpclient.c - a UDP client (the C version of udpclient.py).
 *
 * The lecture order: socket() -> [bind()] -> sendto() -> recvfrom() -> close().
 * Watch for the moment the socket gets its port: not at socket(), but at the
 * first sendto() (or at bind() with -b). And note that sendto() succeeds
 * whether or not any server is listening: UDP just sends.
 *
 *   cc -o udpclient udpclient.c       (next to lab.h)
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
 *
 * The file: the lesson first (main() and the work of -b, -t, -k, -w), then
 * what step mode and the log say at each call (before_*, after_*,
 * *_failed: make bare removes them), then the options. The plumbing (say(),
 * step(), fail(), the address text, the line reader) is lab.h's.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <sys/socket.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include "lab.h"

#define DEFAULT_PORT "12122"
#define MAX_DATAGRAM 65507 /* 65535 - 20 (IPv4 header) - 8 (UDP header) */
#define MAX_MESSAGES 100   /* -m options */

static struct options {
    const char *host, *port; /* HOST [PORT]: localhost 12122 */
    /* -b [ADDRESS:]PORT as given; its ADDRESS (NULL: any); its PORT (NULL: no -b) */
    const char *bind_spec, *bind_host, *bind_port;
    int family;      /* AF_INET, or AF_INET6 if an address says so */
    long timeout_ms; /* -t: -1 waits for ever, like udpclient.py */
    int wait_at_end, keep_going; /* -w: "enter to finish"; -k: count a lost reply, go on */
    const char *messages[MAX_MESSAGES]; /* -m, in order */
    int nmessages;
} opt = {.host = "localhost", .port = DEFAULT_PORT, .family = AF_INET, .timeout_ms = -1};

static long next_datagram(long i, const char **msg);
static void before_socket(const struct sockaddr *server);
static void after_socket(int fd);
static void getaddrinfo_failed(const char *host);
static void before_bind(int fd, const struct sockaddr *local);
static void bind_failed(int fd, const struct sockaddr *local);
static void after_bind(int fd, const struct sockaddr *local);
static void before_sendto(int fd, long len, const struct sockaddr *server);
static void sendto_failed(int fd, const struct sockaddr *server);
static void after_sendto(int fd, const char *msg, long len, const struct sockaddr *server);
static void before_recvfrom(int fd);
static void reply_failed(const struct sockaddr *server);
static void recvfrom_failed(int fd);
static void after_messages(int fd);
static void before_close(int fd);
static void after_close(int fd);
static void parse_options(int argc, char **argv);
static void usage(FILE *out);

int main(int argc, char **argv)
{
    parse_options(argc, argv); /* and the socket's family: choose_family() */

    /* getaddrinfo(): the server's name and port become a socket address
     * (from /etc/hosts or DNS: nothing is sent to the server yet), its port
     * already in network byte order (N3); with -b, ours too (AI_PASSIVE: no
     * ADDRESS means any address of ours). */
    struct addrinfo *server, *local = NULL;
    struct addrinfo hints = {.ai_family = opt.family, .ai_socktype = SOCK_DGRAM,
                             .ai_flags = AI_PASSIVE}; /* -b first: no ADDRESS is any */
    int rc = opt.bind_port ? getaddrinfo(opt.bind_host, opt.bind_port, &hints, &local) : 0;
    if (rc != 0) { getaddrinfo_failed(opt.bind_host); fail_resolve(opt.bind_host, rc); }
    hints.ai_flags = 0;
    rc = getaddrinfo(opt.host, opt.port, &hints, &server);
    if (rc != 0) { getaddrinfo_failed(opt.host); fail_resolve(opt.host, rc); }
    char text[ADDR_TEXT_SIZE]; /* an address, as lsof shows it */

    /* U1: socket(): a UDP endpoint in the kernel. It has no port yet: the
     * kernel assigns one when the socket first needs it (bind, or the first
     * sendto). */
    before_socket(server->ai_addr);
    int fd = socket(opt.family, SOCK_DGRAM, 0);
    if (fd < 0)
        fail("socket");
    after_socket(fd);

    /* U3, U10: bind() (-b): choose our own port (and address) instead of
     * letting the kernel pick one at the first sendto. */
    if (local != NULL) {
        before_bind(fd, local->ai_addr);
        rc = bind(fd, local->ai_addr, local->ai_addrlen);
        if (rc < 0) { bind_failed(fd, local->ai_addr); fail("bind"); }
        after_bind(fd, local->ai_addr);
        freeaddrinfo(local);
    }

    static char reply[MAX_DATAGRAM + 1];
    const char *msg;
    long len, sent, lost = 0; /* sent: datagrams so far; lost: replies, with -k */
    for (sent = 0; (len = next_datagram(sent, &msg)) >= 0; sent++) {
        /* U1, U2: sendto(): hand one datagram to the kernel, addressed to
         * the server. It succeeds even if no server exists: nobody is asked
         * first. */
        before_sendto(fd, len, server->ai_addr);
        ssize_t n = sendto(fd, msg, (size_t)len, 0, server->ai_addr, server->ai_addrlen);
        if (n < 0) { sendto_failed(fd, server->ai_addr); fail("sendto"); }
        after_sendto(fd, msg, len, server->ai_addr);

        /* U2: recvfrom() sleeps until a datagram arrives for our port. If
         * the server is not there, nothing ever comes: the kernel drops the
         * ICMP "port unreachable" for an unconnected socket, so we would
         * wait for ever. -t puts a limit on that wait: poll() first. */
        before_recvfrom(fd);
        if (!wait_for(fd, POLLIN, opt.timeout_ms)) {
            if (!opt.keep_going) {
                reply_failed(server->ai_addr);
                fprintf(stderr, "%s: no reply from %s within %.3g s: the datagram left, but UDP "
                        "never tells us why nothing came back (no server on that address and "
                        "port?%s)\n", lab.prog, addr_text(server->ai_addr, text, sizeof text),
                        (double)opt.timeout_ms / 1000.0, lab.advice);
                exit(1);
            }
            /* N8: -k: the reply is counted as lost, and on to the next one */
            say("recvfrom(fd %d): no reply from %s within %.3g s: lost (%ld so far); UDP never "
                "says why, so on to the next message",
                fd, addr_text(server->ai_addr, text, sizeof text), (double)opt.timeout_ms / 1000.0,
                ++lost);
            continue;
        }
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        n = recvfrom(fd, reply, sizeof reply, 0, (struct sockaddr *)&from, &fromlen);
        if (n < 0) { recvfrom_failed(fd); fail("recvfrom"); }
        /* N6: the reply, one whole datagram */
        say("recvfrom(fd %d) = %ld bytes from %s: %s%s", fd, (long)n,
            addr_text(&from, text, sizeof text), payload_text(reply, (size_t)n),
            n == len && memcmp(reply, msg, (size_t)n) == 0 ? " (same as sent)"
                                                          : " (not what we sent)");
    }

    /* U5: -w: the socket stays, with its port and no peer, until Enter */
    after_messages(fd);
    if (opt.wait_at_end) {
        say("fd %d is %s, with no peer: UDP keeps no connection. Press Enter to close it", fd,
            sent > 0 || opt.bind_port ? end_text(fd, OUR_END, text, sizeof text)
                                      : "none yet: no port until bind() or the first sendto()");
        if (!wait_for_enter())
            say("standard input is closed: not waiting");
    }

    /* close(): the socket and its port go away at once: UDP has no
     * connection to shut down, so there is no TIME_WAIT. */
    before_close(fd);
    if (close(fd) < 0)
        fail("close");
    after_close(fd);
    freeaddrinfo(server);
    if (opt.keep_going) /* N8: how many never came back; exit 1 if any */
        say("%ld datagrams sent, %ld replies, %ld lost", sent, sent - lost, lost);
    return lost > 0;
}

/* The family of a host word: AF_INET for an IPv4 address (127.0.0.1),
 * AF_INET6 for an IPv6 one (::1), 0 for a name. */
static int literal_family(const char *host)
{
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1 ? AF_INET : strchr(host, ':') ? AF_INET6 : 0;
}

/* IPv4 unless an IPv6 address is given, like udpclient.py's AF_INET: with
 * UDP nothing would tell us that "localhost" as ::1 was the wrong guess,
 * the datagram would just be lost. One socket has one family, so -b and
 * the server must agree: an address decides, a name follows. */
static void choose_family(void)
{
    int server = literal_family(opt.host);
    int bound = opt.bind_host != NULL ? literal_family(opt.bind_host) : 0;
    if (server != 0 && bound != 0 && server != bound)
        usage_error("-b %s is IPv%c but the server %s is IPv%c: a socket has one family, so "
                    "give both as IPv4 or both as IPv6", opt.bind_spec,
                    bound == AF_INET6 ? '6' : '4', opt.host, server == AF_INET6 ? '6' : '4');
    opt.family = server ? server : bound ? bound : AF_INET;
}

/* Message i (from 0): the i-th -m, or else the next line of standard input
 * without its newline: the datagram's own boundaries end a message (N6).
 * Its length, or -1 when none is left; exit 1 if it cannot be one datagram. */
static long next_datagram(long i, const char **msg)
{
    char *line;
    long len;
    if (opt.nmessages > 0) {
        len = i < opt.nmessages ? (long)strlen(*msg = opt.messages[i]) : -1;
    } else if ((len = prompt_line("message to send (Ctrl-D to finish)", &line,
                                  MAX_DATAGRAM + 1)) >= 0) {
        len -= len > 0 && line[len - 1] == '\n'; /* the datagram is the message: no newline */
        *msg = keep(line, (size_t)len, 0);
    }
    if (len > MAX_DATAGRAM) {
        fprintf(stderr, "%s: message %ld is %ld bytes: more than fits in one datagram (%d)\n",
                lab.prog, i + 1, len, MAX_DATAGRAM);
        exit(1);
    }
    return len;
}

/* ==== The lesson ends here. Below: what step mode and the log say at each call, in lecture order (make bare removes it), then the options. ==== */

/* What the log knows of our socket between calls: its address as
 * getsockname() gave it after the last call that could change it (as lsof
 * shows it: *:50887, or "none yet: ..."), whether it has a port, and how
 * many datagrams it sent. */
static struct {
    char text[128];
    int has_port, sent;
} mine;

static void before_socket(const struct sockaddr *server)
{
    char there[ADDR_TEXT_SIZE];
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());
    say("server %s port %s is %s", opt.host, opt.port, addr_text(server, there, sizeof there));
    if (!lab.step)
        return;
    step(fmt("socket(%s, SOCK_DGRAM, 0)", family_name(opt.family)), "no socket yet",
         "a new fd with no port: lsof shows it without one, netstat and ss do not list it");
}

static void after_socket(int fd)
{
    size_t n = strlen(end_text(fd, OUR_END, mine.text, sizeof mine.text));
    if (n > 2 && strcmp(mine.text + n - 2, ":0") == 0) /* *:0, [::]:0: no port */
        snprintf(mine.text, sizeof mine.text,
                 "none yet: no port until bind() or the first sendto()");
    say("socket(%s, SOCK_DGRAM, 0) = fd %d", family_name(opt.family), fd);
    say("fd %d local address: %s", fd, mine.text);
}

/* A name is looked up in the family of the address beside it. */
static void getaddrinfo_failed(const char *host)
{
    const char *v = opt.family == AF_INET6 ? "IPv6" : "IPv4";
    if (host == NULL || literal_family(host) != 0)
        return;
    if (host == opt.host && opt.bind_host != NULL && literal_family(opt.bind_host) != 0)
        explain(fmt("cannot resolve '%s' (as %s, the family of -b %s)", host, v, opt.bind_spec),
                NULL);
    else if (host == opt.bind_host && literal_family(opt.host) != 0)
        explain(fmt("cannot resolve '%s' (as %s, the family of the server %s)", host, v,
                    opt.host), NULL);
}

static void before_bind(int fd, const struct sockaddr *local)
{
    char me[ADDR_TEXT_SIZE];
    if (!lab.step)
        return;
    step_byte_order(local);
    addr_text(local, me, sizeof me);
    step(fmt("bind(fd %d, %s)", fd, me),
         fmt("fd %d has no port: netstat and ss do not list it", fd),
         fmt("fd %d owns %s before anything is sent: lsof 'UDP %s'", fd, me, me));
}

static void bind_failed(int fd, const struct sockaddr *local)
{
    char me[ADDR_TEXT_SIZE];
    int e = errno;
    explain(fmt("bind(fd %d, %s)", fd, addr_text(local, me, sizeof me)), "%s",
            e == EADDRINUSE      ? " (another socket already has this port)"
            : e == EADDRNOTAVAIL ? " (that address is not one of this machine's)"
            : e == EACCES        ? " (ports below 1024 need root)"
                                 : "");
}

static void after_bind(int fd, const struct sockaddr *local)
{
    char me[ADDR_TEXT_SIZE];
    end_text(fd, OUR_END, mine.text, sizeof mine.text);
    mine.has_port = 1;
    say("bind(fd %d, %s) ok: fd %d is %s before sending anything", fd,
        addr_text(local, me, sizeof me), fd, mine.text);
}

/* How ss shows the peer of our unconnected socket: 0.0.0.0:* for IPv4;
 * for IPv6, *:* when bound to any address ([::]), else [::]:*. */
static void before_sendto(int fd, long len, const struct sockaddr *server)
{
    char there[ADDR_TEXT_SIZE];
    if (!lab.step)
        return;
    step_byte_order(server);
    const char *no_peer = opt.family == AF_INET                 ? "0.0.0.0:*"
                          : strncmp(mine.text, "[::]:", 5) == 0 ? "*:*"
                                                                : "[::]:*";
    step(fmt("sendto(fd %d, %ld bytes, %s)", fd, len, addr_text(server, there, sizeof there)),
         mine.has_port ? fmt("fd %d is %s", fd, mine.text)
                       : fmt("fd %d has no port yet: netstat and ss do not list it", fd),
         mine.has_port
             ? fmt("the datagram leaves; the socket stays unconnected (ss shows the peer as %s)",
                   no_peer)
             : "the kernel binds the socket to a free port, then the datagram leaves");
}

static void sendto_failed(int fd, const struct sockaddr *server)
{
    char there[ADDR_TEXT_SIZE];
    explain(fmt("sendto(fd %d, %s)", fd, addr_text(server, there, sizeof there)), NULL);
}

static void after_sendto(int fd, const char *msg, long len, const struct sockaddr *server)
{
    char there[ADDR_TEXT_SIZE];
    mine.sent++;
    say("sendto(fd %d, %ld bytes, %s) ok: %s", fd, len, addr_text(server, there, sizeof there),
        payload_text(msg, (size_t)len));
    if (!mine.has_port) {
        mine.has_port = 1;
        end_text(fd, OUR_END, mine.text, sizeof mine.text);
        say("fd %d is now bound to %s: the kernel picked that port during sendto()", fd,
            mine.text);
    }
}

static void before_recvfrom(int fd)
{
    if (lab.step)
        step(fmt("recvfrom(fd %d)", fd), fmt("fd %d is %s", fd, mine.text),
             "returns the reply datagram, or sleeps until one arrives");
    if (opt.timeout_ms < 0)
        say("waiting in recvfrom(fd %d) for the reply (no time limit: -t sets one)", fd);
    else
        say("waiting in recvfrom(fd %d) for the reply (at most %.3g s)", fd,
            (double)opt.timeout_ms / 1000.0);
}

/* -t ran out. The kernel got an ICMP "port unreachable" if no server was
 * there, but does not pass it to an unconnected socket: we cannot know.
 * With IPv6: udpserver (and udpserver.py) have an AF_INET socket, which
 * never sees IPv6 datagrams (::ffff:127.0.0.1 leaves as IPv4). */
static void reply_failed(const struct sockaddr *server)
{
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)server;
    if (server->sa_family != AF_INET6 || IN6_IS_ADDR_V4MAPPED(&s->sin6_addr))
        return;
    explain("", " udpserver and udpserver.py listen on IPv4 only (AF_INET): send to %s",
            IN6_IS_ADDR_LOOPBACK(&s->sin6_addr) ? "127.0.0.1" : "the host's IPv4 address");
}

static void recvfrom_failed(int fd)
{
    explain(fmt("recvfrom(fd %d)", fd), NULL);
}

static void after_messages(int fd)
{
    if (mine.sent == 0 && mine.has_port)
        say("no message to send: fd %d has the port bind() gave it all the same", fd);
    else if (mine.sent == 0)
        say("no message to send: fd %d never got a port", fd);
}

static void before_close(int fd)
{
    if (lab.step)
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

/* ==== Options and usage ==== */

static void parse_options(int argc, char **argv)
{
    lab_start("udpclient", LAB_CLIENT, usage);
    for (int c; (c = next_option(argc, argv, "b:t:wkm:")) != -1;)
        switch (c) {
        case 'b': opt.bind_spec = optarg; break;
        case 't': opt.timeout_ms = parse_seconds(optarg); break;
        case 'w': opt.wait_at_end = 1; break;
        case 'k': opt.keep_going = 1; break;
        default: /* 'm' */
            if (opt.nmessages == MAX_MESSAGES)
                usage_error("too many -m messages (at most %d)", MAX_MESSAGES);
            opt.messages[opt.nmessages++] = optarg;
        }
    if (optind < argc)
        opt.host = argv[optind++];
    if (optind < argc)
        opt.port = argv[optind++];
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    check_host_port(opt.host, opt.port);
    parse_port(opt.port);
    if (opt.keep_going && opt.timeout_ms < 0)
        usage_error("-k needs -t SECONDS: without a time limit a lost reply is waited for for ever");
    if (opt.bind_spec != NULL)
        split_bind_spec(opt.bind_spec, &opt.bind_host, &opt.bind_port);
    choose_family();
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-b [ADDRESS:]PORT] [-t SECONDS] [-k] [-w] [-m MESSAGE]..."
            " [-S]" /* narration */
            " [-h] [HOST [PORT]]\n"
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
            "  -S                 step mode: before each socket call, say what it will\n" /* narration */
            "                     change in lsof/netstat/ss, and wait for Enter\n" /* narration */
            "  -h                 this help\n",
            lab.prog, DEFAULT_PORT);
}
