/*
 * test_conf.c - unit tests of the configuration parsers: times, sizes,
 * booleans, $variable expansion, retry rules, and conf_load's messages
 * (file:line and reason) for broken conf.d files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/conf/conf.h"
#include "core/conf/conf_build.h"
#include "core/conf/driver.h"
#include "core/mail/expand.h"
#include "test-suite/unit/tap.h"

static const struct { const char *in; long want; } times[] = {
    { "90", 90 }, { "90s", 90 }, { "15m", 900 }, { "2h", 7200 },
    { "4d", 345600 }, { "1w", 604800 }, { "1h30m", 5400 }, { "0s", 0 },
};
static const char *const bad_times[] = { "", "soon", "5x", "-1", "1h-2m",
                                         "99999999999999999999" };
static const struct { const char *in; long want; } sizes[] = {
    { "1024", 1024 }, { "512K", 524288 }, { "10M", 10485760 },
    { "1G", 1073741824 }, { "10m", 10485760 },
};

static void test_numbers(void)
{
    long v;
    int b;

    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
        ok(conf_parse_time(times[i].in, &v) == 0 && v == times[i].want,
           "time \"%s\" = %ld", times[i].in, times[i].want);
    for (size_t i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++)
        ok(conf_parse_time(bad_times[i], &v) != 0, "time \"%s\" refused",
           bad_times[i]);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        ok(conf_parse_size(sizes[i].in, &v) == 0 && v == sizes[i].want,
           "size \"%s\" = %ld", sizes[i].in, sizes[i].want);
    ok(conf_parse_size("10Q", &v) != 0, "size 10Q refused");
    ok(conf_parse_bool("yes", &b) == 0 && b == 1, "bool yes");
    ok(conf_parse_bool("false", &b) == 0 && b == 0, "bool false");
    ok(conf_parse_bool("maybe", &b) != 0, "bool maybe refused");
}

static void test_expand(void)
{
    struct xvars v = { .local_part = "joe", .domain = "example.com",
                       .home = "/home/joe" };
    struct pool *p = pool_new();
    struct errbuf eb;
    const char *out;

    ok(expand_string("$home/Maildir", &v, p, &out, &eb) == 0
       && strcmp(out, "/home/joe/Maildir") == 0, "$home/Maildir");
    ok(expand_string("${local_part}@${domain}", &v, p, &out, &eb) == 0
       && strcmp(out, "joe@example.com") == 0, "${local_part}@${domain}");
    ok(expand_string("cost $$5 $address_data.", &v, p, &out, &eb) == 0
       && strcmp(out, "cost $5 .") == 0, "$$ and an unset variable");
    ok(expand_string("$nosuch", &v, p, &out, &eb) != 0
       && strstr(eb.msg, "unknown variable $nosuch") != NULL,
       "unknown variable refused");
    ok(expand_check("${home", &eb) != 0 && strstr(eb.msg, "unterminated"),
       "unterminated ${ refused");
    ok(expand_check("plain text", &eb) == 0, "plain text is fine");
    pool_free(p);
}

static const struct { const char *error, *rules, *msg; } retry_cases[] = {
    { "*", "F,2h,15m; G,16h,1h,1.5; F,4d,6h", NULL },
    { "timeout", "F,1h,5m", NULL },
    { "rcpt_4xx", "F,1h,5m", NULL },
    { "rcpt_452", "F,1h,5m", NULL },
    { "quota_3d", "F,1h,5m", NULL },
    { "refused_MX", "H,10h,10m,2", NULL },
    { "sometimes", "F,1h,5m", "unknown retry error type" },
    { "*", "F,1h", "bad retry rule" },
    { "*", "X,1h,5m", "bad retry rule" },
    { "*", "F,soon,5m", "bad time" },
    { "*", "G,16h,1h", "needs a factor" },
    { "*", "G,16h,1h,0.5", "needs a factor" },
    { "*", "F,4d,6h; F,2h,15m", "cutoffs must increase" },
    { "*", " ; ", "no retry rules" },
};

static void test_retry(struct conf *c)
{
    for (size_t i = 0; i < sizeof(retry_cases) / sizeof(retry_cases[0]);
         i++) {
        struct retry_def r = { .pattern = "*", .error = retry_cases[i].error };
        struct errbuf eb = { "" };
        int rc = retry_parse_rules(c, retry_cases[i].rules, &r, &eb);
        if (retry_cases[i].msg == NULL)
            ok(rc == 0, "retry %s \"%s\" accepted", retry_cases[i].error,
               retry_cases[i].rules);
        else if (!ok(rc != 0 && strstr(eb.msg, retry_cases[i].msg),
                     "retry %s \"%s\" refused: %s", retry_cases[i].error,
                     retry_cases[i].rules, retry_cases[i].msg))
            printf("#   message: %s\n", eb.msg);
    }
}

/* A one-file configuration and the message it must produce. */
static const struct { const char *file, *text, *msg; } loads[] = {
    { "main/00.lua", "main { no_such = 1 }\n",
      "main/00.lua:1: main: unknown option \"no_such\"" },
    { "main/00.lua", "\n\nmain { dns_timeout = \"soon\" }\n",
      "main/00.lua:3: main: option \"dns_timeout\" bad time \"soon\"" },
    { "main/00.lua", "main { local_domains = 7 }\n", "expects a list" },
    { "main/00.lua", "main {\n", "main/00.lua:2:" },
    { "router/00.lua", "router \"r\" { driver = \"nope\" }\n",
      "router/00.lua:1: router \"r\": unknown driver \"nope\" (known: "
      "dnslookup, manualroute, redirect, local_user, catch_all, lua)" },
    { "router/00.lua", "router \"r\" { driver = \"dnslookup\" }\n",
      "router/00.lua:1: router \"r\": a transport is required" },
    { "router/00.lua", "router \"r\" { driver = \"dnslookup\", "
      "transport = \"t\" }\n", "transport \"t\" is not defined" },
    { "router/00.lua", "router \"r\" { driver = \"lua\", route = 1 }\n",
      "option \"route\" expects a function" },
    { "router/00.lua", "router \"r\" { driver = \"redirect\", data = \"x\", "
      "no_more = \"yes\" }\n", "option \"no_more\" expects true or false" },
    { "router/00.lua", "router \"r\" { driver = \"redirect\", data = \"x\" }\n"
      "router \"r\" { driver = \"redirect\", data = \"y\" }\n",
      "router/00.lua:2: router \"r\": router \"r\" is already defined at " },
    { "router/00.lua", "router \"r\" { driver = \"redirect\", "
      "domains = \"+nolist\", data = \"x\" }\n",
      "unknown named list \"+nolist\"" },
    { "router/00.lua", "os.execute(\"true\")\n", "router/00.lua:1:" },
    { "router/00.lua", "while true do end\n", "instruction limit exceeded" },
    { "acl/00.lua", "acl \"connect\" { accept { domains = \"x\" } }\n",
      "domains cannot be used in the connect ACL" },
    { "retry/00.lua", "retry { \"*\", \"never\", \"F,1h,5m\" }\n",
      "retry/00.lua:1: retry: unknown retry error type \"never\"" },
};

static char dir[64];

static void make_conf(const char *file, const char *text)
{
    char path[256], cmd[512];
    FILE *f;

    snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s/main %s/router "
             "%s/acl %s/retry", dir, dir, dir, dir, dir);
    if (system(cmd) != 0)
        abort();
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

static void test_loads(void)
{
    for (size_t i = 0; i < sizeof(loads) / sizeof(loads[0]); i++) {
        struct errbuf eb = { "" };
        struct conf *c;

        make_conf(loads[i].file, loads[i].text);
        c = conf_load(dir, &eb);
        if (!ok(c == NULL && strstr(eb.msg, loads[i].msg) != NULL,
                "load error: %s", loads[i].msg))
            printf("#   message: %s\n", eb.msg);
        conf_free(c);
    }
}

int main(void)
{
    struct errbuf eb;
    struct conf *c;
    char cmd[96];

    snprintf(dir, sizeof(dir), "/tmp/test_conf.%d", (int)getpid());
    test_numbers();
    test_expand();
    make_conf("main/00.lua", "main { }\n");
    c = conf_load(dir, &eb);
    ok(c != NULL, "an empty main{} loads");
    if (c != NULL) {
        test_retry(c);
        conf_free(c);
    }
    test_loads();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return done_testing();
}
