/*
 * sendmail.h - the sendmail command-line interface: tern [-f sender]
 *              [-F name] [-t] [-i|-oi] [rcpt...] < message.
 *
 * INTERFACE: sendmail_submit; exit codes follow sendmail's sysexits: 0
 *            accepted, 64 usage (no recipients), 65 bad address or
 *            message, 75 temporary failure (spool), 77 refused by the
 *            not_smtp ACL.
 */
#ifndef TERN_SENDMAIL_H
#define TERN_SENDMAIL_H

struct conf;

struct sendmail_opts {
    const char *sender;         /* -f, or NULL: the caller's login */
    const char *full_name;      /* -F */
    int extract;                /* -t: recipients from To/Cc/Bcc */
    int dot_ends;               /* without -i/-oi a "." line ends input */
    char **rcpts;
    int nrcpts;
    int delivery;               /* -odX: 'b' background, 'i' now in this
                                   process, 'q' queue only; 0 (none given):
                                   'q' with queue_only, else 'b' */
};

int sendmail_submit(struct conf *c, const struct sendmail_opts *o);

#endif
