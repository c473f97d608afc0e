/*
 * fuzz_dns_ttl.c - libFuzzer target for core/net/dns_ttl.c.
 *
 * PURPOSE:   hostile DNS replies to dns_wire_ttl, which must never read
 *            outside the buffer (ASan) and, when it finds a TTL, give one
 *            below 2^31 (RFC 2181: larger values count as 0).
 * INTERFACE: LLVMFuzzerTestOneInput.
 * ERRORS:    a TTL of 2^31 or more aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/net/dns_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *copy = malloc(size ? size : 1);   /* exact bounds */
    uint32_t ttl = 0;

    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    if (dns_wire_ttl(copy, size, &ttl) == 0 && ttl >= 0x80000000u) {
        fprintf(stderr, "dns_wire_ttl gave %u\n", ttl);
        abort();
    }
    free(copy);
    return 0;
}
