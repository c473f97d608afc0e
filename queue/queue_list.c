/*
 * queue_list.c - tern -bp / mailq, -bpc, -bpu, -bpa, -bpr: the queue in
 *                Exim's format.
 *
 * PURPOSE: one entry per message, oldest first:
 *   AGE  SIZE ID <SENDER> [*** frozen ***]
 *           RECIPIENT            (still to be delivered)
 *         D RECIPIENT            (done)
 *        +D GENERATED            (-bpa: done, from a redirection)
 * then an empty line. AGE is minutes up to 90, rounded hours up to 72,
 * then rounded days; SIZE is bytes, or K/M (one decimal below ten), as
 * Exim prints them. -bpu leaves the done recipients out; -bpr lists in
 * the order the spool directories give (unsorted); -bpru and -bpra
 * combine them. -bpc prints the number of messages only. What is done
 * comes from the journal ("T", "D", "F" lines): qjournal_read, shared
 * with -Mvh.
 * INTERFACE: queue_list (queue.h); qjournal_read, qjournal_free
 *            (queue_impl.h).
 * SECURITY: senders and recipients come from clients and go to a
 * terminal: they are printed escaped as log fields are (logfile_escape).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/errbuf.h"
#include "core/base/hash.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/mail/logfile.h"
#include "core/conf/conf.h"
#include "queue/queue.h"
#include "queue/queue_impl.h"
#include "core/spool/spool.h"

/* Exim's rule: minutes up to 90, then rounded hours up to 72, then
 * rounded days */
static void fmt_age(long long secs, char *out, size_t size)
{
    long long m = secs < 0 ? 0 : secs / 60, h;

    if (m <= 90) {
        snprintf(out, size, "%2lldm", m);
        return;
    }
    h = (m + 30) / 60;
    if (h <= 72)
        snprintf(out, size, "%2lldh", h);
    else
        snprintf(out, size, "%2lldd", (h + 12) / 24);
}

/* Exim's string_format_size: 5 columns, whole K and M rounded */
static void fmt_size(size_t n, char *out, size_t size)
{
    if (n < 1024)
        snprintf(out, size, "%5zu", n);
    else if (n < 10 * 1024)
        snprintf(out, size, "%4.1fK", (double)n / 1024);
    else if (n < 1024 * 1024)
        snprintf(out, size, "%4zuK", (n + 512) / 1024);
    else if (n < 10 * 1024 * 1024)
        snprintf(out, size, "%4.1fM", (double)n / (1024 * 1024));
    else
        snprintf(out, size, "%4zuM", (n + 512 * 1024) / (1024 * 1024));
}

static void add_done(struct qjournal *j, const char *addr)
{
    if (hash_get(j->done, addr, strlen(addr)) != NULL)
        return;
    j->all = xreallocarray(j->all, j->nall + 1, sizeof(*j->all));
    j->all[j->nall] = xstrdup(addr);
    hash_put(j->done, j->all[j->nall], strlen(addr), j);
    j->nall++;
}

/* a final address done: its journal key, a pipe or file ("parent
 * |command") shown as itself */
static void add_final(struct qjournal *j, const char *key)
{
    const char *p = strstr(key, " |");

    if (p == NULL)
        p = strstr(key, " /");
    add_done(j, p != NULL ? p + 1 : key);
}

static void journal_line(struct qjournal *j, char *l)
{
    char *tab = strchr(l, '\t'), *top;

    if (l[0] == 'W')
        j->warnings++;
    if (tab == NULL)
        return;
    if (l[0] == 'Z')
        j->frozen = tab[1] == '1';
    else if (l[0] == 'T')
        add_done(j, tab + 1);
    else if ((l[0] == 'D' || l[0] == 'F')
             && (top = strchr(tab + 1, '\t')) != NULL) {
        *top = '\0';
        add_final(j, tab + 1);
    }
}

/* qjournal_read - what message id's journal says */
int qjournal_read(struct spool *sp, const char *id, int frozen,
                  struct qjournal *j)
{
    char **lines;
    size_t n;
    struct errbuf eb;

