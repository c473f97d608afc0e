/*
 * l_conf.h - the conf.d DSL: installing it into a generation's Lua state
 *            (the loader), option values from Lua (shared by DSL files).
 */
#ifndef TERN_L_CONF_H
#define TERN_L_CONF_H

#include <lua.h>

#include "core/conf/conf.h"

struct lstate;

/* l_conf_install - add main{}, router, transport, acl, retry, the list
 * definitions and the tern table to the sandbox environment of ls */
void l_conf_install(struct lstate *ls);

int l_conf_value(lua_State *L, int idx, struct conf *c,
                 const struct opt_spec *o, void *base,
                 const struct origin *org, struct errbuf *eb);

#endif
