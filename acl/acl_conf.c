/*
 * acl_conf.c - what an ACL statement may say, and the load-time checks of
 *              each statement against its hook.
 *
 * PURPOSE: the DSL (load/l_conf.c) fills struct acl_fields through
 * acl_stmt_opts and calls acl_stmt_check, so a misspelt condition, an
 * unknown verify kind or a condition that makes no sense at that hook
 * (domains in the connect ACL) is refused with the file and line.
 * A condition written with a leading '!' is negated (acl_stmt_key); a
 * statement's acl = NAME is linked to its ACL once everything is loaded
 * (acl_conf_link), so a name defined in a later file is found and an
 * unknown one refused.
 * INTERFACE: acl_stmt_opts, acl_stmt_size, acl_verbs, acl_hooks,
 *            acl_stmt_check, acl_stmt_key, acl_conf_link (declared in
 *            core/conf/conf_build.h).
 */
#include <stddef.h>
#include <string.h>

#include "acl/acl_impl.h"
#include "core/base/strbuf.h"
#include "core/conf/conf_build.h"
#include "core/conf/mlist.h"
#include "core/mail/expand.h"
#include "core/net/spf.h"

#define F(n) offsetof(struct acl_fields, n)

const struct opt_spec acl_stmt_opts[] = {
    { "hosts", OPT_MLIST, F(hosts), NULL, ML_HOST, NULL },
    { "domains", OPT_MLIST, F(domains), NULL, ML_DOMAIN, NULL },
    { "local_parts", OPT_MLIST, F(local_parts), NULL, ML_LOCALPART, NULL },
    { "senders", OPT_MLIST, F(senders), NULL, ML_ADDRESS, NULL },
    { "recipients", OPT_MLIST, F(recipients), NULL, ML_ADDRESS, NULL },
    { "authenticated", OPT_MLIST, F(authenticated), NULL, ML_STRING, NULL },
    { "encrypted", OPT_MLIST, F(encrypted), NULL, ML_STRING, NULL },
    { "verify", OPT_STRLIST, F(verify), NULL, 0, ":" },
    { "dnslists", OPT_STRLIST, F(dnslists), NULL, 0, ":" },
    { "ratelimit", OPT_STR, F(ratelimit), NULL, 0, NULL },
    { "greylist", OPT_XVAL, F(greylist), NULL, 0, NULL },
    { "spf", OPT_STRLIST, F(spf), NULL, 0, ":" },
    { "spf_guess", OPT_STRLIST, F(spf_guess), NULL, 0, ":" },
    { "regex", OPT_STRLIST, F(regex), NULL, 0, NULL },
    { "mime_regex", OPT_STRLIST, F(mime_regex), NULL, 0, NULL },
    { "condition", OPT_XVAL, F(condition), NULL, 0, NULL },
    { "acl", OPT_STR, F(acl), NULL, 0, NULL },
    { "code", OPT_INT, F(code), "0", 0, NULL },
    { "message", OPT_XVAL, F(message), NULL, 0, NULL },
    { "log_message", OPT_XVAL, F(log_message), NULL, 0, NULL },
    { "add_header", OPT_STRLIST, F(add_header), NULL, 0, "\n" },
    { "remove_header", OPT_STRLIST, F(remove_header), NULL, 0, ":" },
    { "set", OPT_STRLIST, F(set), NULL, 0, "\n" },
    { "delay", OPT_TIME, F(delay), "0", 0, NULL },
    { "control", OPT_STRLIST, F(control), NULL, 0, ":" },
    OPT_END
};

const size_t acl_stmt_size = sizeof(struct acl_fields);

const char *const acl_verbs[] = {
    "accept", "deny", "defer", "discard", "drop", "require", "warn", NULL
};

const char *const acl_hooks[] = {
    "connect", "helo", "mail", "rcpt", "predata", "data", "mime", "quit",
    "notquit", "not_smtp", NULL
};

/* The conditions by id (acl.h); what is not here is a modifier. */
static const char *const cond_names[ACL_CID_COUNT] = {
    [ACL_CID_HOSTS] = "hosts", [ACL_CID_DOMAINS] = "domains",
    [ACL_CID_LOCAL_PARTS] = "local_parts", [ACL_CID_SENDERS] = "senders",
    [ACL_CID_RECIPIENTS] = "recipients",
    [ACL_CID_AUTHENTICATED] = "authenticated",
    [ACL_CID_ENCRYPTED] = "encrypted", [ACL_CID_REGEX] = "regex",
    [ACL_CID_MIME_REGEX] = "mime_regex", [ACL_CID_VERIFY] = "verify",
    [ACL_CID_ACL] = "acl", [ACL_CID_DNSLISTS] = "dnslists",
    [ACL_CID_SPF] = "spf", [ACL_CID_SPF_GUESS] = "spf_guess",
    [ACL_CID_CONDITION] = "condition",
    [ACL_CID_RATELIMIT] = "ratelimit", [ACL_CID_GREYLIST] = "greylist",
};

