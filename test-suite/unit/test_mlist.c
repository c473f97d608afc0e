/*
 * test_mlist.c - unit tests of the match-list parser and matcher
 * (core/conf/mlist.c): a case table {kind, list, subject, expected}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/strbuf.h"
#include "core/conf/conf.h"
#include "core/conf/mlist.h"
#include "test-suite/unit/tap.h"

struct mcase {
    enum mlist_kind kind;
    const char *list;
    const char *subject;
    int want;               /* MATCH_YES / MATCH_NO / MATCH_DEFER */
};

static const struct mcase cases[] = {
    { ML_DOMAIN, "example.com", "example.com", MATCH_YES },
    { ML_DOMAIN, "example.com", "EXAMPLE.COM", MATCH_YES },
    { ML_DOMAIN, "example.com", "www.example.com", MATCH_NO },
    { ML_DOMAIN, "*.example.com", "www.example.com", MATCH_YES },
    { ML_DOMAIN, "*.example.com", "example.com", MATCH_NO },
    { ML_DOMAIN, "*example.com", "example.com", MATCH_YES },
    { ML_DOMAIN, "a.test : b.test", "b.test", MATCH_YES },
    { ML_DOMAIN, "a.test : b.test", "c.test", MATCH_NO },
    { ML_DOMAIN, "! a.test : *", "a.test", MATCH_NO },
    { ML_DOMAIN, "! a.test : *", "b.test", MATCH_YES },
    { ML_DOMAIN, "! a.test", "b.test", MATCH_YES },     /* ends negative */
    { ML_DOMAIN, "! a.test", "a.test", MATCH_NO },
    { ML_DOMAIN, "*", "anything.test", MATCH_YES },
    { ML_DOMAIN, "", "anything.test", MATCH_NO },
    { ML_DOMAIN, "@", "mail.example.org", MATCH_YES },  /* primary_hostname */
    { ML_DOMAIN, "@", "example.org", MATCH_NO },
    { ML_DOMAIN, "@[]", "[127.0.0.1]", MATCH_YES },
    { ML_DOMAIN, "@[]", "[192.0.2.200]", MATCH_NO },
    { ML_DOMAIN, "^mx[0-9]+\\.test$", "MX12.test", MATCH_YES },
    { ML_DOMAIN, "^mx[0-9]+\\.test$", "mxa.test", MATCH_NO },
    { ML_DOMAIN, "+locals", "local.test", MATCH_YES },
    { ML_DOMAIN, "! +locals", "local.test", MATCH_NO },
    { ML_DOMAIN, "! +locals", "remote.test", MATCH_YES },
    { ML_DOMAIN, "+nested", "local.test", MATCH_YES },
    { ML_DOMAIN, "lsearch;@DIR@/domains", "listed.test", MATCH_YES },
    { ML_DOMAIN, "lsearch;@DIR@/domains", "LISTED.test", MATCH_YES },
    { ML_DOMAIN, "lsearch;@DIR@/domains", "other.test", MATCH_NO },
    { ML_DOMAIN, "lsearch;@DIR@/missing", "x.test", MATCH_DEFER },
    { ML_HOST, "192.0.2.0/24", "192.0.2.77", MATCH_YES },
    { ML_HOST, "192.0.2.0/24", "192.0.3.1", MATCH_NO },
    { ML_HOST, "192.0.2.0/24", "::ffff:192.0.2.5", MATCH_YES },
    { ML_HOST, "<; 2001:db8::/32 ; ::1", "2001:db8:1::5", MATCH_YES },
    { ML_HOST, "<; 2001:db8::/32 ; ::1", "::1", MATCH_YES },
    { ML_HOST, "<; 2001:db8::/32 ; ::1", "2001:db9::1", MATCH_NO },
    { ML_HOST, "10.0.0.0/8 : 127.0.0.1", "127.0.0.1", MATCH_YES },
    { ML_HOST, "", "", MATCH_YES },                     /* no host */
    { ML_HOST, "", "127.0.0.1", MATCH_NO },
    { ML_HOST, "*", "192.0.2.1", MATCH_YES },
    { ML_HOST, "! 192.0.2.1 : 192.0.2.0/24", "192.0.2.1", MATCH_NO },
    { ML_HOST, "! 192.0.2.1 : 192.0.2.0/24", "192.0.2.2", MATCH_YES },
    { ML_HOST, "mail.example.com", "192.0.2.1", MATCH_NO },  /* no name */
    { ML_HOST, "cidr;@DIR@/nets", "198.51.100.9", MATCH_YES },
    { ML_HOST, "cidr;@DIR@/nets", "198.51.101.9", MATCH_NO },
    { ML_ADDRESS, "*@example.com", "joe@example.com", MATCH_YES },
    { ML_ADDRESS, "*@example.com", "joe@example.net", MATCH_NO },
    { ML_ADDRESS, "postmaster@*", "postmaster@x.test", MATCH_YES },
    { ML_ADDRESS, "joe@example.com", "JOE@Example.com", MATCH_YES },
    { ML_ADDRESS, "example.com", "anyone@example.com", MATCH_YES },
    { ML_ADDRESS, "*.example.com", "a@b.example.com", MATCH_YES },
    { ML_ADDRESS, "<>", "", MATCH_YES },
    { ML_ADDRESS, "<>", "a@b.test", MATCH_NO },
    { ML_ADDRESS, "*@example.com", "", MATCH_NO },
    { ML_ADDRESS, "^[a-z]+@x\\.test$", "abc@x.test", MATCH_YES },
    { ML_ADDRESS, "^[a-z]+@x\\.test$", "a1@x.test", MATCH_NO },
    { ML_LOCALPART, "root : postmaster", "Postmaster", MATCH_YES },
    { ML_LOCALPART, "owner-*", "owner-list", MATCH_YES },
    { ML_LOCALPART, "*-request", "list-request", MATCH_YES },
    { ML_LOCALPART, "*-request", "request", MATCH_NO },
    { ML_LOCALPART, "^[./|]", "|cmd", MATCH_YES },
    { ML_LOCALPART, "! root", "admin", MATCH_YES },
    { ML_LOCALPART, "! root", "root", MATCH_NO },
    { ML_DOMAIN, "a::b.test", "a:b.test", MATCH_YES },  /* "::" is ":" */
};

