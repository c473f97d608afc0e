/*
 * test_notify.c - the scheduler's wake-up socket: ids posted while the
 * socket is full are kept and arrive later, each once, in order; several
 * ids in one datagram are read one by one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/ev.h"
#include "core/spool/notify.h"
#include "core/spool/spool.h"
#include "tap.h"

#define N 3000

static char ids[N][MSGID_LEN + 1];

static void make_ids(void)
{
    char tmp[64];

    for (int i = 0; i < N; i++) {
        snprintf(tmp, sizeof(tmp), "1xUw2w-%011d-%04d", i, i % 10000);
        memcpy(ids[i], tmp, MSGID_LEN + 1);
    }
}

/* read everything waiting; count ids in order starting at *next */
static int drain(int fd, int *next)
{
    char id[MSGID_LEN + 1];
    int bad = 0;

    while (notify_read(fd, id)) {
        if (*next >= N || strcmp(id, ids[*next]) != 0)
            bad++;
        (*next)++;
    }
    return bad;
}

int main(void)
{
    char dir[] = "/tmp/test_notify.XXXXXX";
    struct errbuf eb;
    struct ev *ev = ev_new();
    struct notifier *n;
    int fd, next = 0, bad = 0;

    make_ids();
    ok(msgid_valid(ids[0]) && msgid_valid(ids[N - 1]), "test ids are valid");
    if (mkdtemp(dir) == NULL)
        return 1;
    fd = notify_open(dir, &eb);
    ok(fd >= 0, "notify_open");
    n = notifier_new(ev, dir);
    /* one id per loop turn: one datagram each; the socket holds only a
     * few, the rest must wait in the notifier */
    for (int i = 0; i < N; i++) {
        notifier_post(n, ids[i]);
        ev_run_once(ev, 0);
    }
    ok(next == 0, "nothing read yet");
    for (int turn = 0; turn < 1000 && next < N; turn++) {
        bad += drain(fd, &next);
        ev_run_once(ev, 20);
    }
    bad += drain(fd, &next);
    is_int(next, N, "every id posted while the socket was full arrived");
    is_int(bad, 0, "each once, in order");
    /* several ids in one turn go as one datagram and are read one by one */
    next = 0;
    for (int i = 0; i < 100; i++)
        notifier_post(n, ids[i]);
    ev_run_once(ev, 0);
    bad = drain(fd, &next);
    is_int(next, 100, "100 ids of one turn read");
    is_int(bad, 0, "in order");
    is_int(notify_send(dir, ids[5]), 0, "notify_send of one id");
    next = 5;
    drain(fd, &next);
    is_int(next, 6, "read back");
    notifier_free(n);
    (void)close(fd);
    (void)notify_send(dir, ids[0]);
    {
        char path[64];
        snprintf(path, sizeof(path), "%s/notify.sock", dir);
        unlink(path);
    }
    rmdir(dir);
    ev_free(ev);
    return done_testing();
}
