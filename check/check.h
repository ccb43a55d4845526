/*
 * check.h - what the checker's two programs share: checkpeer.c (the
 * clients) and origin.c (the HTTP origin server a proxy is checked
 * against). The clock, small socket helpers, and the bodies the origin
 * serves: generated here, so checkpeer knows every byte a proxy must
 * deliver without asking the origin. Header-only (static inline), so each
 * program still builds with one command: cc -o check/origin check/origin.c
 */
#ifndef KIT_CHECK_H
#define KIT_CHECK_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline long now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static inline void sleep_ms(long ms)
{
    (void)poll(NULL, 0, (int)ms);
}
static inline void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}
/* close_rst(fd): close with SO_LINGER 0, so the peer gets an RST. */
static inline void close_rst(int fd)
{
    struct linger lg = {1, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

/* ---- the origin's bodies ---- */

/* The bodies by path (/text, /index.html, ...): name, Content-Type, what
 * the evidence calls it. Only "binary" holds NUL bytes (only the fetch
 * check asks for it); the others never do. */
struct kit_body {
    const char *path, *type, *what;
};
static const struct kit_body kit_bodies[] = {
    {"/text", "text/plain", "text"},
    {"/index.html", "text/html", "HTML"},
    {"/source.c", "text/x-c", "C source"},
    {"/binary", "application/octet-stream", "binary (NUL, 0xff, stray CR and LF)"},
    {"/1m", "application/octet-stream", "1 MiB"},
    {"/10m", "application/octet-stream", "10 MiB"},
};
#define KIT_NBODIES (sizeof kit_bodies / sizeof kit_bodies[0])

/* kit_fill(buf, n, seed): n bytes of xorshift noise, never NUL. */
static inline void kit_fill(unsigned char *buf, size_t n, unsigned long seed)
{
    unsigned long s = seed;
    for (size_t i = 0; i < n; i++) {
        s ^= (s << 13) & 0xffffffffUL;
        s ^= s >> 17;
        s ^= (s << 5) & 0xffffffffUL;
        buf[i] = (unsigned char)(s & 0xff) ? (unsigned char)(s & 0xff) : 1;
    }
}

/* kit_repeat(buf, n, text): text over and over, n bytes. */
static inline void kit_repeat(unsigned char *buf, size_t n, const char *text)
{
    size_t k = strlen(text);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)text[i % k];
}

/* kit_body(path, &n): a malloc'd copy of the body served at path (the
 * query string ignored), or NULL when the path has none. */
static inline unsigned char *kit_body(const char *path, size_t *n)
{
    size_t plen = strcspn(path, "?");
    unsigned char *b;
    if (plen == 5 && strncmp(path, "/text", 5) == 0) {
        *n = 2000;
        b = malloc(*n);
        if (b)
            kit_repeat(b, *n, "Hello from the kit's origin: a line of text.\n");
    } else if (plen == 11 && strncmp(path, "/index.html", 11) == 0) {
        static const char h[] = "<!DOCTYPE html>\n<html><head><title>The kit's origin</title></head>\n"
                                "<body><h1>It works</h1><p>Served by check/origin.</p></body></html>\n";
        *n = sizeof h - 1;
        b = malloc(*n);
        if (b)
            memcpy(b, h, *n);
    } else if (plen == 9 && strncmp(path, "/source.c", 9) == 0) {
        static const char c[] = "#include <stdio.h>\n\nint main(void)\n{\n"
                                "    printf(\"hello, \\\"proxy\\\"\\r\\n\");\n    return 0;\n}\n";
        *n = sizeof c - 1;
        b = malloc(*n);
        if (b)
            memcpy(b, c, *n);
    } else if (plen == 7 && strncmp(path, "/binary", 7) == 0) {
        /* every byte value, then what looks like the end of the headers
         * and a status line, lone CR, lone LF, NULs, 0xff */
        static const char trap[] = "\r\n\r\nHTTP/1.0 200 OK\r\n\r\x00\n\xff\xff\x00\x00\r";
        *n = 4096;
        b = malloc(*n);
        if (b) {
            for (size_t i = 0; i < *n; i++)
                b[i] = (unsigned char)(i % 256);
            memcpy(b + 1000, trap, sizeof trap - 1);
        }
    } else if ((plen == 3 && strncmp(path, "/1m", 3) == 0) ||
               (plen == 4 && strncmp(path, "/10m", 4) == 0)) {
        *n = plen == 3 ? 1048576 : 10485760;
        b = malloc(*n);
        if (b)
            kit_fill(b, *n, plen == 3 ? 2463534242UL : 88172645UL);
    } else {
        return NULL;
    }
    return b;
}

#endif
