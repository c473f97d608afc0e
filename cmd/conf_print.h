/*
 * conf_print.h - -bV and -bP: what the loaded configuration says.
 *
 * INTERFACE: conf_print_version (-bV), conf_print (-bP ARGS).
 * ERRORS: conf_print returns 1 after "tern: ..." on stderr for an unknown
 *         option, router, transport or list name; 0 otherwise.
 */
#ifndef TERN_CONF_PRINT_H
#define TERN_CONF_PRINT_H

#include <stdio.h>

struct conf;

void conf_print_version(const struct conf *c, FILE *out);
int conf_print(const struct conf *c, char **args, int nargs, FILE *out);

#endif