struct bad {
    enum mlist_kind kind;
    const char *list;
    const char *msg;
};

static const struct bad bad_lists[] = {
    { ML_HOST, "192.0.2.0/33", "bad IP address or network" },
    { ML_HOST, "300.1.1.1", "bad IP address or network" },
    { ML_DOMAIN, "^a(b", "bad regular expression" },
    { ML_DOMAIN, "^a+++", "stacks repetition" },
    { ML_DOMAIN, "nosuch;/etc/x", NULL },           /* not a lookup: literal */
};

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

static struct conf *setup(void)
{
    struct errbuf eb;
    struct conf *c;
    char sub[96];

    snprintf(dir, sizeof(dir), "/tmp/test_mlist.%d", (int)getpid());
    snprintf(sub, sizeof(sub), "%s/main", dir);
    if (mkdir(dir, 0700) != 0 || mkdir(sub, 0700) != 0)
        abort();
    write_file("main/00.lua",
               "main { primary_hostname = \"mail.example.org\" }\n"
               "domainlist \"locals\" \"local.test : other.local\"\n"
               "domainlist \"nested\" { \"+locals\" }\n");
    write_file("domains", "listed.test:\n");
    write_file("nets", "198.51.100.0/24 ok\n");
    c = conf_load(dir, &eb);
    if (c == NULL) {
        printf("# %s\n", eb.msg);
        abort();
    }
    return c;
}

static const char *subst_dir(struct pool *p, const char *s)
{
    const char *at = strstr(s, "@DIR@");

    if (at == NULL)
        return s;
    return pool_printf(p, "%.*s%s%s", (int)(at - s), s, dir, at + 5);
}

static void run_case(struct conf *c, const struct mcase *t)
{
    struct pool *p = pool_new();
    struct errbuf eb = { "" };
    struct mlist *l = mlist_parse_text(p, t->kind, subst_dir(p, t->list), &eb);
    struct match_ctx mc = { .conf = c, .eb = &eb };
    int got = MATCH_NO - 9;

    if (l != NULL && mlist_link(l, c, &eb) == 0)
        got = mlist_match(l, t->subject, &mc);
    if (!ok(got == t->want, "%s list \"%s\" ~ \"%s\"",
            mlist_kind_name(t->kind), t->list, t->subject))
        printf("#   got %d want %d (%s)\n", got, t->want, eb.msg);
    pool_free(p);
}

static void run_bad(const struct bad *b)
{
    struct pool *p = pool_new();
    struct errbuf eb = { "" };
    struct mlist *l = mlist_parse_text(p, b->kind, b->list, &eb);

    if (b->msg == NULL)
        ok(l != NULL, "\"%s\" parses", b->list);
    else if (!ok(l == NULL && strstr(eb.msg, b->msg) != NULL,
                 "\"%s\" is refused: %s", b->list, b->msg))
        printf("#   message: %s\n", eb.msg);
    pool_free(p);
}

static void text_round_trip(void)
{
    struct pool *p = pool_new();
    struct errbuf eb;
    struct strbuf sb;
    struct mlist *l = mlist_parse_text(p, ML_HOST, "<; ::1 ; !10.0.0.0/8",
                                       &eb);

    sb_init(&sb);
    mlist_text(l, &sb);
    is_str(sb_str(&sb), "<; ::1 ; !10.0.0.0/8", "mlist_text uses <; for IPv6");
    is_int((long long)mlist_count(l), 2, "two items");
    sb_free(&sb);
    pool_free(p);
}

int main(void)
{
    struct conf *c = setup();
    char cmd[160];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(c, &cases[i]);
    for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++)
        run_bad(&bad_lists[i]);
    text_round_trip();
    conf_free(c);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return done_testing();
}
