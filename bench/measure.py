#!/usr/bin/python3
"""measure.py: run one command under GNU time and report what it cost.

    measure.py [--timeout SECS] [--stdout FILE] [--stderr FILE] -- CMD...

Runs `/usr/bin/time -v -o TMP CMD...` in a new session (its own process
group) and prints one tab-separated line:

    rc  wall_s  user_s  sys_s  maxrss_kb  self_hwm_kb

- wall_s: monotonic wall clock from just before the fork to the reaping of
  GNU time (process start-up included), in seconds with microseconds;
- user_s, sys_s, maxrss_kb: GNU time's "User time", "System time" and
  "Maximum resident set size". GNU time takes them from wait4(), so CPU is
  the sum over CMD and every descendant CMD waited for (fetchmail's and
  getmail's dovecot-lda children included), and the RSS is the largest
  single process of that tree;
- self_hwm_kb: VmHWM of CMD itself (not its children), sampled from
  /proc every 10 ms while it runs (0 when it ended before the first
  sample). For doveadm, which forks nothing, it equals maxrss_kb.

On timeout the processes of the session are listed (ps, into the stderr
file), the whole process group gets SIGTERM, SIGKILL 5 s later, and rc
is 124. Nothing is left running when this returns.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time


def usage():
    sys.stderr.write(__doc__)
    sys.exit(64)


def parse_time_file(path):
    vals = {}
    try:
        with open(path) as f:
            for line in f:
                key, _, val = line.strip().rpartition(": ")
                vals[key] = val
    except OSError:
        pass

    def num(key, conv):
        try:
            return conv(vals[key])
        except (KeyError, ValueError):
            return conv("0")
    return (num("User time (seconds)", float),
            num("System time (seconds)", float),
            num("Maximum resident set size (kbytes)", int))


def child_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except (OSError, ValueError):
        return None


def vm_hwm(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def main(argv):
    timeout = 600.0
    out = err = os.devnull
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] == "--timeout":
            timeout = float(argv[i + 1])
            i += 2
        elif argv[i] == "--stdout":
            out = argv[i + 1]
            i += 2
        elif argv[i] == "--stderr":
            err = argv[i + 1]
            i += 2
        else:
            usage()
    cmd = argv[i + 1:]
    if not cmd:
        usage()

    fd, tfile = tempfile.mkstemp(prefix="measure.")
    os.close(fd)
    with open(out, "wb") as fo, open(err, "wb") as fe:
        t0 = time.monotonic()
        p = subprocess.Popen(["/usr/bin/time", "-v", "-o", tfile] + cmd,
                             stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                             start_new_session=True)
        deadline = t0 + timeout
        target = None
        hwm = 0
        timed_out = False
        while True:
            rc = p.poll()
            if rc is not None:
                break
            if target is None:
                target = child_of(p.pid)
            if target is not None:
                h = vm_hwm(target)
                if h is not None and h > hwm:
                    hwm = h
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.01)
        if timed_out:
            # What was everybody waiting for? (into the stderr file)
            fe.write(b"\nmeasure.py: timeout after %.0f s; the processes:\n" % timeout)
            fe.flush()
            subprocess.run(["ps", "-s", str(p.pid), "-o",
                            "pid,ppid,stat,wchan:24,etime,time,args"],
                           stdout=fe, stderr=fe)
            pids = subprocess.run(["ps", "-s", str(p.pid), "-o", "pid="],
                                  capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    with open("/proc/%s/stack" % pid, "rb") as st:
                        fe.write(b"-- kernel stack of %s:\n" % pid.encode() + st.read())
                except OSError:
                    pass
            fe.flush()
            ss = subprocess.run(["ss", "-tnpi"], capture_output=True).stdout
            fe.write(b"-- ss -tnpi (lines of these processes):\n")
            lines = ss.split(b"\n")
            for i, line in enumerate(lines):
                if any((b"pid=%s," % pid.encode()) in line for pid in pids):
                    fe.write(line + b"\n")
                    if i + 1 < len(lines):
                        fe.write(lines[i + 1] + b"\n")
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
            rc = 124
        wall = time.monotonic() - t0
        # Descendants that outlived GNU time (none expected): stop them.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    user, sys_, maxrss = parse_time_file(tfile)
    os.unlink(tfile)
    if rc < 0:
        rc = 128 - rc
    print("%d\t%.6f\t%.2f\t%.2f\t%d\t%d" % (rc, wall, user, sys_, maxrss, hwm))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
