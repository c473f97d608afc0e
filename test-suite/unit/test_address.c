/*
 * test_address.c - unit tests of core/mail/address.c.
 *
 * PURPOSE:   case tables for addr_parse (valid, invalid, RFC length
 *            boundaries), addr_format / addr_quote_local, addr_is_dot_atom
 *            and addr_domain_valid, plus a format -> parse round trip of
 *            every valid parse case.
 * INTERFACE: main() prints TAP (tap.h) and exits with done_testing().
 */
#include <stdio.h>
#include <string.h>

#include "core/base/strbuf.h"
#include "test-suite/unit/tap.h"

#include "core/mail/address.h"

/* building blocks for the length boundaries */
#define S10  "abcdefghij"
#define S60  S10 S10 S10 S10 S10 S10
#define L63  S60 "abc"                          /* a 63-octet label */
#define L64  S60 "abcd"                         /* a 64-octet label */
#define LP64 S60 "wxyz"                         /* a 64-octet local part */
#define Q64  "\"" S60 "wx\""                    /* 64 octets with quotes */
#define D189 L63 "." L63 "." S60 "a"            /* LP64@D189: 254 octets */
#define D190 L63 "." L63 "." S60 "ab"           /* LP64@D190: 255 octets */
#define D255 L63 "." L63 "." L63 "." L63
#define D256 L63 "." L63 "." L63 "." S60 "ab.a"

#define NUL  ADDR_ALLOW_NULL
#define UNQ  ADDR_ALLOW_UNQUALIFIED
#define U8   ADDR_UTF8
#define ALL  (NUL | UNQ | U8)

struct pcase {
    const char *name;
    const char *input;
    size_t len;             /* 0: strlen(input) */
    unsigned opts;
    int ret;
    const char *lp;         /* expected local_part (ret 0) */
    const char *domain;     /* expected domain (ret 0) */
    unsigned flags;         /* expected flags (ret 0) */
    const char *err;        /* expected reason (ret -1) */
};

#define GOOD(name, in, opts, lp, dom, fl) { name, in, 0, opts, 0, lp, dom, fl, NULL }
#define BAD(name, in, opts, why)          { name, in, 0, opts, -1, "", "", 0, why }
#define BADN(name, in, opts, why)         { name, in, sizeof in - 1, opts, -1, "", "", 0, why }

