/*
 * fuzz_smtp_reply.c - libFuzzer target for what remote servers and the
 * retry database hand to tern's delivery side: the input is lines split
 * at '\n', each fed to the SMTP client's reply parser (sconn_parse_line)
 * as a server would send them, and to bounce_status_of; the whole input
 * is also decoded as a retry record (retrydb_decode), which must encode
 * back to a record that decodes to the same values.
 * Invariants: codes 100..599, at most SC_REPLY_LINES lines per reply,
 * reply text no longer than the lines it holds, statuses "C.D.D" short.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/strbuf.h"
#include "queue/bounce.h"
#include "core/hints/retrydb.h"
#include "transports/smtp_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply(const struct sc_reply *r, size_t fed)
{
    if (r->code < 100 || r->code > 599 || r->nlines == 0
        || r->nlines > SC_REPLY_LINES || r->text.len > fed)
        abort();
}

/* the status a bounce would show for this line as a reply */
static void status_of(const char *p, size_t n)
{
    char *line = malloc(n + 1), status[32];

    if (line == NULL)
        return;
    memcpy(line, p, n);
    line[n] = '\0';
    bounce_status_of(line, 0, 1, status, sizeof(status));
    if (strlen(status) > 15 || (status[0] != '4' && status[0] != '5'))
        abort();
    free(line);
}

static void replies(const char *p, size_t size)
{
    struct sc_reply r = { 0, 0, { 0 } };
    size_t fed = 0;

    sb_init(&r.text);
    while (size > 0) {
        const char *nl = memchr(p, '\n', size);
        size_t n = nl ? (size_t)(nl - p) : size;
        int rc = sconn_parse_line(&r, p, n);
        fed += n + 1;
        if (rc == 1)
            check_reply(&r, fed);
        if (rc != 0) {                  /* complete, or garbage: reset */
            sb_reset(&r.text);
            r.nlines = 0;
            fed = 0;
        }
        status_of(p, n);
        p += n + (nl != NULL);
        size -= n + (nl != NULL);
    }
    sb_free(&r.text);
}

static void retry_record(const char *p, size_t size)
{
    struct retry_rec a, b;
    struct strbuf sb;

    if (retrydb_decode(p, size, &a) != 0)
        return;
    sb_init(&sb);
    retrydb_encode(&a, &sb);
    if (retrydb_decode(sb_str(&sb), sb_len(&sb), &b) != 0
        || a.first_failed != b.first_failed || a.last_try != b.last_try
        || a.next_try != b.next_try || a.expired != b.expired
        || strcmp(a.errtype, b.errtype) != 0 || strcmp(a.text, b.text) != 0)
        abort();
    sb_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    replies((const char *)data, size);
    retry_record((const char *)data, size);
    return 0;
}
