/*
 * getpage: a lean load generator for the pageserver's pagestream sub-protocol, the
 * counterpart of `pgbench -M prepared` running `select get_raw_page(...)` against PostgreSQL.
 *
 * Like pgbench -c N -j J: N libpq connections shared by J threads, each thread multiplexing its
 * connections with poll(), one request in flight per connection. Each connection opens
 * `pagestream <system_id>` (COPY BOTH) and sends GetPage@latest of uniformly random blocks of
 * one relation for -T seconds. Every answer is checked: a 102 response of 8192 bytes whose page
 * header is plausible (pd_pagesize_version 8192|4, pd_lower <= pd_upper <= pd_special <= 8192),
 * so that the benchmark cannot silently measure error responses; anything else is counted as
 * an error. Prints requests/s, latency percentiles and the client's own CPU per request.
 *
 * With -q SQL it reads the same pages from PostgreSQL instead, with the same loop: SQL is
 * prepared once per connection (e.g. select get_raw_page('pgbench_accounts', 'main', $1)) and
 * run with the block number as its int4 parameter and binary results, so the page travels as
 * its 8192 bytes, as the pagestream's does (pgbench can only ask for text: the bytea in hex).
 *
 * Usage: getpage -h HOST -p PORT -s SYSTEM_ID -r SPC/DB/REL -n NBLOCKS -l LSN [-c N] [-j J] [-T SECONDS]
 *        getpage -h HOST -p PORT -q SQL -n NBLOCKS [-c N] [-j J] [-T SECONDS]
 * (LSN as X/Y, the latest=1 lower bound of every request).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>

#define BLCKSZ 8192
#define TAG_GETPAGE 2
#define RESP_GETPAGE 102
#define RESP_ERROR 103
#define GETPAGE_REQUEST_SIZE 27

typedef struct {
    PGconn *conn;
    uint64_t sent_ns;   /* when the request in flight was sent */
} Conn;

typedef struct {
    int nconns;
    Conn *conns;
    uint64_t rng;
    uint64_t ok;
    uint64_t errors;
    uint64_t *lat_ns;   /* one entry per answered request */
    size_t nlat, caplat;
    char first_error[256];
} Worker;

static const char *host = "127.0.0.1", *port, *sysid, *sql;
static uint32_t spc, db, rel, nblocks;
static uint64_t lsn;
static int nclients = 1, nthreads = 1, seconds = 10;
static uint64_t end_ns;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* xorshift64*: cheap and good enough to pick blocks */
static uint32_t next_block(Worker *w)
{
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return (uint32_t) ((w->rng * 2685821657736338717ull) % nblocks);
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static void die(const char *what, PGconn *conn)
{
    fprintf(stderr, "getpage: %s: %s\n", what, conn ? PQerrorMessage(conn) : strerror(errno));
    exit(2);
}

static void send_request(Worker *w, Conn *c)
{
    if (sql) {
        unsigned char param[4];
        const char *values[1] = {(const char *) param};
        int lengths[1] = {4}, formats[1] = {1};
        put32(param, next_block(w));
        c->sent_ns = now_ns();
        if (!PQsendQueryPrepared(c->conn, "page", 1, values, lengths, formats, 1))
            die("PQsendQueryPrepared", c->conn);
        if (PQflush(c->conn) != 0)
            die("PQflush", c->conn);
        return;
    }
    unsigned char req[GETPAGE_REQUEST_SIZE];
    req[0] = TAG_GETPAGE;
    req[1] = 1; /* latest: at least lsn, newest available */
    put32(req + 2, (uint32_t) (lsn >> 32));
    put32(req + 6, (uint32_t) lsn);
    put32(req + 10, spc);
    put32(req + 14, db);
    put32(req + 18, rel);
    req[22] = 0; /* main fork */
    put32(req + 23, next_block(w));
    c->sent_ns = now_ns();
    if (PQputCopyData(c->conn, (const char *) req, sizeof req) != 1)
        die("PQputCopyData", c->conn);
    /* 27 bytes on an otherwise idle socket: the kernel takes them at once */
    if (PQflush(c->conn) != 0)
        die("PQflush", c->conn);
}

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t) (p[0] | p[1] << 8);
}

