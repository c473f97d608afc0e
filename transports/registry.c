/*
 * registry.c - the transport drivers tern knows, by name (the generic
 *              transport options are core/conf/generic_opts.c).
 */
#include <stddef.h>
#include <string.h>

#include "core/base/strbuf.h"
#include "transports/transport.h"

const struct transport_driver *const transport_drivers[] = {
    &tp_smtp, &tp_maildir, &tp_mbox, &tp_pipe, &tp_lmtp, NULL
};

/* transport_driver_find - the driver called name, or NULL */
const struct transport_driver *transport_driver_find(const char *name)
{
    for (size_t i = 0; transport_drivers[i] != NULL; i++)
        if (strcmp(transport_drivers[i]->name, name) == 0)
            return transport_drivers[i];
    return NULL;
}

/* transport_driver_names - "smtp, maildir, ..." */
void transport_driver_names(struct strbuf *out)
{
    for (size_t i = 0; transport_drivers[i] != NULL; i++)
        sb_printf(out, "%s%s", i ? ", " : "", transport_drivers[i]->name);
}
