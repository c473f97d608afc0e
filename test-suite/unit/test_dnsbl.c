/*
 * test_dnsbl.c - unit tests of core/net/dnsbl.c: the dnslists item parser
 * (every value form, keys, what is refused), the +..._unknown words, the
 * query names (IPv4 reversed, IPv6 in 32 nibbles, domains as they are,
 * hostile keys refused) and the answer test (=, ==, &, negated forms,
 * answers outside 127.0.0.0/8 ignored).
 */
#include <string.h>

#include "core/base/errbuf.h"
#include "core/net/dnsbl.h"
#include "test-suite/unit/tap.h"

static void test_parse(void)
{
    struct dnsbl_item it;
    struct errbuf eb;

    ok(dnsbl_parse(" bl.example ", &it, &eb) == 0
       && strcmp(it.zone, "bl.example") == 0 && it.how == DNSBL_LISTED
       && it.key[0] == '\0' && it.merged[0] == '\0', "plain zone");
    ok(dnsbl_parse("bl.example=127.0.0.2,127.0.0.3", &it, &eb) == 0
       && it.how == DNSBL_ANY && !it.negate && it.nvals == 2
       && it.vals[1] == 0x7f000003, "=V,V");
    ok(dnsbl_parse("bl.example==127.0.0.2", &it, &eb) == 0
       && it.how == DNSBL_ALL, "==V");
    ok(dnsbl_parse("bl.example&0.0.0.4", &it, &eb) == 0
       && it.how == DNSBL_MASK && it.vals[0] == 4, "&M");
    ok(dnsbl_parse("bl.example!=127.0.0.2", &it, &eb) == 0
       && it.how == DNSBL_ANY && it.negate, "!=V");
    ok(dnsbl_parse("bl.example!&0.255.255.0", &it, &eb) == 0
       && it.how == DNSBL_MASK && it.negate, "!&M");
    ok(dnsbl_parse("dbl.example=127.0.1.2/$sender_address_domain", &it, &eb)
       == 0 && strcmp(it.key, "$sender_address_domain") == 0
       && strcmp(it.zone, "dbl.example") == 0 && it.nvals == 1,
       "value and key");
    ok(dnsbl_parse("bl.example.", &it, &eb) == 0
       && strcmp(it.zone, "bl.example") == 0, "final dot dropped");
    ok(dnsbl_parse("bl.example=127.0.0.300", &it, &eb) == -1
       && strstr(eb.msg, "127.0.0.300") != NULL, "bad value refused: %s",
       eb.msg);
    ok(dnsbl_parse("bl.example=", &it, &eb) == -1, "empty value refused");
    ok(dnsbl_parse("bl.example!127.0.0.2", &it, &eb) == -1,
       "! without = or & refused");
    ok(dnsbl_parse("bl.example/", &it, &eb) == -1, "empty key refused");
    ok(dnsbl_parse("bl..example", &it, &eb) == -1, "empty label refused");
    ok(dnsbl_parse("bl example", &it, &eb) == -1, "space in zone refused");
    ok(dnsbl_parse("", &it, &eb) == -1, "empty item refused");
    ok(dnsbl_parse("sbl.example, zen.example.=127.0.0.2/$x", &it, &eb) == 0
       && strcmp(it.zone, "sbl.example") == 0
       && strcmp(it.merged, "zen.example") == 0 && it.nvals == 1
       && strcmp(it.key, "$x") == 0, "merged list: detail, merged, value");
    ok(dnsbl_parse("a.example,=127.0.0.2", &it, &eb) == -1,
       "merged list without its domain refused");
    ok(dnsbl_parse("a.example,b.example,c.example", &it, &eb) == -1,
       "three domains refused");
    ok(dnsbl_parse("bl.example=1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,"
                   "1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,"
                   "1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1", &it, &eb) == -1,
       "more than 16 values refused");
    ok(dnsbl_option("+defer_unknown") == DNSBL_DEFER
       && dnsbl_option(" +include_unknown") == DNSBL_INCLUDE
       && dnsbl_option("+exclude_unknown") == DNSBL_EXCLUDE
       && dnsbl_option("bl.example") == -1, "+..._unknown words");
}

