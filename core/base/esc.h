/*
 * esc.h - the one escaping of untrusted text for logs and terminals.
 *
 * Every log line (mainlog, rejectlog, paniclog, syslog, stderr traces)
 * and the queue listing pass through esc_text, so text from a client, a
 * remote server, a DNS answer or a pipe command can neither end a line
 * (forge another) nor reach a terminal as a control sequence. Exim's
 * string_printing() form: \n \r \t \b \v \f, any other byte that is not
 * printed as \ooo (three octal digits). Not printed: C0 controls and DEL;
 * bytes that are not well-formed UTF-8 (RFC 3629); and, as the bytes of
 * their UTF-8 form, C1 controls (U+0080..U+009F), bidirectional controls
 * (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) and other
 * invisible format or line-breaking characters (U+200B, U+2028, U+2029,
 * U+2060..U+206F, U+FEFF, U+FFF9..U+FFFB, U+FFFE, U+FFFF, tags
 * U+E0000..U+E007F). Other UTF-8 is kept as it is. With ESC_BACKSLASH a
 * backslash is written "\\" too, so an escape seen in a field is never
 * ambiguous (log fields from clients use it; whole lines do not).
 *
 * INTERFACE: esc_text, esc_needed.
 */
#ifndef TERN_ESC_H
#define TERN_ESC_H

#include <stddef.h>

enum { ESC_BACKSLASH = 1 };

/* esc_text - s[0..n) escaped into out[0..size) (not NUL-terminated); the
 * bytes written. Stops before a character or escape that would not fit;
 * *used (may be NULL) says how much of s went in. */
size_t esc_text(char *out, size_t size, const char *s, size_t n,
                unsigned flags, size_t *used);
/* esc_needed - nonzero when esc_text would change s[0..n) */
int esc_needed(const char *s, size_t n, unsigned flags);

#endif
