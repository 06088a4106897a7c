/* The tests' scripted HTTP server (tests/support/stub.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "tests/support/stub.h"

#define MAX_ENTRIES 256
#define MAX_CONNS 512
#define REQUEST_MAX (64 * 1024)
#define READ_TIMEOUT_MS 5000

typedef struct st_entry_t {
    char *method, *path;
    int status;
    char *headers, *body;
} entry_t;

#define RECENT 8 /* requests kept per path */

typedef struct st_seen_t {
    char *path;
    unsigned hits;
    int held;
    char *recent[RECENT]; /* the last RECENT requests, the newest at (hits - 1) % RECENT */
} seen_t;

struct st_test_stub_t {
    int fd;
    char url[64];
    pthread_t acceptor;
    pthread_mutex_t mutex;
    pthread_cond_t cond; /* a hit, a release or the stop */
    int stopping;        /* under mutex */
    entry_t answers[MAX_ENTRIES];
    size_t nanswers;
    seen_t seen[MAX_ENTRIES];
    size_t nseen;
    pthread_t conns[MAX_CONNS];
    size_t nconns;
};

typedef struct st_conn_arg_t {
    test_stub_t *s;
    int fd;
} conn_arg_t;

static char *dup_or_die(const char *p)
{
    char *d = strdup(p != NULL ? p : "");
    if (d == NULL)
        abort();
    return d;
}

/* The counters of path, made on first use; under mutex. */
static seen_t *seen_of(test_stub_t *s, const char *path)
{
    size_t i;
    for (i = 0; i != s->nseen; ++i)
        if (strcmp(s->seen[i].path, path) == 0)
            return &s->seen[i];
    if (s->nseen == MAX_ENTRIES)
        abort();
    s->seen[s->nseen].path = dup_or_die(path);
    return &s->seen[s->nseen++];
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads one request (head and Content-Length body) into buf; its length, or 0 on a timeout, an error or no head. */
static size_t read_request(int fd, char *buf, size_t size)
{
    size_t len = 0, need = 0;
    uint64_t end = now_ms() + READ_TIMEOUT_MS;

    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        uint64_t now = now_ms();
        ssize_t n;
        char *eoh;
        if (need != 0 && len >= need)
            return len;
        if (now >= end || len == size - 1 || poll(&pfd, 1, (int)(end - now)) <= 0 ||
            (n = recv(fd, buf + len, size - 1 - len, 0)) <= 0)
            return 0;
        len += (size_t)n;
        buf[len] = '\0';
        if (need == 0 && (eoh = strstr(buf, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(buf, "\r\ncontent-length:");
            need = (size_t)(eoh - buf) + 4 + (cl != NULL && cl < eoh ? strtoul(cl + 17, NULL, 10) : 0);
        }
    }
}

static void send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

/* The answer to method path, copied into out's fields (malloc'ed); 404 when none is set. Under mutex. */
static void find_answer(test_stub_t *s, const char *method, const char *path, entry_t *out)
{
    size_t i;
    for (i = 0; i != s->nanswers; ++i) {
        const entry_t *e = &s->answers[i];
        if (strcmp(e->method, method) == 0 && strcmp(e->path, path) == 0) {
            *out = (entry_t){NULL, NULL, e->status, dup_or_die(e->headers), dup_or_die(e->body)};
            return;
        }
    }
    *out = (entry_t){NULL, NULL, 404, dup_or_die(""), dup_or_die("")};
}

/* Counts the request, waits while its path is held, and takes its answer. */
static void take_answer(test_stub_t *s, const char *method, const char *path, const char *raw, entry_t *out)
{
    uint64_t end = now_ms() + TEST_STUB_HOLD_MAX_MS;
    seen_t *seen;

    pthread_mutex_lock(&s->mutex);
    seen = seen_of(s, path);
    free(seen->recent[seen->hits % RECENT]);
    seen->recent[seen->hits % RECENT] = dup_or_die(raw);
    ++seen->hits;
    pthread_cond_broadcast(&s->cond);
    while (seen->held && !s->stopping && now_ms() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&s->cond, &s->mutex, &ts);
    }
    find_answer(s, method, path, out);
    pthread_mutex_unlock(&s->mutex);
}

static void *conn_main(void *arg)
{
    conn_arg_t *c = arg;
    char *buf = malloc(REQUEST_MAX), method[16], target[1024], head[512];
    entry_t a;

    if (buf == NULL)
        abort();
    if (read_request(c->fd, buf, REQUEST_MAX) != 0 && sscanf(buf, "%15s %1023s", method, target) == 2) {
        target[strcspn(target, "?")] = '\0';
        take_answer(c->s, method, target, buf, &a);
        int n = snprintf(head, sizeof(head), "HTTP/1.1 %d Stub\r\nConnection: close\r\nContent-Length: %zu\r\n%s\r\n", a.status,
                         strlen(a.body), a.headers);
        send_all(c->fd, head, (size_t)n < sizeof(head) ? (size_t)n : sizeof(head) - 1);
        send_all(c->fd, a.body, strlen(a.body));
        free(a.headers);
        free(a.body);
    }
    shutdown(c->fd, SHUT_WR);
    close(c->fd);
    free(buf);
    free(c);
    return NULL;
}

static void *accept_main(void *arg)
{
    test_stub_t *s = arg;

    for (;;) {
        struct pollfd pfd = {s->fd, POLLIN, 0};
        int stopping, fd;
        pthread_mutex_lock(&s->mutex);
        stopping = s->stopping;
        pthread_mutex_unlock(&s->mutex);
        if (stopping)
            return NULL;
        if (poll(&pfd, 1, 50) <= 0 || (fd = accept(s->fd, NULL, NULL)) < 0)
            continue;
        conn_arg_t *c = malloc(sizeof(*c));
        if (c == NULL || s->nconns == MAX_CONNS)
            abort();
        *c = (conn_arg_t){s, fd};
        if (pthread_create(&s->conns[s->nconns], NULL, conn_main, c) != 0)
            abort();
        ++s->nconns;
    }
}

test_stub_t *test_stub_start(void)
{
    test_stub_t *s = calloc(1, sizeof(*s));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof(sin);

    if (s == NULL || (s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(s->fd, 128) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&sin, &slen) != 0) {
        perror("test_stub_start");
        exit(2);
    }
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", ntohs(sin.sin_port));
    pthread_mutex_init(&s->mutex, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (pthread_create(&s->acceptor, NULL, accept_main, s) != 0) {
        perror("test_stub_start");
        exit(2);
    }
    return s;
}

void test_stub_stop(test_stub_t *s)
{
    size_t i;

    pthread_mutex_lock(&s->mutex);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mutex);
    pthread_join(s->acceptor, NULL);
    for (i = 0; i != s->nconns; ++i)
        pthread_join(s->conns[i], NULL);
    close(s->fd);
    for (i = 0; i != s->nanswers; ++i) {
        free(s->answers[i].method);
        free(s->answers[i].path);
        free(s->answers[i].headers);
        free(s->answers[i].body);
    }
    for (i = 0; i != s->nseen; ++i) {
        free(s->seen[i].path);
        for (size_t j = 0; j != RECENT; ++j)
            free(s->seen[i].recent[j]);
    }
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mutex);
    free(s);
}

