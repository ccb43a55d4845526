/*
 * multi.c - a TCP echo server with a process per client (the C version of
 * multi.py): many clients at once, each served by its own child process.
 *
 * The lecture order: socket() -> bind() -> listen() -> then for ever:
 * accept() -> fork(). The child serves the client (recv() -> send() until
 * the client closes) and exits; the parent goes straight back to accept().
 * Each child is plain blocking code, as simple as tcpserver1's, and a slow
 * client holds up only its own child. The parent reaps the children that
 * exit (waitpid() in a SIGCHLD handler), or they would stay <defunct>.
 *
 *   cc -o multi multi.c
 *   ./multi                      all interfaces, port 12333, at most 64 children
 *   ./multi -m 2                 at most 2 children: the third client waits
 *   ./multi -S                   step mode: pause before each call of the parent
 *
 * Watch it from another terminal (PID is on its first line):
 *   ps -o pid,ppid,stat,cmd --ppid PID     its children (Linux; a Z in STAT
 *                                          would be a zombie nobody reaped)
 *   lsof -n -P -i TCP:12333      the parent's fd 3 (LISTEN), and each child's
 *                                connected fd 4 (ESTABLISHED), one per process
 *   ss -tanp 'sport = :12333'    the same from the kernel's side (Linux;
 *                                macOS: netstat -an -p tcp)
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORT 12333
#define DEFAULT_BACKLOG 5
#define DEFAULT_CHILDREN 64
#define TEXT_SIZE 512 /* a message as the log shows it: see payload_text() */

static char prog[32] = "multi"; /* a child says multi[PID] */

/* The command line, filled by parse_options(). */
static struct options {
    const char *address; /* -a: listen on this address only (NULL: all) */
    int port;            /* -p */
    int backlog;         /* -l: listen()'s queue */
    int max_children;    /* -m: at most this many children at once */
    int reuse;           /* -r: SO_REUSEADDR before bind() */
    int quiet;           /* -q: no line per client or message (benchmarks) */
    int step;            /* -S: pause before each socket call (parent only) */
} opt = {.port = DEFAULT_PORT, .backlog = DEFAULT_BACKLOG, .max_children = DEFAULT_CHILDREN};

/* Children forked, and children that have exited, recorded by the SIGCHLD
 * handler for main() to report (printf is not safe inside a signal
 * handler): forked - reaped are alive. */
static int forked;
static volatile sig_atomic_t reaped;
static struct {
    pid_t pid;
    int status;
} exits[256];
static int log_lost; /* stdout failed: no more log lines, the serving goes on */