/* A page as PostgreSQL lays it out on x86 (little-endian header fields). */
static int page_is_sane(const unsigned char *page)
{
    uint16_t lower = le16(page + 12), upper = le16(page + 14), special = le16(page + 16);
    uint16_t size_version = le16(page + 18);
    return size_version == (BLCKSZ | 4) && lower >= 24 && lower <= upper && upper <= special
        && special <= BLCKSZ;
}

/* page: the page answered, or NULL with error saying what came instead */
static void record_answer(Worker *w, Conn *c, const char *error, const char *page, int len)
{
    uint64_t t = now_ns();
    if (page && len == BLCKSZ && page_is_sane((const unsigned char *) page)) {
        w->ok++;
        if (w->nlat == w->caplat) {
            w->caplat = w->caplat ? w->caplat * 2 : 65536;
            w->lat_ns = realloc(w->lat_ns, w->caplat * sizeof *w->lat_ns);
            if (!w->lat_ns)
                die("realloc", NULL);
        }
        w->lat_ns[w->nlat++] = t - c->sent_ns;
        return;
    }
    if (w->errors++ == 0)
        snprintf(w->first_error, sizeof w->first_error, "%s (%d bytes)",
                 error ? error : "not a plausible page", len);
}

static void *run_worker(void *arg)
{
    Worker *w = arg;
    struct pollfd *fds = calloc(w->nconns, sizeof *fds);
    int live = w->nconns;
    for (int i = 0; i < w->nconns; i++) {
        fds[i].fd = PQsocket(w->conns[i].conn);
        fds[i].events = POLLIN;
        send_request(w, &w->conns[i]);
    }
    /* one request in flight per connection until the end; then drain what is in flight */
    while (live > 0) {
        if (poll(fds, w->nconns, 1000) < 0 && errno != EINTR)
            die("poll", NULL);
        int stopping = now_ns() >= end_ns;
        for (int i = 0; i < w->nconns; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
            Conn *c = &w->conns[i];
            if (!PQconsumeInput(c->conn))
                die("PQconsumeInput", c->conn);
            if (sql) {
                /* the request is answered when its result and the NULL after it are in */
                int done = 0;
                while (!done && !PQisBusy(c->conn)) {
                    PGresult *res = PQgetResult(c->conn);
                    if (!res) {
                        done = 1;
                        break;
                    }
                    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
                        record_answer(w, c, NULL, PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0));
                    else
                        record_answer(w, c, PQresultErrorMessage(res), NULL, -1);
                    PQclear(res);
                }
                if (!done)
                    continue;
                if (stopping) {
                    fds[i].fd = -1;
                    live--;
                } else {
                    send_request(w, c);
                }
                continue;
            }
            char *buf;
            int len;
            while ((len = PQgetCopyData(c->conn, &buf, 1)) > 0) {
                if (len == 1 + BLCKSZ && (unsigned char) buf[0] == RESP_GETPAGE)
                    record_answer(w, c, NULL, buf + 1, BLCKSZ);
                else if (len > 1 && (unsigned char) buf[0] == RESP_ERROR)
                    record_answer(w, c, buf + 1, NULL, -1);
                else
                    record_answer(w, c, "unexpected response", NULL, len);
                PQfreemem(buf);
                if (stopping) {
                    fds[i].fd = -1;
                    live--;
                    break;
                }
                send_request(w, c);
            }
            if (len == -1)
                die("the server ended the pagestream", c->conn);
            if (len == -2)
                die("PQgetCopyData", c->conn);
        }
    }
    free(fds);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static PGconn *open_pagestream(void)
{
    const char *keys[] = {"host", "port", "user", "dbname", NULL};
    const char *vals[] = {host, port, "postgres", "postgres", NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 0);
    if (PQstatus(conn) != CONNECTION_OK)
        die("connect", conn);
    if (sql) {
        Oid int4 = 23;
        PGresult *res = PQprepare(conn, "page", sql, 1, &int4);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            die(sql, conn);
        PQclear(res);
    } else {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "pagestream %s", sysid);
        PGresult *res = PQexec(conn, cmd);
        if (PQresultStatus(res) != PGRES_COPY_BOTH)
            die(cmd, conn);
        PQclear(res);
    }
    if (PQsetnonblocking(conn, 1) != 0)
        die("PQsetnonblocking", conn);
    return conn;
}

