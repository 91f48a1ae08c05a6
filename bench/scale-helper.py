#!/usr/bin/python3
"""Helpers for bench/run-scale (issue 6's scale round). Not a test.

  scale-helper.py users SANDBOX_DIR NUSERS NACCOUNTS
      adds local users u001@example.org.. (homes owned by mail) and external
      users r0001.. (Maildirs owned by mail) to the sandbox's passwd-files.
  scale-helper.py mail SANDBOX_DIR NACCOUNTS COUNT TAG
      writes COUNT new ~2 KiB messages into each external user's INBOX
      (Maildir new/), Message-IDs <scale-TAG-rNNNN-i@example.net>.
  scale-helper.py add SANDBOX_DIR NUSERS NACCOUNTS OUT
      creates the accounts through the doveadm HTTP API (keep-alive, a few
      connections at once); account k of user j uses external user
      r((j-1)*per+k); even k IMAPS, odd k POP3S, keep = yes. Writes
      "user<TAB>id<TAB>protocol<TAB>remote" lines to OUT.
  scale-helper.py rcfile SANDBOX_DIR NACCOUNTS OUT IDFILE
      a fetchmail rc file polling the same remote accounts (same protocols).
  scale-helper.py sample OUT ROOTPID
      samples every 50 ms, until ROOTPID ends or SIGTERM, every process
      below ROOTPID: VmHWM per process, the sums of VmRSS and PSS at each
      instant, open fds. Writes a JSON summary to OUT.
  scale-helper.py check LIST_TSV NACCOUNTS SINCE FETCHED
      checks `doveadm -f tab fetchmail list -A` output: NACCOUNTS rows, all
      last-status ok, last-run >= SINCE (unix time), last-fetched == FETCHED.
  scale-helper.py fmcheck OUTPUT NACCOUNTS NEW
      checks a fetchmail round's output: every account reported, each with
      NEW unseen (new) messages, no errors.
  scale-helper.py cpu SANDBOX_DIR
      CPU seconds used so far by the ext and local Dovecot instances (every
      process of the instance, living or reaped) and by the whole machine
      (/proc/stat), as JSON.
  scale-helper.py due SANDBOX_DIR TIMEOUT
      waits until every registry entry is due (at most TIMEOUT seconds).
  scale-helper.py phases SANDBOX_DIR SINCE
      medians/p90 of the phases of every account run since SINCE, read from
      the run logs in the users' attribute files (file dict), as JSON.
"""
import base64
import calendar
import json
import os
import re
import signal
import sys
import threading
import time
import http.client

MAIL_UID = 8


def ext_name(i):
    return "r%04d" % i


def ext_password(name):
    return name + "-secret"


def local_name(j):
    return "u%03d@example.org" % j


def env_of(sandbox):
    env = {}
    with open(os.path.join(sandbox, "env")) as f:
        for line in f:
            line = line.strip()
            if "=" not in line or line.startswith("#"):
                continue
            k, v = line.split("=", 1)
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            env[k] = v
    return env


def mkdir_mail(path):
    os.makedirs(path, exist_ok=True)
    os.chown(path, MAIL_UID, MAIL_UID)


def cmd_users(sandbox, nusers, naccounts):
    nusers, naccounts = int(nusers), int(naccounts)
    ext_users = os.path.join(sandbox, "ext", "users")
    local_users = os.path.join(sandbox, "local", "users")
    with open(ext_users, "a") as f:
        for i in range(1, naccounts + 1):
            n = ext_name(i)
            f.write("%s:{PLAIN}%s::::::\n" % (n, ext_password(n)))
            home = os.path.join(sandbox, "ext", "mail", n)
            mkdir_mail(home)
            os.chmod(home, 0o700)
            for sub in ("Maildir", "Maildir/new", "Maildir/cur", "Maildir/tmp"):
                mkdir_mail(os.path.join(home, sub))
    with open(local_users, "a") as f:
        for j in range(1, nusers + 1):
            n = local_name(j)
            home = os.path.join(sandbox, "local", "mail", n)
            f.write("%s:{PLAIN}pw:8:8::%s::\n" % (n, home))
            mkdir_mail(home)
            os.chmod(home, 0o700)


