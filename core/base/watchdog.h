/*
 * watchdog.h - the last line of defence against a process that stops
 *              returning to its event loop (a runaway script, a bug).
 *
 * The daemon's master makes a shared table before it forks (one slot per
 * long-lived child: SMTP workers, the scheduler). A child attaches to its
 * slot; from then on its event loop (ev.c) marks each turn busy while
 * callbacks run and idle while it waits, and the code that starts a unit
 * of work says what it is (watchdog_note: the SMTP session, the message,
 * the step such as "acl rcpt" or "router NAME", the Lua function's
 * file:line). The master reads the slots four times a second and kills
 * a child that has been busy in one turn for too long, naming what it
 * was doing; after a crash the slot still says what the child was doing.
 *
 * INTERFACE: master: watchdog_new, watchdog_free, watchdog_claim,
 *            watchdog_set_pid, watchdog_release, watchdog_read,
 *            watchdog_describe, watchdog_now_ms. Child: watchdog_attach,
 *            watchdog_active, watchdog_note, watchdog_notef,
 *            watchdog_subject; the loop: watchdog_turn_begin,
 *            watchdog_turn_end, watchdog_callback.
 * ERRORS:    watchdog_new returns NULL when the mapping fails; claim -1
 *            when every slot is taken. Notes are cut to WATCHDOG_TEXT-1
 *            bytes; the child-side calls are no-ops when not attached
 *            (one-shot modes, delivery children: a fork detaches).
 * SECURITY:  the texts are read by the master only for its log lines;
 *            the master never trusts them as anything but text (it copies
 *            them with a bound and forces a NUL).
 * The attached slot is process-wide state, like the log sink: it
 * describes the process, not any one object.
 */
#ifndef TERN_WATCHDOG_H
#define TERN_WATCHDOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fatal.h"

#define WATCHDOG_TEXT 128

/* What a process says it is doing; a note clears the ones after it. */
enum watchdog_what {
    WD_SESSION,         /* "[ip]:port" of an SMTP session */
    WD_MESSAGE,         /* a message id */
    WD_STEP,            /* "acl rcpt", "router NAME" */
    WD_SCRIPT,          /* the Lua function's "file:line" */
    WD_NWHAT
};

struct watchdog;

/* A copy of one slot, taken by the master. */
struct watchdog_report {
    pid_t pid;
    int busy;           /* inside a loop turn (not waiting) */
    uint64_t busy_ms;   /* in the current turn for so long */
    char what[WD_NWHAT][WATCHDOG_TEXT];
};

/* watchdog_new - the shared table of nslots slots (before any fork) */
struct watchdog *watchdog_new(int nslots);
void watchdog_free(struct watchdog *w);
/* watchdog_claim - a free slot, cleared, for a child about to be forked */
int watchdog_claim(struct watchdog *w);
/* watchdog_set_pid - the child forked into slot */
void watchdog_set_pid(struct watchdog *w, int slot, pid_t pid);
/* watchdog_release - the child of slot was reaped (-1 ok) */
void watchdog_release(struct watchdog *w, int slot);
/* watchdog_read - copy slot as seen at now_ms (CLOCK_MONOTONIC) */
void watchdog_read(const struct watchdog *w, int slot, uint64_t now_ms,
                   struct watchdog_report *out);
/* watchdog_describe - "session [ip]:port, acl rcpt, script f.lua:3" or
 * "nothing known" */
void watchdog_describe(const struct watchdog_report *r, char *buf,
                       size_t size);
/* watchdog_now_ms - the clock the slots use */
uint64_t watchdog_now_ms(void);

/* watchdog_attach - in the forked child: report in slot from now on */
void watchdog_attach(struct watchdog *w, int slot);
/* watchdog_active - this process reports to a master */
int watchdog_active(void);
/* watchdog_subject - the session or message noted now: its kind
 * (WD_SESSION, WD_MESSAGE) and text in buf, or -1 when none */
int watchdog_subject(char *buf, size_t size);
void watchdog_note(enum watchdog_what k, const char *text);
void watchdog_notef(enum watchdog_what k, const char *fmt, ...)
    TERN_PRINTF(2, 3);

/* for ev.c: a turn begins after the wait, ends before the next wait; a
 * callback starts (what the last one noted no longer holds) */
void watchdog_turn_begin(void);
void watchdog_turn_end(void);
void watchdog_callback(void);

#endif