/* acl_stmt_key - the DSL set option name of a statement, written with a
 * leading '!' when negated: record it; a '!' on a modifier, or the same
 * condition both plain and negated, is refused */
int acl_stmt_key(void *fields, const char *name, int negated,
                 struct errbuf *eb)
{
    struct acl_fields *f = fields;

    for (int id = 0; id < ACL_CID_COUNT; id++) {
        if (strcmp(cond_names[id], name) != 0)
            continue;
        if (f->given & (1u << id)) {
            errbuf_set(eb, "%s and !%s in one statement: write two "
                       "statements", name, name);
            return -1;
        }
        f->given |= 1u << id;
        f->negated |= negated ? 1u << id : 0;
        return 0;
    }
    if (negated) {
        errbuf_set(eb, "\"!%s\": %s is a modifier; only a condition can "
                   "be negated", name, name);
        return -1;
    }
    return 0;
}

static int in_words(const char *const *words, const char *w, size_t n)
{
    for (; *words != NULL; words++)
        if (strlen(*words) == n && strncmp(*words, w, n) == 0)
            return 1;
    return 0;
}

static int in_hooks(const char *hook, const char *const *hooks)
{
    return in_words(hooks, hook, strlen(hook));
}

static int check_words(const struct strlist *sl, const char *const *words,
                       const char *what, struct errbuf *eb)
{
    for (size_t i = 0; i < sl->n; i++) {
        size_t n = strcspn(sl->v[i], "/=");
        if (!in_words(words, sl->v[i], n)) {
            errbuf_set(eb, "unknown %s \"%s\"", what, sl->v[i]);
            return -1;
        }
    }
    return 0;
}

static int check_set(const struct strlist *sl, struct errbuf *eb)
{
    for (size_t i = 0; i < sl->n; i++) {
        const char *v = sl->v[i], *eq = strchr(v, '=');
        size_t n = eq ? (size_t)(eq - v) : 0;
        while (n > 0 && v[n - 1] == ' ')
            n--;
        if (eq == NULL || strncmp(v, "acl_", 4) != 0
            || !expand_is_more_name(v, n)) {
            errbuf_set(eb, "set takes acl_m_NAME or acl_c_NAME = value, got "
                       "\"%s\"", v);
            return -1;
        }
        if (expand_check(eq + 1, eb) != 0)
            return -1;
    }
    return 0;
}

/* add_header texts may use $variables: unknown names fail now */
static int check_expands(const struct strlist *sl, const char *what,
                         struct errbuf *eb)
{
    for (size_t i = 0; i < sl->n; i++)
        if (expand_check(sl->v[i], eb) != 0) {
            errbuf_prefix(eb, "%s: ", what);
            return -1;
        }
    return 0;
}

static int has_word(const struct strlist *sl, const char *w)
{
    for (size_t i = 0; i < sl->n; i++)
        if (strcmp(sl->v[i], w) == 0)
            return 1;
    return 0;
}

/* acl_name_ok - a named ACL's name: letters, digits, '_', '-', '.' */
int acl_name_ok(const char *name)
{
    size_t n = strlen(name);

    return n > 0 && n < 64 && strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                     "_-.") == n;
}

static const char *const rcpt_on[] = { "rcpt", NULL };
static const char *const data_on[] = { "data", "mime", "not_smtp", NULL };
static const char *const mime_on[] = { "mime", NULL };
static const char *const after_rcpt[] = { "predata", "data", "mime",
                                          "not_smtp", "quit", "notquit",
                                          NULL };

/* A named ACL (acl "name", called by acl = name) may be called from any
 * hook: its conditions are checked where they run. */
static int placed(const char *hook, int used, const char *const *hooks,
                  const char *what, struct errbuf *eb)
{
    if (!used || in_hooks(hook, hooks) || !in_hooks(hook, acl_hooks))
        return 0;
    errbuf_set(eb, "%s cannot be used in the %s ACL", what, hook);
    return -1;
}

