/*
 * fuzz_spool.c - libFuzzer target for the spool reader (core/spool*.c).
 *
 * PURPOSE:   write the input as a message file and spool_read it. The file
 *            is named after the id on its "id" line when that id is valid
 *            (so mutations reach past the id check), else a fixed id. A
 *            refused file must come with EBADMSG and a reason; an accepted
 *            one must satisfy the limits, and writing its envelope and data
 *            back (under a new id) and reading them again must give the
 *            same message.
 * INTERFACE: LLVMFuzzerTestOneInput.
 * ERRORS:    a broken invariant prints the case and abort()s.
 * BUILD:     clang -std=c11 -D_GNU_SOURCE -I. -g -O1
 *            -fsanitize=fuzzer,address,undefined test-suite/fuzz/fuzz_spool.c
 *            core/spool*.c core/spool/msgid.c core/base/ *.c -o /tmp/fuzz_spool
 *            (seeds: test-suite/fuzz/corpus/spool/; the spool lives in
 *            /dev/shm, or $TMPDIR)
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/safe_io.h"
#include "core/spool/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct spool *sp;
static char spooldir[256];

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_spool: %s: %s\n", what, detail ? detail : "");
    abort();
}

static int rm_cb(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* cleanup - at exit: close the spool, remove its directory */
static void cleanup(void)
{
    spool_close(sp);
    sp = NULL;
    (void)nftw(spooldir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                       : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    struct errbuf eb;

    snprintf(spooldir, sizeof spooldir, "%s/fuzz-spool-XXXXXX", base);
    if (mkdtemp(spooldir) == NULL)
        die("mkdtemp", strerror(errno));
    if ((sp = spool_open(spooldir, NULL, &eb)) == NULL)
        die("spool_open", eb.msg);
    atexit(cleanup);
}

/* pick_id - the id on the input's "id" line if it is valid */
static void pick_id(const uint8_t *data, size_t size, char *id)
{
    const char *p = memmem(data, size, "\nid ", 4);

    memcpy(id, "1xUu1o-000000003iX-01Go", MSGID_LEN + 1);
    if (p == NULL || (size_t)((const uint8_t *)p - data) + 4 + MSGID_LEN > size)
        return;
    memcpy(id, p + 4, MSGID_LEN);
    id[MSGID_LEN] = '\0';
    if (!msgid_valid(id))
        memcpy(id, "1xUu1o-000000003iX-01Go", MSGID_LEN + 1);
}

static void put_file(const char *id, const uint8_t *data, size_t size)
{
    char path[512];
    int fd;

    snprintf(path, sizeof path, "%s/input/%c/%s", spooldir, id[MSGID_LEN - 1],
             id);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || safe_write_all(fd, data, size) < 0 || close(fd) < 0)
        die("write", strerror(errno));
}

static int same_env(const struct spool_env *a, const struct spool_env *b)
{
#define S(f) (strcmp(a->f, b->f) == 0)
    int same = S(sender) && S(helo) && S(client_ip) && S(client_name)
               && S(protocol) && S(auth_id) && S(tls_cipher) && S(body_type)
               && S(local_user) && a->client_port == b->client_port
               && a->smtputf8 == b->smtputf8 && a->frozen == b->frozen
               && a->received_sec == b->received_sec
               && a->received_usec == b->received_usec
               && a->nrcpt == b->nrcpt && a->nvars == b->nvars;

    for (size_t i = 0; same && i < a->nrcpt; i++)
        same = strcmp(a->rcpts[i], b->rcpts[i]) == 0;
    for (size_t i = 0; same && i < a->nvars; i++)
        same = S(vars[i].name) && S(vars[i].value);
    return same;
#undef S
}

static void check_ok(void *arg)
{
    *(int *)arg = 1;
}

static void commit_cb(int rc, const char *why, void *arg)
{
    if (rc != 0)
        die("commit of a re-written message failed", why);
    check_ok(arg);
}

/* rewrite - write m back under a new id, read it, compare, remove */
static void rewrite(const struct spool_msg *m)
{
    struct spool_env env = m->env;
    struct spool_writer *w;
    struct spool_msg back;
    struct errbuf eb;
    int done = 0;

    msgid_new(env.id);
    if ((w = spool_writer_new(sp, &env, &eb)) == NULL)
        die("the writer refuses what the reader accepted", eb.msg);
    if (spool_writer_write(w, m->data, m->len) < 0)
        die("write", strerror(errno));
    spool_commit(w, commit_cb, &done);
    if (!done)
        die("synchronous commit did not call back", NULL);
    if (spool_read(sp, env.id, &back, &eb) < 0)
        die("re-written message unreadable", eb.msg);
    if (!same_env(&m->env, &back.env) || back.len != m->len
        || memcmp(back.data, m->data, m->len) != 0)
        die("round trip changed the message", env.id);
    spool_msg_free(&back);
    if (spool_remove(sp, env.id, &eb) < 0)
        die("remove", eb.msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char id[MSGID_LEN + 1];
    struct spool_msg m;
    struct errbuf eb;

    if (sp == NULL)
        setup();
    pick_id(data, size, id);
    put_file(id, data, size);
    if (spool_read(sp, id, &m, &eb) < 0) {
        if (errno != EBADMSG || eb.msg[0] == '\0' || m.priv != NULL)
            die("refusal without EBADMSG and a reason", eb.msg);
        return 0;
    }
    if (strcmp(m.env.id, id) != 0 || m.env.nrcpt > 100000
        || m.env.nvars > 1000 || m.data[m.len] != '\0'
        || m.env.rcpts[m.env.nrcpt] != NULL)
        die("accepted message breaks an invariant", id);
    rewrite(&m);
    spool_msg_free(&m);
    return 0;
}
