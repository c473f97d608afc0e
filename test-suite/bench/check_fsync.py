#!/usr/bin/env python3
"""check_fsync.py - was every message durable before tern said "250 ... id=X"?

Reads a trace of tern's workers taken with
  strace -f -tt -y -s 200 -e trace=write,writev,pwrite64,sendto,sendmsg,
         fsync,fdatasync,syncfs,sync_file_range,rename,renameat,renameat2
(-y shows the path behind every fd). Lines are in the order strace saw the
system calls; a call split into "<unfinished ...>" and "<... resumed>" starts
at the first line and ends at the second. For every 250 reply that names a
message id X it checks, in that order, that before the reply started:
  1. the data of X was synced: an fsync/fdatasync of X's file, or a syncfs,
     that started after the last write to X's file ended;
  2. X's file was renamed to its final name input/<c>/X;
  3. the directory input/<c> was synced after that rename ended: an fsync
     of the directory, or a syncfs (which covers every directory entry).
Prints one line of key=value counts (messages, durable, fsync calls on
message files and on directories, syncfs calls, and each per message) and
the first few violations on stderr. Exit 0 when every message was durable,
1 when one was not, 2 when the trace holds no message.

Usage: check_fsync.py TRACEFILE
"""
import re
import sys

ID = r'[0-9A-Za-z]{6}-[0-9A-Za-z]{11}-[0-9A-Za-z]{4}'
LINE = re.compile(r'^(\d+)\s+\d\d:\d\d:\d\d\.\d+\s+(.*)$')
CALL = re.compile(r'^(\w+)\((.*)$')
RESUMED = re.compile(r'^<\.\.\. (\w+) resumed>(.*)$')
FDPATH = re.compile(r'\d+<([^>]*)>')
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
TMPFILE = re.compile(r'/input/(.)/\.tmp\.(' + ID + r')\.\d+$')
MSGFILE = re.compile(r'/input/(.)/(' + ID + r')$')
SUBDIR = re.compile(r'/input/(.)$')
REPLY = re.compile(r'"250[ -][^"]*?id=(' + ID + r')')
WRITES = ('write', 'writev', 'pwrite64', 'sendto', 'sendmsg')
FSYNCS = ('fsync', 'fdatasync')
RENAMES = ('rename', 'renameat', 'renameat2')


def calls(lines):
    """Yield (name, text, start, end) for every complete system call."""
    pending = {}
    for i, raw in enumerate(lines):
        m = LINE.match(raw)
        if not m:
            continue
        tid, rest = m.group(1), m.group(2)
        r = RESUMED.match(rest)
        if r:
            if tid in pending:
                name, text, start = pending.pop(tid)
                yield name, text + r.group(2), start, i
            continue
        c = CALL.match(rest)
        if not c:
            continue                    # signals, exits
        if rest.endswith('<unfinished ...>'):
            pending[tid] = (c.group(1), c.group(2)[:-len('<unfinished ...>')], i)
        else:
            yield c.group(1), c.group(2), i, i


def file_of(path):
    """(sub, id) when path is a message file (temporary or final)."""
    m = TMPFILE.search(path) or MSGFILE.search(path)
    return (m.group(1), m.group(2)) if m else None


class Trace:
    def __init__(self):
        self.last_write = {}            # id -> end of its last write
        self.file_syncs = {}            # id -> [(start, end)]
        self.dir_syncs = {}             # sub -> [(start, end)]
        self.syncfs = []                # [(start, end)]
        self.renamed = {}               # id -> (sub, end)
        self.replies = []               # (id, start)
        self.n = {'fsync_file': 0, 'fsync_dir': 0, 'fsync_other': 0,
                  'syncfs': 0, 'sync_file_range': 0}

    def add(self, name, text, start, end):
        paths = FDPATH.findall(text)
        if name in WRITES:
            m = REPLY.search(text)
            if m:
                self.replies.append((m.group(1), start))
            elif paths and file_of(paths[0]):
                self.last_write[file_of(paths[0])[1]] = end
        elif name in FSYNCS:
            self.fsync(paths[0] if paths else '', start, end)
        elif name == 'syncfs':
            self.n['syncfs'] += 1
            self.syncfs.append((start, end))
        elif name == 'sync_file_range':
            self.n['sync_file_range'] += 1
        elif name in RENAMES:
            self.rename(name, text, paths, end)

    def fsync(self, path, start, end):
        f = file_of(path)
        d = SUBDIR.search(path)
        if f:
            self.n['fsync_file'] += 1
            self.file_syncs.setdefault(f[1], []).append((start, end))
        elif d:
            self.n['fsync_dir'] += 1
            self.dir_syncs.setdefault(d.group(1), []).append((start, end))
        else:
            self.n['fsync_other'] += 1

    def rename(self, name, text, paths, end):
        names = QUOTED.findall(text)
        if len(names) < 2:
            return
        new = names[1]
        if name != 'rename' and len(paths) >= 2 and not new.startswith('/'):
            new = paths[1] + '/' + new
        f = MSGFILE.search(new)
        if f:
            self.renamed[f.group(2)] = (f.group(1), end)

    def check(self, mid, reply):
        """None when mid was durable before the reply, else what was not."""
        lw = self.last_write.get(mid)
        if lw is None:
            return 'no write to its spool file seen'
        syncs = self.file_syncs.get(mid, []) + self.syncfs
        if not any(lw < s and e < reply for s, e in syncs):
            return 'data not synced (no fsync/syncfs between last write and 250)'
        if mid not in self.renamed or self.renamed[mid][1] > reply:
            return 'not renamed to its final name before 250'
        sub, ren = self.renamed[mid]
        dir_syncs = self.dir_syncs.get(sub, []) + self.syncfs
        if not any(ren < s and e < reply for s, e in dir_syncs):
            return ('directory input/%s not synced (fsync or syncfs) after '
                    'the rename' % sub)
        return None


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    t = Trace()
    with open(sys.argv[1], errors='replace') as f:
        for call in calls(f.read().splitlines()):
            t.add(*call)
    bad = []
    for mid, reply in t.replies:
        why = t.check(mid, reply)
        if why:
            bad.append((mid, why))
    n = len(t.replies)
    out = ['messages=%d' % n, 'durable=%d' % (n - len(bad))]
    for k, v in t.n.items():
        out.append('%s=%d' % (k, v))
        out.append('%s_per_msg=%.2f' % (k, v / n if n else 0))
    print(' '.join(out))
    for mid, why in bad[:5]:
        print('check_fsync: %s: %s' % (mid, why), file=sys.stderr)
    if n == 0:
        print('check_fsync: no "250 ... id=" reply in the trace', file=sys.stderr)
        return 2
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