static const struct pcase parse_cases[] = {
    /* plain and bracketed forms */
    GOOD("plain", "user@example.com", 0, "user", "example.com", 0),
    GOOD("angle brackets", "<user@example.com>", 0, "user", "example.com", 0),
    GOOD("blanks around brackets", " \t<user@example.com>\t ", 0, "user", "example.com", 0),
    GOOD("blanks around bare", "  user@example.com  ", 0, "user", "example.com", 0),
    GOOD("domain lowercased, local kept", "User.Name@EXAMPLE.Com", 0, "User.Name", "example.com", 0),
    GOOD("dot-atom", "first.middle.last@example.com", 0, "first.middle.last", "example.com", 0),
    GOOD("atext specials", "a#$&'*+-/=?^_`{|}~z@example.com", 0, "a#$&'*+-/=?^_`{|}~z", "example.com", 0),
    GOOD("all options, plain address", "user@example.com", ALL, "user", "example.com", 0),
    GOOD("single-label domain", "postmaster@localhost", 0, "postmaster", "localhost", 0),
    GOOD("hyphen inside label", "u@mail-1.ex-ample.org", 0, "u", "mail-1.ex-ample.org", 0),
    GOOD("numeric labels", "u@123.456.example", 0, "u", "123.456.example", 0),
    /* percent hack and bang path: flags only */
    GOOD("percent hack", "user%other.example@relay.example", 0, "user%other.example", "relay.example", AF_PERCENT),
    GOOD("bang path", "host!user@example.com", 0, "host!user", "example.com", AF_BANG),
    /* quoted strings */
    GOOD("quoted with space", "\"john doe\"@example.com", 0, "john doe", "example.com", AF_QUOTED),
    GOOD("quoted-pairs resolved", "\"a\\\"b\\\\c\"@x.org", 0, "a\"b\\c", "x.org", AF_QUOTED),
    GOOD("needless quoted-pair", "\"\\a\\ b\"@x.org", 0, "a b", "x.org", AF_QUOTED),
    GOOD("quoted dot-atom", "\"abc\"@example.com", 0, "abc", "example.com", AF_QUOTED),
    GOOD("quoted @", "\"a@b\"@example.com", 0, "a@b", "example.com", AF_QUOTED | AF_AT_IN_LOCAL),
    GOOD("quoted odd dots", "\".a..b.\"@x.org", 0, ".a..b.", "x.org", AF_QUOTED),
    GOOD("quoted %, ! and @", "\"a%b!c@d\"@x.org", 0, "a%b!c@d", "x.org", AF_QUOTED | AF_PERCENT | AF_BANG | AF_AT_IN_LOCAL),
    GOOD("quoted '>' inside brackets", "<\"a>b\"@x.org>", 0, "a>b", "x.org", AF_QUOTED),
    GOOD("quoted comment chars", "\"(not a comment)\"@x.org", 0, "(not a comment)", "x.org", AF_QUOTED),
    /* domain literals */
    GOOD("IPv4 literal", "u@[192.0.2.1]", 0, "u", "[192.0.2.1]", AF_DOMAIN_LITERAL),
    GOOD("IPv6 literal canonicalised", "u@[IPv6:2001:DB8:0:0:0:0:0:1]", 0, "u", "[IPv6:2001:db8::1]", AF_DOMAIN_LITERAL),
    GOOD("IPv6 tag any case", "u@[ipv6:::1]", 0, "u", "[IPv6:::1]", AF_DOMAIN_LITERAL),
    GOOD("IPv4-mapped IPv6", "<u@[IPv6:::ffff:192.0.2.1]>", 0, "u", "[IPv6:::ffff:192.0.2.1]", AF_DOMAIN_LITERAL),
    /* null and unqualified */
    GOOD("null <>", "<>", NUL, "", "", AF_NULL),
    GOOD("null empty", "", NUL, "", "", AF_NULL),
    GOOD("null with blanks", " <> ", NUL, "", "", AF_NULL),
    GOOD("only blanks as null", " \t ", NUL, "", "", AF_NULL),
    GOOD("unqualified", "postmaster", UNQ, "postmaster", "", AF_UNQUALIFIED),
    GOOD("unqualified in brackets", "<root>", UNQ, "root", "", AF_UNQUALIFIED),
    GOOD("unqualified quoted", "\"a b\"", UNQ, "a b", "", AF_UNQUALIFIED | AF_QUOTED),
    /* UTF-8 (RFC 6531) */
    GOOD("UTF-8 local part", "δοκιμή@example.com", U8, "δοκιμή", "example.com", AF_UTF8),
    GOOD("UTF-8 domain, ASCII-only lowercasing", "user@BÜcher.Example", U8, "user", "bÜcher.example", AF_UTF8),
    GOOD("UTF-8 quoted", "\"ü x\"@example.com", U8, "ü x", "example.com", AF_UTF8 | AF_QUOTED),
    GOOD("UTF-8 4-octet character", "\xf0\x9f\x93\xa7@example.com", U8, "\xf0\x9f\x93\xa7", "example.com", AF_UTF8),
    /* boundaries that pass */
    GOOD("local part 64", LP64 "@x.org", 0, LP64, "x.org", 0),
    GOOD("quoted local part 64 as written", Q64 "@x.org", 0, S60 "wx", "x.org", AF_QUOTED),
    GOOD("address 254", LP64 "@" D189, 0, LP64, D189, 0),
    GOOD("label 63", "u@" L63 ".org", 0, "u", L63 ".org", 0),

    /* refused: structure */
    BAD("two @ signs", "user@a@b", 0, "too many @ signs"),
    BAD("two @ after quoted", "\"a\"@b@c", 0, "too many @ signs"),
    BAD("source route", "<@a,@b:user@c>", 0, "source routes are not accepted"),
    BAD("source route unbracketed", "@a:user@c", 0, "source routes are not accepted"),
    BAD("empty local part", "@example.com", 0, "empty local part"),
    BAD("empty quoted local part", "\"\"@example.com", 0, "empty local part"),
    BAD("missing domain", "user", 0, "missing domain"),
    BAD("missing domain bracketed", "<user>", NUL, "missing domain"),
    BAD("@ without domain", "user@", 0, "missing domain"),
    BAD("@ without domain, unqualified allowed", "user@", UNQ, "missing domain"),
    BAD("empty input", "", UNQ, "empty address"),
    BAD("null <> not allowed", "<>", UNQ | U8, "empty address"),
    /* refused: octets */
    BADN("NUL inside", "us\0er@x.org", ALL, "NUL character in address"),
    BADN("NUL at end", "user@x.org\0", ALL, "NUL character in address"),
    BAD("control character", "us\x01" "er@x.org", ALL, "control character in address"),
    BAD("DEL", "user@x.org\x7f", ALL, "control character in address"),
    BAD("tab inside", "user\t@x.org", 0, "control character in address"),
    BAD("CR LF", "user@x.org\r\n", 0, "control character in address"),
    BAD("non-ASCII without UTF8", "δ@example.com", 0, "non-ASCII character in address"),
    BAD("non-ASCII domain without UTF8", "u@bücher.example", UNQ, "non-ASCII character in address"),
    BAD("truncated UTF-8", "\xc3@x.org", U8, "malformed UTF-8 in address"),
    BAD("overlong UTF-8", "\xc0\xaf@x.org", U8, "malformed UTF-8 in address"),
    BAD("UTF-8 surrogate", "\xed\xa0\x80@x.org", U8, "malformed UTF-8 in address"),
    BAD("UTF-8 above U+10FFFF", "\xf4\x90\x80\x80@x.org", U8, "malformed UTF-8 in address"),
    BAD("truncated 3-octet UTF-8", "\xe2\x82@x.org", U8, "malformed UTF-8 in address"),
    BAD("lone continuation octet", "u@x\x80.org", U8, "malformed UTF-8 in address"),
    /* refused: brackets, comments, garbage */
    BAD("missing '>'", "<user@example.com", 0, "unbalanced angle brackets"),
    BAD("missing '<'", "user@example.com>", 0, "unbalanced angle brackets"),
    BAD("doubled brackets", "<<user@example.com>>", 0, "unbalanced angle brackets"),
    BAD("text after '>'", "<user@example.com> x", 0, "trailing garbage after address"),
    BAD("comment after bracket", "<user@example.com> (me)", 0, "comments are not accepted"),
    BAD("comment after domain", "user@example.com (me)", 0, "comments are not accepted"),
    BAD("comment before", "(me)user@example.com", 0, "comments are not accepted"),
    BAD("comment in local part", "user(me)@example.com", 0, "comments are not accepted"),
    BAD("text after domain", "user@example.com x", 0, "trailing garbage after domain"),
    BAD("display name", "Joe <joe@example.com>", 0, "invalid character in local part"),
    BAD("blank inside brackets", "< user@example.com>", 0, "invalid character in local part"),
    BAD("blank before '>', unqualified", "<user >", UNQ, "invalid character in local part"),
    BAD("blank before '>'", "<user@example.com >", 0, "trailing garbage after domain"),
    /* refused: local part syntax */
    BAD("leading dot", ".user@x.org", 0, "local part begins with a dot"),
    BAD("trailing dot", "user.@x.org", 0, "local part ends with a dot"),
    BAD("double dot", "us..er@x.org", 0, "consecutive dots in local part"),
    BAD("space in local part", "us er@x.org", 0, "invalid character in local part"),
    BAD("quote inside atom", "us\"er\"@x.org", 0, "invalid character in local part"),
    BAD("comma in local part", "a,b@x.org", 0, "invalid character in local part"),
    BAD("unterminated quoted string", "\"abc@x.org", 0, "unterminated quoted string"),
    BAD("backslash ends input", "\"abc\\", UNQ, "unterminated quoted string"),
    BAD("text after quoted string", "\"abc\"def@x.org", 0, "invalid character after quoted string"),
    BAD("non-ASCII quoted-pair", "\"a\\ü\"@x.org", U8, "invalid quoted-pair in local part"),
    /* refused: domain syntax */
    BAD("leading hyphen", "u@-a.example", 0, "domain label begins or ends with a hyphen"),
    BAD("trailing hyphen", "u@a-.example", 0, "domain label begins or ends with a hyphen"),
    BAD("empty label", "u@a..example", 0, "empty label in domain"),
    BAD("leading dot in domain", "u@.example", 0, "empty label in domain"),
    BAD("trailing dot in domain", "u@example.", 0, "trailing dot in domain"),
    BAD("underscore in domain", "u@exa_mple.com", 0, "invalid character in domain"),
    BAD("quoted domain", "u@\"example\"", 0, "invalid character in domain"),
    /* refused: domain literals */
    BAD("bad IPv4 literal", "u@[192.0.2.256]", 0, "invalid IPv4 address literal"),
    BAD("short IPv4 literal", "u@[192.0.2]", 0, "invalid IPv4 address literal"),
    BAD("empty literal", "u@[]", 0, "invalid IPv4 address literal"),
    BAD("unterminated literal", "u@[192.0.2.1", 0, "unterminated domain literal"),
    BAD("text after literal", "u@[192.0.2.1]x", 0, "trailing garbage after domain literal"),
    BAD("IPv4 under IPv6 tag", "u@[IPv6:192.0.2.1]", 0, "invalid IPv6 address literal"),
    BAD("bad IPv6 literal", "u@[IPv6:2001:db8::g]", 0, "invalid IPv6 address literal"),
    BAD("IPv6 zone id", "u@[IPv6:fe80::1%eth0]", 0, "invalid IPv6 address literal"),
    BAD("general address literal", "u@[x400:c=gb]", 0, "unsupported address literal type"),
    BAD("IPv4 tag", "u@[IPv4:192.0.2.1]", 0, "unsupported address literal type"),
    /* refused: length boundaries */
    BAD("local part 65", LP64 "z@x.org", 0, "local part too long"),
    BAD("quoted local part 65", "\"" S60 "wxy\"@x.org", 0, "local part too long"),
    BAD("address 255", LP64 "@" D190, 0, "address too long"),
    BAD("domain 255, address 257", "a@" D255, 0, "address too long"),
    BAD("domain 256", "a@" D256, 0, "domain too long"),
    BAD("label 64", "u@" L64 ".org", 0, "domain label too long"),
};