/* The phases of the accept() loop, and the child's life */
static void catch_sigchld(void);
static void on_sigchld(int sig);
static void wait_for_client(int lfd);
_Noreturn static void serve_client(int fd, const struct sockaddr_storage *peer);
static int send_all(int fd, const unsigned char *p, size_t n);
/* What step mode and the log say at each call */
static void before_socket(void);
static void after_socket(int lfd);
static void before_setsockopt(int lfd);
static void after_setsockopt(int lfd);
static void before_bind(int lfd, const struct sockaddr_in *me);
_Noreturn static void bind_failed(int lfd, const struct sockaddr_in *me);
static int port_has_listener(const struct sockaddr_in *me);
static void after_bind(int lfd, const struct sockaddr_in *me);
static void before_listen(int lfd, const struct sockaddr_in *me);
static void after_listen(int lfd, const struct sockaddr_in *me);
static void report_exits(void);
static void at_the_cap(void);
static void before_accept(int lfd);
static void accept_failed(int lfd);
static void before_fork(int cfd, const struct sockaddr_storage *peer);
static void after_fork(int lfd, int cfd, const struct sockaddr_storage *peer, pid_t pid);
static void child_starts(int fd, const char *them);
static void after_recv(int fd, const char *them, const unsigned char *buf, ssize_t n);
static void child_exits(const char *them, const char *why, unsigned long long total);
/* Plumbing */
static void parse_options(int argc, char **argv);
static void long_options(int argc, char **argv);
static void usage(FILE *out);
_Noreturn static void usage_error(const char *fmt, ...);
_Noreturn static void fail(const char *what);
static void say(const char *fmt, ...);
static void check_stdout(void);
static void step_byte_order(const struct sockaddr *sa);
static const char *err_text(int e);
static void step(const char *fmt, ...);
static int is_port(const char *s);
static int parse_port(const char *s);
static int parse_count(const char *s, const char *what, int min, int max);
static void server_address(struct sockaddr_in *out);
static int set_nonblocking(int fd);
static const char *addr_text(const struct sockaddr *sa, char *buf, size_t size);
static const char *payload_text(const unsigned char *p, size_t n, char out[TEXT_SIZE]);

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0); /* the log goes out a line at a time */
    signal(SIGPIPE, SIG_IGN); /* a reset client must not kill its child in send() */
    struct sockaddr_in me;
    server_address(&me); /* *:PORT, or -a's address (getaddrinfo()) */

    /* socket(): a TCP socket, no address yet: lsof shows it, ss does not. */
    before_socket();
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        fail("socket");
    after_socket(lfd);

    /* -r: SO_REUSEADDR lets bind() take a port that connections of an
     * earlier server still hold (on Linux: if that server set it too). */
    if (opt.reuse) {
        int one = 1;
        before_setsockopt(lfd);
        if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            fail("setsockopt(SO_REUSEADDR)");
        after_setsockopt(lfd);
    }

    /* bind(): claim the port. Not LISTEN yet: a SYN here still gets RST. */
    before_bind(lfd, &me);
    if (bind(lfd, (struct sockaddr *)&me, sizeof me) < 0)
        bind_failed(lfd, &me); /* exit 1, with the EADDRINUSE advice */
    after_bind(lfd, &me);

    /* listen(): LISTEN. The kernel completes handshakes by itself now and
     * queues them for accept(), also while we are busy forking. */
    before_listen(lfd, &me);
    if (listen(lfd, opt.backlog) < 0)
        fail("listen");
    after_listen(lfd, &me);

    catch_sigchld(); /* a child that exits is reaped: on_sigchld(), waitpid() */
    for (;;) {
        /* accept(): the oldest connection of the queue. wait_for_client()
         * first sleeps in pselect() until there is one, reporting the
         * children that exit meanwhile (at -m children: until one exits). */
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof peer;
        before_accept(lfd);
        wait_for_client(lfd);
        int cfd = accept(lfd, (struct sockaddr *)&peer, &peerlen);
        if (cfd < 0) {
            if (errno != EINTR) /* EINTR: SIGCHLD interrupted the wait, no error */
                accept_failed(lfd);
            continue;
        }

        /* fork(): the child is a copy of this process, with copies of all
         * its fds: both the listening socket and the new connection. */
        before_fork(cfd, &peer);
        pid_t pid = fork();
        if (pid == 0) {
            close(lfd); /* the child serves this client only: it never accept()s */
            serve_client(cfd, &peer); /* recv() and send() until the client closes */
        }
        if (pid > 0)
            forked++;
        after_fork(lfd, cfd, &peer, pid); /* pid < 0: fork() failed, the client is dropped */
        /* The parent closes its copy: the child has one. Else the child's close()
         * would send no FIN (not the last fd), and we would run out of fds. */
        close(cfd);
    }
}

/*
 * catch_sigchld(): SIGCHLD comes when a child exits; on_sigchld() then
 * reaps it with waitpid(), or it would stay a <defunct> zombie. No
 * SA_RESTART: a wait in accept() then fails with EINTR, which main()
 * retries.
 */
static void catch_sigchld(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_NOCLDSTOP; /* exits only, not stops */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, NULL) < 0)
        fail("sigaction(SIGCHLD)");
}

/*
 * on_sigchld(): the SIGCHLD handler. Reap every child that has exited
 * (several may have, for one signal) with waitpid(), which frees what the
 * kernel kept of it; record them for report_exits() (printf is not safe in
 * a signal handler).
 */
static void on_sigchld(int sig)
{
    int saved = errno; /* waitpid() must not change errno under main() */
    pid_t pid;
    int status;
    (void)sig;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int slot = reaped % 256;
        exits[slot].pid = pid;
        exits[slot].status = status;
        reaped = reaped + 1;
    }
    errno = saved;
}

/*
 * wait_for_client(): before each accept(), sleep until a client waits in
 * the accept queue, and report each child that exits meanwhile, when it
 * exits. At the cap (-m), stop accepting: new clients wait in the kernel's
 * accept queue (then SYNs are dropped) instead of each costing a process.
 * SIGCHLD is blocked while we look; pselect() (sigsuspend() at the cap)
 * unblocks it and sleeps in one step, so no exit is missed or reported
 * late. (A plain accept() would not be interrupted by a SIGCHLD that came
 * just before it, and the exit would be reported with the next client.)
 */