def cmd_mail(sandbox, naccounts, count, tag):
    naccounts, count = int(naccounts), int(count)
    pid = os.getpid()
    body = ("scale test body line with some words to make it look like mail\n"
            * 30)
    now = int(time.time())
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(now))
    seq = 0
    for i in range(1, naccounts + 1):
        n = ext_name(i)
        new = os.path.join(sandbox, "ext", "mail", n, "Maildir", "new")
        for k in range(1, count + 1):
            seq += 1
            msg = ("From: sender%d@example.net\nTo: %s@example.net\n"
                   "Subject: scale %s %d\nDate: %s\n"
                   "Message-ID: <scale-%s-%s-%d@example.net>\n\n%s" %
                   (k, n, tag, k, date, tag, n, k, body)).encode()
            name = "%d.M%06dP%dQ%d.scale,S=%d" % (now, seq % 1000000, pid,
                                                   seq, len(msg))
            tmp = os.path.join(sandbox, "ext", "mail", n, "Maildir", "tmp",
                               name)
            with open(tmp, "wb") as f:
                f.write(msg)
            os.chown(tmp, MAIL_UID, MAIL_UID)
            os.rename(tmp, os.path.join(new, name))


def plan(nusers, naccounts):
    """[(local user, k, external user, protocol)]"""
    per = naccounts // nusers
    out = []
    for j in range(1, nusers + 1):
        for k in range(per):
            i = (j - 1) * per + k + 1
            out.append((local_name(j), k, ext_name(i),
                        "imap" if k % 2 == 0 else "pop3"))
    return out


def cmd_add(sandbox, nusers, naccounts, outpath):
    env = env_of(sandbox)
    port = int(env["LOCAL_HTTP_PORT"])
    auth = "X-Dovecot-API " + base64.b64encode(
        env["DOVEADM_API_KEY"].encode()).decode()
    items = plan(int(nusers), int(naccounts))
    results = [None] * len(items)
    errors = []
    lock = threading.Lock()
    nxt = [0]

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if nxt[0] >= len(items) or errors:
                    break
                idx = nxt[0]
                nxt[0] += 1
            user, k, remote, proto = items[idx]
            rport = env["EXT_IMAPS_PORT"] if proto == "imap" else env["EXT_POP3S_PORT"]
            req = [["fetchmailAdd", {
                "user": user, "host": "127.0.0.1", "port": rport,
                "protocol": proto, "remoteUser": remote,
                "password": ext_password(remote), "tls": "implicit",
                "keep": "yes", "mailbox": "INBOX"}, "a%d" % idx]]
            body = json.dumps(req)
            for attempt in range(3):
                try:
                    conn.request("POST", "/doveadm/v1", body=body, headers={
                        "Authorization": auth,
                        "Content-Type": "application/json"})
                    resp = conn.getresponse()
                    data = resp.read()
                    break
                except (http.client.HTTPException, OSError):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port,
                                                      timeout=60)
            else:
                with lock:
                    errors.append("%s: no answer" % user)
                break
            try:
                reply = json.loads(data)
                assert reply[0][0] == "doveadmResponse", reply
                results[idx] = reply[0][1][0]["id"]
            except Exception as e:  # noqa: BLE001 (report any bad reply)
                with lock:
                    errors.append("%s: %s: %r" % (user, e, data[:300]))
                break
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("add failed: " + "; ".join(errors[:5]))
    with open(outpath, "w") as f:
        for (user, k, remote, proto), aid in zip(items, results):
            f.write("%s\t%s\t%s\t%s\n" % (user, aid, proto, remote))


def cmd_rcfile(sandbox, naccounts, outpath, idfile):
    env = env_of(sandbox)
    naccounts = int(naccounts)
    ca = env["CA_FILE"]
    lines = ["set no syslog", "set idfile \"%s\"" % idfile, ""]
    # One poll statement per protocol; fetchmail walks the users one after
    # another. The labels differ, "via" gives the address, sslcommonname the
    # name in the certificate (fetchmail checks DNS names, not the IP SAN).
    per_proto = {"imap": [], "pop3": []}
    for i in range(1, naccounts + 1):
        # the same protocol split as `add`: account k of each user, k even
        # IMAP; with 10 accounts per user that is odd i IMAP.
        per_proto["imap" if (i - 1) % 2 == 0 else "pop3"].append(ext_name(i))
    for proto, port, label in (("imap", env["EXT_IMAPS_PORT"], "scale-imaps"),
                               ("pop3", env["EXT_POP3S_PORT"], "scale-pop3s")):
        lines.append("poll %s via 127.0.0.1 protocol %s port %s" %
                     (label, proto.upper(), port) +
                     (" uidl" if proto == "pop3" else ""))
        for name in per_proto[proto]:
            lines.append("  user \"%s\" there with password \"%s\" is root here"
                         " keep ssl sslcertck sslcertfile \"%s\""
                         " sslcommonname localhost mda \"cat >/dev/null\"" %
                         (name, ext_password(name), ca))
        lines.append("")
    fd = os.open(outpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines))


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def read_status(pid):
    hwm = rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return hwm, rss


