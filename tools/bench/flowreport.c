/* bench-flowload's set-up before the run (credentials, connections, PKCE pairs), its CPU and I/O samples of the
 * measured window, and the report after it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "tools/bench/flowload.h"

/* ---- set-up ---- */

static void b64url(char *out, const unsigned char *in, size_t len)
{
    char buf[128];
    int n = EVP_EncodeBlock((unsigned char *)buf, in, (int)len), j = 0;
    for (int i = 0; i < n && buf[i] != '='; ++i)
        out[j++] = buf[i] == '+' ? '-' : buf[i] == '/' ? '_' : buf[i];
    out[j] = '\0';
}

void fl_init(void)
{
    char id_enc[SECRET_CAP * 3], sec_enc[SECRET_CAP * 3], pair[SECRET_CAP * 6 + 2];
    unsigned char raw[32], digest[32];
    struct rlimit rl;
    unsigned i;

    if (fh_url_encode(id_enc, sizeof(id_enc), fl.o.client_id) != 0 ||
        fh_url_encode(sec_enc, sizeof(sec_enc), fl.o.client_secret) != 0)
        fl_die("--client-id or the client secret is too long");
    snprintf(pair, sizeof(pair), "%s:%s", id_enc, sec_enc); /* RFC 6749 §2.3.1: each part form-urlencoded */
    if (4 * ((strlen(pair) + 2) / 3) >= sizeof(fl.basic))
        fl_die("--client-id or the client secret is too long");
    EVP_EncodeBlock((unsigned char *)fl.basic, (const unsigned char *)pair, (int)strlen(pair));
    if (fl.o.redirect_uri != NULL && (fh_url_encode(fl.redirect_enc, sizeof(fl.redirect_enc), fl.o.redirect_uri) != 0 ||
                                      fh_url_encode(fl.scope_enc, sizeof(fl.scope_enc), fl.o.scope) != 0))
        fl_die("--redirect-uri or --scope is too long");
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < fl.o.conns + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if ((fl.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        fl_die("epoll_create1: %s", strerror(errno));
    if ((fl.conns = calloc(fl.o.conns, sizeof(*fl.conns))) == NULL)
        fl_die("out of memory");
    if (fl.o.series_path != NULL && (fl.series = fopen(fl.o.series_path, "w")) == NULL)
        fl_die("--series: cannot write %s: %s", fl.o.series_path, strerror(errno));
    for (i = 0; i != fl.o.conns; ++i) {
        fl_conn_t *c = &fl.conns[i];
        c->idx = i;
        c->fd = -1;
        c->rng = (fl.o.seed + 1) * 0x9E3779B97F4A7C15ull ^ (i + 1) * 0xBF58476D1CE4E5B9ull;
        /* PKCE S256 (RFC 7636), one verifier per connection */
        if (RAND_bytes(raw, sizeof(raw)) != 1 || EVP_Digest(NULL, 0, digest, NULL, EVP_sha256(), NULL) != 1)
            fl_die("OpenSSL failed");
        b64url(c->verifier, raw, sizeof(raw));
        EVP_Digest(c->verifier, strlen(c->verifier), digest, NULL, EVP_sha256(), NULL);
        b64url(c->challenge, digest, sizeof(digest));
        c->phase = fl.mode->setup_first >= 0 ? PH_SETUP : PH_READY;
    }
}

/* ---- measurements ---- */

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* User + system CPU seconds of process pid (from /proc), or -1; *majflt its major page faults so far (pages it waited
 * for the disk to read, the store's mapped pages among them). */
static double proc_cpu_seconds(int pid, double *majflt)
{
    char path[64], buf[1024], *p;
    unsigned long long ut, st, mf;
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* after the command name in parentheses: state is field 3, majflt 12, utime 14, stime 15 */
    if ((p = strrchr(buf, ')')) == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %llu %*u %llu %llu", &mf, &ut, &st) != 3)
        return -1;
    *majflt = (double)mf;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Bytes process pid caused to be written to storage (write_bytes of /proc/PID/io), or -1. */
static double proc_write_bytes(int pid)
{
    char path[64], line[128];
    unsigned long long v;
    double ret = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/io", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "write_bytes: %llu", &v) == 1)
            ret = (double)v;
    fclose(f);
    return ret;
}

/* The driver's and the node's CPU times at the start (0) and the end (1) of the measured window. */
void fl_sample_cpu(int which)
{
    fl.sampled[which] = 1;
    fl.cpu[which] = cpu_seconds();
    fl.node_majflt[which] = -1;
    fl.node_cpu[which] = fl.o.node_pid > 0 ? proc_cpu_seconds(fl.o.node_pid, &fl.node_majflt[which]) : -1;
    fl.node_written[which] = fl.o.node_pid > 0 ? proc_write_bytes(fl.o.node_pid) : -1;
}

/* ---- report ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of a sorted list; 0 when empty. */
static double quantile(const fl_lat_t *l, double q)
{
    size_t i;
    if (l->n == 0)
        return 0;
    i = (size_t)(q * (double)l->n);
    return l->v[i >= l->n ? l->n - 1 : i];
}

/* An empty list has no array (qsort must not be given NULL, even for no elements). */
static void sort_lat(fl_lat_t *l)
{
    if (l->n > 0)
        qsort(l->v, l->n, sizeof(*l->v), cmp_double);
}

int fl_report(void)
{
    int cpu_ok = fl.sampled[0] && fl.sampled[1], node_ok = cpu_ok && fl.node_cpu[0] >= 0 && fl.node_cpu[1] >= 0;
    double cpu = cpu_ok ? fl.cpu[1] - fl.cpu[0] : 0, node = node_ok ? fl.node_cpu[1] - fl.node_cpu[0] : 0;
    double written = cpu_ok && fl.node_written[0] >= 0 && fl.node_written[1] >= 0 ? fl.node_written[1] - fl.node_written[0] : -1;
    double majflt = node_ok && fl.node_majflt[0] >= 0 && fl.node_majflt[1] >= 0 ? fl.node_majflt[1] - fl.node_majflt[0] : -1;
    size_t i;

    sort_lat(&fl.flow_lat);
    printf("flowload: mode %s on http://%s:%u, %u connections, %.1f s measured after %.1f s warm-up\n", fl.mode->name, fl.o.host,
           fl.o.port, fl.o.conns, fl.o.duration, fl.o.warmup);
    printf("result mode=%s conns=%u seconds=%.2f flows=%lu flows_per_s=%.1f requests=%lu requests_per_flow=%.2f "
           "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f failures=%lu late=%lu all_flows=%lu setup_flows=%lu "
           "driver_cpu_pct=%.1f node_cpu_pct=%.1f node_write_kb_per_flow=%.2f node_majflt_per_flow=%.3f\n",
           fl.mode->name, fl.o.conns, fl.o.duration, fl.flows, fl.flows / fl.o.duration, fl.requests,
           fl.flows ? (double)fl.requests / fl.flows : 0.0, quantile(&fl.flow_lat, 0.5), quantile(&fl.flow_lat, 0.9),
           quantile(&fl.flow_lat, 0.99), fl.flow_lat.n ? fl.flow_lat.v[fl.flow_lat.n - 1] : 0.0, fl.failures, fl.late, fl.all_flows,
           fl.setup_flows, 100 * cpu / fl.o.duration, node_ok ? 100 * node / fl.o.duration : -1.0,
           written >= 0 && fl.flows > 0 ? written / 1024 / fl.flows : -1.0, majflt >= 0 && fl.flows > 0 ? majflt / fl.flows : -1.0);
    for (i = 0; i != ST__COUNT; ++i) {
        if (fl.step_lat[i].n == 0)
            continue;
        sort_lat(&fl.step_lat[i]);
        printf("step %s requests=%zu p50_ms=%.3f p99_ms=%.3f\n", fl_steps[i].name, fl.step_lat[i].n, quantile(&fl.step_lat[i], 0.5),
               quantile(&fl.step_lat[i], 0.99));
    }
    for (i = 0; i != fl.nfails; ++i)
        printf("failure %s %lu\n", fl.fails[i].kind, fl.fails[i].n);
    return fl.failures == 0 && fl.flows > 0 ? 0 : 1;
}