static void wait_for_client(int lfd)
{
    sigset_t chld, unblocked;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &unblocked);
    report_exits();
    if (forked - reaped >= opt.max_children) {
        at_the_cap();
        while (forked - reaped >= opt.max_children)
            sigsuspend(&unblocked);
        report_exits();
    }
    for (;;) {
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(lfd, &readable); /* the listener: fd 3, far below FD_SETSIZE */
        int n = pselect(lfd + 1, &readable, NULL, NULL, NULL, &unblocked);
        report_exits();
        if (n > 0 || errno != EINTR)
            break; /* a client waits (or pselect failed: accept() will say why) */
    }
    sigprocmask(SIG_SETMASK, &unblocked, NULL);
}

/*
 * serve_client(): the child's whole life: plain blocking code, as in
 * tcpserver1. recv() what the client sends and send() all of it back,
 * until recv() returns 0 (the client closed) or an error; then close()
 * (our FIN) and exit. The parent's SIGCHLD handler reaps us.
 */
_Noreturn static void serve_client(int fd, const struct sockaddr_storage *peer)
{
    static unsigned char buf[65536];
    unsigned long long total = 0;
    char them[64], why[128] = "closed the connection";
    addr_text((const struct sockaddr *)peer, them, sizeof them);
    snprintf(prog, sizeof prog, "multi[%ld]", (long)getpid()); /* for the log */
    opt.step = 0;             /* only the parent reads the terminal */
    signal(SIGCHLD, SIG_DFL); /* the parent's handler is not ours */
    /* TCP_NODELAY: an echo bigger than one buffer goes out in pieces, and
     * with Nagle's algorithm on, a small last piece waits for the ACK of the
     * one before, which a client that only reads delays (delayed ACK: 40 ms
     * on Linux). A server that sends whole replies turns Nagle off. */
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        say("setsockopt(fd %d, TCP_NODELAY): %s (going on)", fd, err_text(errno));
    child_starts(fd, them);
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(why, sizeof why, "recv: %s", err_text(errno));
            break;
        }
        if (n == 0)
            break;
        after_recv(fd, them, buf, n);
        if (send_all(fd, buf, (size_t)n) < 0) {
            snprintf(why, sizeof why, "send: %s", err_text(errno));
            break;
        }
        total += (unsigned long long)n;
    }
    close(fd);
    child_exits(them, why, total);
    _exit(0); /* every line is out already: say() flushes each */
}

/* send_all(): send() may take fewer bytes than asked: send the rest too. */
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

/* ==== The lesson ends here. Below: what step mode and the log say at each call (in lecture order), then the plumbing. ==== */

static void before_socket(void)
{
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());
    step("socket(AF_INET, SOCK_STREAM, 0)\n"
         "no socket yet\n"
         "a new fd: a TCP socket with no address (netstat and ss do not list it)");
}

static void after_socket(int lfd)
{
    say("socket(AF_INET, SOCK_STREAM, 0) = fd %d", lfd);
}

static void before_setsockopt(int lfd)
{
    step("setsockopt(fd %d, SO_REUSEADDR, 1)\n"
         "fd %d has no address\n"
         "no visible change: bind() may now reuse a port old connections still hold",
         lfd, lfd);
}

static void after_setsockopt(int lfd)
{
    say("setsockopt(fd %d, SO_REUSEADDR, 1) ok", lfd);
}

static void before_bind(int lfd, const struct sockaddr_in *me)
{
    step_byte_order((const struct sockaddr *)me);
    char here[64];
    addr_text((const struct sockaddr *)me, here, sizeof here);
    step("bind(fd %d, %s)\n"
         "fd %d has no address: ss -tln does not show port %d\n"
         "fd %d owns %s but is not LISTEN yet",
         lfd, here, lfd, opt.port, lfd, here);
}

