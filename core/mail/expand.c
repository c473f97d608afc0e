/*
 * expand.c - variable substitution in option strings.
 */
#include <stddef.h>
#include <string.h>

#include "core/base/strbuf.h"
#include "expand.h"

#define VAR(n) { #n, offsetof(struct xvars, n) }

static const struct { const char *name; size_t off; } vars[] = {
    VAR(local_part), VAR(domain), VAR(address), VAR(local_part_prefix),
    VAR(local_part_suffix), VAR(original_local_part), VAR(original_domain),
    VAR(parent_address), VAR(home), VAR(address_data), VAR(sender_address),
    VAR(sender_host_address), VAR(primary_hostname), VAR(qualify_domain),
    VAR(router_name), VAR(authenticated_id),
};

#define NVARS (sizeof(vars) / sizeof(vars[0]))

/* What ACL conditions leave behind for later statements and messages
 * (served by xvars.more; Exim's names). */
static const char *const more_vars[] = {
    "acl_verify_message",
    "dnslist_domain", "dnslist_matched", "dnslist_text", "dnslist_value",
    "spf_header_comment", "spf_received", "spf_result", "spf_smtp_comment",
    "spf_result_guessed",
    "sender_rate", "sender_rate_limit", "sender_rate_period",
    "sender_address_domain",
    "greylist_result", "greylist_wait",
};

#define NMORE (sizeof(more_vars) / sizeof(more_vars[0]))

/* acl_c* and acl_m* as Exim names them: acl_c0, acl_m_total, ... */
static int user_var_name(const char *name, size_t len)
{
    static const char word[] = "abcdefghijklmnopqrstuvwxyz_0123456789";

    if (len <= 5 || (memcmp(name, "acl_c", 5) != 0
                     && memcmp(name, "acl_m", 5) != 0))
        return 0;
    for (size_t i = 5; i < len; i++)
        if (name[i] == '\0' || strchr(word, name[i]) == NULL)
            return 0;
    return 1;
}

/* expand_is_more_name - see expand.h */
int expand_is_more_name(const char *name, size_t len)
{
    for (size_t i = 0; i < NMORE; i++)
        if (strlen(more_vars[i]) == len && memcmp(more_vars[i], name, len)
            == 0)
            return 1;
    return user_var_name(name, len);
}

/* xvars_names - names of all variables (the fixed ones, then the
 * condition results; acl_c_* and acl_m_* are open-ended, not listed) */
const char *const *xvars_names(void)
{
    static const char *names[NVARS + NMORE + 1];

    if (names[0] == NULL) {
        for (size_t i = 0; i < NVARS; i++)
            names[i] = vars[i].name;
        for (size_t i = 0; i < NMORE; i++)
            names[NVARS + i] = more_vars[i];
    }
    return names;
}

static const char *more_value(const struct xvars *v, const char *name,
                              size_t len)
{
    const char *val = v && v->more ? v->more(v->more_ctx, name, len) : NULL;

    return val ? val : "";
}

static int var_index(const char *name, size_t len)
{
    for (size_t i = 0; i < NVARS; i++)
        if (strlen(vars[i].name) == len
            && memcmp(vars[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

/* xvars_get - value by name; *known = 0 for an unknown name */
const char *xvars_get(const struct xvars *v, const char *name, int *known)
{
    int i = var_index(name, strlen(name));
    const char *val;

    *known = i >= 0 || expand_is_more_name(name, strlen(name));
    if (i < 0)
        return *known ? more_value(v, name, strlen(name)) : NULL;
    val = *(const char *const *)((const char *)v + vars[i].off);
    return val ? val : "";
}

/* Find the variable name at s (after '$'): "name" or "{name}". */
static int scan_var(const char *s, const char **name, size_t *len,
                    size_t *used, struct errbuf *eb)
{
    if (*s == '{') {
        const char *end = strchr(s, '}');
        if (end == NULL) {
            errbuf_set(eb, "unterminated ${ in \"%s\"", s - 1);
            return -1;
        }
        *name = s + 1;
        *len = (size_t)(end - s - 1);
        *used = *len + 2;
    } else {
        *name = s;
        *len = strspn(s, "abcdefghijklmnopqrstuvwxyz_0123456789");
        *used = *len;
    }
    if (var_index(*name, *len) >= 0)
        return var_index(*name, *len);
    if (expand_is_more_name(*name, *len))
        return (int)NVARS;
    errbuf_set(eb, "unknown variable $%.*s", (int)*len, *name);
    return -1;
}

static int expand_into(const char *s, const struct xvars *v,
                       struct strbuf *out, struct errbuf *eb)
{
    while (*s != '\0') {
        const char *dollar = strchr(s, '$');
        const char *name;
        size_t len, used;
        int i;

        if (dollar == NULL) {
            if (out)
                sb_puts(out, s);
            break;
        }
        if (out)
            sb_append(out, s, (size_t)(dollar - s));
        if (dollar[1] == '$') {
            if (out)
                sb_putc(out, '$');
            s = dollar + 2;
            continue;
        }
        if ((i = scan_var(dollar + 1, &name, &len, &used, eb)) < 0)
            return -1;
        if (out && v && i == (int)NVARS) {
            sb_puts(out, more_value(v, name, len));
        } else if (out && v) {
            const char *val = *(const char *const *)((const char *)v
                                                     + vars[i].off);
            sb_puts(out, val ? val : "");
        }
        s = dollar + 1 + used;
    }
    return 0;
}

/* expand_string - substitute variables; result allocated in p */
int expand_string(const char *s, const struct xvars *v, struct pool *p,
                  const char **out, struct errbuf *eb)
{
    struct strbuf sb;
    int rc;

    if (strchr(s, '$') == NULL) {
        *out = s;
        return 0;
    }
    sb_init(&sb);
    rc = expand_into(s, v, &sb, eb);
    if (rc == 0)
        *out = pool_strndup(p, sb_str(&sb), sb_len(&sb));
    sb_free(&sb);
    return rc;
}

/* expand_check - validate variable references without values */
int expand_check(const char *s, struct errbuf *eb)
{
    return expand_into(s, NULL, NULL, eb);
}
