/*
 * fuzz_dnsbl.c - libFuzzer target for the dnslists item parser
 * (core/net/dnsbl.c): the input up to a NUL is the item; what follows is
 * a key for the query name, then newline-separated "answer" records run
 * through the value test.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/errbuf.h"
#include "core/net/dnsbl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void try_answers(const struct dnsbl_item *it, char *rest)
{
    const char *recs[8];
    size_t n = 0, ign;
    char *save = NULL;

    for (char *r = strtok_r(rest, "\n", &save); r != NULL && n < 8;
         r = strtok_r(NULL, "\n", &save))
        recs[n++] = r;
    int l = dnsbl_listed(it, recs, n, &ign);
    if ((l != 0 && l != 1) || ign > n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dnsbl_item it;
    struct errbuf eb;
    char *text, *key, name[300];

    if (size > 4096)
        return 0;
    text = malloc(size + 2);
    memcpy(text, data, size);
    text[size] = text[size + 1] = '\0';
    key = text + strlen(text) + 1;
    eb.msg[0] = '\0';
    (void)dnsbl_option(text);
    if (dnsbl_parse(text, &it, &eb) == 0) {
        if (it.zone[0] == '\0' || strlen(it.zone) > 253
            || it.nvals > DNSBL_MAXVALS)
            abort();
        if (key <= text + size
            && dnsbl_query_name(key, it.zone, name, sizeof(name)) == 0
            && strlen(name) > 253)
            abort();
        if (key <= text + size)
            try_answers(&it, key + strlen(key) + (key + strlen(key) <
                                                  text + size));
    } else if (eb.msg[0] == '\0') {
        abort();
    }
    free(text);
    return 0;
}
