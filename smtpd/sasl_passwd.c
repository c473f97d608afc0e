/*
 * sasl_passwd.c - check an AUTH user's password against a lookup table of
 *                 crypt(3) hashes (the SMTP server's side of AUTH; the
 *                 exchange itself is core/mail/sasl.c).
 *
 * INTERFACE: sasl_check_password (sasl_passwd.h).
 * ERRORS:    an unreadable table is a tempfail (-1), never "bad".
 * SECURITY:  unknown users and refused entries cost one crypt() like real
 *            ones (see "dummy" below); hashes are compared in constant
 *            time; the looked-up value and hash are wiped after use.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <crypt.h>

#include "core/base/errbuf.h"
#include "core/base/fatal.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/lookup/lookup.h"
#include "core/mail/sasl.h"
#include "smtpd/sasl_passwd.h"

/*
 * The dummy hash that unknown users and refused entries are checked
 * against, so that answering them takes as long as a real check: the last
 * hash this process verified (same method and cost as the table's), at
 * first the yescrypt hash below of default cost (crypt_gensalt "$y$"
 * count 0) of a password nobody knows.
 * XXX a table mixing methods of different cost still lets timing tell a
 * user of one method from an unknown user checked right after a user of
 * the other: keep one method per table.
 * This is a process-wide static besides STYLE's three: a cache, under a
 * mutex in case checks run in worker threads.
 */
#define DUMMY_HASH "$y$j9T$oJaQip0NppKPtpmQVl4RV.$czX5lR5T4.kYR2Ols" \
                   "Xnq4WFz/wUc6qwnU7BQfoSnsu7"

static struct {
    pthread_mutex_t lock;
    char hash[CRYPT_OUTPUT_SIZE];
} dummy = { PTHREAD_MUTEX_INITIALIZER, DUMMY_HASH };

/* Byte-wise compare of two hashes in time independent of where they
 * differ; both are shorter than CRYPT_OUTPUT_SIZE. */
static int ct_equal(const char *a, const char *b)
{
    char x[CRYPT_OUTPUT_SIZE] = { 0 }, y[CRYPT_OUTPUT_SIZE] = { 0 };
    size_t la = strnlen(a, sizeof(x) - 1), lb = strnlen(b, sizeof(y) - 1);
    volatile unsigned char diff = (unsigned char)(la != lb);

    memcpy(x, a, la);
    memcpy(y, b, lb);
    for (size_t i = 0; i < sizeof(x); i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}

/* crypt password with hash as the setting and compare: 1 same, 0
 * differs, -1 crypt refused the hash or made a string of another length
 * (the hash is malformed, e.g. a setting with no checksum). */
static int crypt_compare(const char *password, const char *hash)
{
    struct crypt_data *cd = xcalloc(1, sizeof(*cd));
    const char *out = crypt_rn(password, hash, cd, (int)sizeof(*cd));
    int r = -1;

    if (out != NULL && strlen(out) == strlen(hash))
        r = ct_equal(out, hash);
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return r;
}

/* Spend one crypt() on the dummy hash, as a real check would. */
static void spend_dummy(const char *password)
{
    char h[CRYPT_OUTPUT_SIZE];

    if (pthread_mutex_lock(&dummy.lock) != 0) {
        (void)crypt_compare(password, DUMMY_HASH);
        return;
    }
    memcpy(h, dummy.hash, sizeof(h));
    if (pthread_mutex_unlock(&dummy.lock) != 0)
        panic("spend_dummy: pthread_mutex_unlock failed");
    (void)crypt_compare(password, h);
}

/* Make hash (just verified by crypt) the dummy of the next unknown user. */
static void remember_hash(const char *hash)
{
    if (pthread_mutex_lock(&dummy.lock) != 0)
        return;
    if (bsnprintf(dummy.hash, sizeof(dummy.hash), "%s", hash) < 0)
        panic("remember_hash: hash longer than CRYPT_OUTPUT_SIZE");
    if (pthread_mutex_unlock(&dummy.lock) != 0)
        panic("remember_hash: pthread_mutex_unlock failed");
}

/* Only exact-key lsearch and dbm tables: a "*" default would give every
 * unknown user one shared hash, and IP tables take no user names. */
static int table_usable(const struct lookup_spec *t, struct errbuf *eb)
{
    if ((t->kind == LKK_LSEARCH || t->kind == LKK_DBM)
        && t->star == LK_STAR_NONE)
        return 0;
    errbuf_set(eb, "password table %s: must be lsearch or dbm without "
               "* defaults", t->file);
    return -1;
}

/* Accept what libcrypt rates strong, and SHA-256 crypt ($5$), which
 * libxcrypt calls legacy but is SHA-512 crypt's construction. */
static int method_ok(const char *hash)
{
    int rc = crypt_checksalt(hash);

    return rc == CRYPT_SALT_OK
           || (rc == CRYPT_SALT_METHOD_LEGACY && strncmp(hash, "$5$", 3) == 0);
}

/* Copy the hash of an entry (the value up to the first ':', which no
 * crypt hash contains) to hash; NULL, or why the entry is refused. */
static const char *entry_hash(const char *value, char hash[CRYPT_OUTPUT_SIZE])
{
    size_t n = strcspn(value, ":");

    hash[0] = '\0';
    if (n >= CRYPT_OUTPUT_SIZE)
        return "value too long for a crypt hash, refused";
    memcpy(hash, value, n);
    hash[n] = '\0';
    if (hash[0] != '$')
        return "not a crypt hash (plaintext or locked), refused";
    if (!method_ok(hash))
        return "legacy or unknown hash method, refused";
    return NULL;
}

/* Verify password against the table value of user: 1 or 0 (eb set when
 * the entry is refused, which costs the dummy crypt like a miss). */
static int verify_entry(const char *user, const char *value,
                        const char *password, struct errbuf *eb)
{
    char hash[CRYPT_OUTPUT_SIZE];
    const char *bad = entry_hash(value, hash);
    int r = 0;

    if (bad == NULL) {
        r = crypt_compare(password, hash);
        if (r < 0)
            bad = "malformed hash, refused";
        else
            remember_hash(hash);
    }
    if (bad != NULL) {
        spend_dummy(password);
        errbuf_set(eb, "password entry of \"%s\": %s", user, bad);
        r = 0;
    }
    explicit_bzero(hash, sizeof(hash));
    return r;
}

/* sasl_check_password - 1 match, 0 no match/unknown/refused, -1 tempfail */
int sasl_check_password(const struct lookup_spec *table, const char *user,
                        const char *password, struct errbuf *eb)
{
    size_t ulen = strnlen(user, SASL_FIELD_MAX + 1);
    enum lk_result lk = LK_NOTFOUND;
    struct strbuf val;
    int r = -1;

    errbuf_clear(eb);
    if (table_usable(table, eb) < 0)
        return -1;
    sb_init(&val);
    if (ulen > 0 && ulen <= SASL_FIELD_MAX
        && strnlen(password, SASL_FIELD_MAX + 1) <= SASL_FIELD_MAX)
        lk = lookup_find(table, user, ulen, &val, eb);
    if (lk == LK_FOUND) {
        r = verify_entry(user, sb_str(&val), password, eb);
    } else if (lk == LK_NOTFOUND) {
        spend_dummy(password);
        errbuf_clear(eb);
        r = 0;
    }
    explicit_bzero(val.data, val.cap);
    sb_free(&val);
    return r;
}
