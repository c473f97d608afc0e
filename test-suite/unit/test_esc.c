/*
 * test_esc.c - unit tests of core/base/esc.c, the one escaping of
 * untrusted text for logs and terminals: a case table of hostile input
 * (C0, DEL, C1, bidi and other invisible format characters, invalid and
 * overlong UTF-8, surrogates) and text that must stay as it is (ASCII,
 * accented letters, CJK, emoji), with and without ESC_BACKSLASH; then
 * the bounds: a small output buffer never splits an escape or a
 * character, and esc_needed agrees with esc_text.
 */
#include <stdlib.h>
#include <string.h>

#include "core/base/esc.h"
#include "test-suite/unit/tap.h"

struct esc_case {
    const char *name;
    const char *in;
    size_t len;                 /* 0: strlen(in) */
    unsigned flags;
    const char *want;
};

#define B ESC_BACKSLASH

static const struct esc_case cases[] = {
    { "plain ASCII is kept", "alice@example.com", 0, B,
      "alice@example.com" },
    { "empty", "", 0, B, "" },
    { "CR LF are \\r \\n (no second line)", "a\r\nb", 0, B, "a\\r\\nb" },
    { "tab, BS, VT, FF named", "\t\b\v\f", 0, B, "\\t\\b\\v\\f" },
    { "ESC [2J is \\033", "<id2\x1b[2J\b\b\x7f@x>", 0, B,
      "<id2\\033[2J\\b\\b\\177@x>" },
    { "NUL is \\000", "a\0b", 3, B, "a\\000b" },
    { "other C0 octal", "\x01\x1f", 0, B, "\\001\\037" },
    { "DEL", "\x7f", 0, B, "\\177" },
    { "backslash doubled with ESC_BACKSLASH", "a\\033", 0, B, "a\\\\033" },
    { "backslash kept without", "a\\033", 0, 0, "a\\033" },
    { "controls escaped without ESC_BACKSLASH too", "x\ny\x1b", 0, 0,
      "x\\ny\\033" },
    { "U+00E9 kept", "caf\xc3\xa9", 0, B, "caf\xc3\xa9" },
    { "CJK kept", "\xe6\x97\xa5\xe6\x9c\xac", 0, B,
      "\xe6\x97\xa5\xe6\x9c\xac" },
    { "emoji with ZWJ kept", "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb",
      0, B, "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb" },
    { "U+00A0 (printable) kept", "a\xc2\xa0z", 0, B, "a\xc2\xa0z" },
    { "C1 U+0080", "\xc2\x80", 0, B, "\\302\\200" },
    { "C1 U+009B (CSI)", "\xc2\x9b" "2J", 0, B, "\\302\\2332J" },
    { "C1 U+0085 (NEL)", "a\xc2\x85z", 0, B, "a\\302\\205z" },
    { "C1 U+009F", "\xc2\x9f", 0, B, "\\302\\237" },
    { "U+202E (RLO)", "gpj.\xe2\x80\xaexe", 0, B, "gpj.\\342\\200\\256xe" },
    { "U+202A..U+202D", "\xe2\x80\xaa\xe2\x80\xad", 0, B,
      "\\342\\200\\252\\342\\200\\255" },
    { "U+2066 (LRI), U+2069 (PDI)", "\xe2\x81\xa6\xe2\x81\xa9", 0, B,
      "\\342\\201\\246\\342\\201\\251" },
    { "U+200E, U+200F (LRM, RLM)", "\xe2\x80\x8e\xe2\x80\x8f", 0, B,
      "\\342\\200\\216\\342\\200\\217" },
    { "U+061C (ALM)", "\xd8\x9c", 0, B, "\\330\\234" },
    { "U+2028 line separator", "a\xe2\x80\xa8z", 0, B, "a\\342\\200\\250z" },
    { "U+2029 paragraph separator", "\xe2\x80\xa9", 0, B,
      "\\342\\200\\251" },
    { "U+200B zero width space", "\xe2\x80\x8b", 0, B, "\\342\\200\\213" },
    { "U+FEFF BOM", "\xef\xbb\xbf", 0, B, "\\357\\273\\277" },
    { "U+E0041 tag", "\xf3\xa0\x81\x81", 0, B, "\\363\\240\\201\\201" },
    { "U+FFFF nonchar", "\xef\xbf\xbf", 0, B, "\\357\\277\\277" },
    { "lone continuation byte", "a\x80z", 0, B, "a\\200z" },
    { "Latin-1 byte", "caf\xe9!", 0, B, "caf\\351!" },
    { "truncated sequence at the end", "a\xe2\x80", 0, B, "a\\342\\200" },
    { "truncated sequence before ASCII", "\xe2\x80z", 0, B, "\\342\\200z" },
    { "overlong '/'", "\xc0\xaf", 0, B, "\\300\\257" },
    { "overlong NUL", "\xc0\x80", 0, B, "\\300\\200" },
    { "surrogate U+D800", "\xed\xa0\x80", 0, B, "\\355\\240\\200" },
    { "above U+10FFFF", "\xf4\x90\x80\x80", 0, B, "\\364\\220\\200\\200" },
    { "0xFF byte", "\xff", 0, B, "\\377" },
};

