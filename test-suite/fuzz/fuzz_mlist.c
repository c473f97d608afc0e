/*
 * fuzz_mlist.c - libFuzzer target for the match-list parser and matcher:
 * the first byte picks the list kind, the rest up to a NUL is the list
 * text, what follows is the subject matched against it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/pool.h"
#include "core/conf/mlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pool *p;
    struct errbuf eb;
    struct mlist *l;
    char *text, *subject;
    const char *nul;

    if (size < 1 || size > 4096)
        return 0;
    p = pool_new();
    text = pool_strndup(p, (const char *)data + 1, size - 1);
    nul = memchr(data + 1, '\0', size - 1);
    subject = nul ? pool_strndup(p, nul + 1, size - 1 - (size_t)(nul -
                                 (const char *)data)) : "example.com";
    l = mlist_parse_text(p, (enum mlist_kind)(data[0] % 5), text, &eb);
    if (l != NULL) {
        struct match_ctx mc = { .eb = &eb, .caseful = data[0] & 8 };
        enum match_result r = mlist_match(l, subject, &mc);
        if (r != MATCH_YES && r != MATCH_NO && r != MATCH_DEFER)
            abort();
    } else if (eb.msg[0] == '\0') {
        abort();
    }
    pool_free(p);
    return 0;
}
