#!/usr/bin/env python3
"""smtp_mem.py - process sets, their memory and CPU, and counting arrivals,
for the SMTP and delivery parts of the bench.

A process set (SEL) is a comma-separated list of
  tree:PID     PID and every descendant of it
  exe:PATH     every process whose /proc/PID/exe is PATH (Exim's re-parented
               children)
Memory comes from /proc/PID/status (VmRSS) and /proc/PID/smaps_rollup (Pss).
RSS counts shared pages once per process; PSS splits them, so sum(PSS) is
the real footprint of a set of forked processes.

Commands:
  pids SEL                          the PIDs of the set, one line
  snap SEL                          "nproc rss_kib pss_kib"
  cpu SEL                           CPU seconds used by the set, with the
                                    children it has reaped (utime + stime +
                                    cutime + cstime)
  cpu-snap FILE                     write the CPU ticks of every user process
  cpu-others FILE SEL               CPU seconds used since cpu-snap FILE by
                                    user processes outside SEL: other people's
                                    work that competes for the CPUs (kernel
                                    threads, e.g. writeback, are left out)
  idle SEL HOST PORT N SETTLE       open N connections, read each 220 banner,
                                    wait SETTLE s, snapshot, close; prints
                                    key=value pairs (before/after/per_conn_*)
  wait-count WHAT N T0 TIMEOUT      wait until N messages arrived, or TIMEOUT
                                    s after T0 (a time.time() value); prints
                                    "COUNT SECONDS_SINCE_T0" of the last look.
                                    WHAT is maildir:DIR (files in DIR/new) or
                                    sink:FILE (the last "mesg=N" counter that
                                    smtp-sink -c wrote to FILE). The looks
                                    get closer as the count nears N (every
                                    0.02-1 s): a listing of a big Maildir
                                    costs CPU that the servers compete for.
"""
import json
import os
import resource
import socket
import sys
import time


def parents():
    """pid -> ppid of every process."""
    out = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                s = f.read()
        except OSError:
            continue
        out[int(d)] = int(s[s.rindex(')') + 2:].split()[1])
    return out


def select(sel):
    pp = parents()
    kids = {}
    for pid, ppid in pp.items():
        kids.setdefault(ppid, []).append(pid)
    chosen = set()
    for part in sel.split(','):
        kind, _, arg = part.partition(':')
        if kind == 'tree':
            todo = [int(arg)] if int(arg) in pp else []
            while todo:
                p = todo.pop()
                if p not in chosen:
                    chosen.add(p)
                    todo.extend(kids.get(p, []))
        elif kind == 'exe':
            real = os.path.realpath(arg)
            for p in pp:
                try:
                    if os.readlink('/proc/%d/exe' % p) == real:
                        chosen.add(p)
                except OSError:
                    pass
        else:
            raise SystemExit('smtp_mem.py: bad selector %r' % part)
    return chosen


def field(path, name):
    with open(path) as f:
        for line in f:
            if line.startswith(name):
                return int(line.split()[1])
    return 0


def snap(sel):
    n = rss = pss = 0
    for p in select(sel):
        try:
            r = field('/proc/%d/status' % p, 'VmRSS:')
            s = field('/proc/%d/smaps_rollup' % p, 'Pss:')
        except OSError:         # exited meanwhile (or a kernel thread)
            continue
        n, rss, pss = n + 1, rss + r, pss + s
    return n, rss, pss


PF_KTHREAD = 0x00200000


def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (field 3 on)."""
    with open('/proc/%d/stat' % pid) as f:
        s = f.read()
    return s[s.rindex(')') + 2:].split()


def ticks(f):
    return sum(int(x) for x in f[11:15])     # utime stime cutime cstime


def cpu(sel):
    t = 0
    for p in select(sel):
        try:
            t += ticks(stat_fields(p))
        except OSError:
            continue
    return t / os.sysconf('SC_CLK_TCK')


def user_procs():
    """'pid:starttime' -> CPU ticks, for every process but kernel threads."""
    out = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            f = stat_fields(int(d))
        except OSError:
            continue
        if int(f[6]) & PF_KTHREAD:
            continue
        out['%s:%s' % (d, f[19])] = ticks(f)
    return out


def cpu_others(snapfile, sel):
    with open(snapfile) as f:
        before = json.load(f)
    mine = select(sel)
    t = 0
    for key, now in user_procs().items():
        if int(key.split(':')[0]) not in mine:
            t += max(0, now - before.get(key, 0))
    return t / os.sysconf('SC_CLK_TCK')


def idle(sel, host, port, n, settle):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n + 64))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    before = snap(sel)
    socks, refused = [], 0
    for _ in range(n):
        try:
            socks.append(socket.create_connection((host, port), timeout=10))
        except OSError:
            refused += 1
    banners = 0
    for s in socks:             # every banner: the server holds the session
        try:
            if s.recv(512).startswith(b'220'):
                banners += 1
        except OSError:
            pass
    time.sleep(settle)
    after = snap(sel)
    for s in socks:
        try:
            s.sendall(b'QUIT\r\n')
        except OSError:
            pass
        s.close()
    k = max(banners, 1)
    print('conns=%d refused=%d banners=%d before_nproc=%d before_rss_kib=%d '
          'before_pss_kib=%d after_nproc=%d after_rss_kib=%d after_pss_kib=%d '
          'per_conn_rss_kib=%.1f per_conn_pss_kib=%.1f'
          % (n, refused, banners, before[0], before[1], before[2], after[0],
             after[1], after[2], (after[1] - before[1]) / k,
             (after[2] - before[2]) / k))


def arrived(what):
    kind, _, path = what.partition(':')
    if kind == 'maildir':
        try:
            return len(os.listdir(os.path.join(path, 'new')))
        except OSError:
            return 0
    if kind == 'sink':
        try:
            with open(path, 'rb') as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 300))
                tail = f.read().decode('ascii', 'replace')
        except OSError:
            return 0
        counts = [x.split()[0] for x in tail.replace('\r', '\n').split('mesg=')[1:]]
        return int(counts[-1]) if counts and counts[-1].isdigit() else 0
    raise SystemExit('smtp_mem.py: bad wait-count target %r' % what)


def wait_count(what, n, t0, timeout):
    while True:
        got = arrived(what)
        t = time.time()
        if got >= n or t - t0 > timeout:
            print('%d %.4f' % (got, t - t0))
            return
        rate = got / (t - t0) if t > t0 and got > 0 else 0
        left = (n - got) / rate if rate > 0 else 0.5
        time.sleep(min(1.0, max(0.02, left / 2)))


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    cmd, sel = sys.argv[1], sys.argv[2]
    if cmd == 'pids':
        print(' '.join(str(p) for p in sorted(select(sel))))
    elif cmd == 'snap':
        print('%d %d %d' % snap(sel))
    elif cmd == 'cpu':
        print('%.2f' % cpu(sel))
    elif cmd == 'cpu-snap':
        with open(sel, 'w') as f:
            json.dump(user_procs(), f)
    elif cmd == 'cpu-others' and len(sys.argv) == 4:
        print('%.2f' % cpu_others(sel, sys.argv[3]))
    elif cmd == 'wait-count' and len(sys.argv) == 6:
        wait_count(sel, int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    elif cmd == 'idle' and len(sys.argv) == 7:
        idle(sel, sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
             float(sys.argv[6]))
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main()
