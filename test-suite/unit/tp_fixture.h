/*
 * tp_fixture.h - what the local-transport tests share: a configuration
 * loaded with conf_load() from a temporary conf.d (the text's "@D@" is
 * replaced by the test's directory), a hand-built message and a batch for
 * one transport, and small file helpers.
 *
 * INTERFACE: fx_setup, fx_teardown, fx_msg, fx_batch, fx_run, fx_read,
 *            fx_count (directory entries), fx_write.
 */
#ifndef TERN_TP_FIXTURE_H
#define TERN_TP_FIXTURE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/strbuf.h"
#include "core/conf/conf.h"
#include "transports/deliver.h"
#include "core/spool/spool.h"

#define FX_MAX 4

struct fx {
    char dir[128];
    struct conf *c;
    struct spool_msg m;
    const char *envrcpt[FX_MAX + 1];
    struct dlv_rcpt r[FX_MAX];
    struct dlv_batch b;
};

static const char fx_data[] =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.org\r\n"
    "Subject: test\r\n"
    "\r\n"
    "line 1\r\n"
    "From the start\r\n"
    ">From quoted\r\n"
    ".\r\n"
    "last\r\n";

__attribute__((unused))
static int fx_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        return -1;
    if (fputs(text, f) < 0) {
        fclose(f);
        return -1;
    }
    return fclose(f);
}

/* fx_setup - temp dir, conf.d/transport/00.lua from conf ("@D@" = dir) */
__attribute__((unused))
static int fx_setup(struct fx *f, const char *name, const char *conf)
{
    char path[256];
    struct strbuf sb;
    struct errbuf eb;
    int rc;

    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/%s.%d", name, (int)getpid());
    snprintf(path, sizeof(path), "%s/conf", f->dir);
    if (mkdir(f->dir, 0700) != 0 || mkdir(path, 0700) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/conf/transport", f->dir);
    if (mkdir(path, 0700) != 0)
        return -1;
    sb_init(&sb);
    for (const char *p = conf; *p != '\0'; p++) {
        if (strncmp(p, "@D@", 3) == 0) {
            sb_puts(&sb, f->dir);
            p += 2;
        } else {
            sb_putc(&sb, *p);
        }
    }
    snprintf(path, sizeof(path), "%s/conf/transport/00.lua", f->dir);
    rc = fx_write(path, sb_str(&sb));
    sb_free(&sb);
    snprintf(path, sizeof(path), "%s/conf", f->dir);
    if (rc != 0 || (f->c = conf_load(path, &eb)) == NULL) {
        printf("# conf_load: %s\n", rc != 0 ? "write failed" : eb.msg);
        return -1;
    }
    return 0;
}

__attribute__((unused))
static void fx_teardown(struct fx *f)
{
    char cmd[200];

    conf_free(f->c);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", f->dir);
}

/* fx_msg - the message: sender, data (fx_data when NULL) */
__attribute__((unused))
static void fx_msg(struct fx *f, const char *sender, const char *data)
{
    memset(&f->m, 0, sizeof(f->m));
    snprintf(f->m.env.id, sizeof(f->m.env.id), "1vABCD-000000000Ab-0001");
    f->m.env.sender = sender;
    f->m.env.rcpts = f->envrcpt;
    f->m.data = data != NULL ? data : fx_data;
    f->m.len = strlen(f->m.data);
}

/* fx_batch - a batch for transport tp: n recipients lp[i]@example.org
 * (home: the test dir) */
__attribute__((unused))
static struct transport *fx_batch(struct fx *f, const char *tp, size_t n,
                                  const char *const *lp)
{
    static char addr[FX_MAX][128];

    memset(f->r, 0, sizeof(f->r));
    memset(&f->b, 0, sizeof(f->b));
    for (size_t i = 0; i < n && i < FX_MAX; i++) {
        snprintf(addr[i], sizeof(addr[i]), "%s@example.org", lp[i]);
        f->envrcpt[i] = addr[i];
        f->r[i] = (struct dlv_rcpt){ .address = addr[i], .top = addr[i],
            .local_part = lp[i], .domain = "example.org", .prefix = "",
            .suffix = "", .home = f->dir, .address_data = "",
            .kind = CHILD_ADDRESS, .host = -1 };
    }
    f->envrcpt[n] = NULL;
    f->m.env.nrcpt = n;
    f->b.conf = f->c;
    f->b.tp = conf_find_transport(f->c, tp);
    f->b.msg = &f->m;
    f->b.return_path = f->m.env.sender;
    f->b.nrcpt = n;
    f->b.rcpts = f->r;
    f->b.uid = getuid();
    f->b.gid = getgid();
    return f->b.tp;
}

/* fx_run - deliver the batch; 1 if every recipient got a status */
__attribute__((unused))
static int fx_run(struct fx *f)
{
    f->b.tp->drv->deliver_local(f->b.tp, &f->b);
    for (size_t i = 0; i < f->b.nrcpt; i++)
        if (f->r[i].status == DLV_PENDING)
            return 0;
    return 1;
}

/* fx_read - a whole file into sb (reset first); -1 if unreadable */
__attribute__((unused))
static int fx_read(const char *path, struct strbuf *sb)
{
    char buf[4096];
    size_t n;
    FILE *fp = fopen(path, "r");

    sb_reset(sb);
    if (fp == NULL)
        return -1;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        sb_append(sb, buf, n);
    fclose(fp);
    return 0;
}

/* fx_count - entries of a directory other than . and ..; first name in
 * name (if not NULL); -1 if it cannot be read */
__attribute__((unused))
static int fx_count(const char *dir, char *name, size_t size)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n++ == 0 && name != NULL)
            snprintf(name, size, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

#endif
