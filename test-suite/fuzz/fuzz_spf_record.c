/*
 * fuzz_spf_record.c - libFuzzer target for core/net/spf_record.c.
 *
 * PURPOSE:   feed hostile TXT bytes (NULs included) to spf_record_parse
 *            and check the invariants: a refused record leaves nothing
 *            behind; an accepted one starts with v=spf1, has at most
 *            SPF_MAX_TERMS terms, prefix lengths in range, domain-specs
 *            that are valid macro strings, only printable bytes in terms;
 *            and the record rebuilt from its terms parses to the same.
 * INTERFACE: LLVMFuzzerTestOneInput.
 * ERRORS:    a broken invariant prints what broke and abort()s.
 * BUILD:     test-suite/fuzz/build.sh (seeds: corpus/spf_record/)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/strbuf.h"
#include "core/net/spf_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_spf_record: %s\n", what);
    abort();
}

static void check_term(const struct spf_term *t)
{
    if (t->cidr4 < 0 || t->cidr4 > 32 || t->cidr6 < 0 || t->cidr6 > 128)
        die("prefix length out of range");
    if (t->spec != NULL && spf_macro_check(t->spec, strlen(t->spec), 0,
                                           NULL) != 0)
        die("accepted domain-spec is not a macro string");
    if (t->text == NULL || strchr("+-~?", t->qual) == NULL)
        die("term without text or qualifier");
    for (const char *p = t->text; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            die("unprintable byte in an accepted term");
}

/* the record again from its terms (modifiers from the parsed values) */
static void reparse(const struct spf_record *r)
{
    struct strbuf sb;
    struct spf_record r2;
    char why[160];

    sb_init(&sb);
    sb_append(&sb, "v=spf1", 6);
    for (size_t i = 0; i < r->n; i++)
        sb_printf(&sb, " %s", r->t[i].text);
    if (r->redirect)
        sb_printf(&sb, " redirect=%s", r->redirect);
    if (r->exp)
        sb_printf(&sb, " exp=%s", r->exp);
    if (spf_record_parse(sb_str(&sb), sb_len(&sb), &r2, why,
                         sizeof(why)) != 0)
        die("the rebuilt record is refused");
    if (r2.n != r->n || (r2.redirect == NULL) != (r->redirect == NULL)
        || (r2.exp == NULL) != (r->exp == NULL))
        die("the rebuilt record differs");
    for (size_t i = 0; i < r->n; i++)
        if (r2.t[i].mech != r->t[i].mech || r2.t[i].qual != r->t[i].qual
            || r2.t[i].cidr4 != r->t[i].cidr4
            || r2.t[i].cidr6 != r->t[i].cidr6)
            die("a rebuilt term differs");
    spf_record_free(&r2);
    sb_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct spf_record r;
    char why[160];
    const char *s = (const char *)data;

    if (spf_record_parse(s, size, &r, why, sizeof(why)) != 0) {
        if (r.t != NULL || r.n != 0 || r.redirect || r.exp)
            die("a refused record left terms behind");
        if (memchr(why, '\0', sizeof(why)) == NULL)
            die("reason not terminated");
        return 0;
    }
    if (!spf_record_is_spf1(s, size) || size > SPF_MAX_RECORD)
        die("accepted a record that is not v=spf1 or too long");
    if (r.n > SPF_MAX_TERMS)
        die("too many terms");
    for (size_t i = 0; i < r.n; i++)
        check_term(&r.t[i]);
    reparse(&r);
    spf_record_free(&r);
    return 0;
}
