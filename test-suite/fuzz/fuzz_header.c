/*
 * fuzz_header.c - libFuzzer target for core/mail/header.c.
 *
 * PURPOSE:   feed hostile octets to hdr_parse and check the invariants of
 *            the result (fields in order and in bounds, names of ftext,
 *            values inside their field, the limits held), that hdr_find
 *            and hdr_count agree with a plain scan, and that a Received:
 *            field built from the same octets is one well-formed field.
 * INTERFACE: LLVMFuzzerTestOneInput.
 * ERRORS:    a broken invariant prints what broke and abort()s.
 * BUILD:     clang -std=c11 -D_GNU_SOURCE -I. -g -O1
 *            -fsanitize=fuzzer,address,undefined test-suite/fuzz/fuzz_header.c
 *            core/mail/header.c core/base/ *.c -o /tmp/fuzz_header
 *            (seeds: test-suite/fuzz/corpus/header/)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/strbuf.h"

#include "core/mail/header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* die - report a broken invariant and abort */
static void die(const char *what)
{
    fprintf(stderr, "fuzz_header: %s\n", what);
    abort();
}

/* check_value - every line end inside a value is CRLF + SP/HT */
static void check_value(const struct hdr_field *f)
{
    size_t i;

    for (i = 0; i < f->value_len; i++) {
        if (f->value[i] != '\n' && f->value[i] != '\r')
            continue;
        if (f->value[i] == '\r' && (i + 2 >= f->value_len
                                    || f->value[i + 1] != '\n'
                                    || (f->value[i + 2] != ' '
                                        && f->value[i + 2] != '\t')))
            die("value holds a line end that is not a fold");
        if (f->value[i] == '\n' && (i == 0 || f->value[i - 1] != '\r'))
            die("value holds a bare LF");
    }
}

/* check_field - one field lies inside the section and is shaped */
static void check_field(const char *msg, const struct hdr_field *f,
                        size_t section_len)
{
    size_t i;

    if (f->name != msg + f->offset || f->name_len == 0)
        die("name not at the field start");
    for (i = 0; i < f->name_len; i++)
        if ((unsigned char)f->name[i] < 33 || (unsigned char)f->name[i] > 126
            || f->name[i] == ':')
            die("bad byte in name");
    if (f->name[f->name_len] != ':' || f->value != f->name + f->name_len + 1)
        die("value not after the colon");
    if (f->len > HDR_FIELD_MAX || f->offset + f->len > section_len)
        die("field out of bounds");
    if (f->value + f->value_len > msg + f->offset + f->len)
        die("value past its field");
    check_value(f);
}

/* check_list - fields are in order, contiguous, bounded */
static void check_list(const char *msg, size_t size, const struct hdr_list *l)
{
    size_t i, at = 0;

    if (l->n > HDR_FIELDS_MAX || l->section_len > size)
        die("limits");
    for (i = 0; i < l->n; i++) {
        if (l->f[i].offset != at)
            die("fields not contiguous");
        check_field(msg, &l->f[i], l->section_len);
        at += l->f[i].len;
    }
    if (l->section_len != at && l->section_len != at + 2)
        die("section length");
}

/* check_find - hdr_find/hdr_count agree with a scan for the last name */
static void check_find(const struct hdr_list *l)
{
    char name[80];
    const struct hdr_field *f;
    size_t i, n = 0, len;

    if (l->n == 0) {
        if (hdr_find(l, "subject") != NULL || hdr_count(l, "subject") != 0)
            die("found in an empty list");
        return;
    }
    len = l->f[l->n - 1].name_len;
    if (len >= sizeof(name))
        return;
    memcpy(name, l->f[l->n - 1].name, len);
    name[len] = '\0';
    for (i = 0; i < l->n; i++)
        n += l->f[i].name_len == len
             && strncasecmp(l->f[i].name, name, len) == 0;
    f = hdr_find(l, name);
    if (hdr_count(l, name) != n || f == NULL || f->name_len != len
        || strncasecmp(f->name, name, len) != 0)
        die("hdr_find/hdr_count disagree with a scan");
    for (i = 0; &l->f[i] != f; i++)
        if (l->f[i].name_len == len
            && strncasecmp(l->f[i].name, name, len) == 0)
            die("hdr_find did not return the first match");
}

/* check_received - a Received: field built from the input is one field */
static void check_received(const uint8_t *data, size_t size)
{
    struct strbuf in, out;
    struct hdr_received r = { .by = "mx.example.com", .when = 0 };
    struct hdr_list l;
    const char *why;

    sb_init(&in);
    sb_init(&out);
    sb_append(&in, data, size);       /* NUL-terminated copy */
    r.helo = r.auth_id = r.sender = r.for_rcpt = sb_str(&in);
    r.client_ip = size % 2 ? sb_str(&in) : NULL;
    r.local_user = sb_str(&in);
    hdr_received(&out, &r);
    if (hdr_parse(sb_str(&out), sb_len(&out), &l, &why) != 0 || l.n != 1
        || l.section_len != sb_len(&out))
        die("generated Received: is not one field");
    hdr_list_free(&l);
    sb_free(&in);
    sb_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hdr_list l;
    const char *why = NULL;
    const char *msg = (const char *)data;

    if (hdr_parse(msg, size, &l, &why) == 0) {
        check_list(msg, size, &l);
        check_find(&l);
    } else if (why == NULL || l.n != 0 || l.f != NULL) {
        die("failure without a reason or with fields");
    }
    hdr_list_free(&l);
    if (size < 4096)
        check_received(data, size);
    return 0;
}
