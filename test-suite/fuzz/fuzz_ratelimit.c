/*
 * fuzz_ratelimit.c - libFuzzer target for the ratelimit condition's option
 * parser (acl/acl_ratelimit.c) and the ratelimit record decoder
 * (core/hints/ratelimitdb.c). The first byte picks: even, the rest is a
 * stored record (a decoded one must encode and decode to the same); odd,
 * the rest is a condition value parsed for the hook byte/2 % 10 names,
 * at load time when bit 1 is set.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl_impl.h"
#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "core/hints/ratelimitdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void record(const uint8_t *data, size_t size)
{
    static struct rl_rec r, back;
    struct strbuf sb;

    if (rl_decode((const char *)data, size, &r) != 0)
        return;
    sb_init(&sb);
    rl_encode(&r, &sb);
    if (rl_decode(sb_str(&sb), sb_len(&sb), &back) != 0
        || back.sec != r.sec || back.usec != r.usec || back.rate != r.rate
        || back.has_bloom != r.has_bloom
        || (r.has_bloom && (back.bloom_size != r.bloom_size
                            || memcmp(back.bloom, r.bloom, r.bloom_size))))
        abort();
    if (r.has_bloom)
        (void)rl_bloom_seen(&r, "fuzz@example.com");
    sb_free(&sb);
}

static void value(uint8_t sel, const uint8_t *data, size_t size)
{
    static const char *const hooks[] = { "connect", "helo", "mail", "rcpt",
                                         "predata", "data", "mime", "quit",
                                         "notquit", "not_smtp" };
    struct pool *p = pool_new();
    char *text = pool_strndup(p, (const char *)data, size);
    struct rl_spec s;
    struct errbuf eb;

    eb.msg[0] = '\0';
    if (acl_ratelimit_parse(p, text, hooks[(sel / 4) % 10], sel & 2, &s,
                            &eb) == 0) {
        if (s.per == NULL || s.limit_s == NULL || s.period_s == NULL
            || s.leaky + s.strict + s.readonly > 1)
            abort();
    } else if (eb.msg[0] == '\0') {
        abort();
    }
    pool_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16384)
        return 0;
    if (data[0] % 2 == 0)
        record(data + 1, size - 1);
    else
        value(data[0], data + 1, size - 1);
    return 0;
}
