/*
 * spool_impl.h - private to spool.c, spool_files.c and spool_format.c.
 *
 * PURPOSE:   the spool handle shared by the writer/commit code and the
 *            reader/list/journal code, and the file-format codec.
 * INTERFACE: struct spool; spool_fmt_check, spool_fmt_head,
 *            spool_fmt_length, spool_fmt_parse; spool_sub_index,
 *            spool_sub_char.
 * ERRORS:    the codec returns -1 with a static or caller-buffer reason.
 */
#ifndef TERN_SPOOL_IMPL_H
#define TERN_SPOOL_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/spool/spool.h"

struct ev;
struct ev_timer;
struct pool;
struct spool_writer;

#define SPOOL_NSUB 62               /* input/<c>, one per base-62 digit */
#define SPOOL_LINE_MAX 65536        /* an envelope line, escaped, with LF */
#define SPOOL_RCPT_MAX 100000
#define SPOOL_VAR_MAX 1000
#define SPOOL_FILE_MAX (1LL << 30)  /* a message file spool_read accepts */
#define SPOOL_LEN_DIGITS 20         /* "data %020llu": patched at commit */
#define SPOOL_TRAILER "\nEND\n"
#define SPOOL_TRAILER_LEN 5
#define SPOOL_MAGIC "tern-spool 1\n"

struct spool {
    char *dir;
    struct ev *ev;
    int rootfd;                     /* SPOOL, for syncfs */
    int inputfd;                    /* SPOOL/input */
    int corruptfd;                  /* SPOOL/corrupt */
    int subfd[SPOOL_NSUB];          /* SPOOL/input/<c>, kept open */
    long pid;                       /* in temp names: set at spool_open */
    struct spool_writer *pending;   /* queued for the next group commit */
    struct spool_writer **pending_tail;
    struct ev_timer *timer;         /* armed while pending is non-empty */
    struct spool_writer *idle;      /* recycled writers (their buffers) */
    unsigned nidle;
    unsigned char rm_dirty[SPOOL_NSUB];  /* removals not yet fsynced */
    struct ev_timer *rm_timer;      /* armed while one is dirty */
};

/* spool_sync_removals - fsync the directories of lazy removals */
void spool_sync_removals(struct spool *sp);

/* spool_sub_index - index of input/<c> for an id's last character */
int spool_sub_index(const char *id);
/* spool_sub_char - the <c> of input/<c> number i */
char spool_sub_char(int i);

/* An output for the encoder: put() returns 0 or -1 with errno. */
struct spool_sink {
    int (*put)(void *ctx, const void *p, size_t n);
    void *ctx;
};

/* spool_fmt_check - is env writable (limits, id shape); -1 with why */
int spool_fmt_check(const struct spool_env *env, const char **why);
/* spool_fmt_head - everything up to and including "data " */
int spool_fmt_head(const struct spool_env *env, struct spool_sink *out);
/* spool_fmt_length - the SPOOL_LEN_DIGITS digits of the data length */
void spool_fmt_length(char *out, unsigned long long len);
/* spool_fmt_parse - validate and decode buf[0..len) in place (buf is
 * modified; the message's strings point into it, arrays come from pool).
 * want_id: the id the file is named after. -1 with why[] on any damage. */
int spool_fmt_parse(char *buf, size_t len, const char *want_id,
                    struct pool *pool, struct spool_msg *out, char *why,
                    size_t whysize);

#endif
