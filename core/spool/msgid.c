/*
 * msgid.c - Exim 4.97 message ids: TTTTTT-PPPPPPPPPPP-FFFF.
 *
 * PURPOSE:   base-62 (Exim's digit order 0-9A-Za-z, which is also ASCII
 *            order, so ids of one pid sort by time) of the seconds (6
 *            digits), the pid (11) and the microseconds (4) of
 *            gettimeofday().
 * INTERFACE: msgid_new, msgid_valid, msgid_decode (declared in spool.h).
 * ERRORS:    msgid_decode returns -1 with EINVAL for a malformed id.
 * An id is never minted twice in a process: when the clock still reads
 * the last id's microsecond we spin until it moves; when it went
 * backwards (a clock step) we continue from the last id plus one
 * microsecond rather than wait for the clock to catch up.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/spool/spool.h"

#define ID_SEC_DIGITS 6
#define ID_PID_DIGITS 11
#define ID_USEC_DIGITS 4
#define ID_PID_OFF (ID_SEC_DIGITS + 1)
#define ID_USEC_OFF (ID_PID_OFF + ID_PID_DIGITS + 1)

static const char b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static long long last_sec = -1;
static long last_usec;

/* b62_put - value as n base-62 digits, most significant first */
static void b62_put(char *out, unsigned long long v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = b62[v % 62];
        v /= 62;
    }
}

/* b62_val - the value of one digit, -1 if c is not one */
static int b62_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 36;
    return -1;
}

/* next_tick - a (sec, usec) strictly after the last one minted */
static void next_tick(long long *sec, long *usec)
{
    struct timeval tv;

    for (;;) {
        (void)gettimeofday(&tv, NULL);
        if (tv.tv_sec != last_sec || tv.tv_usec != last_usec)
            break;
    }
    if (tv.tv_sec < last_sec
        || (tv.tv_sec == last_sec && tv.tv_usec < last_usec)) {
        tv.tv_sec = last_sec;       /* the clock stepped back */
        tv.tv_usec = last_usec + 1;
        if (tv.tv_usec >= 1000000) {
            tv.tv_sec++;
            tv.tv_usec = 0;
        }
    }
    last_sec = *sec = tv.tv_sec;
    last_usec = *usec = tv.tv_usec;
}

/* msgid_new - a new id, never the same twice in this process */
void msgid_new(char *out)
{
    long long sec;
    long usec;

    next_tick(&sec, &usec);
    b62_put(out, (unsigned long long)sec, ID_SEC_DIGITS);
    out[ID_SEC_DIGITS] = '-';
    b62_put(out + ID_PID_OFF, (unsigned long long)getpid(), ID_PID_DIGITS);
    out[ID_USEC_OFF - 1] = '-';
    b62_put(out + ID_USEC_OFF, (unsigned long long)usec, ID_USEC_DIGITS);
    out[MSGID_LEN] = '\0';
}

/* msgid_valid - 23 characters of the right shape */
int msgid_valid(const char *id)
{
    if (id == NULL || strnlen(id, MSGID_LEN + 1) != MSGID_LEN)
        return 0;
    for (int i = 0; i < MSGID_LEN; i++) {
        int dash = i == ID_SEC_DIGITS || i == ID_USEC_OFF - 1;

        if (dash ? id[i] != '-' : b62_val((unsigned char)id[i]) < 0)
            return 0;
    }
    return 1;
}

/* b62_get - the value of n digits */
static unsigned long long b62_get(const char *s, int n)
{
    unsigned long long v = 0;

    for (int i = 0; i < n; i++)
        v = v * 62 + (unsigned)b62_val((unsigned char)s[i]);
    return v;
}

/* msgid_decode - the seconds, pid and microseconds of an id */
int msgid_decode(const char *id, long long *sec, long long *pid, long *usec)
{
    if (!msgid_valid(id)) {
        errno = EINVAL;
        return -1;
    }
    /* 11 base-62 digits can exceed 2^64: keep the low bits, as a pid
     * never needs more than 22 */
    *sec = (long long)b62_get(id, ID_SEC_DIGITS);
    *pid = (long long)(b62_get(id + ID_PID_OFF, ID_PID_DIGITS)
                       & 0x7fffffffffffffffULL);
    *usec = (long)b62_get(id + ID_USEC_OFF, ID_USEC_DIGITS);
    return 0;
}