/* check_parse - run one parse case; one TAP line */
static void check_parse(const struct pcase *c)
{
    struct addr_parsed a;
    const char *err = NULL;
    size_t len = c->len ? c->len : strlen(c->input);
    int r = addr_parse(c->input, len, c->opts, &a, &err);
    int good = r == c->ret;

    if (good && r == 0)
        good = strcmp(a.local_part, c->lp) == 0
               && strcmp(a.domain, c->domain) == 0 && a.flags == c->flags;
    else if (good)
        good = err != NULL && strcmp(err, c->err) == 0;
    if (ok(good, "parse: %s", c->name))
        return;
    printf("#   got %d lp \"%s\" domain \"%s\" flags %#x err \"%s\"\n", r,
           a.local_part, a.domain, a.flags, r ? err : "");
    printf("#   want %d lp \"%s\" domain \"%s\" flags %#x err \"%s\"\n",
           c->ret, c->lp, c->domain, c->flags, c->ret ? c->err : "");
}

/* check_round_trip - format a valid case and parse the result again */
static void check_round_trip(const struct pcase *c)
{
    struct addr_parsed a, b;
    struct strbuf sb;
    const char *err = "";
    int same;

    if (c->ret != 0)
        return;
    if (addr_parse(c->input, strlen(c->input), c->opts, &a, &err) < 0) {
        ok(0, "round trip: %s (%s)", c->name, err);
        return;
    }
    sb_init(&sb);
    addr_format(a.local_part, a.domain, &sb);
    same = addr_parse(sb_str(&sb), sb_len(&sb), c->opts, &b, &err) == 0
           && strcmp(a.local_part, b.local_part) == 0
           && strcmp(a.domain, b.domain) == 0
           && (a.flags & ~AF_QUOTED) == (b.flags & ~AF_QUOTED);
    if (!ok(same, "round trip: %s", c->name))
        printf("#   formatted \"%s\"\n", sb_str(&sb));
    sb_free(&sb);
}

