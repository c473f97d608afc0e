/*
 * registry.c - the router drivers tern knows, by name.
 *
 * PURPOSE: the only place that names every router driver; core finds
 * drivers through router_driver_find() and never names one itself.
 */
#include <string.h>

#include "core/base/strbuf.h"
#include "routers/router.h"

const struct router_driver *const router_drivers[] = {
    &rt_dnslookup, &rt_manualroute, &rt_redirect, &rt_local_user,
    &rt_catch_all, &rt_lua, NULL
};

/* router_driver_find - the driver called name, or NULL */
const struct router_driver *router_driver_find(const char *name)
{
    for (size_t i = 0; router_drivers[i] != NULL; i++)
        if (strcmp(router_drivers[i]->name, name) == 0)
            return router_drivers[i];
    return NULL;
}

/* router_driver_names - "dnslookup, manualroute, ..." */
void router_driver_names(struct strbuf *out)
{
    for (size_t i = 0; router_drivers[i] != NULL; i++)
        sb_printf(out, "%s%s", i ? ", " : "", router_drivers[i]->name);
}
