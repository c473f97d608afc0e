/* soak.c - paced SMTP load for the soak of `make bench` (smtp.sh).
 *
 * PURPOSE: smtp-source has no rate option (it sends as fast as the server
 * answers) and reports no per-message times. The soak needs a fixed rate
 * and the time from the end of DATA to the 250 of every message. This
 * client keeps SESSIONS connections open on loopback and starts message k
 * at START + k / RATE, on a free session (when all are busy it waits for
 * one: a late message is sent late, never skipped, and the lateness is
 * reported). Transactions go in lock step as smtp-source's do (MAIL, RCPT,
 * DATA, each waiting for its reply), then the body ending "\r\n.\r\n" in
 * one write. t0 is taken when that write returned, t1 when the reply was
 * read; t1 - t0 is the figure. It is C because a Python asyncio client
 * measured here used ~450 us of CPU per message: at the rates tern
 * accepts it would have been the bottleneck on a 2-CPU machine.
 *
 * INTERFACE: soak HOST PORT RATE SECONDS SESSIONS SIZE [LATENCY_FILE]
 *   prints one line of key=value pairs: sent ok rejected errors
 *   target_rate rate secs lag_max_ms p50_ms p99_ms max_ms; LATENCY_FILE
 *   gets every latency in ms, one a line, in the order of the 250s.
 * ERRORS: exit 0 when every message got its 250, 1 when one did not or a
 *   connection was lost, 2 on bad usage or when no connection could be made.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum st { S_BANNER, S_EHLO, S_IDLE, S_MAIL, S_RCPT, S_DATA, S_DOT, S_RSET, S_DEAD };

struct sess {
    int fd;
    enum st st;
    char in[4096];
    size_t inlen;
    const char *out;            /* pending output, not owned */
    size_t outlen;
    double t0;                  /* end of DATA written */
};