struct fcase {
    const char *lp, *domain, *want;
};

static const struct fcase format_cases[] = {
    { "user", "example.com", "user@example.com" },
    { "first.last", "x.org", "first.last@x.org" },
    { "john doe", "x.org", "\"john doe\"@x.org" },
    { "a\"b\\c", "x.org", "\"a\\\"b\\\\c\"@x.org" },
    { "a@b", "x.org", "\"a@b\"@x.org" },
    { ".a", "x.org", "\".a\"@x.org" },
    { "a..b", "x.org", "\"a..b\"@x.org" },
    { "a(b)", "x.org", "\"a(b)\"@x.org" },
    { "user%relay", "x.org", "user%relay@x.org" },
    { "postmaster", NULL, "postmaster" },
    { "postmaster", "", "postmaster" },
    { "a b", NULL, "\"a b\"" },
    { "", NULL, "" },
    { "", "", "" },
    { "", "x.org", "\"\"@x.org" },
    { "u", "[IPv6:::1]", "u@[IPv6:::1]" },
    { "δοκιμή", "bücher.example", "δοκιμή@bücher.example" },
};

/* check_format - addr_format against the table */
static void check_format(const struct fcase *c)
{
    struct strbuf sb, name;

    sb_init(&sb);
    sb_init(&name);
    addr_format(c->lp, c->domain, &sb);
    sb_printf(&name, "format: \"%s\" + %s%s%s", c->lp,
              c->domain ? "\"" : "", c->domain ? c->domain : "NULL",
              c->domain ? "\"" : "");
    is_str(sb_str(&sb), c->want, sb_str(&name));
    sb_free(&name);
    sb_free(&sb);
}