/* bind() failed: say why, and for EADDRINUSE which of the two it is. */
_Noreturn static void bind_failed(int lfd, const struct sockaddr_in *me)
{
    int e = errno, port = ntohs(me->sin_port);
    char here[64], advice[400] = "";
    addr_text((const struct sockaddr *)me, here, sizeof here);
    if (e == EADDRINUSE && port_has_listener(me))
        snprintf(advice, sizeof advice,
                 " (a server is listening on port %d now: lsof -n -P -i TCP:%d -s TCP:LISTEN "
                 "shows which)",
                 port, port);
    else if (e == EADDRINUSE)
        snprintf(advice, sizeof advice,
                 " (no server listens on port %d, but connections of an earlier server linger, "
                 "e.g. in TIME_WAIT for 60 s: -r restarts at once only if the earlier server "
                 "used -r too; else wait. ss -tan 'sport = :%d' shows them)",
                 port, port);
    else if (e == EADDRNOTAVAIL)
        snprintf(advice, sizeof advice, " (that address is not one of this machine's)");
    else if (e == EACCES)
        snprintf(advice, sizeof advice, " (ports below 1024 need root)");
    fprintf(stderr, "%s: bind(fd %d, %s): %s%s\n", prog, lfd, here, err_text(e), advice);
    exit(1);
}

/* Is a server listening on the port bind() found in use? Ask the kernel:
 * a non-blocking connect() to that address (to 127.0.0.1 for the
 * wildcard), 500 ms at most. Connected, or still waiting (a listener whose
 * queue is full drops our SYN): yes. Refused: no, only connections linger. */
static int port_has_listener(const struct sockaddr_in *me)
{
    struct sockaddr_in to = *me;
    if (to.sin_addr.s_addr == htonl(INADDR_ANY))
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0), listening = 0;
    if (fd < 0)
        return 0;
    if (set_nonblocking(fd) == 0) {
        if (connect(fd, (struct sockaddr *)&to, sizeof to) == 0) {
            listening = 1;
        } else if (errno == EINPROGRESS && fd < FD_SETSIZE) {
            fd_set w;
            FD_ZERO(&w);
            FD_SET(fd, &w);
            struct timeval wait = {0, 500000};
            int ready = select(fd + 1, NULL, &w, NULL, &wait);
            int err = 0;
            socklen_t len = sizeof err;
            if (ready == 0) /* no answer in 500 ms: a listener with a full queue */
                listening = 1;
            else if (ready > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0)
                listening = err == 0;
        }
    }
    close(fd);
    return listening;
}

static void after_bind(int lfd, const struct sockaddr_in *me)
{
    char here[64];
    say("bind(fd %d, %s) ok", lfd, addr_text((const struct sockaddr *)me, here, sizeof here));
}

static void before_listen(int lfd, const struct sockaddr_in *me)
{
    char here[64];
    addr_text((const struct sockaddr *)me, here, sizeof here);
    step("listen(fd %d, %d)\n"
         "fd %d bound to %s, not listening: ss -tln does not show it\n"
         "fd %d is LISTEN: lsof 'TCP %s (LISTEN)'",
         lfd, opt.backlog, lfd, here, lfd, here);
}

static void after_listen(int lfd, const struct sockaddr_in *me)
{
    char here[64];
    addr_text((const struct sockaddr *)me, here, sizeof here);
    say("listen(fd %d, %d) ok: fd %d is LISTEN on %s; a child process per client, at most %d",
        lfd, opt.backlog, lfd, here, opt.max_children);
}

/* The exits on_sigchld() recorded since the last call (SIGCHLD is blocked). */
static void report_exits(void)
{
    static int shown; /* exits reported so far */
    if (reaped - shown > 256)
        shown = reaped - 256; /* older records were overwritten */
    for (; shown < reaped; shown++) {
        int slot = shown % 256, st = exits[slot].status;
        if (opt.quiet)
            continue;
        if (WIFEXITED(st))
            say("child %ld exited with status %d (reaped by waitpid)", (long)exits[slot].pid,
                WEXITSTATUS(st));
        else if (WIFSIGNALED(st))
            say("child %ld killed by signal %d (reaped by waitpid)", (long)exits[slot].pid,
                WTERMSIG(st));
    }
}

static void at_the_cap(void)
{
    if (!opt.quiet)
        say("%d children, the limit (-m): not accepting until one exits", forked - reaped);
}

static void before_accept(int lfd)
{
    step("accept(fd %d)\n"
         "fd %d LISTEN; %d child(ren) serving clients\n"
         "a new fd for the oldest waiting connection (or sleep until one comes)",
         lfd, lfd, forked - reaped);
}

/* accept() failed (not EINTR): say so; after EMFILE (out of fds) also wait
 * 100 ms, not to spin: the connection stays queued, accept() would fail
 * again at once. */