const char *test_stub_url(const test_stub_t *s)
{
    return s->url;
}

void test_stub_answer(test_stub_t *s, const char *method, const char *path, int status, const char *headers, const char *body)
{
    entry_t *e = NULL;
    size_t i;

    pthread_mutex_lock(&s->mutex);
    for (i = 0; i != s->nanswers && e == NULL; ++i)
        if (strcmp(s->answers[i].method, method) == 0 && strcmp(s->answers[i].path, path) == 0)
            e = &s->answers[i];
    if (e == NULL) {
        if (s->nanswers == MAX_ENTRIES)
            abort();
        e = &s->answers[s->nanswers++];
        e->method = dup_or_die(method);
        e->path = dup_or_die(path);
    } else {
        free(e->headers);
        free(e->body);
    }
    e->status = status;
    e->headers = dup_or_die(headers);
    e->body = dup_or_die(body);
    pthread_mutex_unlock(&s->mutex);
}

void test_stub_hold(test_stub_t *s, const char *path, int hold)
{
    pthread_mutex_lock(&s->mutex);
    seen_of(s, path)->held = hold;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mutex);
}

unsigned test_stub_hits(test_stub_t *s, const char *path)
{
    unsigned n;
    pthread_mutex_lock(&s->mutex);
    n = seen_of(s, path)->hits;
    pthread_mutex_unlock(&s->mutex);
    return n;
}

unsigned test_stub_wait_hits(test_stub_t *s, const char *path, unsigned n, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    unsigned hits;

    pthread_mutex_lock(&s->mutex);
    while ((hits = seen_of(s, path)->hits) < n && now_ms() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec += 1, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&s->cond, &s->mutex, &ts);
    }
    pthread_mutex_unlock(&s->mutex);
    return hits;
}

char *test_stub_last(test_stub_t *s, const char *path)
{
    return test_stub_find(s, path, "");
}

char *test_stub_find(test_stub_t *s, const char *path, const char *needle)
{
    char *copy = NULL;
    pthread_mutex_lock(&s->mutex);
    seen_t *seen = seen_of(s, path);
    for (unsigned k = 0; copy == NULL && k != RECENT && k != seen->hits; ++k) {
        const char *r = seen->recent[(seen->hits - 1 - k) % RECENT];
        if (strstr(r, needle) != NULL)
            copy = dup_or_die(r);
    }
    pthread_mutex_unlock(&s->mutex);
    return copy;
}
