/*
 * fuzz_address.c - libFuzzer target for core/mail/address.c.
 *
 * PURPOSE:   feed hostile octets to addr_parse under every option
 *            combination; on success check the invariants of the result,
 *            format it with addr_format and require that parsing the
 *            formatted text gives the same local part and domain.
 * INTERFACE: LLVMFuzzerTestOneInput.
 * ERRORS:    a broken invariant prints the case and abort()s.
 * BUILD:     clang -std=c11 -D_GNU_SOURCE -I. -g -O1
 *            -fsanitize=fuzzer,address,undefined test-suite/fuzz/fuzz_address.c
 *            core/mail/address.c core/base/ *.c -o /tmp/fuzz_address
 *            (seeds: test-suite/fuzz/corpus/address/)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/strbuf.h"

#include "core/mail/address.h"

#define ALL_OPTS (ADDR_ALLOW_NULL | ADDR_ALLOW_UNQUALIFIED | ADDR_UTF8)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* die - report a broken invariant and abort */
static void die(const char *what, unsigned opts, const char *text)
{
    fprintf(stderr, "fuzz_address: %s (opts %u): \"%s\"\n", what, opts,
            text ? text : "");
    abort();
}

/* check_result - invariants of a successful parse */
static void check_result(const struct addr_parsed *a, unsigned opts)
{
    size_t lp = strnlen(a->local_part, sizeof a->local_part);
    size_t dom = strnlen(a->domain, sizeof a->domain);

    if (lp > ADDR_LOCAL_MAX || dom > ADDR_DOMAIN_MAX)
        die("unterminated or oversized result", opts, NULL);
    if ((a->flags & AF_NULL) && (lp != 0 || dom != 0 || !(opts & ADDR_ALLOW_NULL)))
        die("bad null address", opts, a->local_part);
    if (!(a->flags & AF_NULL) && lp == 0)
        die("empty local part accepted", opts, a->domain);
    if ((a->flags & AF_UNQUALIFIED) && (dom != 0 || !(opts & ADDR_ALLOW_UNQUALIFIED)))
        die("bad unqualified address", opts, a->local_part);
    if (!(a->flags & (AF_NULL | AF_UNQUALIFIED)) && dom == 0)
        die("empty domain accepted", opts, a->local_part);
    if ((a->flags & AF_UTF8) && !(opts & ADDR_UTF8))
        die("UTF-8 without ADDR_UTF8", opts, a->local_part);
    if (!(a->flags & AF_DOMAIN_LITERAL) && dom > 0
        && !addr_domain_valid(a->domain, dom, opts))
        die("domain fails addr_domain_valid", opts, a->domain);
}

/* round_trip - format a and parse it again with the same options */
static void round_trip(const struct addr_parsed *a, unsigned opts)
{
    struct addr_parsed b;
    struct strbuf sb;
    const char *err = NULL;

    sb_init(&sb);
    addr_format(a->local_part, a->domain, &sb);
    if (addr_parse(sb_str(&sb), sb_len(&sb), opts, &b, &err) < 0) {
        fprintf(stderr, "fuzz_address: re-parse failed: %s\n", err);
        die("formatted address does not parse", opts, sb_str(&sb));
    }
    if (strcmp(a->local_part, b.local_part) != 0
        || strcmp(a->domain, b.domain) != 0
        || (a->flags & ~AF_QUOTED) != (b.flags & ~AF_QUOTED))
        die("round trip changed the address", opts, sb_str(&sb));
    sb_free(&sb);
}

/* fuzz_one - one option combination */
static void fuzz_one(const char *s, size_t len, unsigned opts)
{
    struct addr_parsed a;
    const char *err = NULL;

    if (addr_parse(s, len, opts, &a, &err) < 0) {
        if (err == NULL || err[0] == '\0')
            die("failure without a reason", opts, NULL);
        if (a.local_part[0] != '\0' || a.domain[0] != '\0' || a.flags != 0)
            die("failure left a result behind", opts, err);
        return;
    }
    check_result(&a, opts);
    round_trip(&a, opts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    unsigned opts;

    for (opts = 0; opts <= ALL_OPTS; opts++)
        fuzz_one(s, size, opts);
    (void)addr_is_dot_atom(s, size);
    (void)addr_domain_valid(s, size, 0);
    (void)addr_domain_valid(s, size, ADDR_UTF8);
    return 0;
}
