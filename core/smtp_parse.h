/*
 * smtp_parse.h - SMTP command lines and the DATA stream (RFC 5321).
 *
 * Pure parsers: no I/O, no allocation beyond what the caller passes. The
 * session engine (smtp_in.c) feeds them what the network delivered.
 *
 * INTERFACE: smtp_parse_command (one line without CRLF), the DATA stream
 *            parser (dp_init, dp_feed, dp_status), smtp_xtext_decode.
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
    /* MAIL FROM / RCPT TO */
    char path[SMTP_PATH_MAX + 1];   /* the address without <> ("" = null) */
    long size;                  /* SIZE=, -1 if absent */
    int body_8bit;              /* BODY=8BITMIME */
    int body_given;             /* BODY= present */
    int smtputf8;               /* SMTPUTF8 */
    char auth[SMTP_PATH_MAX + 1];   /* AUTH= decoded xtext, "" if absent */
    int auth_given;
    /* BDAT */
    unsigned long long chunk;   /* BDAT size */
    int last;                   /* BDAT ... LAST */
};

/* smtp_parse_command - parse line[0..len) (CRLF already removed); 0 ok,
 * -1 with *err set. Verbs are case-insensitive; "MAIL FROM:" with or
 * without a space before '<' is accepted, as most MTAs do. */
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
};

typedef int (*dp_sink)(const char *p, size_t n, void *arg);

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

void dp_init(struct data_parser *dp, size_t header_max,
             unsigned long long size_max, dp_sink sink, void *arg);
/* dp_feed - consume up to n bytes; *used says how many were consumed;
 * DP_END once CRLF.CRLF is seen (the terminator is not passed on). After
 * an error the sink is no longer called but the terminator is still
 * looked for. A sink returning -1 is remembered as DPE_TOO_BIG-like
 * failure of the caller's choice (the sink's own error). */
enum dp_state dp_feed(struct data_parser *dp, const char *p, size_t n,
                      size_t *used);
const char *dp_error_text(enum dp_error e);

/* smtp_xtext_decode - RFC 3461 xtext ("+2B" escapes); -1 if malformed */
int smtp_xtext_decode(const char *in, size_t len, char *out, size_t size);

#endif
