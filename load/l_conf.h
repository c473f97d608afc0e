/*
 * l_conf.h - private to lua/: option values from Lua, shared by the DSL
 *            files.
 */
#ifndef TERN_L_CONF_H
#define TERN_L_CONF_H

#include <lua.h>

#include "core/conf/conf.h"

int l_conf_value(lua_State *L, int idx, struct conf *c,
                 const struct opt_spec *o, void *base,
                 const struct origin *org, struct errbuf *eb);

#endif
