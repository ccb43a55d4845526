/*
 * origin.c - the HTTP server scripts/check puts behind a proxy (and that
 * you can fetch from by hand: scripts/origin -p 8080). It is an origin
 * server, not a proxy: it answers origin-form requests (GET /path) for
 * itself and connects to nobody. A process per connection.
 *
 *   origin [-q] -p PORT     listens on 127.0.0.1 and ::1 (where there is IPv6)
 *
 * Bodies by path (check.h makes them, so checkpeer knows every byte):
 *   /text  /index.html  /source.c  /binary (NUL, 0xff, stray CR/LF)  /1m  /10m
 * Behaviours by path:
 *   /slow     the text body in 5 pieces, 400 ms apart
 *   /silent   reads the request and never answers (until the client goes)
 *   /reflect  the exact bytes of the request it received, as the body
 *   /reset    headers for 1 MiB, 64 KiB of it, then a reset (RST)
 * Anything else: 404. A request target that is not origin-form (an
 * absolute URI, "*"): 400, saying so. Every response: HTTP/1.0, with
 * Content-Length, and the connection closes after it.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "check.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_REQUEST 65536
#define REQUEST_MS 10000 /* a request must arrive within this */

static int quiet;

/* send_all(fd, p, n): 0, or -1 when the client is gone. */
static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t s = send(fd, c, n, 0);
        if (s < 0 && errno == EINTR)
            continue;
        if (s <= 0)
            return -1;
        c += s;
        n -= (size_t)s;
    }
    return 0;
}

static int head(int fd, const char *status, const char *type, size_t len, const char *extra)
{
    char h[512];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.0 %s\r\nServer: kit-origin\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nX-Kit-Origin: check/origin\r\n%s\r\n",
                     status, type, len, extra);
    return send_all(fd, h, (size_t)n);
}

static void answer(int fd, const char *status, const char *text)
{
    if (head(fd, status, "text/plain", strlen(text), "") == 0)
        (void)send_all(fd, text, strlen(text));
}

/* read_request(fd, buf, &len): until the blank line after the headers
 * (CRLFCRLF, or LFLF), at most MAX_REQUEST bytes, within REQUEST_MS.
 * 1 when it came; 0 when not (buf holds what did). */
static int read_request(int fd, char *buf, size_t *len)
{
    long end = now_ms() + REQUEST_MS;
    *len = 0;
    while (*len < MAX_REQUEST) {
        struct pollfd p = {fd, POLLIN, 0};
        long w = end - now_ms();
        if (w <= 0 || poll(&p, 1, (int)w) <= 0)
            return 0;
        ssize_t g = recv(fd, buf + *len, MAX_REQUEST - *len, 0);
        if (g < 0 && errno == EINTR)
            continue;
        if (g <= 0)
            return 0;
        *len += (size_t)g;
        buf[*len] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            return 1;
    }
    return 0;
}

