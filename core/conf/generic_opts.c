/*
 * generic_opts.c - the generic router options of DESIGN §5 and the generic
 *                  transport options (every driver of the kind takes them),
 *                  as option tables over struct router / struct transport.
 *
 * They belong to the configuration model, not to the drivers: the loader,
 * the defaults and -bP read them without knowing any driver.
 * INTERFACE: router_generic_opts, transport_generic_opts (driver.h).
 */
#include <stddef.h>

#include "core/conf/driver.h"

#define G(n) offsetof(struct router, n)

static const struct opt_spec router_opts[] = {
    { "domains", OPT_MLIST, G(domains), NULL, ML_DOMAIN, NULL },
    { "local_parts", OPT_MLIST, G(local_parts), NULL, ML_LOCALPART, NULL },
    { "senders", OPT_MLIST, G(senders), NULL, ML_ADDRESS, NULL },
    { "condition", OPT_XVAL, G(condition), NULL, 0, NULL },
    { "check_local_user", OPT_BOOL, G(check_local_user), "false", 0, NULL },
    { "local_part_prefix", OPT_STRLIST, G(local_part_prefix), NULL, 0, ":" },
    { "local_part_prefix_optional", OPT_BOOL,
      G(local_part_prefix_optional), "false", 0, NULL },
    { "local_part_suffix", OPT_STRLIST, G(local_part_suffix), NULL, 0, ":" },
    { "local_part_suffix_optional", OPT_BOOL,
      G(local_part_suffix_optional), "false", 0, NULL },
    { "caseful_local_part", OPT_BOOL, G(caseful_local_part), "false", 0,
      NULL },
    { "no_more", OPT_BOOL, G(no_more), "false", 0, NULL },
    { "unseen", OPT_BOOL, G(unseen), "false", 0, NULL },
    { "verify_only", OPT_BOOL, G(verify_only), "false", 0, NULL },
    { "verify", OPT_BOOL, G(verify), "true", 0, NULL },
    { "allow_special_local_parts", OPT_BOOL, G(allow_special_local_parts),
      "false", 0, NULL },
    { "address_data", OPT_XVAL, G(address_data), NULL, 0, NULL },
    { "errors_to", OPT_XVAL, G(errors_to), NULL, 0, NULL },
    { "headers_add", OPT_STRLIST, G(headers_add), NULL, 0, "\n" },
    { "headers_remove", OPT_STRLIST, G(headers_remove), NULL, 0, ":" },
    { "transport", OPT_STR, G(transport_name), NULL, 0, NULL },
    { "self", OPT_ENUM, G(self), "freeze", 0,
      "freeze|defer|fail|pass|send|reroute:" },
    OPT_END
};

/* router_generic_opts - the table */
const struct opt_spec *router_generic_opts(void)
{
    return router_opts;
}

#define T(n) offsetof(struct transport, n)

static const struct opt_spec transport_opts[] = {
    { "headers_add", OPT_STRLIST, T(headers_add), NULL, 0, "\n" },
    { "headers_remove", OPT_STRLIST, T(headers_remove), NULL, 0, ":" },
    { "return_path", OPT_STR, T(return_path), NULL, 0, NULL },
    { "return_path_add", OPT_BOOL, T(return_path_add), "false", 0, NULL },
    { "envelope_to_add", OPT_BOOL, T(envelope_to_add), "false", 0, NULL },
    { "delivery_date_add", OPT_BOOL, T(delivery_date_add), "false", 0, NULL },
    { "user", OPT_STR, T(user), NULL, 0, NULL },
    { "group", OPT_STR, T(group), NULL, 0, NULL },
    OPT_END
};

/* transport_generic_opts - options every transport takes */
const struct opt_spec *transport_generic_opts(void)
{
    return transport_opts;
}
