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
 * Read main() first: it is the lesson, each call with what the kernel does
 * there, then its phase handlers (on_sigchld(), wait_for_client(),
 * serve_client(), send_all()). Below the lesson's end marker: what step
 * mode and the log say at each call (before_*, after_*, *_failed, in the
 * same order; make bare removes them), then the options and usage. The
 * plumbing the seven programs share (errors, the log, step mode, address
 * text, option parsing) is lab.h's.
 *
 *   cc -o multi multi.c          (next to lab.h)
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
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab.h"

#define PROG "multi"
#define DEFAULT_PORT 12333
#define DEFAULT_BACKLOG 5
#define DEFAULT_CHILDREN 64

/* The command line, filled by parse_options(). */
static struct options {
    const char *address; /* -a: listen on this address only (NULL: all) */
    int port;            /* -p */
    int backlog;         /* -l: listen()'s queue */
    int max_children;    /* -m: at most this many children at once */
    int reuse;           /* -r: SO_REUSEADDR before bind() */
} opt = {.port = DEFAULT_PORT, .backlog = DEFAULT_BACKLOG, .max_children = DEFAULT_CHILDREN};

/* Children forked, and children reaped by the SIGCHLD handler: forked -
 * reaped are alive. The lines marked narration keep what only the log
 * tells (make bare removes them): each exit reaped; a child's client, why
 * it ended and how many bytes it echoed. */
static int forked;
static volatile sig_atomic_t reaped;
static struct child_exit { pid_t pid; int status; } exits[256]; /* narration */
static struct { char them[ADDR_TEXT_SIZE], why[128]; unsigned long long echoed; } child; /* narration */

/* The phases of the accept() loop and the child's life; then the narration */
static void on_sigchld(int sig);
static void wait_for_client(int lfd);
_Noreturn static void serve_client(int fd);
static int send_all(int fd, const unsigned char *p, size_t n);
static void before_socket(void);
static void after_socket(int lfd);
static void before_setsockopt(int lfd);
static void after_setsockopt(int lfd);
static void before_bind(int lfd, const struct sockaddr_in *me);
static void bind_failed(int lfd, const struct sockaddr_in *me);
static void after_bind(int lfd, const struct sockaddr_in *me);
static void before_listen(int lfd, const struct sockaddr_in *me);
static void after_listen(int lfd, const struct sockaddr_in *me);
static void after_waitpid(void);
static void before_sigsuspend(void);
static void before_accept(int lfd);
static void accept_failed(int lfd);
static void before_fork(int cfd, const struct sockaddr_storage *peer);
static void fork_failed(const struct sockaddr_storage *peer);
static void after_fork(int lfd, int cfd, const struct sockaddr_storage *peer, pid_t pid);
static void after_fork_in_child(const struct sockaddr_storage *peer);
static void before_recv(int fd);
static void after_recv(int fd, const void *buf, ssize_t n);
static void recv_failed(void);
static void send_failed(void);
static void after_send(ssize_t n);
static void after_close(void);
/* The command line */
static void parse_options(int argc, char **argv);
static void usage(FILE *out);

