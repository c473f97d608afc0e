/*
 * registry.c - the transport drivers tern knows, by name, and the generic
 *              transport options.
 */
#include <stddef.h>
#include <string.h>

#include "core/base/strbuf.h"
#include "transports/transport.h"

const struct transport_driver *const transport_drivers[] = {
    &tp_smtp, &tp_maildir, &tp_mbox, &tp_pipe, &tp_lmtp, NULL
};

#define G(n) offsetof(struct transport, n)

static const struct opt_spec generic_opts[] = {
    { "headers_add", OPT_STRLIST, G(headers_add), NULL, 0, "\n" },
    { "headers_remove", OPT_STRLIST, G(headers_remove), NULL, 0, ":" },
    { "return_path", OPT_STR, G(return_path), NULL, 0, NULL },
    { "return_path_add", OPT_BOOL, G(return_path_add), "false", 0, NULL },
    { "envelope_to_add", OPT_BOOL, G(envelope_to_add), "false", 0, NULL },
    { "delivery_date_add", OPT_BOOL, G(delivery_date_add), "false", 0, NULL },
    { "user", OPT_STR, G(user), NULL, 0, NULL },
    { "group", OPT_STR, G(group), NULL, 0, NULL },
    OPT_END
};

/* transport_generic_opts - options every transport takes */
const struct opt_spec *transport_generic_opts(void)
{
    return generic_opts;
}

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
