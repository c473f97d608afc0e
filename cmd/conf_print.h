/*
 * conf_print.h - -bV and -bP: what the loaded configuration says.
 *
 * INTERFACE: conf_print_version (-bV), conf_print (-bP [-n] ARGS).
 * ERRORS: conf_print returns 1 after "tern: ..." on stderr for an unknown
 *         option, router, transport or list name; 0 otherwise.
 */
#ifndef TERN_CONF_PRINT_H
#define TERN_CONF_PRINT_H

#include <stdio.h>

struct conf;

void conf_print_version(const struct conf *c, FILE *out);
/* conf_print - -bP ARGS; terse (-n): with no ARGS only the main options
 * changed from their defaults, else values without names. c is not
 * const: -n builds the defaults in its pool. */
int conf_print(struct conf *c, char **args, int nargs, int terse,
               FILE *out);

#endif
