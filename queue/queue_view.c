/*
 * queue_view.c - tern -Mvh, -Mvb, -Mvc, -Mvl ID: one queued message shown
 *                as Exim shows it.
 *
 * PURPOSE: -Mvh prints the envelope in the shape of Exim's -H file (its
 * name, "login uid gid", <sender>, "time warnings", the -options, the
 * tree of the recipients done, the recipients, an empty line) and then
 * each header as "LLLx Name: value" (length with its newline, Exim's
 * flag letter). -Mvb prints "ID-D" and the body, -Mvc the whole message
 * as it is delivered (without the Return-path and Delivered-To a
 * transport adds), -Mvl the main log's lines of the message: tern keeps
 * no per-message log (Exim's msglog/), so they come from the main log.
 * Line ends are LF, as in Exim's spool files. Read only: no lock.
 * INTERFACE: queue_view.
 * ERRORS: "Failed to open ..." on stdout and exit status 1, as Exim.
 * SECURITY: message bytes go to the caller's terminal as they are (they
 * are the message); envelope fields are escaped as log fields are.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/errbuf.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/mail/header.h"
#include "core/mail/logfile.h"
#include "queue/queue.h"
#include "queue/queue_impl.h"
#include "core/spool/spool.h"

#define LOG_LINE_MAX 65536      /* a main log line that is longer is cut */

/* put_lf - p[0..n) with each CRLF written as LF */
static void put_lf(FILE *out, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(p[i] == '\r' && i + 1 < n && p[i + 1] == '\n'))
            fputc(p[i], out);
}

/* body_offset - where the body starts: after the header section's empty
 * line; a message without one is all header */
static size_t body_offset(const char *p, size_t n)
{
    struct hdr_list hl;
    size_t off = n;

    if (n >= 2 && p[0] == '\r' && p[1] == '\n')
        return 2;
    if (hdr_parse(p, n, &hl, NULL) == 0) {
        off = hl.section_len;
        hdr_list_free(&hl);
        return off;
    }
    for (size_t i = 0; i + 3 < n; i++)
        if (memcmp(p + i, "\r\n\r\n", 4) == 0)
            return i + 4;
    return off;
}

/* Exim's flag letter of a header (spool_out.c, htype_*) */
static char hdr_flag(const char *name, size_t len)
{
    static const struct { const char *name; char flag; } flags[] = {
        { "bcc", 'B' }, { "cc", 'C' }, { "from", 'F' },
        { "message-id", 'I' }, { "received", 'P' }, { "reply-to", 'R' },
        { "sender", 'S' }, { "to", 'T' },
    };

    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (strlen(flags[i].name) == len
            && strncasecmp(flags[i].name, name, len) == 0)
            return flags[i].flag;
    return ' ';
}

/* the header section, "LLLx " before each field */
static void print_headers(FILE *out, const char *p, size_t n)
{
    struct hdr_list hl;
    size_t crs;

    if (hdr_parse(p, n, &hl, NULL) != 0) {
        fprintf(out, "*** the header section cannot be parsed ***\n");
        return;
    }
    for (size_t i = 0; i < hl.n; i++) {
        const struct hdr_field *f = &hl.f[i];
        crs = 0;
        for (size_t k = 0; k + 1 < f->len; k++)
            crs += p[f->offset + k] == '\r' && p[f->offset + k + 1] == '\n';
        fprintf(out, "%03zu%c ", f->len - crs, hdr_flag(f->name, f->name_len));
        put_lf(out, p + f->offset, f->len);
    }
    hdr_list_free(&hl);
}

static int view_body(const struct spool_msg *m, FILE *out)
{
    size_t off = body_offset(m->data, m->len);

    fprintf(out, "%s-D\n", m->env.id);
    put_lf(out, m->data + off, m->len - off);
    return 0;
}

static int view_copy(const struct spool_msg *m, FILE *out)
{
    put_lf(out, m->data, m->len);
    return 0;
}

/* -Mvh: envelope, then headers */
static int view_header(struct spool *sp, const struct conf *c,
                       const struct spool_msg *m, FILE *out)
{
    queue_print_envelope(sp, c, m, out);
    print_headers(out, m->data, m->len);
    return 0;
}

/* log_has_id - is line a main log line of message id ("DATE TIME ID ")? */
static int log_has_id(const char *line, const char *id)
{
    const char *p = strchr(line, ' ');

    if (p == NULL || (p = strchr(p + 1, ' ')) == NULL)
        return 0;
    if (p[1] == '[')                    /* "[pid] " after the time */
        if ((p = strchr(p + 1, ' ')) == NULL)
            return 0;
    return strncmp(p + 1, id, MSGID_LEN) == 0 && p[1 + MSGID_LEN] == ' ';
}

/* -Mvl: the main log's lines of the message */
static int view_log(const char *id, FILE *out)
{
    const char *path = logfile_path("main");
    char *line = xmalloc(LOG_LINE_MAX);
    FILE *f;

    if (path == NULL || (f = fopen(path, "r")) == NULL) {
        fprintf(out, "Failed to open main log %s for %s: %s\n",
                path ? path : "(syslog only)", id,
                path ? strerror(errno) : "no log file");
        fprintf(out, "(tern keeps no per-message logs: -Mvl shows the "
                "main log's lines of the message.)\n");
        free(line);
        return 1;
    }
    while (fgets(line, LOG_LINE_MAX, f) != NULL)
        if (log_has_id(line, id))
            fputs(line, out);
    (void)fclose(f);            /* read only */
    free(line);
    return 0;
}

/* queue_view - op "-Mvh", "-Mvb", "-Mvc" or "-Mvl" on one message */
int queue_view(struct conf *c, const char *op, char **ids, int nids)
{
    struct errbuf eb;
    struct spool *sp;
    struct spool_msg m;
    /* the Exim file the command shows: its name in Exim's error line */
    const char *suffix = strcmp(op, "-Mvh") == 0 ? "-H" : "-D";
    int rc;

    if (!queue_is_admin(c))
        return queue_denied();
    if (nids != 1) {
        printf("*** Only one message can be listed at once\n");
        return 1;
    }
    if (!msgid_valid(ids[0])) {
        printf("Failed to open input file for %s%s: not a message id\n",
               ids[0], suffix);
        return 1;
    }
    if (strcmp(op, "-Mvl") == 0)
        return view_log(ids[0], stdout);
    if ((sp = spool_open(c->main.spool_directory, NULL, &eb)) == NULL) {
        fprintf(stderr, "tern: %s\n", eb.msg);
        return 73;
    }
    if (spool_read(sp, ids[0], &m, &eb) != 0) {
        printf("Failed to open input file for %s%s: %s\n", ids[0], suffix,
               strerror(errno));
        spool_close(sp);
        return 1;
    }
    rc = strcmp(op, "-Mvb") == 0 ? view_body(&m, stdout)
         : strcmp(op, "-Mvc") == 0 ? view_copy(&m, stdout)
         : view_header(sp, c, &m, stdout);
    spool_msg_free(&m);
    spool_close(sp);
    return rc;
}
