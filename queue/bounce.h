/*
 * bounce.h - delivery status notifications (RFC 3464): the bounce sent
 *            to the envelope sender for failed recipients, and the delay
 *            warning for recipients still deferred after delay_warning.
 *
 * The text built is a complete message (header section + body, CRLF
 * line ends), ready to spool with the null sender <> and the original
 * sender (or errors_to) as its only recipient:
 *   From: Mail Delivery System <Mailer-Daemon@PRIMARY>
 *   To: SENDER
 *   Subject: Mail delivery failed: returning message to sender
 *            (warning: "Warning: message ID delayed 24 hours")
 *   Auto-Submitted: auto-replied, Message-ID, Date, MIME-Version,
 *   Content-Type: multipart/report; report-type=delivery-status;
 *                 boundary="..."
 * Part 1, text/plain: Exim's wording ("This message was created
 * automatically by mail delivery software. A message that you sent could
 * not be delivered to one or more of its recipients. This is a permanent
 * error. The following address(es) failed:" then each address and its
 * reason, indented).
 * Part 2, message/delivery-status: Reporting-MTA: dns; PRIMARY,
 * X-tern-Queue-ID, Arrival-Date; then per recipient Final-Recipient:
 * rfc822; ADDR, Action: failed|delayed, Status: 5.x.x|4.x.x (from the
 * reply's enhanced code when it has one, else 5.0.0/4.0.0),
 * Remote-MTA: dns; HOST (when known), Diagnostic-Code: smtp; REPLY (when
 * there was a reply), Last-Attempt-Date (failed).
 * Part 3: message/rfc822 with the whole original message when it is at
 * most return_size_limit bytes, else text/rfc822-headers with its header
 * section only (and a line in part 1 saying the body was left out; pass
 * SIZE_MAX for no limit, 0 for headers only).
 * Lines from hostile input (reasons, replies) are cut to 998 octets and
 * stripped of CR/LF; addresses that are not printable ASCII go in
 * "utf-8;" Final-Recipient types (RFC 6533).
 *
 * A report whose text holds 8-bit bytes (an 8-bit original returned in
 * message/rfc822, a UTF-8 address in part 1 or To:) must be sent with
 * BODY=8BITMIME: bounce_is_8bit says so.
 *
 * INTERFACE: bounce_build, warning_build, bounce_status_of; addition:
 *            bounce_is_8bit.
 */
#ifndef TERN_BOUNCE_H
#define TERN_BOUNCE_H

#include <stddef.h>

struct conf;
struct spool_msg;
struct strbuf;

struct bounce_rcpt {
    const char *address;        /* the failed (final) address */
    const char *top;            /* the envelope recipient, if different
                                   (Original-Recipient), or NULL */
    const char *reason;         /* one line: why */
    const char *host;           /* remote host name or NULL */
    int code;                   /* reply code, 0 if none */
    const char *reply;          /* the remote reply "550 5.1.1 ..." or NULL */
};

/* bounce_build - the failure report for msg; id is the new message's id
 * (for its Message-ID), now the time to put in Date */
void bounce_build(struct strbuf *out, const struct conf *c,
                  const struct spool_msg *msg, const char *to,
                  const struct bounce_rcpt *r, size_t n,
                  size_t return_size_limit, const char *id, long long now);
/* warning_build - the delay warning: Action: delayed, Status 4.x.x, the
 * message's headers only, Subject naming the delay (e.g. "24 hours") */
void warning_build(struct strbuf *out, const struct conf *c,
                   const struct spool_msg *msg, const char *to,
                   const struct bounce_rcpt *r, size_t n,
                   const char *delay_text, const char *id, long long now);
/* bounce_is_8bit - report (built by bounce_build or warning_build) holds
 * a byte >= 0x80, so the caller spools it with body type 8BITMIME
 * (addition) */
int bounce_is_8bit(const struct strbuf *report);
/* bounce_status_of - the enhanced status code of a reply ("550 5.1.1 x"
 * gives "5.1.1"), else "5.0.0"/"4.0.0" by the class of code (default
 * class 5 when permanent); into out (at least 16 bytes). Details: code 0
 * takes the reply's own code ("452-4.2.2 x" is 452); a reply may be an
 * enhanced code alone ("5.2.2 mailbox full"); the class of a 4xx/5xx
 * code wins over the enhanced code's ("550 4.1.1" gives "5.1.1"); with
 * no such code, the enhanced code's class (4 or 5), else permanent. */
void bounce_status_of(const char *reply, int code, int permanent,
                      char *out, size_t size);

#endif
