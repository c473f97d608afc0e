/*
 * queue_henv.c - a message's envelope in the shape of Exim's -H spool
 *                file, for tern -Mvh.
 *
 * PURPOSE: Exim's administrators read -Mvh output; tern's spool file is
 * its own format (spool_format.c), so its envelope is written out the
 * way Exim's spool_write_header() lays out the same facts:
 *   ID-H / login uid gid / <sender> / received-time warnings /
 *   -options / the tree of addresses done ("XX" when none) /
 *   the recipient count and the recipients / an empty line.
 * What tern does not record is left out (-interface_address, -host_auth)
 * or written without its value: "-frozen" (Exim adds the time of the
 * freeze; tern's journal does not keep it). The login is the submitting
 * user of local mail, else tern_user (who received it); uid and gid are
 * that account's now, -1 when it does not exist.
 * INTERFACE: queue_print_envelope, queue_caller (queue_impl.h).
 * SECURITY: envelope strings come from clients: escaped as log fields.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/spool/spool.h"
#include "queue/queue_impl.h"

/* queue_caller - the login name of the real uid, as Exim logs it */
const char *queue_caller(void)
{
    static char buf[32];
    struct passwd *pw = getpwuid(getuid());

    if (pw != NULL)
        return pw->pw_name;
    snprintf(buf, sizeof buf, "uid %ld", (long)getuid());
    return buf;
}

/* Exim's tree_write: a node is "LR address" (L, R: Y or N, whether it
 * has a left, right branch), followed by its left then right subtree;
 * here the balanced tree of the sorted addresses v[lo..hi) */
static void tree_write(FILE *out, char **v, size_t lo, size_t hi,
                       struct strbuf *sb)
{
    size_t mid = lo + (hi - lo) / 2;

    if (lo >= hi)
        return;
    fprintf(out, "%c%c %s\n", mid > lo ? 'Y' : 'N', mid + 1 < hi ? 'Y' : 'N',
            queue_esc(sb, v[mid]));
    tree_write(out, v, lo, mid, sb);
    tree_write(out, v, mid + 1, hi, sb);
}

/* the first lines: name, originator, sender, time and warnings */
static void print_head(FILE *out, const struct conf *c,
                       const struct spool_env *e, unsigned warnings,
                       struct strbuf *sb)
{
    const char *login = e->local_user[0] != '\0' ? e->local_user
                        : c->main.tern_user ? c->main.tern_user : "";
    struct passwd *pw = login[0] != '\0' ? getpwnam(login) : NULL;

    fprintf(out, "%s-H\n", e->id);
    fprintf(out, "%.63s %ld %ld\n", queue_esc(sb, login),
            pw ? (long)pw->pw_uid : -1L, pw ? (long)pw->pw_gid : -1L);
    fprintf(out, "<%s>\n", queue_esc(sb, e->sender));
    fprintf(out, "%lld %u\n", e->received_sec, warnings);
    fprintf(out, "-received_time_usec .%06ld\n", e->received_usec);
}

/* body lines and the longest line, as Exim counts them */
static void count_lines(const struct spool_msg *m, long *body, long *maxlen)
{
    size_t start = 0, hdr_end = 0;
    int in_body = 0;

    *body = *maxlen = 0;
    for (size_t i = 0; i < m->len; i++) {
        if (m->data[i] != '\n')
            continue;
        size_t len = i - start - (i > start && m->data[i - 1] == '\r');
        if ((long)len > *maxlen)
            *maxlen = (long)len;
        if (in_body)
            (*body)++;
        else if (len == 0)
            in_body = 1, hdr_end = i;
        start = i + 1;
    }
    if (in_body && start < m->len && start > hdr_end)
        (*body)++;              /* a last line without its newline */
}

static void print_client(FILE *out, const struct spool_env *e,
                         struct strbuf *sb)
{
    if (e->helo[0] != '\0')
        fprintf(out, "-helo_name %s\n", queue_esc(sb, e->helo));
    if (e->client_ip[0] != '\0') {
        fprintf(out, "-host_address %s.%d\n", queue_esc(sb, e->client_ip),
                e->client_port);
        if (e->client_name[0] != '\0')
            fprintf(out, "-host_name %s\n", queue_esc(sb, e->client_name));
    }
    if (e->local_user[0] != '\0')
        fprintf(out, "-ident %s\n", queue_esc(sb, e->local_user));
    if (e->protocol[0] != '\0')
        fprintf(out, "-received_protocol %s\n", queue_esc(sb, e->protocol));
}

/* ACL variables: "-aclc NAME LEN" or "-aclm NAME LEN", then the value */
static void print_vars(FILE *out, const struct spool_env *e,
                       struct strbuf *sb)
{
    for (size_t i = 0; i < e->nvars; i++) {
        const char *n = e->vars[i].name, *v = e->vars[i].value;
        if (strncmp(n, "acl_", 4) != 0 || n[4] == '\0')
            continue;
        fprintf(out, "-acl%c %s %zu\n", n[4], queue_esc(sb, n + 5), strlen(v));
        fprintf(out, "%s\n", queue_esc(sb, v));
    }
}

static void print_flags(FILE *out, const struct spool_msg *m, int frozen,
                        struct strbuf *sb)
{
    const struct spool_env *e = &m->env;
    long body, maxlen;

    count_lines(m, &body, &maxlen);
    fprintf(out, "-body_linecount %ld\n", body);
    fprintf(out, "-max_received_linelength %ld\n", maxlen);
    if (e->auth_id[0] != '\0')
        fprintf(out, "-auth_id %s\n", queue_esc(sb, e->auth_id));
    if (frozen)
        fprintf(out, "-frozen\n");
    if (e->client_ip[0] == '\0')
        fprintf(out, "-local\n");
    if (e->tls_cipher[0] != '\0')
        fprintf(out, "-tls_cipher %s\n", queue_esc(sb, e->tls_cipher));
    if (e->smtputf8)
        fprintf(out, "-smtputf8\n");
}

/* queue_print_envelope - m's envelope as Exim's -H file shows it */
void queue_print_envelope(struct spool *sp, const struct conf *c,
                          const struct spool_msg *m, FILE *out)
{
    const struct spool_env *e = &m->env;
    struct qjournal j;
    struct strbuf sb;

    sb_init(&sb);
    (void)qjournal_read(sp, e->id, e->frozen, &j);
    print_head(out, c, e, j.warnings, &sb);
    print_client(out, e, &sb);
    print_vars(out, e, &sb);
    print_flags(out, m, j.frozen, &sb);
    if (j.nall == 0)
        fprintf(out, "XX\n");
    else
        qsort(j.all, j.nall, sizeof(*j.all), queue_cmp_str);
    tree_write(out, j.all, 0, j.nall, &sb);
    fprintf(out, "%zu\n", e->nrcpt);
    for (size_t i = 0; i < e->nrcpt; i++)
        fprintf(out, "%s\n", queue_esc(&sb, e->rcpts[i]));
    fputc('\n', out);
    qjournal_free(&j);
    sb_free(&sb);
}