int main(int argc, char **argv)
{
    parse_options(argc, argv); /* lab_start(): the log line-buffered, SIGPIPE ignored */

    /* N3, N1: the address to bind, in network byte order: htons() for the
     * port; INADDR_ANY (every address of this machine, now and later), or
     * -a's IPv4 address (a name through getaddrinfo(): resolve_ipv4()). */
    struct sockaddr_in me;
    memset(&me, 0, sizeof me);
    me.sin_family = AF_INET;
    me.sin_port = htons((unsigned short)opt.port);
    me.sin_addr.s_addr = htonl(INADDR_ANY);
    if (opt.address != NULL)
        me.sin_addr = resolve_ipv4(opt.address);

    /* T2: socket(): a TCP socket, no address yet: lsof shows it, ss does not. */
    before_socket();
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        fail("socket");
    after_socket(lfd);

    /* T7: -r: SO_REUSEADDR lets bind() take a port that connections of an
     * earlier server still hold (on Linux: if that server set it too). */
    if (opt.reuse) {
        int one = 1;
        before_setsockopt(lfd);
        if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            fail("setsockopt(SO_REUSEADDR)");
        after_setsockopt(lfd);
    }

    /* T2, N4: bind(): claim the port. Not LISTEN yet: a SYN here still gets
     * RST. EADDRINUSE: a server listens there, or old connections linger. */
    before_bind(lfd, &me);
    if (bind(lfd, (struct sockaddr *)&me, sizeof me) < 0) {
        bind_failed(lfd, &me);
        fail("bind");
    }
    after_bind(lfd, &me);

    /* T2, T9: listen(): LISTEN. The kernel completes handshakes by itself
     * now and queues them for accept(), also while we are busy forking. */
    before_listen(lfd, &me);
    if (listen(lfd, opt.backlog) < 0)
        fail("listen");
    after_listen(lfd, &me);

    /* T12: SIGCHLD comes when a child exits; on_sigchld() then reaps it with
     * waitpid(), or it would stay a <defunct> zombie. SA_NOCLDSTOP: exits
     * only, not stops. SA_RESTART: a call it interrupts (a write of the log
     * to a full pipe, step mode's read) goes on; pselect() and sigsuspend()
     * still return, to report the exit at once (wait_for_client()). */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, NULL) < 0)
        fail("sigaction(SIGCHLD)");

    for (;;) {
        /* T4, N7: accept(): the oldest connection of the queue.
         * wait_for_client() first sleeps in pselect() until there is one,
         * reporting the children that exit meanwhile (at -m children: until
         * one exits, so a flood of connects waits in the kernel's queue). */
        struct sockaddr_storage peer;
        socklen_t peerlen = sizeof peer;
        before_accept(lfd);
        wait_for_client(lfd);
        int cfd = accept(lfd, (struct sockaddr *)&peer, &peerlen);
        if (cfd < 0) {
            accept_failed(lfd); /* one line on stderr; EINTR (a signal) is no error */
            /* EMFILE, ENFILE (out of fds): the connection stays queued and
             * accept() would fail again at once: wait 100 ms, not to spin. */
            if (errno == EMFILE || errno == ENFILE)
                nanosleep(&(struct timespec){0, 100000000}, NULL);
            continue;
        }

        /* T12: fork(): the child is a copy of this process, with copies of
         * all its fds: both the listening socket and the new connection
         * (and of stdio's buffer: empty, as say() writes out each line). */
        before_fork(cfd, &peer);
        pid_t pid = fork();
        if (pid == 0) {
            after_fork_in_child(&peer);
            close(lfd); /* the child serves this client only: it never accept()s */
            serve_client(cfd); /* recv() and send() until the client closes */
        }
        if (pid < 0) {
            fork_failed(&peer);
            close(cfd); /* no process to serve it: the client is dropped */
            continue;
        }
        forked++;
        after_fork(lfd, cfd, &peer, pid);
        /* The parent closes its copy: the child has one. Else the child's close()
         * would send no FIN (not the last fd), and we would run out of fds. */
        close(cfd);
    }
}

/*
 * on_sigchld(): the SIGCHLD handler. Reap every child that has exited
 * (several may have, for one signal) with waitpid(), which frees what the
 * kernel kept of it. WNOHANG: return at once when none is left. (The log
 * line comes later, from main(): printf is not safe in a signal handler.)
 */