def cmd_sample(outpath, root):
    """Every 50 ms, every process below ROOT (e.g. /usr/bin/time): its
    direct child is "main" (the scheduler, fetchmail, xargs), processes
    running `fetchmail run` are "run", anything else "other"."""
    root = int(root)
    stop = [False]

    def on_signal(signum, frame):
        stop[0] = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    procs = {}  # pid -> dict
    max_sum = max_pss = max_count = samples = 0
    t_begin = time.time()
    while not stop[0] and os.path.exists("/proc/%d" % root):
        total = total_pss = count = 0
        todo = [(c, 1) for c in children_of(root)]
        while todo:
            pid, depth = todo.pop()
            todo.extend((c, depth + 1) for c in children_of(pid))
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmd = f.read()
                hwm, rss = read_status(pid)
                fds = len(os.listdir("/proc/%d/fd" % pid))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            if rss == 0:  # zombie
                continue
            role = "main" if depth == 1 else (
                "run" if b"\0fetchmail\0run\0" in cmd else "other")
            p = procs.get(pid)
            if p is None:
                p = procs[pid] = {"pid": pid, "hwm": 0, "rss": 0,
                                  "fds_first": fds, "fds_max": 0,
                                  "t_first": time.time() - t_begin}
            p["role"] = role
            p["cmd"] = cmd.replace(b"\0", b" ").decode(errors="replace")[:160]
            p["hwm"] = max(p["hwm"], hwm)
            p["rss"] = max(p["rss"], rss)
            p["fds_last"] = fds
            p["fds_max"] = max(p["fds_max"], fds)
            p["t_last"] = time.time() - t_begin
            total += rss
            total_pss += read_pss(pid)
            count += 1
        max_sum = max(max_sum, total)
        max_pss = max(max_pss, total_pss)
        max_count = max(max_count, count)
        samples += 1
        time.sleep(0.05)
    by_role = {}
    for p in procs.values():
        r = by_role.setdefault(p["role"], {"count": 0, "max_hwm_kib": 0,
                                           "max_fds": 0})
        r["count"] += 1
        r["max_hwm_kib"] = max(r["max_hwm_kib"], p["hwm"])
        r["max_fds"] = max(r["max_fds"], p["fds_max"])
    lives = [p["t_last"] - p["t_first"] for p in procs.values()
             if p["role"] == "run"]
    out = {"samples": samples, "max_sum_rss_kib": max_sum,
           "max_sum_pss_kib": max_pss, "max_concurrent": max_count,
           "mean_run_life_s": sum(lives) / len(lives) if lives else 0,
           "by_role": by_role,
           "largest": sorted(procs.values(), key=lambda p: -p["hwm"])[:3]}
    main = [p for p in procs.values() if p["role"] == "main"]
    if main:
        out["main"] = main[0]
    with open(outpath, "w") as f:
        json.dump(out, f, indent=1)


