#!/usr/bin/env python3
"""check_deliver_fsync.py - tern's delivery durability, from a trace.

Usage: check_deliver_fsync.py STRACE SPOOL MAILDIR

STRACE is `strace -f -tt -y` of tern's processes (scheduler and delivery
children) over an end-to-end run into MAILDIR. Each file in MAILDIR/new
names its message in the Received header ("id X"). For every delivered
message X the trace must show, in this order: the fsync of its file in
tmp/ (or a syncfs by the process that wrote it, after the write: a group
of copies synced at once), its link (or rename) into new/, an fsync of
new/ by the same process, and only then the removal of X's spool file
(SPOOL/input/*/X).
Prints "messages=N durable=K ..." and exits 1 when K < N or no message
was found; each violation goes to stderr.
"""
import os
import re
import sys

LINE = re.compile(r'^(\d+)\s+(\d+):(\d+):(\d+\.\d+)\s+(.*)$')
CALL = re.compile(r'^(\w+)\((.*)$')
RESUMED = re.compile(r'^<\.\.\. (\w+) resumed>(.*)$')
FD = re.compile(r'\d+<([^>]*)>')
STR = re.compile(r'"([^"]*)"')
ID_RE = re.compile(r'\bid ([0-9A-Za-z]{6}-[0-9A-Za-z]{11}-[0-9A-Za-z]{4})\b')


def events(path):
    """(pid, start, end, call, args) per finished call"""
    pending = {}
    with open(path, errors='replace') as f:
        for line in f:
            m = LINE.match(line.rstrip('\n'))
            if not m:
                continue
            pid = int(m.group(1))
            t = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4))
            rest = m.group(5)
            r = RESUMED.match(rest)
            if r:
                if pid in pending:
                    call, start, args = pending.pop(pid)
                    yield pid, start, t, call, args + r.group(2)
                continue
            c = CALL.match(rest)
            if not c:
                continue
            if rest.endswith('<unfinished ...>'):
                pending[pid] = (c.group(1), t, c.group(2)[:-len('<unfinished ...>')])
            else:
                yield pid, t, t, c.group(1), c.group(2)


def maildir_ids(maildir):
    ids = {}
    new = os.path.join(maildir, 'new')
    for name in os.listdir(new):
        with open(os.path.join(new, name), errors='replace') as f:
            m = ID_RE.search(f.read(4096))
        if m:
            ids[name] = m.group(1)
    return ids


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    trace, spool, maildir = sys.argv[1:]
    ids = maildir_ids(maildir)
    synced, linked, dirsynced, removed = {}, {}, {}, {}
    unsynced_links = {}         # pid -> names linked, new/ not yet fsynced
    unsynced_data = {}          # pid -> tmp/ names written, not yet synced
    counts = {'fsync_file': 0, 'fsync_dir': 0, 'syncfs': 0}
    spool_in = os.path.join(os.path.abspath(spool), 'input') + '/'
    for pid, start, end, call, args in events(trace):
        paths = FD.findall(args)
        names = STR.findall(args)
        if call in ('fsync', 'fdatasync') and paths:
            p = paths[0]
            if p.endswith('/Maildir/new') or p.endswith('/Maildir/tmp') or p.startswith(spool_in[:-1]):
                counts['fsync_dir'] += 1
            else:
                counts['fsync_file'] += 1
            if '/Maildir/tmp/' in p:
                synced[os.path.basename(p)] = end
            elif p.endswith('/Maildir/new'):
                for n in unsynced_links.pop(pid, []):
                    dirsynced[n] = end
        elif call == 'syncfs':
            counts['syncfs'] += 1
            for n in unsynced_data.pop(pid, []):
                synced[n] = end
        elif call in ('write', 'writev', 'pwrite64') and paths \
                and '/Maildir/tmp/' in paths[0]:
            unsynced_data.setdefault(pid, []).append(
                os.path.basename(paths[0]))
        elif call in ('link', 'linkat', 'rename', 'renameat', 'renameat2'):
            if len(paths) >= 2 and paths[-1].endswith('/Maildir/new') and names:
                linked[names[-1]] = (start, end)
                unsynced_links.setdefault(pid, []).append(names[-1])
        elif call in ('unlink', 'unlinkat'):
            if paths and paths[0].startswith(spool_in) and names:
                removed.setdefault(names[0], start)
    ok = 0
    for name, mid in sorted(ids.items()):
        s, l, d, r = synced.get(name), linked.get(name), dirsynced.get(name), removed.get(mid)
        why = None
        if s is None or l is None or d is None:
            why = 'no fsync/link/fsync of new/ in the trace'
        elif r is None:
            why = 'spool file never removed in the trace'
        elif not (s <= l[0] and l[1] <= d <= r):
            why = 'order: fsync %.6f link %.6f-%.6f new/ fsync %.6f removal %.6f' % (s, l[0], l[1], d, r)
        if why:
            print('%s (%s): %s' % (mid, name, why), file=sys.stderr)
        else:
            ok += 1
    n = len(ids)
    per = lambda k: '%.2f' % (counts[k] / n) if n else 'NA'
    print('messages=%d durable=%d fsync_file_per_msg=%s fsync_dir_per_msg=%s syncfs_per_msg=%s'
          % (n, ok, per('fsync_file'), per('fsync_dir'), per('syncfs')))
    return 0 if n and ok == n else 1


if __name__ == '__main__':
    sys.exit(main())
