/*
 * queue_list.c - tern -bp / mailq and -bpc: the queue in Exim's format.
 *
 * PURPOSE: one entry per message, oldest first:
 *   AGE  SIZE ID <SENDER> [*** frozen ***]
 *           RECIPIENT            (still to be delivered)
 *         D RECIPIENT            (done)
 * then an empty line. AGE is minutes up to 90, rounded hours up to 72,
 * then rounded days; SIZE is bytes, or K/M (one decimal below ten), as
 * Exim prints them.
 * -bpc prints the number of messages only.
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
#include "core/mail/logfile.h"
#include "core/conf/conf.h"
#include "queue/queue.h"
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

/* the journal's view: which recipients are done, frozen or not */
static int journal_state(struct spool *sp, const char *id, struct hash *done,
                         int *frozen)
{
    char **lines;
    size_t n;
    struct errbuf eb;

    if (spool_journal_read(sp, id, &lines, &n, &eb) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char *l = lines[i], *tab = strchr(l, '\t');
        if (tab != NULL && l[0] == 'Z')
            *frozen = tab[1] == '1';
        else if (tab != NULL && l[0] == 'T')
            hash_put(done, tab + 1, strlen(tab + 1), done);
        else if (tab != NULL && (l[0] == 'D' || l[0] == 'F')) {
            char *top = strchr(tab + 1, '\t');
            if (top != NULL && (*top = '\0', strcmp(tab + 1, top + 1) == 0))
                hash_put(done, tab + 1, strlen(tab + 1), done);
        }
        free(l);
    }
    free(lines);
    return 0;
}

/* esc - s escaped for the terminal, in sb (emptied first) */
static const char *esc(struct strbuf *sb, const char *s)
{
    sb_reset(sb);
    logfile_escape_str(sb, s);
    return sb_str(sb);
}

static void list_one(struct spool *sp, const char *id, FILE *out)
{
    struct spool_msg m;
    struct errbuf eb;
    struct hash *done = hash_new(8);
    char age[32], size[32];
    struct strbuf sb;
    int frozen;

    sb_init(&sb);
    if (spool_read(sp, id, &m, &eb) != 0) {
        if (errno != ENOENT)    /* delivered meanwhile: not listed */
            fprintf(out, "%s: %s\n\n", id, esc(&sb, eb.msg));
        hash_free(done, NULL);
        sb_free(&sb);
        return;
    }
    frozen = m.env.frozen;
    (void)journal_state(sp, id, done, &frozen);
    fmt_age((long long)time(NULL) - m.env.received_sec, age, sizeof(age));
    fmt_size(m.len, size, sizeof(size));
    fprintf(out, "%3s %5s %s <%s>%s\n", age, size, id,
            esc(&sb, m.env.sender), frozen ? " *** frozen ***" : "");
    for (size_t i = 0; i < m.env.nrcpt; i++) {
        const char *r = m.env.rcpts[i];
        int d = hash_get(done, r, strlen(r)) != NULL;
        fprintf(out, "%s%s\n", d ? "        D " : "          ", esc(&sb, r));
    }
    fputc('\n', out);
    sb_free(&sb);
    spool_msg_free(&m);
    hash_free(done, NULL);
}

/* queue_list - -bp (count_only 0) or -bpc */
int queue_list(struct conf *c, int count_only, FILE *out)
{
    struct errbuf eb;
    struct spool *sp = spool_open(c->main.spool_directory, NULL, &eb);
    char **ids;
    size_t n;

    if (sp == NULL || spool_list(sp, &ids, &n, &eb) != 0) {
        fprintf(stderr, "tern: %s\n", eb.msg);
        spool_close(sp);
        return 73;
    }
    if (count_only)
        fprintf(out, "%zu\n", n);
    for (size_t i = 0; i < n; i++) {
        if (!count_only)
            list_one(sp, ids[i], out);
        free(ids[i]);
    }
    free(ids);
    spool_close(sp);
    return 0;
}