/* check_quote_local - addr_quote_local appends to what is there */
static void check_quote_local(void)
{
    struct strbuf sb;

    sb_init(&sb);
    sb_puts(&sb, "x=");
    addr_quote_local("a\"b", &sb);
    is_str(sb_str(&sb), "x=\"a\\\"b\"", "quote_local: appends, escapes");
    sb_reset(&sb);
    addr_quote_local("", &sb);
    is_str(sb_str(&sb), "\"\"", "quote_local: empty is \"\"");
    sb_free(&sb);
}

struct dcase {
    const char *s;
    unsigned opts;
    int want;
};

static const struct dcase dot_atom_cases[] = {
    { "abc", 0, 1 }, { "a.b.c", 0, 1 }, { "!#$%&'*+-/=?^_`{|}~", 0, 1 },
    { "", 0, 0 }, { ".a", 0, 0 }, { "a.", 0, 0 }, { "a..b", 0, 0 },
    { "a b", 0, 0 }, { "a@b", 0, 0 }, { "a\"b", 0, 0 }, { "ü", 0, 1 },
    { "\xc3", 0, 0 },
};

static const struct dcase domain_cases[] = {
    { "example.com", 0, 1 }, { "localhost", 0, 1 }, { "EXAMPLE.COM", 0, 1 },
    { "", 0, 0 }, { "example.com.", 0, 0 }, { ".example.com", 0, 0 },
    { "a..b", 0, 0 }, { "-a.b", 0, 0 }, { "a-.b", 0, 0 }, { "a_b.c", 0, 0 },
    { L63 ".org", 0, 1 }, { L64 ".org", 0, 0 }, { D255, 0, 1 },
    { D256, 0, 0 }, { "bücher.example", 0, 0 }, { "bücher.example", U8, 1 },
    { "b\xc3.example", U8, 0 }, { "[192.0.2.1]", 0, 0 }, { "a b", 0, 0 },
};

/* check_predicates - addr_is_dot_atom and addr_domain_valid tables */
static void check_predicates(void)
{
    char name[80];
    size_t i;

    for (i = 0; i < sizeof dot_atom_cases / sizeof dot_atom_cases[0]; i++) {
        const struct dcase *c = &dot_atom_cases[i];

        if (bsnprintf(name, sizeof name, "dot_atom: \"%s\"", c->s) < 0)
            name[0] = '\0';
        is_int(addr_is_dot_atom(c->s, strlen(c->s)) != 0, c->want, name);
    }
    for (i = 0; i < sizeof domain_cases / sizeof domain_cases[0]; i++) {
        const struct dcase *c = &domain_cases[i];

        if (bsnprintf(name, sizeof name,
                      "domain_valid: \"%.20s%s\" (%zu octets) opts %u", c->s,
                      strlen(c->s) > 20 ? "..." : "", strlen(c->s),
                      c->opts) < 0)
            name[0] = '\0';
        is_int(addr_domain_valid(c->s, strlen(c->s), c->opts) != 0, c->want,
               name);
    }
    is_int(addr_domain_valid("x.org\0", 6, 0), 0, "domain_valid: NUL");
}

/* check_api_edges - NULL input and NULL err are tolerated */
static void check_api_edges(void)
{
    struct addr_parsed a;
    const char *err = NULL;

    is_int(addr_parse(NULL, 0, ADDR_ALLOW_NULL, &a, &err), 0,
           "parse: NULL input is the empty address");
    is_int(a.flags, AF_NULL, "parse: NULL input flags");
    is_int(addr_parse("a@@b", 4, 0, &a, NULL), -1, "parse: NULL err");
    ok(a.local_part[0] == '\0' && a.domain[0] == '\0' && a.flags == 0,
       "parse: result zeroed on failure");
}

int main(void)
{
    size_t i, n = sizeof parse_cases / sizeof parse_cases[0];

    for (i = 0; i < n; i++)
        check_parse(&parse_cases[i]);
    for (i = 0; i < n; i++)
        check_round_trip(&parse_cases[i]);
    for (i = 0; i < sizeof format_cases / sizeof format_cases[0]; i++)
        check_format(&format_cases[i]);
    check_quote_local();
    check_predicates();
    check_api_edges();
    return done_testing();
}