struct soak {
    double rate, secs, start;
    long total, next, sent, ok, rejected, errors;
    double lag_max;
    double *lat;
    char *body;
    size_t bodylen;
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* make_body - SIZE bytes of message (headers, 80-byte lines), then ".\r\n" */
static char *make_body(size_t size, size_t *len)
{
    static const char head[] = "From: <bench@bench.test>\r\nTo: <rcpt@bench.test>\r\n"
                               "Subject: soak\r\n\r\n";
    char *b = malloc(size + 8);
    size_t n = sizeof head - 1;

    if (b == NULL)
        return NULL;
    memcpy(b, head, n);
    for (; n + 2 < size; n++)
        b[n] = (n % 80 == 78) ? '\r' : (n % 80 == 79) ? '\n' : 'x';
    if (b[n - 1] != '\n') {
        if (b[n - 1] == '\r')
            n--;
        b[n++] = '\r';
        b[n++] = '\n';
    }
    memcpy(b + n, ".\r\n", 3);
    *len = n + 3;
    return b;
}

static int sess_connect(struct sess *s, const char *host, int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    int one = 1;

    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s->fd < 0)
        return -1;
    if (connect(s->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)
        return -1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s->st = S_BANNER;
    return 0;
}

/* sess_dead - the server closed on us, or said what we cannot go on from */
static void sess_dead(struct soak *k, struct sess *s)
{
    k->errors++;
    close(s->fd);
    s->fd = -1;
    s->st = S_DEAD;
}

/* sess_flush - write what the socket takes; the end of DATA stamps t0 */
static int sess_flush(struct sess *s)
{
    while (s->outlen > 0) {
        ssize_t w = write(s->fd, s->out, s->outlen);

        if (w < 0)
            return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        s->out += w;
        s->outlen -= (size_t)w;
    }
    if (s->st == S_DOT && s->t0 == 0)
        s->t0 = now();
    return 0;
}

/* sess_send - OUT (a literal or the body, not copied) goes next; state NEXT */
static int sess_send(struct sess *s, const char *out, size_t len, enum st next)
{
    s->out = out;
    s->outlen = len;
    s->st = next;
    s->t0 = 0;
    return sess_flush(s);
}

#define SEND(s, lit, st) sess_send((s), (lit), sizeof(lit) - 1, (st))

/* on_reply - one complete reply with CODE arrived on S: the next step */
static int on_reply(struct soak *k, struct sess *s, int code)
{
    static const int want[] = { [S_BANNER] = 220, [S_EHLO] = 250, [S_MAIL] = 250,
                                [S_RCPT] = 250, [S_DATA] = 354, [S_DOT] = 250 };

    if (s->outlen > 0 || s->st == S_IDLE || s->st == S_DEAD)
        return -1;              /* a reply to something not (fully) sent */
    if (s->st == S_RSET || (s->st == S_DOT && code != 250)) {
        k->rejected += s->st == S_DOT;
        s->st = S_IDLE;
        return 0;
    }
    if (code != want[s->st]) {
        if (s->st == S_BANNER || s->st == S_EHLO)
            return -1;
        k->rejected++;
        return SEND(s, "RSET\r\n", S_RSET);
    }
    switch (s->st) {
    case S_BANNER: return SEND(s, "EHLO soak.bench.local\r\n", S_EHLO);
    case S_MAIL:   return SEND(s, "RCPT TO:<rcpt@bench.test>\r\n", S_RCPT);
    case S_RCPT:   return SEND(s, "DATA\r\n", S_DATA);
    case S_DATA:   return sess_send(s, k->body, k->bodylen, S_DOT);
    case S_DOT:    k->lat[k->ok++] = now() - s->t0; /* FALLTHROUGH */
    default:       s->st = S_IDLE; return 0;
    }
}

/* on_input - read what arrived and hand out every complete reply */
static int on_input(struct soak *k, struct sess *s)
{
    ssize_t r = read(s->fd, s->in + s->inlen, sizeof s->in - s->inlen - 1);
    char *line, *eol;

    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
        return -1;
    if (r < 0)
        return 0;
    s->inlen += (size_t)r;
    s->in[s->inlen] = '\0';
    line = s->in;
    while ((eol = strstr(line, "\r\n")) != NULL) {
        if (eol - line < 3)
            return -1;
        if ((eol - line == 3 || line[3] == ' ') && on_reply(k, s, atoi(line)) < 0)
            return -1;
        line = eol + 2;
    }
    s->inlen -= (size_t)(line - s->in);
    memmove(s->in, line, s->inlen);
    return s->inlen < sizeof s->in - 1 ? 0 : -1;
}

/* assign - start every message that is due on an idle session */
static void assign(struct soak *k, struct sess *ss, int n)
{
    double t = now();

    for (int i = 0; i < n && k->next < k->total; i++) {
        double due = k->start + k->next / k->rate;

        if (due > t)
            return;
        if (ss[i].st != S_IDLE)
            continue;
        if (t - due > k->lag_max)
            k->lag_max = t - due;
        k->next++;
        k->sent++;
        if (SEND(&ss[i], "MAIL FROM:<bench@bench.test>\r\n", S_MAIL) < 0)
            sess_dead(k, &ss[i]);
    }
}

/* count - sessions in state ST (-1: every one that is not dead) */
static int count(const struct sess *ss, int n, int st)
{
    int c = 0;

    for (int i = 0; i < n; i++)
        c += st < 0 ? ss[i].st != S_DEAD : (int)ss[i].st == st;
    return c;
}

/* wait_ms - poll's timeout: until the next message is due (rounded up);
 * with no session free, only a reply can change anything */
static int wait_ms(const struct soak *k, int idle)
{
    double due, t = now();

    if (k->start == 0 || k->next >= k->total || idle == 0)
        return 1000;
    due = k->start + k->next / k->rate;
    return due <= t ? 0 : (int)ceil((due - t) * 1000.0);
}

/* step - one poll over the live sessions and the work it brought */
static int step(struct soak *k, struct sess *ss, int n)
{
    struct pollfd p[n];

    for (int i = 0; i < n; i++) {
        p[i].fd = ss[i].st == S_DEAD ? -1 : ss[i].fd;
        p[i].events = POLLIN | (ss[i].outlen > 0 ? POLLOUT : 0);
        p[i].revents = 0;
    }
    if (poll(p, (nfds_t)n, wait_ms(k, count(ss, n, S_IDLE))) < 0 && errno != EINTR)
        return -1;
    for (int i = 0; i < n; i++) {
        if (p[i].fd < 0 || p[i].revents == 0)
            continue;
        if (((p[i].revents & POLLOUT) && sess_flush(&ss[i]) < 0)
            || ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) && on_input(k, &ss[i]) < 0))
            sess_dead(k, &ss[i]);
    }
    return 0;
}

