/*
 * bounce_print.c - test helper (not a test): read a message from stdin,
 * build a bounce (or with -w a delay warning) for it with queue/bounce.c
 * and write the report to stdout; "8bit 0|1" (bounce_is_8bit) goes to
 * stderr. Used by test-suite/py/test_bounce.py, which checks the report
 * with Python's email package.
 *
 * usage: bounce_print [-w DELAY] [-l RETURN_SIZE_LIMIT] [-t TO]
 *          [-H PRIMARY] [-i NEW_ID] [-o ORIG_ID] [-n NOW] [-a ARRIVAL]
 *          [-r "ADDR<TAB>TOP<TAB>REASON<TAB>HOST<TAB>CODE<TAB>REPLY"]...
 * An empty field is NULL. Exit 0, or 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/strbuf.h"
#include "queue/bounce.h"
#include "core/conf/conf.h"
#include "core/spool/spool.h"

#define RCPTS_MAX 64
#define INPUT_MAX (64L * 1024 * 1024)

/* field - the next tab-separated field of *s (cut in place), NULL if
 * empty */
static char *field(char **s)
{
    char *f = *s, *tab;

    if (f == NULL)
        return NULL;
    tab = strchr(f, '\t');
    if (tab != NULL) {
        *tab = '\0';
        *s = tab + 1;
    } else {
        *s = NULL;
    }
    return *f != '\0' ? f : NULL;
}

/* parse_rcpt - one -r argument */
static void parse_rcpt(char *arg, struct bounce_rcpt *r)
{
    char *code;

    r->address = field(&arg);
    r->top = field(&arg);
    r->reason = field(&arg);
    r->host = field(&arg);
    code = field(&arg);
    r->code = code != NULL ? atoi(code) : 0;
    r->reply = field(&arg);
}

/* read_all - stdin into sb */
static int read_all(struct strbuf *sb)
{
    char buf[65536];
    ssize_t n;

    while ((n = read(0, buf, sizeof(buf))) > 0) {
        if ((long)sb_len(sb) + n > INPUT_MAX)
            return -1;
        sb_append(sb, buf, (size_t)n);
    }
    return n < 0 ? -1 : 0;
}

struct opts {
    const char *delay, *to, *id;
    size_t limit;
    long long now;
    struct conf c;
    struct spool_msg m;
    struct bounce_rcpt r[RCPTS_MAX];
    size_t n;
};

/* parse_args - the options into o; -1 on a usage error */
static int parse_args(int argc, char **argv, struct opts *o)
{
    int ch;

    while ((ch = getopt(argc, argv, "w:l:t:H:i:o:n:a:r:")) != -1) {
        switch (ch) {
        case 'w': o->delay = optarg; break;
        case 'l': o->limit = strtoull(optarg, NULL, 10); break;
        case 't': o->to = optarg; break;
        case 'H': o->c.main.primary_hostname = optarg; break;
        case 'i': o->id = optarg; break;
        case 'o':
            snprintf(o->m.env.id, sizeof(o->m.env.id), "%s", optarg);
            break;
        case 'n': o->now = strtoll(optarg, NULL, 10); break;
        case 'a': o->m.env.received_sec = strtoll(optarg, NULL, 10); break;
        case 'r':
            if (o->n == RCPTS_MAX)
                return -1;
            parse_rcpt(optarg, &o->r[o->n++]);
            break;
        default: return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct opts o = { .to = "sender@client.example",
                             .id = "1tNewI-000000000Ab-0000",
                             .limit = 100000, .now = 1700000000 };
    struct strbuf in, out;

    o.c.main.primary_hostname = "mx.test.example";
    snprintf(o.m.env.id, sizeof(o.m.env.id), "1tOrig-000000000Xy-0000");
    o.m.env.received_sec = 1699990000;
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    sb_init(&in);
    sb_init(&out);
    if (read_all(&in) != 0)
        return 2;
    o.m.data = sb_str(&in);
    o.m.len = sb_len(&in);
    if (o.delay != NULL)
        warning_build(&out, &o.c, &o.m, o.to, o.r, o.n, o.delay, o.id, o.now);
    else
        bounce_build(&out, &o.c, &o.m, o.to, o.r, o.n, o.limit, o.id, o.now);
    if (fwrite(sb_str(&out), 1, sb_len(&out), stdout) != sb_len(&out)
        || fflush(stdout) != 0)
        return 1;
    fprintf(stderr, "8bit %d\n", bounce_is_8bit(&out));
    sb_free(&in);
    sb_free(&out);
    return 0;
}