static void on_sigchld(int sig)
{
    int saved = errno, status; /* waitpid() must not change errno under main() */
    pid_t pid;
    (void)sig;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        exits[reaped % 256] = (struct child_exit){pid, status}; /* narration */
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
    after_waitpid();
    if (forked - reaped >= opt.max_children) {
        before_sigsuspend();
        while (forked - reaped >= opt.max_children)
            sigsuspend(&unblocked);
        after_waitpid();
    }
    for (;;) {
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(lfd, &readable); /* the listener: fd 3, far below FD_SETSIZE */
        int n = pselect(lfd + 1, &readable, NULL, NULL, NULL, &unblocked);
        after_waitpid();
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
_Noreturn static void serve_client(int fd)
{
    static unsigned char buf[65536];
    signal(SIGCHLD, SIG_DFL); /* the parent's handler is not ours */
    /* TCP_NODELAY: an echo bigger than one buffer goes out in pieces, and
     * with Nagle's algorithm on, a small last piece waits for the ACK of the
     * one before, which a client that only reads delays (delayed ACK: 40 ms
     * on Linux). A server that sends whole replies turns Nagle off. */
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        say("setsockopt(fd %d, TCP_NODELAY): %s (going on)", fd, err_text(errno));
    before_recv(fd);
    for (;;) {
        /* N4, N7: recv() sleeps until bytes come; 0: the client closed. */
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            recv_failed();
            break;
        }
        if (n == 0)
            break;
        after_recv(fd, buf, n);
        /* N5: send() returns when the bytes are in the kernel's buffer. */
        if (send_all(fd, buf, (size_t)n) < 0) {
            send_failed();
            break;
        }
        after_send(n);
    }
    /* T6: close(): our FIN (the client closed first: TIME_WAIT is its end's). */
    close(fd);
    after_close();
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

/* ==== The lesson ends here. Below: what step mode and the log say at each call, in lecture order (make bare removes it), then the options. ==== */

static void before_socket(void)
{
    say("pid %ld (its sockets: lsof -n -P -p %ld)", (long)getpid(), (long)getpid());
    step("socket(AF_INET, SOCK_STREAM, 0)", "no socket yet",
         "a new fd: a TCP socket with no address (netstat and ss do not list it)");
}

static void after_socket(int lfd)
{
    say("socket(AF_INET, SOCK_STREAM, 0) = fd %d", lfd);
}

static void before_setsockopt(int lfd)
{
    if (!lab.step)
        return;
    step(fmt("setsockopt(fd %d, SO_REUSEADDR, 1)", lfd), fmt("fd %d has no address", lfd),
         "no visible change: bind() may now reuse a port old connections still hold");
}

static void after_setsockopt(int lfd)
{
    say("setsockopt(fd %d, SO_REUSEADDR, 1) ok", lfd);
}

static void before_bind(int lfd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    if (!lab.step)
        return;
    step_byte_order((const struct sockaddr *)me);
    addr_text(me, here, sizeof here);
    step(fmt("bind(fd %d, %s)", lfd, here),
         fmt("fd %d has no address: ss -tln does not show port %d", lfd, opt.port),
         fmt("fd %d owns %s but is not LISTEN yet", lfd, here));
}

/* bind() failed: the call as fail() names it, and for EADDRINUSE its two
 * causes (lab.h's bind_advice() probes the port without a packet). */
static void bind_failed(int lfd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    explain(fmt("bind(fd %d, %s)", lfd, addr_text(me, here, sizeof here)), "%s",
            bind_advice(errno, (const struct sockaddr *)me));
}

static void after_bind(int lfd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    say("bind(fd %d, %s) ok", lfd, addr_text(me, here, sizeof here));
}

static void before_listen(int lfd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    if (!lab.step)
        return;
    addr_text(me, here, sizeof here);
    step(fmt("listen(fd %d, %d)", lfd, opt.backlog),
         fmt("fd %d bound to %s, not listening: ss -tln does not show it", lfd, here),
         fmt("fd %d is LISTEN: lsof 'TCP %s (LISTEN)'", lfd, here));
}

static void after_listen(int lfd, const struct sockaddr_in *me)
{
    char here[ADDR_TEXT_SIZE];
    say("listen(fd %d, %d) ok: fd %d is LISTEN on %s; a child process per client, at most %d",
        lfd, opt.backlog, lfd, addr_text(me, here, sizeof here), opt.max_children);
}

/* The exits on_sigchld() recorded since the last call (SIGCHLD is blocked). */
static void after_waitpid(void)
{
    static int shown; /* exits reported so far */
    int e = errno;
    if (reaped - shown > 256)
        shown = reaped - 256; /* older records were overwritten */
    for (; shown < reaped; shown++) {
        int slot = shown % 256, st = exits[slot].status;
        if (lab.quiet)
            continue;
        if (WIFEXITED(st))
            say("child %ld exited with status %d (reaped by waitpid)", (long)exits[slot].pid,
                WEXITSTATUS(st));
        else if (WIFSIGNALED(st))
            say("child %ld killed by signal %d (reaped by waitpid)", (long)exits[slot].pid,
                WTERMSIG(st));
    }
    errno = e;
}

static void before_sigsuspend(void)
{
    if (!lab.quiet)
        say("%d children, the limit (-m): not accepting until one exits", forked - reaped);
}

static void before_accept(int lfd)
{
    if (!lab.step)
        return;
    step(fmt("accept(fd %d)", lfd),
         fmt("fd %d LISTEN; %d child(ren) serving clients", lfd, forked - reaped),
         "a new fd for the oldest waiting connection (or sleep until one comes)");
}

/* accept() failed: one line on stderr, and the server goes on. EINTR (a
 * signal came) is no error. */
static void accept_failed(int lfd)
{
    int e = errno;
    if (e != EINTR)
        fprintf(stderr, "%s: accept(fd %d): %s (going on)\n", lab.prog, lfd, err_text(e));
    errno = e;
}

static void before_fork(int cfd, const struct sockaddr_storage *peer)
{
    char them[ADDR_TEXT_SIZE];
    if (!lab.step)
        return;
    addr_text(peer, them, sizeof them);
    step("fork()",
         fmt("fd %d ESTABLISHED with %s (CLOSE_WAIT once the client has closed), in this "
             "process", cfd, them),
         fmt("a child process has its own fd %d for the connection too", cfd));
}

static void fork_failed(const struct sockaddr_storage *peer)
{
    int e = errno;
    char them[ADDR_TEXT_SIZE];
    fprintf(stderr, "%s: fork: %s: closing the connection from %s\n", lab.prog, err_text(e),
            addr_text(peer, them, sizeof them));
    errno = e;
}

/* The parent after fork(): pid is the child's. */
static void after_fork(int lfd, int cfd, const struct sockaddr_storage *peer, pid_t pid)
{
    int alive = forked - reaped;
    char them[ADDR_TEXT_SIZE];
    if (!lab.quiet)
        say("accept(fd %d) = fd %d: client %s; child pid %ld serves it (%d child%s now)", lfd,
            cfd, addr_text(peer, them, sizeof them), (long)pid, alive, alive == 1 ? "" : "ren");
}

/* The child: its lines say multi[PID] and name its client; only the
 * parent reads the terminal. */
static void after_fork_in_child(const struct sockaddr_storage *peer)
{
    static char name[32];
    snprintf(name, sizeof name, "%s[%ld]", PROG, (long)getpid());
    lab.prog = name;
    lab.step = 0;
    addr_text(peer, child.them, sizeof child.them);
}

static void before_recv(int fd)
{
    if (!lab.quiet)
        say("serving %s on fd %d", child.them, fd);
}

static void after_recv(int fd, const void *buf, ssize_t n)
{
    if (!lab.quiet)
        say("recv(fd %d) = %ld bytes from %s: %s", fd, (long)n, child.them,
            payload_text(buf, (size_t)n));
}

/* Why the child ends, and how much it echoed: for after_close()'s line. */
static void recv_failed(void)
{
    snprintf(child.why, sizeof child.why, "recv: %s", err_text(errno));
}

static void send_failed(void)
{
    snprintf(child.why, sizeof child.why, "send: %s", err_text(errno));
}

static void after_send(ssize_t n)
{
    child.echoed += (unsigned long long)n;
}

static void after_close(void)
{
    if (!lab.quiet)
        say("client %s %s after %llu bytes echoed; child exits", child.them,
            child.why[0] != '\0' ? child.why : "closed the connection", child.echoed);
}

/* ==== Options and usage ==== */

/* The command line into opt. -h, --help, -S and -q are lab.h's
 * (next_option()); a mistake is one line on stderr and exit 2. */
static void parse_options(int argc, char **argv)
{
    int o;
    lab_start(PROG, LAB_SERVER, usage);
    while ((o = next_option(argc, argv, "p:a:l:m:r")) != -1) {
        switch (o) {
        case 'p': opt.port = parse_port(optarg); break;
        case 'a': check_host_word(optarg); opt.address = optarg; break;
        case 'l': opt.backlog = parse_count(optarg, "backlog", 0, 65535); break;
        case 'm': opt.max_children = parse_count(optarg, "child limit", 1, 10000); break;
        case 'r': opt.reuse = 1; break;
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
            "usage: %s [-p PORT] [-a ADDRESS] [-l BACKLOG] [-m MAX] [-r]"
            " [-q] [-S]" /* narration */
            " [-h]\n"
            "TCP echo server with a child process per client: many clients at once.\n"
            "Each client gets back everything it sends, for as long as it stays.\n"
            "  -p PORT     TCP port to listen on (default %d)\n"
            "  -a ADDRESS  listen on this local address or host name only\n"
            "              (default: all interfaces, shown as *)\n"
            "  -l BACKLOG  listen() backlog (default %d)\n"
            "  -m MAX      at most MAX children at once (default %d); at the limit\n"
            "              new clients wait in the kernel's queue\n"
            "  -r          set SO_REUSEADDR before bind()\n"
            "  -q          quiet: no line per client or message\n" /* narration */
            "  -S          step mode: before each socket call of the parent, say\n" /* narration */
            "              what it will change in lsof/netstat/ss, and wait for Enter\n" /* narration */
            "  -h          this help\n",
            PROG, DEFAULT_PORT, DEFAULT_BACKLOG, DEFAULT_CHILDREN);
}
