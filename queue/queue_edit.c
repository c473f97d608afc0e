/*
 * queue_edit.c - tern -Mar ID ADDR... (add recipients), -Mmd ID ADDR...
 *                (mark recipients delivered), -Mes ID ADDR (edit the
 *                sender), with Exim's replies and log lines.
 *
 * PURPOSE: each edit takes the message's spool lock first, so it never
 * races a delivery ("Message ID is locked", as Exim). Marking delivered
 * appends "T ADDR" lines to the journal (one write, fsync), as a
 * delivery would. Adding recipients and changing the sender rewrite the
 * message file through the spool's own writer (spool_writer_new +
 * spool_commit: temp file, fsync, rename over the old name, directory
 * fsync - DESIGN §3) while the old file's lock is held; spool_lock
 * re-opens a file that was replaced after it opened it, so a delivery
 * never reads the old copy. Either all the addresses given are good and
 * the message is changed, or nothing is ("Message ID - error while
 * ...", as Exim's wording). Logged: "recipient <A> added by USER",
 * "address <A> marked delivered by USER", "sender address changed to
 * <A> by USER".
 * INTERFACE: queue_edit.
 * ERRORS: exit status 0 when the message was modified, 1 otherwise, 73
 *         when the spool cannot be opened.
 * SECURITY: addresses from the command line are parsed with the
 *           address parser (bounded, no control characters) before they
 *           reach the spool; only admin users get here (queue_is_admin).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/mail/address.h"
#include "core/mail/logfile.h"
#include "queue/queue.h"
#include "queue/queue_impl.h"
#include "core/spool/spool.h"

enum edit_op { ED_ADD, ED_MARK, ED_SENDER };

struct edit {
    enum edit_op op;
    const char *doing;          /* Exim's words for the error lines */
    struct spool *sp;
    struct spool_msg m;
    struct pool *pool;
    const char **addrs;         /* the addresses, as they will be stored */
    int naddrs;
};

/* canon - args[i] parsed and written back, or NULL after the error line */
static const char *canon(struct edit *e, const char *arg)
{
    unsigned opts = ADDR_ALLOW_UNQUALIFIED | ADDR_UTF8
                    | (e->op == ED_SENDER ? ADDR_ALLOW_NULL : 0);
    struct addr_parsed ap;
    const char *err;
    struct strbuf sb;
    const char *out;

    if (addr_parse(arg, strlen(arg), opts, &ap, &err) != 0
        || ((ap.flags & AF_UNQUALIFIED) && !(ap.flags & AF_NULL))) {
        if (ap.flags & AF_UNQUALIFIED)
            err = "domain missing";
        printf("- error while %s:\n  bad address %s: %s\n", e->doing, arg,
               err);
        return NULL;
    }
    sb_init(&sb);
    addr_format(ap.local_part, ap.domain, &sb);
    out = pool_strdup(e->pool, sb_str(&sb));
    sb_free(&sb);
    return out;
}

static int is_rcpt(const struct spool_env *env, const char *a)
{
    for (size_t i = 0; i < env->nrcpt; i++)
        if (strcmp(env->rcpts[i], a) == 0)
            return 1;
    return 0;
}

/* check_args - every address good (and for -Mmd a recipient): 0 */
static int check_args(struct edit *e, char **args, int n)
{
    if (n == 0) {
        printf("- error while %s: no address given\n", e->doing);
        return -1;
    }
    if (e->op == ED_SENDER && n > 1) {
        printf("- only one sender address can be specified\n");
        return -1;
    }
    e->addrs = pool_alloc(e->pool, (size_t)n * sizeof(*e->addrs));
    for (int i = 0; i < n; i++) {
        if ((e->addrs[i] = canon(e, args[i])) == NULL)
            return -1;
        if (e->op == ED_MARK && !is_rcpt(&e->m.env, e->addrs[i])) {
            printf("- error while %s:\n  %s is not a recipient: message "
                   "not updated\n", e->doing, e->addrs[i]);
            return -1;
        }
    }
    e->naddrs = n;
    return 0;
}

static void committed(int rc, const char *why, void *arg)
{
    struct errbuf *eb = arg;

    eb->msg[0] = '\0';
    if (rc != 0)
        errbuf_set(eb, "%s", why);
}

/* rewrite - the message file again with the edited envelope (inline
 * commit: this spool has no event loop) */
static int rewrite(struct edit *e, const struct spool_env *env,
                   struct errbuf *eb)
{
    struct spool_writer *w = spool_writer_new(e->sp, env, eb);

    if (w == NULL)
        return -1;
    if (spool_writer_write(w, e->m.data, e->m.len) != 0) {
        errbuf_set(eb, "spool: write: %s", strerror(errno));
        spool_writer_abort(w);
        return -1;
    }
    errbuf_set(eb, "spool: the commit did not report");
    spool_commit(w, committed, eb);
    return eb->msg[0] == '\0' ? 0 : -1;
}

