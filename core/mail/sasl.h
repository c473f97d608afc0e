/*
 * sasl.h - server side of SMTP AUTH PLAIN and LOGIN (RFC 4954, RFC 4616)
 *          as non-blocking step functions.
 *
 * The session owns a struct sasl_state (embedded, no allocation) and feeds
 * it the AUTH command's arguments, then each client line, until the result
 * is SASL_DONE or SASL_ERROR:
 *
 *   r = sasl_start(&st, "PLAIN", ir, irlen);     ir NULL: none was given
 *   while (r == SASL_CONTINUE) {
 *       send "334 " st.challenge;  read a line (CRLF stripped);
 *       r = sasl_step(&st, line, len);
 *   }
 *   SASL_ERROR: send st.reply;   SASL_DONE: check st.authcid/st.password
 *   (smtpd/sasl_passwd.h), then sasl_state_clear(&st) (wipes them).
 *
 * Replies on SASL_ERROR (st.reply, one line without CRLF):
 *   501 5.5.2  invalid base64, malformed PLAIN message, NUL in a LOGIN
 *              field, empty user name or password
 *   500 5.5.6  a client line over SASL_LINE_MAX characters (RFC 4954)
 *   501 5.0.0  the client sent "*" (cancelled)
 *   504 5.5.4  unknown mechanism
 *   535 5.7.8  authzid differs from authcid, or a field over SASL_FIELD_MAX
 *   503 5.5.1  sasl_step with no exchange in progress (a caller bug)
 *
 * INTERFACE: sasl_start, sasl_step, sasl_state_clear, sasl_mechanisms,
 *            sasl_b64_decode, sasl_b64_encode, sasl_failure_delay_ms.
 */
#ifndef TERN_SASL_H
#define TERN_SASL_H

#include <stddef.h>
#include <sys/types.h>


#define SASL_FIELD_MAX 255      /* bytes of authzid, authcid or password */
#define SASL_LINE_MAX 1024      /* base64 characters in one client line:
                                   fits 3 * 255 + 2 decoded PLAIN bytes */

enum sasl_result { SASL_CONTINUE, SASL_DONE, SASL_ERROR };

/* Fields are outputs: read them, never write them. The three credential
 * buffers are NUL-terminated and hold no other NUL. An empty authzid means
 * "the same as authcid". challenge and reply point to static strings. */
struct sasl_state {
    int mech;                   /* private: the mechanism, 0 when idle */
    int step;                   /* private: what the next line answers */
    const char *challenge;      /* SASL_CONTINUE: base64 after "334 " */
    const char *reply;          /* SASL_ERROR: the SMTP reply */
    char authzid[SASL_FIELD_MAX + 1];
    char authcid[SASL_FIELD_MAX + 1];
    char password[SASL_FIELD_MAX + 1];
};

/* sasl_start - begin AUTH mech [ir]; ir is the initial response as sent
 * (base64, or "=" for an empty one), NULL when the command had none */
enum sasl_result sasl_start(struct sasl_state *st, const char *mech,
                            const char *ir, size_t irlen);
/* sasl_step - feed one client line (CRLF stripped) to a SASL_CONTINUE */
enum sasl_result sasl_step(struct sasl_state *st, const char *line,
                           size_t len);
/* sasl_state_clear - wipe the credentials and return to idle */
void sasl_state_clear(struct sasl_state *st);
/* sasl_mechanisms - the EHLO keyword value: "PLAIN LOGIN" */
const char *sasl_mechanisms(void);

/* sasl_b64_decode - strict RFC 4648 base64 (no blanks, canonical padding
 * and pad bits); returns the decoded length, or -1 for invalid input or an
 * out too small. out is not NUL-terminated. */
ssize_t sasl_b64_decode(const char *in, size_t inlen, unsigned char *out,
                        size_t outsize);
/* sasl_b64_encode - encode with padding and a NUL; returns the text
 * length, or -1 if out (needs 4 * ceil(n / 3) + 1) is too small */
ssize_t sasl_b64_encode(const void *in, size_t inlen, char *out,
                        size_t outsize);

/* sasl_failure_delay_ms - how long to wait before answering the failed
 * attempt number failures (1 = first) of a session: 0, then 1 s doubling
 * per failure up to 16 s (0, 1000, 2000, 4000, 8000, 16000, 16000, ...) */
int sasl_failure_delay_ms(int failures);

#endif