static void accept_failed(int lfd)
{
    int e = errno;
    fprintf(stderr, "%s: accept(fd %d): %s (going on)\n", prog, lfd, err_text(e));
    if (e == EMFILE || e == ENFILE) {
        struct timespec pause = {0, 100000000};
        nanosleep(&pause, NULL);
    }
}

static void before_fork(int cfd, const struct sockaddr_storage *peer)
{
    char them[64];
    addr_text((const struct sockaddr *)peer, them, sizeof them);
    step("fork()\n"
         "fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed), in this "
         "process\n"
         "a child process has its own fd %d for the connection too",
         cfd, them, cfd);
    check_stdout(); /* flushes: or the child would print our buffered output again */
}

/* The parent after fork(): pid is the child's, or -1 if fork() failed (the
 * connection is closed then, the client dropped). */
static void after_fork(int lfd, int cfd, const struct sockaddr_storage *peer, pid_t pid)
{
    int e = errno, alive = forked - reaped;
    char them[64];
    addr_text((const struct sockaddr *)peer, them, sizeof them);
    if (pid < 0)
        fprintf(stderr, "%s: fork: %s: closing the connection from %s\n", prog, err_text(e),
                them);
    else if (!opt.quiet)
        say("accept(fd %d) = fd %d: client %s; child pid %ld serves it (%d child%s now)", lfd,
            cfd, them, (long)pid, alive, alive == 1 ? "" : "ren");
}

static void child_starts(int fd, const char *them)
{
    if (!opt.quiet)
        say("serving %s on fd %d", them, fd);
}

static void after_recv(int fd, const char *them, const unsigned char *buf, ssize_t n)
{
    char text[TEXT_SIZE];
    if (!opt.quiet)
        say("recv(fd %d) = %ld bytes from %s: %s", fd, (long)n, them,
            payload_text(buf, (size_t)n, text));
}

static void child_exits(const char *them, const char *why, unsigned long long total)
{
    if (!opt.quiet)
        say("client %s %s after %llu bytes echoed; child exits", them, why, total);
}

/* ---- plumbing: options, formatting, errors ---- */

/* The command line into opt. -h and --help print the usage; a mistake is
 * one line on stderr and exit 2. */
static void parse_options(int argc, char **argv)
{
    int o;
    long_options(argc, argv);
    opterr = 0;
    while ((o = getopt(argc, argv, ":p:a:l:m:rqSh")) != -1) {
        switch (o) {
        case 'p': opt.port = parse_port(optarg); break;
        case 'a': opt.address = optarg; break;
        case 'l': opt.backlog = parse_count(optarg, "backlog", 0, 65535); break;
        case 'm': opt.max_children = parse_count(optarg, "child limit", 1, 10000); break;
        case 'r': opt.reuse = 1; break;
        case 'q': opt.quiet = 1; break;
        case 'S': opt.step = 1; break;
        case 'h': usage(stdout); exit(0);
        case ':': usage_error("option -%c needs an argument", optopt);
        default: usage_error("unknown option -%c", optopt);
        }
    }
    if (optind < argc && is_port(argv[optind]))
        usage_error("unexpected argument '%s': the port goes with -p: %s -p %s", argv[optind],
                    prog, argv[optind]);
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
}

/* --help is -h; any other --word is not an option of ours (getopt would
 * say "unknown option --"). */
static void long_options(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            exit(0);
        }
    }
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0 && argv[i][2] != '\0')
            usage_error("unknown option '%s': the options are single letters", argv[i]);
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-p PORT] [-a ADDRESS] [-l BACKLOG] [-m MAX] [-r] [-q] [-S] [-h]\n"
            "TCP echo server with a child process per client: many clients at once.\n"
            "Each client gets back everything it sends, for as long as it stays.\n"
            "  -p PORT     TCP port to listen on (default %d)\n"
            "  -a ADDRESS  listen on this local address or host name only\n"
            "              (default: all interfaces, shown as *)\n"
            "  -l BACKLOG  listen() backlog (default %d)\n"
            "  -m MAX      at most MAX children at once (default %d); at the limit\n"
            "              new clients wait in the kernel's queue\n"
            "  -r          set SO_REUSEADDR before bind()\n"
            "  -q          quiet: no line per client or message\n"
            "  -S          step mode: before each socket call of the parent, say\n"
            "              what it will change in lsof/netstat/ss, and wait for Enter\n"
            "  -h          this help\n",
            prog, DEFAULT_PORT, DEFAULT_BACKLOG, DEFAULT_CHILDREN);
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