static void serve(int fd)
{
    static char req[MAX_REQUEST + 1];
    size_t len;
    char method[16], target[2048], path[2048];
    int got = read_request(fd, req, &len);
    if (!got) {
        if (len > 0)
            answer(fd, "400 Bad Request", "origin: no complete request (no blank line after the headers)\n");
        return;
    }
    if (sscanf(req, "%15s %2047s", method, target) != 2) {
        answer(fd, "400 Bad Request", "origin: no request line\n");
        return;
    }
    if (!quiet)
        printf("origin: %s %s\n", method, target);
    if (target[0] != '/') {
        answer(fd, "400 Bad Request",
               "origin: the request target is not origin-form (GET /path): a proxy must "
               "forward GET /path with a Host header, not the absolute URI\n");
        return;
    }
    snprintf(path, sizeof path, "%.*s", (int)strcspn(target, "?"), target);
    int is_head = strcmp(method, "HEAD") == 0;
    size_t n;
    unsigned char *b;
    if (strcmp(path, "/reflect") == 0) {
        if (head(fd, "200 OK", "application/octet-stream", len, "") == 0 && !is_head)
            (void)send_all(fd, req, len);
    } else if (strcmp(path, "/silent") == 0) {
        char sink[4096];
        while (recv(fd, sink, sizeof sink, 0) > 0) {
            /* never answer; wait until the client goes */
        }
    } else if (strcmp(path, "/slow") == 0 && (b = kit_body("/text", &n)) != NULL) {
        if (head(fd, "200 OK", "text/plain", n, "") == 0 && !is_head)
            for (size_t i = 0, k = 0; i < 5 && k < n; i++) {
                size_t part = i == 4 ? n - k : n / 5;
                if (send_all(fd, b + k, part) != 0)
                    break;
                k += part;
                if (i < 4)
                    sleep_ms(400);
            }
        free(b);
    } else if (strcmp(path, "/reset") == 0 && (b = kit_body("/1m", &n)) != NULL) {
        if (head(fd, "200 OK", "application/octet-stream", n, "") == 0)
            (void)send_all(fd, b, 65536);
        free(b);
        sleep_ms(50);
        close_rst(fd);
        _exit(0);
    } else if ((b = kit_body(path, &n)) != NULL) {
        const char *type = "application/octet-stream";
        for (size_t i = 0; i < KIT_NBODIES; i++)
            if (strcmp(kit_bodies[i].path, path) == 0)
                type = kit_bodies[i].type;
        if (head(fd, "200 OK", type, n, "Cache-Control: max-age=3600\r\n") == 0 && !is_head)
            (void)send_all(fd, b, n);
        free(b);
    } else {
        answer(fd, "404 Not Found",
               "origin: no such path; try /text /index.html /source.c /binary /1m /10m "
               "/slow /silent /reflect /reset\n");
    }
}

/* listen_on(host, port): a listening socket, or -1 (and why in err). */
static int listen_on(const char *host, const char *port, char *err, size_t errlen)
{
    struct addrinfo hints, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g != 0) {
        snprintf(err, errlen, "%s: %s", host, gai_strerror(g));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0), one = 1;
    if (fd >= 0) {
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6)
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
            snprintf(err, errlen, "%s port %s: %s", host, port, strerror(errno));
            close(fd);
            fd = -1;
        }
    } else {
        snprintf(err, errlen, "socket: %s", strerror(errno));
    }
    freeaddrinfo(ai);
    return fd;
}

int main(int argc, char **argv)
{
    const char *port = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "qp:")) != -1) {
        switch (opt) {
        case 'q': quiet = 1; break;
        case 'p': port = optarg; break;
        default: port = NULL; optind = argc + 1; break;
        }
    }
    char *end = NULL;
    long pn = port ? strtol(port, &end, 10) : 0;
    if (port == NULL || optind != argc || *end != '\0' || pn < 1 || pn > 65535) {
        fprintf(stderr, "usage: origin [-q] -p PORT (an HTTP origin server on 127.0.0.1 and ::1)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN); /* children reaped by the kernel */
    char err4[256], err6[256];
    int fds[2] = {listen_on("127.0.0.1", port, err4, sizeof err4),
                  listen_on("::1", port, err6, sizeof err6)};
    if (fds[0] < 0) {
        fprintf(stderr, "origin: cannot listen on %s\n", err4);
        return 1;
    }
    printf("origin: listening on 127.0.0.1%s port %s: /text /index.html /source.c /binary /1m "
           "/10m /slow /silent /reflect /reset\n", fds[1] >= 0 ? " and ::1" : "", port);
    fflush(stdout);
    for (;;) {
        struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        if (poll(p, fds[1] >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("origin: poll");
            return 1;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i] < 0 || !(p[i].revents & POLLIN))
                continue;
            int c = accept(fds[i], NULL, NULL);
            if (c < 0)
                continue;
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                close(fds[0]);
                if (fds[1] >= 0)
                    close(fds[1]);
                alarm(60); /* a backstop: no connection lives longer */
                serve(c);
                fflush(stdout);
                shutdown(c, SHUT_WR);
                close(c);
                _exit(0);
            }
            if (pid < 0)
                perror("origin: fork");
            close(c);
        }
    }
}
