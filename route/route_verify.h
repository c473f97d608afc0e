/*
 * route_verify.h - verify one address by running the router chain in
 *                  verify mode on an event loop (verify = recipient and
 *                  sender in ACLs, VRFY).
 *
 * INTERFACE: route_verify_start, route_verify_cancel.
 * ERRORS: the result is RV_OK / RV_FAILED / RV_DEFERRED with the routing
 *         message; cb is always called from the loop, never inside
 *         route_verify_start.
 */
#ifndef TERN_ROUTE_VERIFY_H
#define TERN_ROUTE_VERIFY_H

struct conf;
struct ev;
struct dns_ctx;

enum verify_result { VERIFY_OK, VERIFY_FAILED, VERIFY_DEFERRED };

typedef void (*route_verify_cb)(enum verify_result r, const char *msg,
                                void *arg);

struct route_verify;

struct route_verify *route_verify_start(struct conf *c, struct ev *ev,
                                        struct dns_ctx *dns,
                                        const char *sender,
                                        const char *client_ip,
                                        const char *address,
                                        route_verify_cb cb, void *arg);
/* route_verify_cancel - never call back (NULL ok) */
void route_verify_cancel(struct route_verify *v);

#endif
