/*
 * greylistdb.h - the greylist hints database (SPOOL/db/greylist, a
 *                hints file, hintsdb.h): triplets (client network,
 *                sender, recipient) first seen, last seen and passed,
 *                and the pass counts of client networks that lead to
 *                the auto-whitelist, with postgrey's rules and defaults.
 *
 * Keys: "T NET SENDER RECIPIENT" (a triplet) and "C NET" (a client
 * network), the addresses normalised (greylist_norm_sender/_rcpt) and
 * escaped (bytes <= 0x20, 0x7f and '%' as %HH) so a key splits back
 * unambiguously. Values: "1 FIRST LAST PASSES" (version 1, decimal).
 * A record that does not decode reads as absent and is overwritten.
 *
 * An update runs on an SMTP worker's loop: greylistdb_check opens the file
 * with a bounded lock wait (GREY_LOCK_WAIT_MS), writes at most two small
 * records and closes it; a file busy for longer answers GREY_BUSY at once.
 *
 * INTERFACE: greylist_norm_sender, greylist_norm_rcpt, greylist_key,
 *            greylistdb_encode, greylistdb_decode, greylist_decide (the
 *            rules alone), greylistdb_check (the rules on the file),
 *            greylist_state, greylistdb_walk, greylistdb_delete,
 *            greylistdb_delete_all.
 * ERRORS:    -1 with eb (the file cannot be opened or written).
 */
#ifndef TERN_GREYLISTDB_H
#define TERN_GREYLISTDB_H

#include <stddef.h>

struct errbuf;
struct strbuf;

#define GREY_DB "greylist"
#define GREY_LOCK_WAIT_MS 30        /* longest wait for the file's lock */
#define GREY_ADDR_MAX 400           /* escaped address bytes in a key */
#define GREY_TIME_MAX (1LL << 40)
#define GREY_PASSES_MAX 2000000000L

struct grey_params {
    long delay;                     /* seconds before a retry may pass */
    long window;                    /* seconds after first sight it may */
    long lifetime;                  /* seconds a passed record is kept */
    long awl;                       /* passes that whitelist a client; 0 off */
};

struct grey_rec {
    long long first;                /* first seen */
    long long last;                 /* last seen (triplet) / counted (C) */
    long passes;                    /* 0: not passed yet */
};

enum grey_verdict {
    GREY_NEW,                       /* first sight: greylisted */
    GREY_EARLY,                     /* retry before the delay: greylisted */
    GREY_PASSED,                    /* first retry after the delay */
    GREY_KNOWN,                     /* a triplet that passed before */
    GREY_WHITELISTED,               /* the client network is whitelisted */
};

struct grey_result {
    enum grey_verdict v;
    long long waited;               /* PASSED: seconds since first sight */
    long long retry_in;             /* NEW/EARLY: seconds until it may pass */
    long passes;                    /* the triplet's passes (after) */
    long client_passes;             /* the client's count (after) */
    int now_whitelisted;            /* this pass whitelisted the client */
    int damaged;                    /* a damaged record was replaced */
};

/* greylist_norm_sender - postgrey's sender form into out: lowercased, a
 * BATV "prvs=TAG=" prefix and a "+extension" removed from the local part,
 * each run of digits that is a whole word of it replaced by '#' (VERP
 * senders keep one key); "" (the null sender) stays "" */
void greylist_norm_sender(const char *in, struct strbuf *out);
/* greylist_norm_rcpt - the recipient lowercased */
void greylist_norm_rcpt(const char *in, struct strbuf *out);
/* greylist_key - "T NET SENDER RCPT" (sender and rcpt normalised here) or,
 * with sender NULL, "C NET"; 0, or -1 when net is not a usable token */
int greylist_key(const char *net, const char *sender, const char *rcpt,
                 struct strbuf *key);

/* greylistdb_encode - "1 FIRST LAST PASSES"; greylistdb_decode - parse
 * (len bytes, no NUL needed): 0, or -1 if damaged (bad version, fields,
 * ranges, FIRST after LAST, anything trailing) */
void greylistdb_encode(const struct grey_rec *r, struct strbuf *out);
int greylistdb_decode(const char *p, size_t len, struct grey_rec *r);

/* greylist_decide - the rules: t and c the triplet's and client's
 * records (have_t, have_c: 1 present and valid), updated in place for
 * now; *write_t and *write_c say which changed and must be stored */
void greylist_decide(const struct grey_params *p, struct grey_rec *t,
                     int have_t, struct grey_rec *c, int have_c,
                     long long now, struct grey_result *res, int *write_t,
                     int *write_c);

enum grey_status { GREY_OK = 0, GREY_ERROR = -1, GREY_BUSY = -2 };
/* greylistdb_check - decide for the triplet (net, sender, rcpt) at now
 * and record it: GREY_OK with res, GREY_BUSY (another process held the
 * lock for GREY_LOCK_WAIT_MS; nothing recorded) or GREY_ERROR with eb */
enum grey_status greylistdb_check(const char *spool,
                                  const struct grey_params *p,
                                  const char *net, const char *sender,
                                  const char *rcpt, long long now,
                                  struct grey_result *res,
                                  struct errbuf *eb);

/* greylist_state - words for a record of key at now: "greylisted",
 * "passed", "counting", "whitelisted" or "expired" */
const char *greylist_state(const struct grey_params *p, const char *key,
                           const struct grey_rec *r, long long now);
/* greylistdb_walk - fn for each record in key order (damaged ones logged
 * and skipped); fn returns nonzero to stop. 0 or -1. */
int greylistdb_walk(const char *spool,
                    int (*fn)(const char *key, const struct grey_rec *r,
                              void *arg),
                    void *arg, struct errbuf *eb);
/* greylistdb_delete - 1 removed, 0 none, -1 error; _delete_all counts */
int greylistdb_delete(const char *spool, const char *key, struct errbuf *eb);
int greylistdb_delete_all(const char *spool, size_t *n, struct errbuf *eb);
/* greylistdb_tidy - remove expired and damaged records, *n of them */
int greylistdb_tidy(const char *spool, const struct grey_params *p,
                    long long now, size_t *n, struct errbuf *eb);

#endif
