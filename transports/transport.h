/*
 * transport.h - the contract of transport drivers.
 *
 * A driver is a const struct transport_driver (core/conf/driver.h): name,
 * private option table and block size, whether it delivers locally (it
 * then runs in a child process under the recipient's uid when tern is
 * root, and -bt lists its deliveries before remote ones), and check() at
 * load time. Add one by writing transports/NAME.c and one line in
 * transports/registry.c.
 *
 * Delivery itself - deliver(transport, request, per-recipient results with
 * a DSN status whose class digit decides defer or bounce) - is added to
 * this contract with the scheduler; until then transports are defined and
 * checked so configurations are validated in full.
 */
#ifndef TERN_TRANSPORT_H
#define TERN_TRANSPORT_H

#include "core/conf/driver.h"

extern const struct transport_driver tp_smtp;
extern const struct transport_driver tp_maildir;
extern const struct transport_driver tp_mbox;
extern const struct transport_driver tp_pipe;
extern const struct transport_driver tp_lmtp;

#endif
