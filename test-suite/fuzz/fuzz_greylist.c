/*
 * fuzz_greylist.c - libFuzzer target for the greylist record decoder and
 * the key builder (core/hints/greylistdb.c): records come from a file
 * other processes write, senders and recipients from SMTP clients.
 *
 * The input is decoded as a record; whatever decodes must satisfy the
 * decoder's bounds and encode back to exactly the same bytes (the form
 * is canonical), and the rules then run on it without going wrong. The
 * input split at its first '\n' is also a sender and a recipient for
 * greylist_key, whose key must be usable by the hints database and
 * free of the separators the key relies on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/strbuf.h"
#include "core/hints/greylistdb.h"
#include "core/hints/hintsdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_record(const char *p, size_t n)
{
    static const struct grey_params P = { 300, 172800, 3024000, 5 };
    struct grey_rec r, c = { 0, 0, 0 };
    struct grey_result res;
    struct strbuf sb;
    int wt, wc;

    if (greylistdb_decode(p, n, &r) != 0)
        return;
    if (r.first < 0 || r.first > r.last || r.last >= GREY_TIME_MAX
        || r.passes < 0 || r.passes > GREY_PASSES_MAX)
        abort();
    sb_init(&sb);
    greylistdb_encode(&r, &sb);
    if (sb_len(&sb) != n || memcmp(sb_str(&sb), p, n) != 0)
        abort();
    sb_free(&sb);
    greylist_decide(&P, &r, 1, &c, 0, r.last + 1, &res, &wt, &wc);
    if (res.v > GREY_WHITELISTED || (res.v == GREY_NEW && !wt))
        abort();
}

static void check_key(const char *p, size_t n)
{
    char *s = strndup(p, n), *nl;
    struct strbuf key;

    if (s == NULL)
        return;
    nl = strchr(s, '\n');
    if (nl != NULL)
        *nl++ = '\0';
    sb_init(&key);
    if (greylist_key("192.0.2.0/24", s, nl ? nl : "", &key) != 0
        || sb_len(&key) == 0 || sb_len(&key) > HINTS_KEY_MAX)
        abort();
    for (size_t i = 0, spaces = 0; i < sb_len(&key); i++) {
        unsigned char ch = (unsigned char)sb_str(&key)[i];
        if (ch < 0x20 || ch == 0x7f || (ch == ' ' && ++spaces > 3))
            abort();
    }
    sb_free(&key);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_record((const char *)data, size);
    check_key((const char *)data, size);
    return 0;
}