    memset(j, 0, sizeof(*j));
    j->done = hash_new(8);
    j->frozen = frozen;
    if (spool_journal_read(sp, id, &lines, &n, &eb) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        journal_line(j, lines[i]);
        free(lines[i]);
    }
    free(lines);
    return 0;
}

/* qjournal_free - release what qjournal_read filled in */
void qjournal_free(struct qjournal *j)
{
    for (size_t i = 0; i < j->nall; i++)
        free(j->all[i]);
    free(j->all);
    hash_free(j->done, NULL);
    memset(j, 0, sizeof(*j));
}

/* queue_esc - see queue_impl.h */
const char *queue_esc(struct strbuf *sb, const char *s)
{
    sb_reset(sb);
    logfile_escape_str(sb, s);
    return sb_str(sb);
}

/* queue_cmp_str - see queue_impl.h */
int queue_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the envelope recipients, then (-bpa) the other addresses done, sorted
 * as Exim's tree of them is walked */
static void list_rcpts(const struct spool_env *e, struct qjournal *j,
                       unsigned how, struct strbuf *sb, FILE *out)
{
    struct hash *env = hash_new(e->nrcpt + 1);
    const char **gen = xcalloc(j->nall + 1, sizeof(*gen));
    size_t ngen = 0;

    for (size_t i = 0; i < e->nrcpt; i++) {
        const char *r = e->rcpts[i];
        int d = hash_get(j->done, r, strlen(r)) != NULL;
        hash_put(env, r, strlen(r), j);
        if (!d || !(how & QLIST_UNDELIVERED))
            fprintf(out, "%s%s\n", d ? "        D " : "          ",
                    queue_esc(sb, r));
    }
    for (size_t i = 0; i < j->nall; i++)
        if (hash_get(env, j->all[i], strlen(j->all[i])) == NULL)
            gen[ngen++] = j->all[i];
    qsort(gen, ngen, sizeof(*gen), queue_cmp_str);
    for (size_t i = 0; (how & QLIST_GENERATED) && i < ngen; i++)
        fprintf(out, "       +D %s\n", queue_esc(sb, gen[i]));
    free(gen);
    hash_free(env, NULL);
}

static void list_one(struct spool *sp, const char *id, unsigned how,
                     FILE *out)
{
    struct spool_msg m;
    struct errbuf eb;
    struct qjournal j;
    char age[32], size[32];
    struct strbuf sb;

    sb_init(&sb);
    if (spool_read(sp, id, &m, &eb) != 0) {
        if (errno != ENOENT)    /* delivered meanwhile: not listed */
            fprintf(out, "%s: %s\n\n", id, queue_esc(&sb, eb.msg));
        sb_free(&sb);
        return;
    }
    (void)qjournal_read(sp, id, m.env.frozen, &j);
    fmt_age((long long)time(NULL) - m.env.received_sec, age, sizeof(age));
    fmt_size(m.len, size, sizeof(size));
    fprintf(out, "%3s %5s %s <%s>%s\n", age, size, id,
            queue_esc(&sb, m.env.sender), j.frozen ? " *** frozen ***" : "");
    list_rcpts(&m.env, &j, how, &sb, out);
    fputc('\n', out);
    spool_msg_free(&m);
    sb_free(&sb);
    qjournal_free(&j);
}

/* queue_list - -bp and its variants (how: QLIST_*) */
int queue_list(struct conf *c, unsigned how, FILE *out)
{
    struct errbuf eb;
    struct spool *sp = spool_open(c->main.spool_directory, NULL, &eb);
    char **ids;
    size_t n;
    int rc = -1;

    if (sp != NULL)
        rc = (how & QLIST_UNSORTED) ? spool_list_unsorted(sp, &ids, &n, &eb)
                                    : spool_list(sp, &ids, &n, &eb);
    if (rc != 0) {
        fprintf(stderr, "tern: %s\n", eb.msg);
        spool_close(sp);
        return 73;
    }
    if (how & QLIST_COUNT)
        fprintf(out, "%zu\n", n);
    for (size_t i = 0; i < n; i++) {
        if (!(how & QLIST_COUNT))
            list_one(sp, ids[i], how, out);
        free(ids[i]);
    }
    free(ids);
    spool_close(sp);
    return 0;
}