def read_pss(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def parse_time(s):
    if not s:
        return 0
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def cmd_check(listpath, naccounts, since, fetched):
    naccounts, since = int(naccounts), int(since)
    with open(listpath) as f:
        rows = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    head, rows = rows[0], rows[1:]
    col = {name: i for i, name in enumerate(head)}
    problems = []
    stats = {"rows": len(rows), "ok": 0, "ran": 0, "fetched_sum": 0}
    for r in rows:
        st = r[col["last-status"]]
        run = parse_time(r[col["last-run"]])
        f = r[col["last-fetched"]]
        if st == "ok":
            stats["ok"] += 1
        if run >= since:
            stats["ran"] += 1
        stats["fetched_sum"] += int(f or 0)
        if st != "ok" or run < since or (fetched != "-" and f != fetched):
            problems.append("%s %s: status %s, last-run %s, fetched %s %s" % (
                r[col.get("username", 0)], r[col["id"]], st,
                r[col["last-run"]], f, r[col["last-error"]]))
    if len(rows) != naccounts:
        problems.insert(0, "%d accounts listed, %d expected" %
                        (len(rows), naccounts))
    print(json.dumps(stats))
    for p in problems[:10]:
        print("problem: " + p, file=sys.stderr)
    sys.exit(1 if problems else 0)


FM_LINE = re.compile(r"^(\d+) messages? (?:\((\d+) seen\) )?for (\S+) at ")


def cmd_fmcheck(outpath, naccounts, new):
    naccounts, new = int(naccounts), int(new)
    seen_users = {}
    errors = []
    with open(outpath, errors="replace") as f:
        for line in f:
            m = FM_LINE.match(line)
            if m:
                total, seen = int(m[1]), int(m[2] or 0)
                seen_users[m[3]] = total - seen
                continue
            m = re.match(r"^fetchmail: No mail for (\S+) at ", line)
            if m:
                seen_users[m[1]] = 0
                continue
            if re.search(r"error|fail|timeout|refused", line, re.I):
                errors.append(line.strip())
    bad = [u for u, n in seen_users.items() if n != new]
    print(json.dumps({"accounts": len(seen_users), "new_each": new,
                      "wrong_new": len(bad), "error_lines": len(errors)}))
    for e in errors[:5]:
        print("problem: " + e, file=sys.stderr)
    for u in bad[:5]:
        print("problem: %s: %d new" % (u, seen_users[u]), file=sys.stderr)
    ok = len(seen_users) == naccounts and not bad and not errors
    sys.exit(0 if ok else 1)


def proc_times(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime stime cutime cstime are fields 14..17 (1-based) of stat
    return sum(int(x) for x in fields[11:15])


def tree_cpu(root):
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += proc_times(pid)
        except (OSError, IndexError, ValueError):
            continue
        todo.extend(children.get(pid, []))
    return total / os.sysconf("SC_CLK_TCK")


def cmd_cpu(sandbox):
    out = {}
    for inst in ("ext", "local"):
        try:
            with open(os.path.join(sandbox, inst, "run", "master.pid")) as f:
                out[inst] = tree_cpu(int(f.read().strip()))
        except (OSError, ValueError):
            out[inst] = 0
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = cpu[3] + cpu[4]
    out["machine_busy"] = (sum(cpu[:8]) - idle) / hz
    out["machine_total"] = sum(cpu[:8]) / hz
    with open("/proc/loadavg") as f:
        out["load1"] = float(f.read().split()[0])
    print(json.dumps(out))


def cmd_due(sandbox, timeout):
    path = os.path.join(sandbox, "local", "mail", "fetchmail-registry")
    end = time.time() + float(timeout)
    while True:
        with open(path) as f:
            lines = f.read().split("\n")
        dues = [int(v) for k, v in zip(lines[0::2], lines[1::2])
                if k.startswith("shared/fetchmail/due/") and v.isdigit()]
        now = time.time()
        if dues and max(dues) <= now - 3:
            return
        if now > end:
            sys.exit("not all due after %s s" % timeout)
        time.sleep(0.2)


TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z (.)(.*)$")


def ts_of(s):
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) + \
        int(s[20:23]) / 1000.0


def cmd_phases(sandbox, since):
    since = float(since)
    maildir = os.path.join(sandbox, "local", "mail")
    ph = {"tcp+tls": [], "greeting": [], "login": [], "after_login": [],
          "total": []}
    for user in os.listdir(maildir):
        path = os.path.join(maildir, user, "dovecot-attributes")
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
        for key, value in zip(lines[0::2], lines[1::2]):
            if b"/fetchmail/log/" not in key:
                continue
            t = {}
            for entry in value.decode(errors="replace").split("\x01n"):
                m = TS.match(entry)
                if not m:
                    continue
                when, kind, text = ts_of(m[1]), m[2], m[3]
                if "run started" in text:
                    t["start"] = when
                elif kind == "*" and text.startswith(": TLS:"):
                    t.setdefault("tls", when)
                elif kind == "S" and "greet" not in t:
                    t["greet"] = when
                elif kind == "C" and ("PASS" in text or "LOGIN" in text or
                                      "AUTHENTICATE" in text):
                    t.setdefault("login_sent", when)
                elif kind == "S" and "Logged in" in text:
                    t.setdefault("logged_in", when)
                elif "run ended" in text:
                    t["end"] = when
            if t.get("start", 0) < since or not all(
                    k in t for k in ("start", "tls", "greet", "login_sent",
                                     "logged_in", "end")):
                continue
            ph["tcp+tls"].append(t["tls"] - t["start"])
            ph["greeting"].append(t["greet"] - t["tls"])
            ph["login"].append(t["logged_in"] - t["login_sent"])
            ph["after_login"].append(t["end"] - t["logged_in"])
            ph["total"].append(t["end"] - t["start"])
    out = {"runs": len(ph["total"])}
    for k, v in ph.items():
        v.sort()
        if v:
            out[k] = {"median_ms": round(1000 * v[len(v) // 2], 1),
                      "p90_ms": round(1000 * v[int(len(v) * 0.9)], 1),
                      "sum_s": round(sum(v), 2)}
    print(json.dumps(out))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"users": cmd_users, "mail": cmd_mail, "add": cmd_add,
          "rcfile": cmd_rcfile, "sample": cmd_sample,
          "check": cmd_check, "fmcheck": cmd_fmcheck, "cpu": cmd_cpu,
          "due": cmd_due, "phases": cmd_phases}.get(cmd)
    if fn is None:
        sys.exit(__doc__)
    fn(*args)


if __name__ == "__main__":
    main()