static void usage(void)
{
    fprintf(stderr, "usage: getpage -h HOST -p PORT -s SYSTEM_ID -r SPC/DB/REL -n NBLOCKS -l LSN"
                    " [-c CLIENTS] [-j THREADS] [-T SECONDS]\n"
                    "       getpage -h HOST -p PORT -q SQL -n NBLOCKS [-c CLIENTS] [-j THREADS] [-T SECONDS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int opt;
    unsigned hi, lo;
    int have_rel = 0, have_lsn = 0;
    while ((opt = getopt(argc, argv, "h:p:s:r:n:l:c:j:T:q:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = optarg; break;
        case 's': sysid = optarg; break;
        case 'r': have_rel = sscanf(optarg, "%u/%u/%u", &spc, &db, &rel) == 3; break;
        case 'n': nblocks = (uint32_t) strtoul(optarg, NULL, 10); break;
        case 'l': have_lsn = sscanf(optarg, "%X/%X", &hi, &lo) == 2; lsn = (uint64_t) hi << 32 | lo; break;
        case 'c': nclients = atoi(optarg); break;
        case 'j': nthreads = atoi(optarg); break;
        case 'T': seconds = atoi(optarg); break;
        case 'q': sql = optarg; break;
        default: usage();
        }
    }
    if (!port || (!sql && (!sysid || !have_rel || !have_lsn)) || nblocks == 0 || nclients < 1 || nthreads < 1
        || seconds < 1)
        usage();
    if (nthreads > nclients)
        nthreads = nclients;

    /* connections are opened before the clock starts, as pgbench does */
    Worker *workers = calloc(nthreads, sizeof *workers);
    for (int t = 0; t < nthreads; t++) {
        Worker *w = &workers[t];
        w->nconns = nclients / nthreads + (t < nclients % nthreads);
        w->conns = calloc(w->nconns, sizeof *w->conns);
        w->rng = 0x9E3779B97F4A7C15ull * (uint64_t) (t + 1) ^ (uint64_t) getpid();
        for (int i = 0; i < w->nconns; i++)
            w->conns[i].conn = open_pagestream();
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t start = now_ns();
    end_ns = start + (uint64_t) seconds * 1000000000u;
    pthread_t *tids = calloc(nthreads, sizeof *tids);
    for (int t = 0; t < nthreads; t++)
        pthread_create(&tids[t], NULL, run_worker, &workers[t]);
    for (int t = 0; t < nthreads; t++)
        pthread_join(tids[t], NULL);
    double elapsed = (now_ns() - start) / 1e9;
    getrusage(RUSAGE_SELF, &ru1);

    uint64_t ok = 0, errors = 0;
    size_t n = 0;
    const char *first_error = NULL;
    for (int t = 0; t < nthreads; t++) {
        ok += workers[t].ok;
        errors += workers[t].errors;
        n += workers[t].nlat;
        if (workers[t].errors && !first_error)
            first_error = workers[t].first_error;
    }
    uint64_t *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    for (int t = 0; t < nthreads; t++) {
        memcpy(all + k, workers[t].lat_ns, workers[t].nlat * sizeof *all);
        k += workers[t].nlat;
    }
    qsort(all, n, sizeof *all, cmp_u64);
#define PCT(p) (n ? all[(size_t) ((n - 1) * (p))] / 1e6 : 0.0)
    double cpu_s = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec)
        + ((ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) + (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec)) / 1e6;
    /* one line of key=value pairs, for the bench script to parse */
    printf("clients=%d threads=%d seconds=%.3f requests=%" PRIu64 " errors=%" PRIu64
           " rps=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f client_cpu_s=%.3f client_cpu_us_per_req=%.2f\n",
           nclients, nthreads, elapsed, ok, errors, ok / elapsed, PCT(0.50), PCT(0.99), PCT(0.999),
           cpu_s, ok ? cpu_s * 1e6 / ok : 0.0);
    if (first_error)
        fprintf(stderr, "getpage: %" PRIu64 " errors, the first: %s\n", errors, first_error);
    for (int t = 0; t < nthreads; t++)
        for (int i = 0; i < workers[t].nconns; i++) {
            PQputCopyEnd(workers[t].conns[i].conn, NULL);
            PQfinish(workers[t].conns[i].conn);
        }
    return errors ? 1 : 0;
}
