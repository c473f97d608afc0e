/*
 * conf_build.h - how the DSL (load/l_conf.c) adds definitions to a
 *                configuration being loaded. Not for use after loading.
 *
 * INTERFACE: conf_track_mlist (link +names when loading ends),
 *            conf_main_note (origin of a main option), conf_add_list,
 *            conf_new_router/conf_add_router, conf_new_transport/
 *            conf_add_transport, conf_add_acl, conf_add_retry,
 *            retry_parse_rules, acl_stmt_opts (defined in acl/).
 * ERRORS: -1 with eb: duplicate name without override = true, override of
 *         a name that does not exist, bad retry rule.
 */
#ifndef TERN_CONF_BUILD_H
#define TERN_CONF_BUILD_H

#include "core/conf/conf.h"
#include "core/conf/driver.h"

void conf_track_mlist(struct conf *c, struct mlist *l,
                      const struct origin *org);
void conf_main_note(struct conf *c, const struct opt_spec *o,
                    const struct origin *org);
int conf_add_list(struct conf *c, const char *name, enum mlist_kind kind,
                  struct mlist *l, const struct origin *org, int override,
                  int disabled, struct errbuf *eb);
struct router *conf_new_router(struct conf *c, const char *name,
                               const struct router_driver *drv,
                               const struct origin *org, struct errbuf *eb);
int conf_add_router(struct conf *c, struct router *r, int override,
                    int disabled, struct errbuf *eb);
struct transport *conf_new_transport(struct conf *c, const char *name,
                                     const struct transport_driver *drv,
                                     const struct origin *org,
                                     struct errbuf *eb);
int conf_add_transport(struct conf *c, struct transport *t, int override,
                       int disabled, struct errbuf *eb);
int conf_add_acl(struct conf *c, struct acl_def *a, int override,
                 struct errbuf *eb);
void conf_add_retry(struct conf *c, const struct retry_def *r);
int retry_parse_rules(struct conf *c, const char *text, struct retry_def *r,
                      struct errbuf *eb);

/* ACL statements: verbs and the conditions/modifiers they take (acl/) */
extern const struct opt_spec acl_stmt_opts[];
extern const size_t acl_stmt_size;
extern const char *const acl_verbs[];
extern const char *const acl_hooks[];
int acl_stmt_check(struct conf *c, const char *hook, const char *verb,
                   void *fields, struct errbuf *eb);
/* a statement's option name as written: negated = it had a leading '!' */
int acl_stmt_key(void *fields, const char *name, int negated,
                 struct errbuf *eb);
/* after loading: link acl = NAME conditions to their ACLs */
int acl_conf_link(struct conf *c, struct errbuf *eb);
/* a name acl "NAME" may define besides the hooks */
int acl_name_ok(const char *name);

#endif
