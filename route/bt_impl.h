/*
 * bt_impl.h - private to bt.c and bt_print.c.
 */
#ifndef TERN_BT_IMPL_H
#define TERN_BT_IMPL_H

#include <stdio.h>
#include <stdlib.h>

#include "core/base/xalloc.h"
#include "route/route.h"

int bt_print_top(FILE *out, struct route_top *top);
int bt_print_verify(FILE *out, struct route_top *top);

#endif