static void test_names(void)
{
    char out[300];

    ok(dnsbl_query_name("192.0.2.1", "bl.test", out, sizeof(out)) == 0
       && strcmp(out, "1.2.0.192.bl.test") == 0, "IPv4 reversed: %s", out);
    ok(dnsbl_query_name("2001:db8::1", "bl.test", out, sizeof(out)) == 0
       && strcmp(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                 "8.b.d.0.1.0.0.2.bl.test") == 0, "IPv6 nibbles: %s", out);
    ok(dnsbl_query_name("::ffff:192.0.2.1", "bl.test", out, sizeof(out))
       == 0 && strcmp(out, "1.2.0.192.bl.test") == 0,
       "IPv4-mapped IPv6 asked as IPv4: %s", out);
    ok(dnsbl_query_name("Spam.Example", "dbl.test", out, sizeof(out)) == 0
       && strcmp(out, "Spam.Example.dbl.test") == 0, "domain as is");
    ok(dnsbl_query_name("a b", "dbl.test", out, sizeof(out)) == -1,
       "space in key refused");
    ok(dnsbl_query_name("x\r\ny", "dbl.test", out, sizeof(out)) == -1,
       "CR LF in key refused");
    ok(dnsbl_query_name("", "dbl.test", out, sizeof(out)) == -1,
       "empty key refused");
    char big[300];
    for (int i = 0; i < 4; i++) {           /* 4 labels of 62 + dots */
        memset(big + i * 63, 'a', 62);
        big[i * 63 + 62] = '.';
    }
    big[4 * 63 - 1] = '\0';
    ok(dnsbl_query_name(big, "dbl.test", out, sizeof(out)) == -1,
       "a name over 253 bytes refused");
    ok(dnsbl_query_name("1.2.3.4", "bl.test", out, 10) == -1,
       "small buffer refused");
}

static int listed(const char *item, const char *const *a, size_t n,
                  size_t *ign)
{
    struct dnsbl_item it;
    struct errbuf eb;

    if (dnsbl_parse(item, &it, &eb) != 0)
        return -1;
    return dnsbl_listed(&it, a, n, ign);
}

static void test_listed(void)
{
    static const char *const two[] = { "127.0.0.2", "127.0.0.4" };
    static const char *const foreign[] = { "192.0.2.99" };
    static const char *const mixed[] = { "192.0.2.99", "127.0.0.3" };
    size_t ign;

    ok(listed("bl", two, 2, &ign) == 1 && ign == 0, "listed");
    ok(listed("bl", two, 0, &ign) == 0, "no records: not listed");
    ok(listed("bl=127.0.0.4", two, 2, &ign) == 1, "= some record");
    ok(listed("bl=127.0.0.3", two, 2, &ign) == 0, "= no record");
    ok(listed("bl==127.0.0.2", two, 2, &ign) == 0, "== not every record");
    ok(listed("bl==127.0.0.2,127.0.0.4", two, 2, &ign) == 1,
       "== every record");
    ok(listed("bl&0.0.0.4", two, 2, &ign) == 1, "& a record has the bits");
    ok(listed("bl&0.0.0.6", two, 2, &ign) == 0, "& needs all the bits");
    ok(listed("bl!=127.0.0.2", two, 2, &ign) == 0,
       "!= false when a record is the value");
    ok(listed("bl!=127.0.0.3", two, 2, &ign) == 1,
       "!= true when listed otherwise");
    ok(listed("bl!&0.0.0.8", two, 2, &ign) == 1, "!& no record has bits");
    ok(listed("bl!=127.0.0.3", two, 0, &ign) == 0, "!= needs a listing");
    ok(listed("bl", foreign, 1, &ign) == 0 && ign == 1,
       "non-127 answer ignored and counted");
    ok(listed("bl=127.0.0.3", mixed, 2, &ign) == 1 && ign == 1,
       "non-127 ignored beside a good record");
    ok(listed("bl=192.0.2.99", foreign, 1, &ign) == 0,
       "a value outside 127/8 never matches");
}

int main(void)
{
    test_parse();
    test_names();
    test_listed();
    return done_testing();
}