static void test_cases(void)
{
    char out[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct esc_case *c = &cases[i];
        size_t n = c->len ? c->len : strlen(c->in), used = 0;
        size_t len = esc_text(out, sizeof(out), c->in, n, c->flags, &used);
        int same = len == strlen(c->want) && memcmp(out, c->want, len) == 0;

        if (!ok(same && used == n, "%s", c->name))
            printf("#   got  \"%.*s\" (used %zu of %zu)\n#   want \"%s\"\n",
                   (int)len, out, used, n, c->want);
        ok(esc_needed(c->in, n, c->flags) == (strcmp(c->in, c->want) != 0
                                               || n != strlen(c->in)),
           "esc_needed agrees: %s", c->name);
    }
}

/* a full output buffer stops before an escape or a character, never in
 * the middle of one */
static void test_bounds(void)
{
    char out[8];
    size_t used, len;

    len = esc_text(out, 5, "ab\x1b" "cd", 5, B, &used);
    ok(len == 2 && used == 2, "\\033 does not fit in 3 bytes: stops before "
       "it (%zu written, %zu used)", len, used);
    len = esc_text(out, 6, "ab\x1b" "cd", 5, B, &used);
    ok(len == 6 && used == 3 && memcmp(out, "ab\\033", 6) == 0,
       "it fits in 4");
    len = esc_text(out, 4, "ab\xc3\xa9", 4, B, &used);
    ok(len == 4 && used == 4, "a 2-byte character fits exactly");
    len = esc_text(out, 3, "ab\xc3\xa9", 4, B, &used);
    ok(len == 2 && used == 2, "a 2-byte character is not split");
    len = esc_text(out, 7, "\xe2\x80\xae", 3, B, &used);
    ok(len == 0 && used == 0, "the 12 bytes of U+202E's escape go in "
       "whole or not at all");
    len = esc_text(out, 0, "x", 1, B, NULL);
    ok(len == 0, "size 0 writes nothing (used may be NULL)");
}

/* every byte value alone: the output is printable ASCII or kept UTF-8 */
static void test_every_byte(void)
{
    char in[1], out[8];
    int bad = 0;

    for (int c = 0; c < 256; c++) {
        in[0] = (char)c;
        size_t len = esc_text(out, sizeof(out), in, 1, B, NULL);
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
                bad++;
        if (len == 0)
            bad++;
    }
    is_int(bad, 0, "each single byte comes out as printable ASCII");
}

int main(void)
{
    test_cases();
    test_bounds();
    test_every_byte();
    return done_testing();
}
