/*
 * mime.c - a bounded walker over the MIME structure of a message.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/mail/header.h"
#include "core/mail/mime.h"

/* Copy parameter name="value" (or name=value) of a field value. */
static void param(const char *v, size_t n, const char *name, char *out,
                  size_t size)
{
    size_t nl = strlen(name);

    out[0] = '\0';
    for (size_t i = 0; i + nl < n; i++) {
        if (strncasecmp(v + i, name, nl) != 0 || v[i + nl] != '='
            || (i > 0 && strchr("; \t\r\n", v[i - 1]) == NULL))
            continue;
        const char *p = v + i + nl + 1, *end = v + n;
        int quoted = p < end && *p == '"';
        p += quoted;
        size_t k = 0;
        while (p < end && k + 1 < size
               && (quoted ? *p != '"' : strchr("; \t\r\n", *p) == NULL))
            out[k++] = *p++;
        out[k] = '\0';
        return;
    }
}

static void content_type(const struct hdr_field *f, char *out, size_t size)
{
    size_t k = 0, i = 0;

    while (i < f->value_len && isspace((unsigned char)f->value[i]))
        i++;
    while (i < f->value_len && k + 1 < size && f->value[i] != ';'
           && !isspace((unsigned char)f->value[i]))
        out[k++] = (char)tolower((unsigned char)f->value[i++]);
    out[k] = '\0';
}

static const char *find_line(const char *p, const char *end, const char *b,
                             size_t bl, int *last)
{
    for (const char *q = p; q + 2 + bl <= end; ) {
        if (q[0] == '-' && q[1] == '-' && memcmp(q + 2, b, bl) == 0
            && (q == p || q[-1] == '\n')) {
            *last = q + 4 + bl <= end && q[2 + bl] == '-' && q[3 + bl] == '-';
            return q;
        }
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        if (nl == NULL)
            break;
        q = nl + 1;
    }
    return NULL;
}

static void walk(const char *msg, size_t len, int depth,
                 struct mime_list *out);

static void walk_multipart(const char *body, size_t len, const char *b,
                           int depth, struct mime_list *out)
{
    const char *end = body + len, *p = body;
    size_t bl = strlen(b);
    int last = 0;

    p = find_line(p, end, b, bl, &last);
    while (p != NULL && !last && out->n < MIME_MAX_PARTS) {
        const char *start = memchr(p, '\n', (size_t)(end - p));
        if (start == NULL)
            return;
        start++;
        const char *next = find_line(start, end, b, bl, &last);
        const char *stop = next ? next : end;
        walk(start, (size_t)(stop - start), depth + 1, out);
        p = next;
    }
}

static void walk(const char *msg, size_t len, int depth,
                 struct mime_list *out)
{
    struct hdr_list hl;
    const struct hdr_field *ct, *cd;
    const char *why;
    char boundary[200];
    struct mime_part *mp;

    if (out->n >= MIME_MAX_PARTS || hdr_parse(msg, len, &hl, &why) != 0)
        return;
    ct = hdr_find(&hl, "Content-Type");
    cd = hdr_find(&hl, "Content-Disposition");
    mp = &out->parts[out->n];
    memset(mp, 0, sizeof(*mp));
    if (ct != NULL)
        content_type(ct, mp->content_type, sizeof(mp->content_type));
    else
        snprintf(mp->content_type, sizeof(mp->content_type), "text/plain");
    if (ct != NULL && strncmp(mp->content_type, "multipart/", 10) == 0
        && depth < MIME_MAX_DEPTH) {
        param(ct->value, ct->value_len, "boundary", boundary,
              sizeof(boundary));
        if (boundary[0] != '\0') {
            size_t off = hl.section_len < len ? hl.section_len : len;
            hdr_list_free(&hl);
            walk_multipart(msg + off, len - off, boundary, depth, out);
            return;
        }
    }
    if (cd != NULL)
        param(cd->value, cd->value_len, "filename", mp->filename,
              sizeof(mp->filename));
    if (mp->filename[0] == '\0' && ct != NULL)
        param(ct->value, ct->value_len, "name", mp->filename,
              sizeof(mp->filename));
    mp->body = msg + (hl.section_len < len ? hl.section_len : len);
    mp->body_len = len - (size_t)(mp->body - msg);
    mp->depth = depth;
    out->n++;
    hdr_list_free(&hl);
}

/* mime_parts - the leaf parts of msg */
void mime_parts(const char *msg, size_t len, struct mime_list *out)
{
    out->n = 0;
    walk(msg, len, 0, out);
}