/* run - connect, wait for every EHLO, then pace TOTAL messages */
static void run(struct soak *k, struct sess *ss, int n)
{
    double give_up = now() + 10;

    while (count(ss, n, S_IDLE) < count(ss, n, -1) && now() < give_up)
        if (step(k, ss, n) < 0)
            return;
    k->start = now();
    while (count(ss, n, -1) > 0 && (k->next < k->total || count(ss, n, S_IDLE) < count(ss, n, -1))) {
        assign(k, ss, n);
        if (step(k, ss, n) < 0)
            return;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* pct - the P-th percentile (nearest rank) of N sorted values, in ms */
static double pct(const double *v, long n, double p)
{
    long i = (long)ceil(p / 100.0 * n) - 1;

    if (n == 0)
        return NAN;
    return 1000.0 * v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static void report(struct soak *k, const char *latfile)
{
    double took = now() - k->start;
    FILE *f;

    if (latfile != NULL && (f = fopen(latfile, "w")) != NULL) {
        for (long i = 0; i < k->ok; i++)
            fprintf(f, "%.3f\n", k->lat[i] * 1000.0);
        fclose(f);
    }
    qsort(k->lat, (size_t)k->ok, sizeof *k->lat, cmp_double);
    printf("sent=%ld ok=%ld rejected=%ld errors=%d target_rate=%.0f rate=%.0f secs=%.2f "
           "lag_max_ms=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
           k->sent, k->ok, k->rejected, (int)k->errors, k->rate,
           took > 0 ? k->sent / took : 0.0, took, k->lag_max * 1000.0,
           pct(k->lat, k->ok, 50), pct(k->lat, k->ok, 99), pct(k->lat, k->ok, 100));
}

int main(int argc, char **argv)
{
    struct soak k = { 0 };
    struct sess *ss;
    int n;

    if (argc < 7 || argc > 8) {
        fprintf(stderr, "usage: soak HOST PORT RATE SECONDS SESSIONS SIZE [LATENCY_FILE]\n");
        return 2;
    }
    k.rate = atof(argv[3]);
    k.secs = atof(argv[4]);
    n = atoi(argv[5]);
    k.total = (long)(k.rate * k.secs);
    k.body = make_body((size_t)atol(argv[6]), &k.bodylen);
    k.lat = calloc((size_t)k.total + 1, sizeof *k.lat);
    ss = calloc((size_t)(n > 0 ? n : 1), sizeof *ss);
    if (k.rate <= 0 || k.total <= 0 || n <= 0 || n > 1000 || atol(argv[6]) < 100
        || k.body == NULL || k.lat == NULL || ss == NULL) {
        fprintf(stderr, "soak: RATE and SECONDS > 0, 0 < SESSIONS <= 1000, SIZE >= 100\n");
        return 2;
    }
    for (int i = 0; i < n; i++)
        if (sess_connect(&ss[i], argv[1], atoi(argv[2])) < 0) {
            perror("soak: connect");
            return 2;
        }
    run(&k, ss, n);
    report(&k, argc == 8 ? argv[7] : NULL);
    return k.ok == k.total && k.errors == 0 ? 0 : 1;
}
