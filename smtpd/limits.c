/*
 * limits.c - cross-process connection counting (see limits.h).
 *
 * The host table is open-addressed by a hash of the address; an entry is
 * reused once nobody from that address is connected and its rate window
 * has passed, so the table cannot fill with history.
 * limits_raise_nofile also lives here: descriptors are the limit the
 * kernel puts on sessions.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "core/base/hash.h"
#include "core/conf/conf.h"
#include "core/mail/logfile.h"
#include "smtpd/limits.h"

#define HOST_SLOTS 8192

struct host_slot {
    char ip[46];                        /* "" = free */
    int count[LIMITS_MAX_WORKERS];
    time_t window;                      /* start of the current minute */
    int in_window;                      /* connections in it */
};

struct limits {
    pthread_mutex_t mu;
    int total[LIMITS_MAX_WORKERS];
    struct host_slot hosts[HOST_SLOTS];
};

/* limits_new - the shared table (before fork) */
struct limits *limits_new(void)
{
    pthread_mutexattr_t a;
    struct limits *l = mmap(NULL, sizeof(*l), PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (l == MAP_FAILED)
        return NULL;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&l->mu, &a);
    pthread_mutexattr_destroy(&a);
    return l;
}

/* limits_free - unmap (NULL ok) */
void limits_free(struct limits *l)
{
    if (l != NULL)
        munmap(l, sizeof(*l));
}

static void lock(struct limits *l)
{
    if (pthread_mutex_lock(&l->mu) == EOWNERDEAD)
        pthread_mutex_consistent(&l->mu);   /* a worker died holding it */
}

static int slot_sum(const struct host_slot *h)
{
    int n = 0;

    for (int w = 0; w < LIMITS_MAX_WORKERS; w++)
        n += h->count[w];
    return n;
}

static struct host_slot *find(struct limits *l, const char *ip, int create)
{
    size_t i = hash_bytes_fnv(ip, strlen(ip)) % HOST_SLOTS;
    time_t now = time(NULL);
    struct host_slot *spare = NULL;

    for (size_t k = 0; k < HOST_SLOTS; k++, i = (i + 1) % HOST_SLOTS) {
        struct host_slot *h = &l->hosts[i];
        if (strcmp(h->ip, ip) == 0)
            return h;
        if (spare == NULL && (h->ip[0] == '\0'
                              || (slot_sum(h) == 0 && now - h->window >= 60)))
            spare = h;
        if (h->ip[0] == '\0')
            break;
    }
    if (!create || spare == NULL)
        return NULL;
    memset(spare, 0, sizeof(*spare));
    strncpy(spare->ip, ip, sizeof(spare->ip) - 1);
    return spare;
}

static int total(const struct limits *l)
{
    int n = 0;

    for (int w = 0; w < LIMITS_MAX_WORKERS; w++)
        n += l->total[w];
    return n;
}

static const char *check(struct limits *l, struct host_slot *h,
                         const struct conf_main *m)
{
    time_t now = time(NULL);

    if (m->smtp_accept_max > 0 && total(l) >= m->smtp_accept_max)
        return "Too many concurrent SMTP connections; please try again later";
    if (h == NULL)
        return m->smtp_accept_max_per_host > 0
               || m->smtp_accept_max_per_minute_per_host > 0
               ? "Too many connections; please try again later" : NULL;
    if (m->smtp_accept_max_per_host > 0
        && slot_sum(h) >= m->smtp_accept_max_per_host)
        return "Too many connections from your host";
    if (now - h->window >= 60) {
        h->window = now;
        h->in_window = 0;
    }
    if (m->smtp_accept_max_per_minute_per_host > 0
        && h->in_window >= m->smtp_accept_max_per_minute_per_host)
        return "Connection rate limit exceeded for your host";
    return NULL;
}

/* limits_enter - count worker w's new session from ip, or refuse it */
int limits_enter(struct limits *l, int w, const char *ip,
                 const struct conf_main *m, const char **why)
{
    struct host_slot *h;

    if (l == NULL || w < 0 || w >= LIMITS_MAX_WORKERS)
        return 0;
    lock(l);
    h = find(l, ip, 1);
    *why = check(l, h, m);
    if (*why == NULL) {
        l->total[w]++;
        if (h != NULL) {
            h->count[w]++;
            h->in_window++;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return *why == NULL ? 0 : -1;
}

/* limits_leave - a session of worker w from ip ended */
void limits_leave(struct limits *l, int w, const char *ip)
{
    struct host_slot *h;

    if (l == NULL || w < 0 || w >= LIMITS_MAX_WORKERS)
        return;
    lock(l);
    if (l->total[w] > 0)
        l->total[w]--;
    if ((h = find(l, ip, 0)) != NULL && h->count[w] > 0)
        h->count[w]--;
    pthread_mutex_unlock(&l->mu);
}

/* limits_worker_gone - worker w died: drop its share of every count */
void limits_worker_gone(struct limits *l, int w)
{
    if (l == NULL || w < 0 || w >= LIMITS_MAX_WORKERS)
        return;
    lock(l);
    l->total[w] = 0;
    for (size_t i = 0; i < HOST_SLOTS; i++)
        l->hosts[i].count[w] = 0;
    pthread_mutex_unlock(&l->mu);
}

/* Descriptors a worker needs besides its sessions: listeners, epoll,
 * signalfd, logs, spool and notify sockets, resolver sockets, lookups. */
#define FD_RESERVE 64

/* limits_raise_nofile - see limits.h */
void limits_raise_nofile(const struct conf_main *m)
{
    struct rlimit rl;
    rlim_t want;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    /* every session may land on one worker: it needs them all */
    want = m->smtp_accept_max > 0 ? (rlim_t)m->smtp_accept_max + FD_RESERVE
                                  : 65536;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        struct rlimit up = rl;
        up.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want
                      ? rl.rlim_max : want;
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
        log_main("warning: smtp_accept_max = %ld needs about %llu file "
                 "descriptors per worker, but the limit is %llu (hard "
                 "limit %llu): raise it (ulimit -n, LimitNOFILE=) or "
                 "lower smtp_accept_max; until then connections beyond "
                 "the limit wait", m->smtp_accept_max,
                 (unsigned long long)want, (unsigned long long)rl.rlim_cur,
                 (unsigned long long)rl.rlim_max);
}
