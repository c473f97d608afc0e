/*
 * spf.h - SPF (RFC 7208) check_host() on tern's asynchronous resolver.
 *
 * PURPOSE: one evaluation answers "may this IP send for this sender?"
 * without ever waiting: every DNS query goes through dns_query on the
 * caller's loop and the evaluation resumes in the callback. Callers (the
 * ACL spf condition, tools/tern_spf) need no ACL types.
 * INTERFACE: spf_start, spf_cancel, spf_check_record,
 *            spf_check_explanation, spf_result_name, spf_result_parse,
 *            spf_header_comment, spf_received.
 * BOUNDS:    record length, terms per record, include/redirect depth,
 *            macro output, the 10 DNS mechanisms, 2 void lookups, 10
 *            MX/PTR names and a hard cap on queries per evaluation.
 * LIFETIME:  done() runs later from the loop, never inside spf_start, and
 *            exactly once unless spf_cancel was called first; after
 *            spf_cancel nothing is called and the caller's memory is never
 *            touched again (the evaluation frees itself when its last
 *            query answers).
 */
#ifndef TERN_SPF_H
#define TERN_SPF_H

#include <stddef.h>

struct ev;
struct dns_ctx;

enum spf_result {
    SPF_NONE, SPF_NEUTRAL, SPF_PASS, SPF_FAIL, SPF_SOFTFAIL,
    SPF_TEMPERROR, SPF_PERMERROR
};

struct spf_request {
    const char *ip;         /* client address, text (IPv4 or IPv6) */
    const char *sender;     /* MAIL FROM, "" for the null sender */
    const char *helo;       /* HELO/EHLO name, may be NULL or "" */
    const char *receiver;   /* our host name for %{r} and the header */
    int helo_identity;      /* 1: check the HELO identity itself */
    const char *guess;      /* record used when the domain has none (Exim's
                               spf_guess), or NULL */
    const char *default_exp;    /* macro-string explaining a fail whose
                                   domain gives no exp= (Exim's
                                   spf_smtp_comment_template), or NULL */
    unsigned long now;      /* %{t}; 0: time(NULL) */
};

struct spf_outcome {
    enum spf_result result;
    int guessed;            /* the result came from req.guess */
    const char *identity;   /* "mailfrom" or "helo" */
    const char *checked;    /* the identity checked ("postmaster@helo") */
    const char *domain;     /* its domain */
    const char *mechanism;  /* the term that matched, "default" or NULL */
    const char *problem;    /* temperror/permerror: why; else NULL */
    const char *explanation;    /* fail: the exp= text, else the expanded
                                   default_exp, or NULL */
};

typedef void (*spf_done_fn)(const struct spf_outcome *o, void *arg);

struct spf_eval;

/* spf_start - start check_host() for req (copied); dc NULL gives temperror */
struct spf_eval *spf_start(struct ev *ev, struct dns_ctx *dc,
                           const struct spf_request *req, spf_done_fn done,
                           void *arg);
/* spf_cancel - done() is never called; safe until done() has run */
void spf_cancel(struct spf_eval *e);

/* spf_check_record - 0 if text is a valid SPF record, else -1 with eb set
 * (for records in the configuration, such as spf_guess) */
struct errbuf;
int spf_check_record(const char *text, struct errbuf *eb);
/* spf_check_explanation - 0 if text is a valid explanation macro-string */
int spf_check_explanation(const char *text, struct errbuf *eb);

const char *spf_result_name(enum spf_result r);
int spf_result_parse(const char *s, size_t n);     /* -1 unknown */
/* spf_header_comment - "receiver: domain of x designates ip as permitted
 * sender" and the like; returns the length written (truncated to size) */
size_t spf_header_comment(const struct spf_outcome *o, const char *receiver,
                          const char *ip, char *out, size_t size);
/* spf_received - a complete "Received-SPF: ..." line (RFC 7208 9.1),
 * without CRLF; client-given values are quoted or left out if unsafe */
size_t spf_received(const struct spf_outcome *o, const char *receiver,
                    const char *ip, const char *helo, char *out,
                    size_t size);

#endif
