/*
 * conf_keyline.h - the line each key of a main { ... } table is on, read
 *                  from the file's text (Lua knows only the call's line).
 *
 * INTERFACE: keylines_scan, keylines_get, keylines_free.
 * ERRORS: none; an unreadable file or table yields no keys.
 */
#ifndef TERN_CONF_KEYLINE_H
#define TERN_CONF_KEYLINE_H

#include <stddef.h>

struct keyline {
    char *key;
    int line;
};

struct keylines {
    struct keyline *v;
    size_t n;
};

/* keylines_scan - the top-level keys of the first table constructor at
 * or after line `line` of file `path`, each with its line */
void keylines_scan(const char *path, int line, struct keylines *kl);
/* keylines_get - key's line, 0 if the scan did not see it */
int keylines_get(const struct keylines *kl, const char *key);
/* keylines_free - release the scan (kl is left empty) */
void keylines_free(struct keylines *kl);

#endif
