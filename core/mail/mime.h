/*
 * mime.h - the MIME parts of a message, for the mime ACL: each part's
 *          content type, filename and raw body, nested multiparts walked
 *          depth first.
 *
 * INTERFACE: mime_parts (bounded: depth 8, 256 parts), mime_parts_free.
 * ERRORS: a malformed structure yields the parts found so far; this is a
 *         walker for policy checks, not a validator.
 * SECURITY: input is hostile; every scan is bounded by the message length
 *           and the limits above.
 */
#ifndef TERN_MIME_H
#define TERN_MIME_H

#include <stddef.h>

#define MIME_MAX_DEPTH 8
#define MIME_MAX_PARTS 256

struct mime_part {
    char content_type[128];     /* lowercased "type/subtype" */
    char filename[256];         /* from Content-Disposition or Content-Type
                                   name=, "" if none */
    const char *body;           /* raw body (not decoded) */
    size_t body_len;
    int depth;
};

struct mime_list {
    size_t n;
    struct mime_part parts[MIME_MAX_PARTS];
};

/* mime_parts - the leaf parts of msg (a message with CRLF line ends);
 * a message that is not multipart is one part */
void mime_parts(const char *msg, size_t len, struct mime_list *out);

#endif
