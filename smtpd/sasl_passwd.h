/*
 * sasl_passwd.h - AUTH password checking against a lookup table of
 *                 crypt(3) hashes.
 *
 * INTERFACE: sasl_check_password.
 */
#ifndef TERN_SASL_PASSWD_H
#define TERN_SASL_PASSWD_H

struct errbuf;
struct lookup_spec;

/*
 * sasl_check_password - verify user/password against table (lsearch or
 * dbm, no star forms), which maps a user name (caseless) to a crypt(3)
 * hash; in a value "HASH:more" only HASH counts, so passwd/shadow-style
 * lines "user:HASH:..." work. Accepted: what crypt_checksalt() rates OK
 * (libxcrypt 4.4: $y$ yescrypt, $gy$, $7$ scrypt, $6$ SHA-512, $2b$ $2y$
 * $2a$ bcrypt) and $5$ SHA-256. Refused, never compared as text:
 * plaintext or locked values (no leading '$', e.g. "secret", "!$6$...",
 * "*"), legacy methods (DES, $1$ MD5, ...), malformed hashes.
 * Returns 1 if the password matches; 0 if not, the user is unknown or the
 * entry is refused (then eb names the reason, for the log; eb is empty
 * for a plain mismatch or unknown user); -1 tempfail (table unreadable,
 * unusable table spec) with eb set.
 * Unknown users and refused entries still spend one crypt() so the answer
 * time does not tell which users exist (see sasl_passwd.c). Blocks for the length
 * of one crypt() (tens of milliseconds for yescrypt).
 */
int sasl_check_password(const struct lookup_spec *table, const char *user,
                        const char *password, struct errbuf *eb);

#endif