/* One line of the log on stdout (the parent's or a child's). When stdout
 * fails (a closed pipe: EPIPE, as SIGPIPE is ignored; a full disk), say so
 * once on stderr and write no more log: the clients are still served. */
static void say(const char *f, ...)
{
    if (log_lost)
        return;
    /* SIGCHLD waits while we write: a signal that interrupts a write to a
     * full pipe makes it fail with EINTR, and stdio would drop the line. */
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    int saved = errno;
    va_list ap;
    errno = 0;
    printf("%s: ", prog);
    va_start(ap, f);
    vprintf(f, ap);
    va_end(ap);
    putchar('\n'); /* line-buffered: this writes the line */
    check_stdout();
    errno = saved;
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Flush stdout; if it failed (now or in the last line), the log is lost. */
static void check_stdout(void)
{
    if (!log_lost && (ferror(stdout) || fflush(stdout) == EOF)) {
        log_lost = 1;
        fprintf(stderr, "%s: stdout: %s: the log is lost from here on; still serving\n", prog,
                err_text(errno != 0 ? errno : EIO));
    }
}

/* Step mode: say what the next call is, what lsof/netstat/ss show now and
 * what they will show after it, then wait for Enter. The three texts are
 * one printf format, "CALL\nNOW\nAFTER". Without -S: nothing. */
static void step(const char *f, ...)
{
    if (!opt.step)
        return;
    char text[1024];
    va_list ap;
    va_start(ap, f);
    vsnprintf(text, sizeof text, f, ap);
    va_end(ap);
    char *now = strchr(text, '\n');
    char *after = now != NULL ? strchr(now + 1, '\n') : NULL;
    if (now == NULL || after == NULL)
        now = after = text + strlen(text); /* not three texts: a bug here */
    else
        *now++ = *after++ = '\0';
    say("step: next: %s", text);
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

/* A port number, 1 to 65535? (A leftover argument that is one was meant
 * for -p.) */
static int is_port(const char *s)
{
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > 65535)
            return 0;
    }
    return v > 0;
}

static int parse_port(const char *s)
{
    if (!is_port(s))
        usage_error("bad port '%s': must be a number from 1 to 65535", s);
    return (int)strtol(s, NULL, 10);
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

/* The address to bind: all interfaces (INADDR_ANY), or the IPv4 address
 * of -a ADDRESS, which getaddrinfo() finds for a name; port -p. */
static void server_address(struct sockaddr_in *out)
{
    const char *host = opt.address;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((unsigned short)opt.port);
    out->sin_addr.s_addr = htonl(INADDR_ANY);
    if (host == NULL)
        return;

    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot resolve '%s': %s\n", prog, host, gai_strerror(rc));
        exit(1);
    }
    out->sin_addr = ((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
}

/* O_NONBLOCK on fd: its calls return EAGAIN instead of sleeping. */
static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

/* An address as lsof -n -P shows it (*:12333, 127.0.0.1:43706), written
 * into the caller's buf, which is returned. */
static const char *addr_text(const struct sockaddr *sa, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
        if (s->sin_addr.s_addr == htonl(INADDR_ANY))
            snprintf(buf, size, "*:%u", ntohs(s->sin_port));
        else if (inet_ntop(AF_INET, &s->sin_addr, host, sizeof host) != NULL)
            snprintf(buf, size, "%s:%u", host, ntohs(s->sin_port));
        else
            snprintf(buf, size, "?:%u", ntohs(s->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)sa;
        if (inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host) != NULL)
            snprintf(buf, size, "[%s]:%u", host, ntohs(s->sin6_port));
        else
            snprintf(buf, size, "[?]:%u", ntohs(s->sin6_port));
    } else {
        snprintf(buf, size, "(address family %d)", sa->sa_family);
    }
    return buf;
}

/* The first 60 bytes of a message, quoted, with anything unprintable
 * escaped (\n, \x1b: a client cannot send escape sequences to the
 * operator's terminal), written into the caller's out, which is returned.
 * At most 60 x 4 + 40 bytes: TEXT_SIZE is plenty. */
static const char *payload_text(const unsigned char *p, size_t n, char out[TEXT_SIZE])
{
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
