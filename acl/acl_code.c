/*
 * acl_code.c - SMTP reply codes that configurations give ACL verdicts:
 *              the code option or field, and Exim's leading code in a
 *              message ("550 5.1.1 no such user").
 *
 * PURPOSE: a script must not be able to put a success code on a refusal
 * (deny { code = 250 } told the client "250" and threw the message away)
 * nor a code that is no SMTP reply at all (999, 42). A code must be of the
 * verdict's class: deny, drop and require 5xx, defer 4xx, accept and
 * discard 2xx (tern answers those itself; the code is only checked); an
 * enhanced status must be of the same class. Exim's rule for a message
 * that starts with "DDD " or "DDD D.D.D " is the same (its first digit
 * must be the default code's).
 * INTERFACE: acl_code_prefix, acl_code_check (acl_impl.h).
 * ERRORS: acl_code_check says why in its buffer; load time turns that
 *         into a configuration error, run time into 451 and a panic-log
 *         line (acl_run.c).
 */
#include <stdio.h>
#include <string.h>

#include "acl/acl_impl.h"

static int digit(char c)
{
    return c >= '0' && c <= '9';
}

/* "D.D{1,3}.D{1,3}" at p; its length, 0 if not one */
static size_t status_len(const char *p)
{
    size_t i = 1, n;

    if (!digit(p[0]) || p[1] != '.')
        return 0;
    for (int part = 0; part < 2; part++) {
        i++;                                /* the '.' */
        for (n = 0; n < 3 && digit(p[i]); n++)
            i++;
        if (n == 0 || (part == 0 && p[i] != '.'))
            return 0;
    }
    return i;
}

/* acl_code_prefix - the reply code (and enhanced status) a message text
 * starts with, Exim's form "DDD text" or "DDD D.D.D text": returns how
 * many bytes they take (0: none; *code and status untouched) */
size_t acl_code_prefix(const char *text, int *code, char status[16])
{
    size_t st;

    if (text == NULL || !digit(text[0]) || !digit(text[1])
        || !digit(text[2]) || text[3] != ' ')
        return 0;
    *code = (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');
    status[0] = '\0';
    st = status_len(text + 4);
    if (st == 0 || text[4 + st] != ' ')
        return 4;
    snprintf(status, 16, "%.*s", (int)st, text + 4);
    return 4 + st + 1;
}

/* the first digit a verdict's code must have */
static int verdict_class(enum acl_verdict v)
{
    return v == ACL_DEFER ? 4 : v == ACL_DENY || v == ACL_DROP ? 5 : 2;
}

static const char *verdict_name(enum acl_verdict v)
{
    static const char *const names[] = {
        [ACL_ACCEPT] = "accept", [ACL_DENY] = "deny/drop/require",
        [ACL_DEFER] = "defer", [ACL_DISCARD] = "discard",
        [ACL_DROP] = "deny/drop/require" };

    return names[v];
}

/* acl_code_check - 0 if code (0: none; -1: not a number) and status
 * (NULL or "": none) fit verdict v; else -1 and why[] says what is wrong */
int acl_code_check(enum acl_verdict v, int code, const char *status,
                   char *why, size_t size)
{
    int cls = verdict_class(v);

    if (code == 0 && (status == NULL || status[0] == '\0'))
        return 0;
    if (code < 0) {
        snprintf(why, size, "the code is not a number");
        return -1;
    }
    if (code != 0 && (code < 100 || code > 999 || code / 100 != cls)) {
        snprintf(why, size, "code %d is not a %dxx code (%s takes %dxx)",
                 code, cls, verdict_name(v), cls);
        return -1;
    }
    if (status != NULL && status[0] != '\0' && status[0] - '0' != cls) {
        snprintf(why, size, "enhanced status %s is not a %d.x.x status "
                 "(%s takes %dxx)", status, cls, verdict_name(v), cls);
        return -1;
    }
    return 0;
}