/* add the recipients (-Mar) or set the sender (-Mes) */
static int edit_envelope(struct edit *e, struct errbuf *eb)
{
    struct spool_env env = e->m.env;
    const char **r;

    if (e->op == ED_SENDER) {
        env.sender = e->addrs[0];
        return rewrite(e, &env, eb);
    }
    r = pool_alloc(e->pool, (env.nrcpt + (size_t)e->naddrs + 1)
                            * sizeof(*r));
    memcpy(r, env.rcpts, env.nrcpt * sizeof(*r));
    memcpy(r + env.nrcpt, e->addrs, (size_t)e->naddrs * sizeof(*r));
    env.nrcpt += (size_t)e->naddrs;
    r[env.nrcpt] = NULL;
    env.rcpts = r;
    return rewrite(e, &env, eb);
}

/* -Mmd: a "T" line per recipient, one write and one fsync */
static int mark_done(struct edit *e, struct errbuf *eb)
{
    const char **lines = pool_alloc(e->pool, (size_t)e->naddrs
                                             * sizeof(*lines));

    for (int i = 0; i < e->naddrs; i++)
        lines[i] = pool_printf(e->pool, "T\t%s", e->addrs[i]);
    return spool_journal_append_v(e->sp, e->m.env.id, lines,
                                  (size_t)e->naddrs, eb);
}

static void log_edit(const struct edit *e)
{
    const char *id = e->m.env.id, *who = queue_caller();

    for (int i = 0; i < e->naddrs; i++) {
        if (e->op == ED_ADD)
            log_main("%s recipient <%s> added by %s", id, e->addrs[i], who);
        else if (e->op == ED_MARK)
            log_main("%s address <%s> marked delivered by %s", id,
                     e->addrs[i], who);
        else
            log_main("%s sender address changed to <%s> by %s", id,
                     e->addrs[i], who);
    }
}

/* edit_locked - the edit of a locked, read message: 0 or 1 */
static int edit_locked(struct edit *e, char **args, int n)
{
    struct errbuf eb;
    int rc;

    printf("Message %s ", e->m.env.id);
    if (check_args(e, args, n) != 0)
        return 1;
    rc = e->op == ED_MARK ? mark_done(e, &eb) : edit_envelope(e, &eb);
    if (rc != 0) {
        printf("- while %s: %s\n", e->doing, eb.msg);
        return 1;
    }
    log_edit(e);
    printf("has been modified\n");
    return 0;
}

/* lock_read - lock and read id: the lock descriptor, or -1 after Exim's
 * words for why not */
static int lock_read(struct edit *e, const char *id)
{
    struct errbuf eb;
    int fd = spool_lock(e->sp, id, &eb);

    if (fd < 0) {
        if (errno == EWOULDBLOCK)
            printf("Message %s is locked\n", id);
        else if (errno == ENOENT)
            printf("Spool data file for %s does not exist\n", id);
        else
            printf("Couldn't open spool file for %s: %s\n", id,
                   strerror(errno));
        return -1;
    }
    if (spool_read_fd(fd, id, &e->m, &eb) != 0) {
        printf("Spool read error for %s: %s\n", id, eb.msg);
        (void)close(fd);        /* read only: unlocks */
        return -1;
    }
    return fd;
}

static const struct {
    const char *flag;
    enum edit_op op;
    const char *doing;
} edit_ops[] = {
    { "-Mar", ED_ADD, "adding recipient" },
    { "-Mmd", ED_MARK, "marking as delivered" },
    { "-Mes", ED_SENDER, "editing sender" },
};

/* queue_edit - op ("-Mar", "-Mmd", "-Mes") on message args[0] with the
 * addresses args[1..] */
int queue_edit(struct conf *c, const char *op, char **args, int nargs)
{
    struct edit e = { 0 };
    struct errbuf eb;
    int fd, rc;

    for (size_t i = 0; i < sizeof(edit_ops) / sizeof(edit_ops[0]); i++)
        if (strcmp(op, edit_ops[i].flag) == 0)
            e.op = edit_ops[i].op, e.doing = edit_ops[i].doing;
    if (!queue_is_admin(c))
        return queue_denied();
    if (!msgid_valid(args[0])) {
        printf("Spool data file for %s does not exist\n", args[0]);
        return 1;
    }
    if ((e.sp = spool_open(c->main.spool_directory, NULL, &eb)) == NULL) {
        fprintf(stderr, "tern: %s\n", eb.msg);
        return 73;
    }
    if ((fd = lock_read(&e, args[0])) < 0) {
        spool_close(e.sp);
        return 1;
    }
    e.pool = pool_new();
    rc = edit_locked(&e, args + 1, nargs - 1);
    (void)close(fd);            /* read only: unlocks */
    spool_msg_free(&e.m);
    pool_free(e.pool);
    spool_close(e.sp);
    return rc;
}
