/*
 * smtp_parse.h - SMTP command lines and the DATA stream (RFC 5321).
 *
 * Pure parsers: no I/O, no allocation beyond what the caller passes. The
 * session engine (smtp_in.c) feeds them what the network delivered.
 *
 * INTERFACE: smtp_parse_command (one line without CRLF), the DATA stream
 *            parser (dp_init, dp_feed, dp_status, dp_error_text,
 *            dp_error_reply), smtp_xtext_decode.
 * ERRORS: parse errors carry the reply the session should send (code,
 *         enhanced status and text), e.g. 501 5.5.4 for bad syntax, 555
 *         5.5.4 for an unknown MAIL/RCPT parameter, 500 5.5.2 for an
 *         unknown command.
 * SECURITY: lines and addresses are hostile: bounded lengths, no NUL, the
 *           DATA terminator is only CRLF.CRLF; bare CR or LF anywhere in
 *           DATA is an error (no SMTP smuggling).
 */
#ifndef TERN_SMTP_PARSE_H
#define TERN_SMTP_PARSE_H

#include <stddef.h>

#define SMTP_LINE_MAX 512       /* command line incl. CRLF (RFC 5321: 512) */
#define SMTP_PATH_MAX 256       /* reverse-/forward-path incl. <> */
#define SMTP_DATA_LINE_MAX 1000 /* text line incl. CRLF (998 + 2) */

enum smtp_verb {
    SV_HELO, SV_EHLO, SV_MAIL, SV_RCPT, SV_DATA, SV_BDAT, SV_RSET, SV_NOOP,
    SV_QUIT, SV_VRFY, SV_EXPN, SV_HELP, SV_STARTTLS, SV_AUTH, SV_UNKNOWN
};

struct smtp_reply_err {
    int code;                   /* 500, 501, 555, ... */
    const char *status;         /* "5.5.2" */
    const char *text;
};

struct smtp_cmd {
    enum smtp_verb verb;
    const char *arg;            /* HELO/EHLO domain, VRFY/HELP/AUTH/NOOP
                                   argument: points into the line */
    size_t arg_len;             /* addition: the line need not be
                                   NUL-terminated, so arg is arg[0..arg_len);
                                   arg is NULL (arg_len 0) when absent */
    /* MAIL FROM / RCPT TO */
    char path[SMTP_PATH_MAX + 1];   /* the address without <> ("" = null) */
    int path_8bit;              /* addition: path has octets >= 0x80 (always
                                   well-formed UTF-8). MAIL allows them only
                                   with SMTPUTF8; RCPT cannot know, so the
                                   session refuses an 8-bit RCPT path in a
                                   transaction opened without SMTPUTF8 */
    long size;                  /* SIZE=, -1 if absent */
    int body_8bit;              /* BODY=8BITMIME */
    int body_given;             /* BODY= present */
    int smtputf8;               /* SMTPUTF8 */
    char auth[SMTP_PATH_MAX + 1];   /* AUTH= decoded xtext, "" if absent;
                                       AUTH=<> gives "<>" */
    int auth_given;
    /* BDAT */
    unsigned long long chunk;   /* BDAT size */
    int last;                   /* BDAT ... LAST */
};

/* smtp_parse_command - parse line[0..len) (CRLF already removed); 0 ok,
 * -1 with *err set. Verbs are case-insensitive; "MAIL FROM:" with or
 * without a space before '<' is accepted, as most MTAs do.
 * Additions: on -1, out->verb is still the verb if it was recognised
 * (SV_UNKNOWN otherwise) and every other field is reset. Trailing spaces
 * are ignored; any control octet (NUL, TAB, CR, LF, DEL, ...) and any
 * octet >= 0x80 outside a MAIL/RCPT path (or in a MAIL path without
 * SMTPUTF8) is 500 5.5.2 "Syntax error". VRFY, EXPN and AUTH require an
 * argument, NOOP and HELP take an optional one. */
int smtp_parse_command(const char *line, size_t len, struct smtp_cmd *out,
                       struct smtp_reply_err *err);

/* DATA stream: feed bytes as they arrive; the parser removes dot-stuffing
 * and calls sink with message bytes (CRLF line ends kept); it stops at
 * CRLF.CRLF and reports how many input bytes it consumed, so pipelined
 * commands after the terminator stay in the caller's buffer. */
enum dp_state { DP_MORE, DP_END };

enum dp_error {
    DPE_NONE = 0,
    DPE_BARE_LF,        /* LF not preceded by CR */
    DPE_BARE_CR,        /* CR not followed by LF */
    DPE_NUL,            /* a NUL byte */
    DPE_LINE_LONG,      /* a line over 998 octets */
    DPE_HEADER_LONG,    /* the header section over header_max */
    DPE_TOO_BIG,        /* more than size_max bytes */
    DPE_SINK,           /* addition: the sink returned -1 */
};

/* the sink returns 0, or -1 to stop output (kept as DPE_SINK) */
typedef int (*dp_sink)(const char *p, size_t n, void *arg);

/* Limits: a line is counted in message octets before its CRLF, without a
 * stuffing dot (RFC 5321 4.5.3.1.6); the header section (lines up to the
 * first empty line, with their CRLF) is checked at each line end, so it
 * can pass header_max by one partial line before the error. */
struct data_parser {
    int state;                  /* private */
    size_t line_len;
    size_t header_len;
    int in_header;
    unsigned long long total;   /* message bytes passed to the sink */
    size_t header_max;
    unsigned long long size_max;    /* 0: no limit */
    enum dp_error error;        /* first error; parsing goes on to the end */
    dp_sink sink;
    void *arg;
};

/* dp_init - start a message; header_max 0 and size_max 0 mean no limit;
 * sink may be NULL (only check and count). */
void dp_init(struct data_parser *dp, size_t header_max,
             unsigned long long size_max, dp_sink sink, void *arg);
/* dp_feed - consume up to n bytes; *used says how many were consumed;
 * DP_END once CRLF.CRLF is seen (the terminator is not passed on). After
 * an error the sink is no longer called but the terminator is still
 * looked for. A sink returning -1 is remembered as DPE_SINK (the sink's
 * own error). Every byte before the first error reaches the sink (at
 * DPE_TOO_BIG exactly size_max bytes did), however the input is split
 * into chunks; the sink sees long runs, not single bytes. Once DP_END was
 * returned, further calls consume nothing and return DP_END. */
enum dp_state dp_feed(struct data_parser *dp, const char *p, size_t n,
                      size_t *used);
/* dp_status - addition: the first error so far (DPE_NONE if none) */
enum dp_error dp_status(const struct data_parser *dp);
/* dp_error_text - a short English description of e */
const char *dp_error_text(enum dp_error e);
/* dp_error_reply - addition: the reply to the final "." after error e
 * (552 5.3.4 for the size limits, 550 5.6.0 for malformed data, 451 4.3.0
 * for DPE_SINK); err->code is 0 for DPE_NONE */
void dp_error_reply(enum dp_error e, struct smtp_reply_err *err);

/* smtp_xtext_decode - RFC 3461 xtext ("+2B" escapes) into out[0..size),
 * NUL-terminated; returns the decoded length, or -1 if malformed (a bad
 * escape, a character outside "!".."~", "=", a decoded NUL) or if it does
 * not fit. Lower-case hex digits are accepted. */
int smtp_xtext_decode(const char *in, size_t len, char *out, size_t size);

#endif