/* Conditions that make sense at some hooks only. */
static int check_places(const char *hook, const struct acl_fields *f,
                        struct errbuf *eb)
{
    return placed(hook, f->domains != NULL, rcpt_on, "domains", eb) != 0
        || placed(hook, f->local_parts != NULL, rcpt_on, "local_parts", eb)
           != 0
        || placed(hook, f->recipients != NULL, after_rcpt, "recipients", eb)
           != 0
        || placed(hook, f->regex.n > 0, data_on, "regex", eb) != 0
        || placed(hook, f->mime_regex.n > 0, mime_on, "mime_regex", eb) != 0
        || placed(hook, has_word(&f->verify, "header_sender")
                  || has_word(&f->verify, "header_names_ascii"), data_on,
                  "verify = header_sender/header_names_ascii", eb) != 0
        ? -1 : 0;
}

/* A code option, or a refusal's message that is a constant (no
 * $variables, not a function) and starts with a code, must fit the verb:
 * checked now, so a refusal can never go out as "250" (computed ones:
 * acl_run.c). accept and discard send tern's own 250: only their code
 * option is checked. */
static int check_code(const char *verb, const struct acl_fields *f,
                      struct errbuf *eb)
{
    static const struct { const char *verb; enum acl_verdict v; } map[] = {
        { "accept", ACL_ACCEPT }, { "deny", ACL_DENY }, { "defer", ACL_DEFER },
        { "discard", ACL_DISCARD }, { "drop", ACL_DROP },
        { "require", ACL_DENY } };
    const char *msg = f->message.fn < 0 ? f->message.str : NULL;
    char why[160], status[16];
    int code = 0;

    if (strcmp(verb, "warn") == 0) {
        if (f->code != 0)
            errbuf_set(eb, "code makes no sense with warn (it sends no "
                       "reply)");
        return f->code != 0 ? -1 : 0;
    }
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].verb, verb) != 0)
            continue;
        int refusal = map[i].v != ACL_ACCEPT && map[i].v != ACL_DISCARD;
        if (f->code != 0
            && acl_code_check(map[i].v, f->code < 0 || f->code > 99999 ? -1
                              : (int)f->code, NULL, why, sizeof(why)) != 0)
            return errbuf_set(eb, "code: %s", why), -1;
        if (refusal && msg != NULL && strchr(msg, '$') == NULL
            && acl_code_prefix(msg, &code, status) > 0
            && acl_code_check(map[i].v, code, status, why, sizeof(why)) != 0)
            return errbuf_set(eb, "message \"%.40s\": %s", msg, why), -1;
    }
    return 0;
}

/* ratelimit: parsed now for this hook (acl_ratelimit.c), its $variables
 * known */
static int check_ratelimit(struct conf *c, const char *hook,
                           const char *value, struct errbuf *eb)
{
    struct rl_spec s;

    if (value == NULL)
        return 0;
    if (expand_check(value, eb) != 0) {
        errbuf_prefix(eb, "ratelimit: ");
        return -1;
    }
    return acl_ratelimit_parse(c->pool, value, hook, 1, &s, eb);
}

/* spf = pass : fail : ...: known results, where a sender is known;
 * spf_guess also needs a valid spf_guess record */
static int check_spf(struct conf *c, const char *hook, const char *name,
                     const struct strlist *sl, struct errbuf *eb)
{
    static const char *const on[] = { "mail", "rcpt", "predata", "data",
                                      "mime", NULL };

    for (size_t i = 0; i < sl->n; i++)
        if (spf_result_parse(sl->v[i] + (sl->v[i][0] == '!'),
                             strlen(sl->v[i] + (sl->v[i][0] == '!'))) < 0) {
            errbuf_set(eb, "%s: unknown result \"%s\" (pass, fail, "
                       "softfail, neutral, none, temperror, permerror)",
                       name, sl->v[i]);
            return -1;
        }
    if (sl->n > 0 && name[3] == '_' && spf_check_record(c->main.spf_guess,
                                                        eb) != 0) {
        errbuf_prefix(eb, "main option spf_guess: ");
        return -1;
    }
    if (sl->n > 0 && c->main.spf_smtp_comment_template != NULL
        && spf_check_explanation(c->main.spf_smtp_comment_template,
                                 eb) != 0) {
        errbuf_prefix(eb, "main option spf_smtp_comment_template: ");
        return -1;
    }
    return placed(hook, sl->n > 0, on, name, eb);
}

/* Compile a statement's regexes once, at load time. */
static int compile_all(struct conf *c, const struct strlist *sl,
                       regex_t ***out, struct errbuf *eb)
{
    *out = pool_zalloc(c->pool, (sl->n + 1) * sizeof(regex_t *));
    for (size_t i = 0; i < sl->n; i++)
        if (((*out)[i] = mlist_regcomp(c->pool, sl->v[i], REG_NEWLINE, eb))
            == NULL)
            return -1;
    return 0;
}

