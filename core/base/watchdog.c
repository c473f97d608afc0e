/*
 * watchdog.c - the shared table of busy marks and "doing what" notes
 *              (see watchdog.h).
 *
 * PURPOSE:   an anonymous shared mapping, one slot per child. The child
 *            writes, the master only reads (and clears a slot before it
 *            forks into it). busy_since is one atomic 64-bit word; the
 *            texts are plain bytes: they only change while the child is
 *            not stalled, so a stalled or dead child's notes are stable,
 *            and a torn read of a live one is at worst a garbled log
 *            text, which the reader bounds and terminates.
 * INTERFACE: see watchdog.h.
 * ERRORS:    watchdog_new NULL (mmap failed), watchdog_claim -1 (full).
 * SECURITY:  nothing here is trusted by the master but as text.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "xalloc.h"
#include "watchdog.h"

struct wd_slot {
    pid_t pid;                  /* 0: free */
    int used;                   /* claimed by the master */
    uint64_t busy_since;        /* monotonic ms the turn began; 0: waiting */
    char what[WD_NWHAT][WATCHDOG_TEXT];
};

struct watchdog {
    int nslots;
    size_t size;                /* of the mapping */
    struct wd_slot *slots;
};

static struct wd_slot *me;      /* this process's slot, when attached */

/* watchdog_now_ms - CLOCK_MONOTONIC in milliseconds */
uint64_t watchdog_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* watchdog_new - nslots slots in a shared anonymous mapping */
struct watchdog *watchdog_new(int nslots)
{
    struct watchdog *w;
    size_t size = (size_t)(nslots > 0 ? nslots : 1) * sizeof(struct wd_slot);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return NULL;
    w = xcalloc(1, sizeof(*w));
    w->nslots = nslots > 0 ? nslots : 1;
    w->size = size;
    w->slots = p;
    return w;
}

/* watchdog_free - unmap (NULL ok) */
void watchdog_free(struct watchdog *w)
{
    if (w == NULL)
        return;
    munmap(w->slots, w->size);
    free(w);
}

/* watchdog_claim - a free slot, cleared; -1 when all are taken */
int watchdog_claim(struct watchdog *w)
{
    if (w == NULL)
        return -1;
    for (int i = 0; i < w->nslots; i++) {
        struct wd_slot *s = &w->slots[i];
        if (s->used)
            continue;
        memset(s, 0, sizeof(*s));
        s->used = 1;
        return i;
    }
    return -1;
}

/* watchdog_set_pid - the child now in slot */
void watchdog_set_pid(struct watchdog *w, int slot, pid_t pid)
{
    if (w != NULL && slot >= 0 && slot < w->nslots)
        w->slots[slot].pid = pid;
}

/* watchdog_release - free slot (its child was reaped) */
void watchdog_release(struct watchdog *w, int slot)
{
    if (w != NULL && slot >= 0 && slot < w->nslots)
        memset(&w->slots[slot], 0, sizeof(w->slots[slot]));
}

/* watchdog_read - a bounded copy of slot */
void watchdog_read(const struct watchdog *w, int slot, uint64_t now_ms,
                   struct watchdog_report *out)
{
    const struct wd_slot *s;
    uint64_t since;

    memset(out, 0, sizeof(*out));
    if (w == NULL || slot < 0 || slot >= w->nslots)
        return;
    s = &w->slots[slot];
    since = __atomic_load_n(&s->busy_since, __ATOMIC_ACQUIRE);
    out->pid = s->pid;
    out->busy = since != 0;
    out->busy_ms = since != 0 && now_ms > since ? now_ms - since : 0;
    for (int k = 0; k < WD_NWHAT; k++) {
        memcpy(out->what[k], s->what[k], WATCHDOG_TEXT);
        out->what[k][WATCHDOG_TEXT - 1] = '\0';
    }
}

/* watchdog_describe - the notes of r as one phrase */
void watchdog_describe(const struct watchdog_report *r, char *buf,
                       size_t size)
{
    static const char *const label[WD_NWHAT] = { "session ", "message ",
                                                  "", "script " };
    size_t used = 0;

    if (size == 0)
        return;
    buf[0] = '\0';
    for (int k = 0; k < WD_NWHAT && used < size; k++) {
        int n;
        if (r->what[k][0] == '\0')
            continue;
        n = snprintf(buf + used, size - used, "%s%s%s", used ? ", " : "",
                     label[k], r->what[k]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (buf[0] == '\0')
        snprintf(buf, size, "nothing known");
}

/* a fork's child is another process: it must not speak for its parent */
static void detach_child(void)
{
    me = NULL;
}

/* watchdog_attach - this process reports in slot */
void watchdog_attach(struct watchdog *w, int slot)
{
    static int registered;

    if (w == NULL || slot < 0 || slot >= w->nslots)
        return;
    if (!registered && pthread_atfork(NULL, NULL, detach_child) == 0)
        registered = 1;
    me = &w->slots[slot];
    __atomic_store_n(&me->busy_since, 0, __ATOMIC_RELEASE);
}

/* watchdog_active - 1 when attached */
int watchdog_active(void)
{
    return me != NULL;
}

/* watchdog_subject - the session or message being served, if noted */
int watchdog_subject(char *buf, size_t size)
{
    if (me == NULL || size == 0)
        return -1;
    for (int k = WD_SESSION; k <= WD_MESSAGE; k++)
        if (me->what[k][0] != '\0') {
            snprintf(buf, size, "%s", me->what[k]);
            return k;
        }
    return -1;
}

/* watchdog_note - record what this process is doing (NULL clears) */
void watchdog_note(enum watchdog_what k, const char *text)
{
    size_t n;

    if (me == NULL || (unsigned)k >= WD_NWHAT)
        return;
    n = text ? strnlen(text, WATCHDOG_TEXT - 1) : 0;
    memcpy(me->what[k], text ? text : "", n);
    me->what[k][n] = '\0';
    for (int j = (int)k + 1; j < WD_NWHAT; j++)
        me->what[j][0] = '\0';
}

/* watchdog_notef - watchdog_note with a format */
void watchdog_notef(enum watchdog_what k, const char *fmt, ...)
{
    char buf[WATCHDOG_TEXT];
    va_list ap;

    if (me == NULL)
        return;
    va_start(ap, fmt);
    if (vsnprintf(buf, sizeof(buf), fmt, ap) < 0)
        buf[0] = '\0';
    va_end(ap);
    watchdog_note(k, buf);
}

/* watchdog_turn_begin - the loop stopped waiting: busy from now */
void watchdog_turn_begin(void)
{
    uint64_t now;

    if (me == NULL)
        return;
    now = watchdog_now_ms();
    __atomic_store_n(&me->busy_since, now ? now : 1, __ATOMIC_RELEASE);
}

/* watchdog_turn_end - the loop is about to wait */
void watchdog_turn_end(void)
{
    if (me != NULL)
        __atomic_store_n(&me->busy_since, 0, __ATOMIC_RELEASE);
}

/* watchdog_callback - a callback starts: the notes of the last one go */
void watchdog_callback(void)
{
    if (me == NULL)
        return;
    for (int k = 0; k < WD_NWHAT; k++)
        me->what[k][0] = '\0';
}
