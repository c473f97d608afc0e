/*
 * poisondb.h - the poison hints database, SPOOL/db/poison: how many times
 *              the daemon's scheduler died (crashed, or was killed by the
 *              master for a stall) while it was working on a message.
 *
 * The master records a strike when it reaps a scheduler that died busy
 * with a message; a scheduler reads the file when it starts, runs a
 * message that has strikes alone, and freezes it once it has
 * POISON_STRIKES of them ("Frozen (the scheduler died N times while
 * delivering it)"), so one bad message cannot keep the rest of the queue
 * from being delivered. An attempt that ends normally, or the freeze,
 * forgets the message's record.
 * Keys are message ids; values "1 COUNT LAST" (version, strikes, time of
 * the last one). A hints file: losing it costs a few more crashes.
 *
 * INTERFACE: poisondb_strike, poisondb_clear, poisondb_walk.
 * ERRORS:    -1 with eb (hintsdb.h's); damaged records read as absent.
 */
#ifndef TERN_POISONDB_H
#define TERN_POISONDB_H

struct errbuf;

/* deaths of the scheduler with a message in hand before it is frozen */
#define POISON_STRIKES 3
/* records older than this are forgotten when read (seconds: 7 days) */
#define POISON_FORGET (7LL * 24 * 3600)

/* poisondb_strike - one more strike for id at now; the new count in
 * *count. 0 or -1. */
int poisondb_strike(const char *spool_dir, const char *id, long long now,
                    int *count, struct errbuf *eb);
/* poisondb_clear - forget id; 0 (also when absent) or -1 */
int poisondb_clear(const char *spool_dir, const char *id, struct errbuf *eb);
/* poisondb_walk - fn(id, count, last, arg) for every record; fn returns
 * nonzero to stop. No file: 0 at once. 0 or -1. */
int poisondb_walk(const char *spool_dir,
                  int (*fn)(const char *id, int count, long long last,
                            void *arg),
                  void *arg, struct errbuf *eb);

#endif