/* acl_stmt_check - validate one statement for its hook */
int acl_stmt_check(struct conf *c, const char *hook, const char *verb,
                   void *fields, struct errbuf *eb)
{
    static const char *const verify_kinds[] = {
        "recipient", "sender", "helo", "header_syntax",
        "reverse_host_lookup", "header_sender", "header_names_ascii",
        NULL };
    static const char *const controls[] = {
        "submission", "queue_only", "freeze", "no_pipelining",
        "no_enforce_sync", "enforce_sync", "suppress_local_fixups",
        "fakedefer", "fakereject", "allow_auth_unadvertised", NULL };
    struct acl_fields *f = fields;

    if (compile_all(c, &f->regex, &f->regex_re, eb) != 0
        || compile_all(c, &f->mime_regex, &f->mime_regex_re, eb) != 0
        || check_code(verb, f, eb) != 0)
        return -1;
    if (check_words(&f->verify, verify_kinds, "verify kind", eb) != 0
        || check_words(&f->control, controls, "control", eb) != 0
        || check_set(&f->set, eb) != 0
        || check_expands(&f->add_header, "add_header", eb) != 0
        || check_places(hook, f, eb) != 0
        || acl_dnslists_prepare(c, f, eb) != 0)
        return -1;
    if (f->acl != NULL && !acl_name_ok(f->acl)) {
        errbuf_set(eb, "acl = \"%s\": not an ACL name", f->acl);
        return -1;
    }
    if (check_ratelimit(c, hook, f->ratelimit, eb) != 0
        || check_spf(c, hook, "spf", &f->spf, eb) != 0
        || check_spf(c, hook, "spf_guess", &f->spf_guess, eb) != 0)
        return -1;
    if (xval_set(&f->greylist)
        && (placed(hook, 1, rcpt_on, "greylist", eb) != 0
            || acl_greylist_check(c, &f->greylist, &f->greylist_opts, eb)
               != 0))
        return -1;
    if (strcmp(verb, "drop") == 0 && strcmp(hook, "not_smtp") == 0) {
        errbuf_set(eb, "drop makes no sense in the not_smtp ACL");
        return -1;
    }
    return 0;
}

static int link_stmt(struct conf *c, const struct acl_def *a, size_t i,
                     struct errbuf *eb)
{
    struct acl_fields *f = a->stmts[i].fields;
    const struct origin *o = &a->stmts[i].origin;

    if (f->acl == NULL)
        return 0;
    f->acl_def = conf_find_acl(c, f->acl);
    if (f->acl_def != NULL)
        return 0;
    errbuf_set(eb, "%s:%d: acl \"%s\": statement %zu: acl = \"%s\": no "
               "ACL of that name is defined", o->file, o->line, a->hook,
               i + 1, f->acl);
    return -1;
}

static int is_called(const struct conf *c, const char *name)
{
    for (size_t k = 0; k < c->nacls; k++)
        for (size_t i = 0; i < c->acls[k]->n; i++) {
            const struct acl_fields *f = c->acls[k]->stmts[i].fields;
            if (f->acl != NULL && strcmp(f->acl, name) == 0)
                return 1;
        }
    return 0;
}

/* acl_conf_link - after loading: every acl = NAME finds its ACL, and
 * every ACL that is not a hook is called by some acl = NAME (else its
 * name is most likely a misspelt hook) */
int acl_conf_link(struct conf *c, struct errbuf *eb)
{
    for (size_t k = 0; k < c->nacls; k++) {
        const struct acl_def *a = c->acls[k];
        for (size_t i = 0; i < a->n; i++)
            if (link_stmt(c, a, i, eb) != 0)
                return -1;
    }
    for (size_t k = 0; k < c->nacls; k++) {
        const struct acl_def *a = c->acls[k];
        if (in_hooks(a->hook, acl_hooks) || is_called(c, a->hook))
            continue;
        char hooks[200] = "";
        for (size_t h = 0; acl_hooks[h] != NULL; h++)
            bsnprintf(hooks + strlen(hooks), sizeof(hooks) - strlen(hooks),
                      "%s%s", h ? ", " : "", acl_hooks[h]);
        errbuf_set(eb, "%s:%d: acl \"%s\": unknown ACL hook (%s), and no "
                   "acl = \"%s\" calls it", a->origin.file, a->origin.line,
                   a->hook, hooks, a->hook);
        return -1;
    }
    return 0;
}
