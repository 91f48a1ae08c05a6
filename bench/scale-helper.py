#!/usr/bin/python3
"""Helpers for bench/run-scale (issue 12's scale round). Not a test.

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
  scale-helper.py edit SANDBOX_DIR ACCOUNTS_TSV push-on|push-off
      edits every account through the HTTP API: push-on makes it IMAPS
      with push = yes (POP3S accounts become IMAPS accounts of the same
      remote user), push-off sets push = no.
  scale-helper.py rcfile SANDBOX_DIR NACCOUNTS OUT IDFILE
      a fetchmail rc file polling the same remote accounts (same protocols).
  scale-helper.py sample OUT ROOTPID [self]
      samples every 100 ms, until ROOTPID ends or SIGTERM, every process
      below ROOTPID (with "self" ROOTPID too): VmHWM per process, the sums
      of VmRSS and PSS at each instant, open fds. Writes a JSON summary.
  scale-helper.py procs SANDBOX_DIR
      the fetch service of the local instance and its workers now: pid,
      VmRSS, VmHWM, PSS, fds each, and the sums (JSON).
  scale-helper.py look SANDBOX_DIR ACCOUNTS_TSV
      tells the fetch service that every user looked at INBOX (LOOK on its
      socket): with fetchmail_look_age = 1s that starts a round of all
      accounts, as their interval coming round would. Prints the unix time
      the LOOKs were sent.
  scale-helper.py status SANDBOX_DIR ACCOUNTS_TSV [SINCE [FETCHED]]
      the service's live status of every account (STATUS on its socket):
      counts by last-status and push state, how many run now, how many ran
      since SINCE (unix time), how many fetched FETCHED last, as JSON.
  scale-helper.py waitfor SANDBOX_DIR EXT_OFFSET LOCAL_OFFSET SESSIONS RUNS TIMEOUT
      waits until the external Dovecot's log has SESSIONS ended sessions of
      r* users after byte EXT_OFFSET and the local log RUNS "run
      finished/failed" lines after LOCAL_OFFSET; prints the unix time it
      saw the last of them (polled every 20 ms), or exits 1 at TIMEOUT.
  scale-helper.py check LIST_TSV NACCOUNTS SINCE FETCHED
      checks `doveadm -f tab fetchmail list -A` output: NACCOUNTS rows, all
      last-status ok, last-run >= SINCE (unix time), last-fetched == FETCHED.
  scale-helper.py fmcheck OUTPUT NACCOUNTS NEW
      checks a fetchmail round's output: every account reported, each with
      NEW unseen (new) messages, no errors.
  scale-helper.py cpu SANDBOX_DIR [PID]
      CPU seconds used so far by the ext and local Dovecot instances (every
      process of the instance, living or reaped), by PID's tree ("svc": the
      fetch service and its workers) and by the whole machine (/proc/stat),
      as JSON.
  scale-helper.py pushlat SANDBOX_DIR ACCOUNTS_TSV N SPACING OUT
      delivers one new message into each of N random remote mailboxes,
      SPACING seconds apart, and measures for each the time until it is in
      the local INBOX of the account's user (Maildir new/ or cur/, polled
      every 10 ms); writes the latencies (JSON) to OUT.
"""
import base64
import calendar
import json
import os
import random
import re
import signal
import socket
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


def api_calls(sandbox, items, make_request, parse, nconn=3):
    """Runs make_request(item) -> [command, params] for every item through
    the doveadm HTTP API on nconn keep-alive connections; returns the
    parse(reply entry) of each. Exits on the first error."""
    env = env_of(sandbox)
    port = int(env["LOCAL_HTTP_PORT"])
    auth = "X-Dovecot-API " + base64.b64encode(
        env["DOVEADM_API_KEY"].encode()).decode()
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
            cmd, params = make_request(env, items[idx])
            body = json.dumps([[cmd, params, "a%d" % idx]])
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
                    errors.append("%s: no answer" % (items[idx],))
                break
            try:
                reply = json.loads(data)
                assert reply[0][0] == "doveadmResponse", reply
                results[idx] = parse(reply[0][1])
            except Exception as e:  # noqa: BLE001 (report any bad reply)
                with lock:
                    errors.append("%s: %s: %r" % (items[idx], e, data[:300]))
                break
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(nconn)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("HTTP API calls failed: " + "; ".join(errors[:5]))
    return results


def cmd_add(sandbox, nusers, naccounts, outpath):
    items = plan(int(nusers), int(naccounts))

    def request(env, item):
        user, k, remote, proto = item
        rport = env["EXT_IMAPS_PORT"] if proto == "imap" else env["EXT_POP3S_PORT"]
        return "fetchmailAdd", {
            "user": user, "host": "127.0.0.1", "port": rport,
            "protocol": proto, "remoteUser": remote,
            "password": ext_password(remote), "tls": "implicit",
            "keep": "yes", "mailbox": "INBOX"}
    results = api_calls(sandbox, items, request, lambda r: r[0]["id"])
    with open(outpath, "w") as f:
        for (user, k, remote, proto), aid in zip(items, results):
            f.write("%s\t%s\t%s\t%s\n" % (user, aid, proto, remote))


def read_accounts(path):
    with open(path) as f:
        return [l.rstrip("\n").split("\t") for l in f if l.strip()]


def cmd_edit(sandbox, accounts_tsv, mode):
    items = read_accounts(accounts_tsv)

    def request(env, item):
        user, aid, proto, remote = item
        params = {"user": user, "id": aid}
        if mode == "push-on":
            params.update({"protocol": "imap", "port": env["EXT_IMAPS_PORT"],
                           "push": "yes"})
        else:
            params["push"] = "no"
        return "fetchmailEdit", params
    api_calls(sandbox, items, request, lambda r: True)


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


def read_pss(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read()


def role_of(cmd, depth):
    if b"\0fetchmail\0worker" in cmd:
        return "worker"
    if b"\0fetchmail\0service" in cmd:
        return "service"
    return "main" if depth == 1 else "other"


def cmd_sample(outpath, root, self_too=""):
    """Every 100 ms, every process below ROOT (and ROOT with "self"): roles
    "service" / "worker" (the fetch service), "main" (ROOT's direct child:
    fetchmail under GNU time), "other"."""
    root = int(root)
    stop = [False]

    def on_signal(signum, frame):
        stop[0] = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    procs = {}  # pid -> dict
    max_sum = max_pss = max_count = samples = 0
    while not stop[0] and os.path.exists("/proc/%d" % root):
        total = total_pss = count = 0
        todo = [(c, 1) for c in children_of(root)]
        if self_too == "self":
            todo.append((root, 0))
        while todo:
            pid, depth = todo.pop()
            if pid != root:
                todo.extend((c, depth + 1) for c in children_of(pid))
            try:
                cmd = cmdline(pid)
                hwm, rss = read_status(pid)
                fds = len(os.listdir("/proc/%d/fd" % pid))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            if rss == 0:  # zombie
                continue
            p = procs.get(pid)
            if p is None:
                p = procs[pid] = {"pid": pid, "hwm": 0, "rss": 0,
                                  "fds_first": fds, "fds_max": 0}
            p["role"] = role_of(cmd, depth)
            p["cmd"] = cmd.replace(b"\0", b" ").decode(errors="replace")[:160]
            p["hwm"] = max(p["hwm"], hwm)
            p["rss"] = max(p["rss"], rss)
            p["fds_last"] = fds
            p["fds_max"] = max(p["fds_max"], fds)
            total += rss
            total_pss += read_pss(pid)
            count += 1
        max_sum = max(max_sum, total)
        max_pss = max(max_pss, total_pss)
        max_count = max(max_count, count)
        samples += 1
        time.sleep(0.1)
    by_role = {}
    for p in procs.values():
        r = by_role.setdefault(p["role"], {"count": 0, "max_hwm_kib": 0,
                                           "max_rss_kib": 0, "max_fds": 0})
        r["count"] += 1
        r["max_hwm_kib"] = max(r["max_hwm_kib"], p["hwm"])
        r["max_rss_kib"] = max(r["max_rss_kib"], p["rss"])
        r["max_fds"] = max(r["max_fds"], p["fds_max"])
    out = {"samples": samples, "max_sum_rss_kib": max_sum,
           "max_sum_pss_kib": max_pss, "max_concurrent": max_count,
           "by_role": by_role, "procs": sorted(procs.values(),
                                               key=lambda p: -p["hwm"])[:8]}
    main = [p for p in procs.values() if p["role"] == "main"]
    if main:
        out["main"] = main[0]
    with open(outpath, "w") as f:
        json.dump(out, f, indent=1)


def service_pids(sandbox):
    """[service pid, worker pids...] of the local instance's fetch service"""
    with open(os.path.join(sandbox, "local", "run", "master.pid")) as f:
        master = int(f.read().strip())
    svc = [p for p in children_of(master)
           if role_of(cmdline(p), 1) == "service"]
    if not svc:
        return []
    workers = [p for p in children_of(svc[0])
               if role_of(cmdline(p), 2) == "worker"]
    return svc[:1] + sorted(workers)


def cmd_procs(sandbox):
    out = {"procs": [], "sum_rss_kib": 0, "sum_pss_kib": 0, "sum_fds": 0}
    for pid in service_pids(sandbox):
        try:
            hwm, rss = read_status(pid)
            fds = sorted(os.listdir("/proc/%d/fd" % pid), key=int)
            kinds = {}
            files = []
            for fd in fds:
                try:
                    t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                except OSError:
                    continue
                k = t.split(":")[0] if ":" in t and not t.startswith("/") \
                    else "file"
                kinds[k] = kinds.get(k, 0) + 1
                if k == "file":
                    files.append(t)
            role = role_of(cmdline(pid), 1)
        except OSError:
            continue
        pss = read_pss(pid)
        out["procs"].append({"pid": pid, "role": role, "rss_kib": rss,
                             "hwm_kib": hwm, "pss_kib": pss,
                             "fds": len(fds), "fd_kinds": kinds,
                             "files": sorted(files)})
        out["sum_rss_kib"] += rss
        out["sum_pss_kib"] += pss
        out["sum_fds"] += len(fds)
    print(json.dumps(out))


def service_socket(sandbox):
    env = env_of(sandbox)
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(os.path.join(env["LOCAL_BASE_DIR"], "fetchmail"))
    return s


def service_requests(sandbox, verb, users):
    """One connection, VERSION and one VERB line per user; the replies."""
    s = service_socket(sandbox)
    req = b"VERSION\tfetchmail\t1\t0\n" + b"".join(
        ("%s\t%s\n" % (verb, u)).encode() for u in users)
    s.sendall(req)
    data = b""
    while data.count(b"\n") < len(users) + 1:
        d = s.recv(1 << 20)
        if not d:
            break
        data += d
    s.close()
    lines = data.decode(errors="replace").split("\n")[1:len(users) + 1]
    if len(lines) != len(users):
        sys.exit("%s: %d replies for %d users" % (verb, len(lines), len(users)))
    return lines


def users_of(accounts_tsv):
    seen = []
    for row in read_accounts(accounts_tsv):
        if not seen or seen[-1] != row[0]:
            seen.append(row[0])
    return seen


def cmd_look(sandbox, accounts_tsv):
    users = users_of(accounts_tsv)
    s = service_socket(sandbox)
    s.sendall(b"VERSION\tfetchmail\t1\t0\n")
    t = time.time()
    s.sendall(b"".join(("LOOK\t%s\n" % u).encode() for u in users))
    data = b""
    while data.count(b"\n") < len(users) + 1:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    bad = [l for l in data.decode().split("\n")[1:len(users) + 1] if l != "OK"]
    if bad or data.count(b"\n") < len(users) + 1:
        sys.exit("LOOK: %r" % (bad[:1] or data[-200:]))
    print("%.3f" % t)


def cmd_status(sandbox, accounts_tsv, since="0", fetched="-"):
    since = int(since)
    out = {"accounts": 0, "running": 0, "ran_since": 0, "last_status": {},
           "push": {}, "errors": [], "fetched_as_expected": 0}
    for line in service_requests(sandbox, "STATUS", users_of(accounts_tsv)):
        if not line.startswith("OK\t"):
            out["errors"].append(line[:200])
            continue
        for aid, live in json.loads(line[3:]).items():
            st = json.loads(live["status"]) if live.get("status") else {}
            out["accounts"] += 1
            out["running"] += 1 if live.get("running") else 0
            ls = st.get("last-status", "never")
            out["last_status"][ls] = out["last_status"].get(ls, 0) + 1
            if st.get("last-run", 0) >= since:
                out["ran_since"] += 1
            if fetched == "-" or str(st.get("last-fetched", 0)) == fetched:
                out["fetched_as_expected"] += 1
            p = live.get("push") or "none"
            out["push"][p] = out["push"].get(p, 0) + 1
            if ls == "error" and len(out["errors"]) < 5:
                out["errors"].append("%s: %s" % (aid, st.get("last-error")))
    print(json.dumps(out, sort_keys=True))


# The end of a session of an r* user: "imap(r0001)<pid><session>: Info:
# Disconnected: Logged out ...". Now and then (many processes starting at
# once) the external Dovecot's log process writes a line without its
# prefix: "pop3: Info: Disconnected: Logged out ...", counted too (this log
# has no other users' sessions; login processes are "imap-login:").
SESSION_END = re.compile(rb"\b(?:imap|pop3)(?:\(r\d+\)<[^>]*><[^>]*>)?: "
                         rb"(?:Info: )?(?:Logged out|Disconnected)")
RUN_END = re.compile(rb"fetchmail\([^)]*\): run (?:finished|failed)")


def cmd_waitfor(sandbox, ext_off, local_off, sessions, runs, timeout):
    env = env_of(sandbox)
    sessions, runs = int(sessions), int(runs)
    end = time.time() + float(timeout)
    files = [[env["EXT_LOG"], int(ext_off), b"", 0, SESSION_END, sessions],
             [env["LOCAL_LOG"], int(local_off), b"", 0, RUN_END, runs]]
    last_seen = 0.0
    # Should a session's end line still be missing (not seen since the
    # prefix-less lines are counted; kept as a safety net): once every run is logged and at most 1% of the
    # sessions (at least 1) are missing, QUIET seconds without a new line
    # end the wait; the time printed is still that of the last line seen,
    # and the shortfall is said on stderr. The caller's status check
    # (every account polled in the round) is the correctness check.
    quiet, slack = 10.0, max(1, sessions // 100)
    last_progress = time.time()
    while True:
        done = True
        for f in files:
            path, off, rest, n, rx, want = f
            if n < want:
                with open(path, "rb") as fh:
                    fh.seek(off)
                    data = fh.read()
                if data:
                    data = rest + data
                    cut = data.rfind(b"\n") + 1
                    f[2] = data[cut:]
                    found = len(rx.findall(data[:cut]))
                    f[3] = n = n + found
                    f[1] = off + len(data) - len(rest)
                    if found:
                        last_progress = time.time()
                        last_seen = max(last_seen, last_progress)
            if f[3] < want:
                done = False
        if done:
            print("%.3f" % (last_seen or time.time()))
            return
        if (files[1][3] >= runs and files[0][3] >= sessions - slack and
                time.time() - last_progress >= quiet):
            print("waitfor: %d of %d sessions logged by the external server "
                  "(no new line for %.0f s), %d of %d runs" % (
                      files[0][3], sessions, quiet, files[1][3], runs),
                  file=sys.stderr)
            print("%.3f" % (last_seen or time.time()))
            return
        if time.time() > end:
            sys.exit("waitfor: %d of %d sessions, %d of %d runs after %s s" % (
                files[0][3], sessions, files[1][3], runs, timeout))
        time.sleep(0.02)


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


def cmd_cpu(sandbox, pid="0"):
    out = {}
    for inst in ("ext", "local"):
        try:
            with open(os.path.join(sandbox, inst, "run", "master.pid")) as f:
                out[inst] = tree_cpu(int(f.read().strip()))
        except (OSError, ValueError):
            out[inst] = 0
    out["svc"] = tree_cpu(int(pid)) if int(pid) > 0 else 0
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = cpu[3] + cpu[4]
    out["machine_busy"] = (sum(cpu[:8]) - idle) / hz
    out["machine_total"] = sum(cpu[:8]) / hz
    out["time"] = time.time()
    with open("/proc/loadavg") as f:
        out["load1"] = float(f.read().split()[0])
    print(json.dumps(out))


def maildir_files(home):
    names = set()
    for sub in ("new", "cur"):
        try:
            names.update(os.path.join(sub, n) for n in
                         os.listdir(os.path.join(home, "Maildir", sub)))
        except FileNotFoundError:
            pass
    return names


def message_id_of(home, name):
    for path in (name, name.replace("new/", "cur/", 1)):
        try:
            with open(os.path.join(home, "Maildir", path), "rb") as f:
                head = f.read(2048)
        except FileNotFoundError:
            continue
        m = re.search(rb"(?im)^Message-ID:\s*(<[^>]+>)", head)
        return m.group(1).decode() if m else None
    return None


def cmd_pushlat(sandbox, accounts_tsv, n, spacing, outpath):
    n, spacing = int(n), float(spacing)
    rows = read_accounts(accounts_tsv)
    rnd = random.Random(12)
    picks = rnd.sample(rows, min(n, len(rows)))
    local = os.path.join(sandbox, "local", "mail")
    seen = {}        # user -> file names known
    pending = {}     # message-id -> (user, remote, t0)
    lat = {}         # message-id -> seconds
    body = "push latency test message\n" * 40
    t_next = time.time()
    i = 0
    deadline = None
    while True:
        now = time.time()
        if i < len(picks) and now >= t_next:
            user, aid, proto, remote = picks[i]
            home = os.path.join(local, user)
            if user not in seen:
                seen[user] = maildir_files(home)
            msgid = "<push-%d-%s-%d@example.net>" % (os.getpid(), remote, i)
            msg = ("From: pusher@example.net\nTo: %s@example.net\n"
                   "Subject: push %d\nDate: %s\nMessage-ID: %s\n\n%s" % (
                       remote, i, time.strftime(
                           "%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
                       msgid, body)).encode()
            rdir = os.path.join(sandbox, "ext", "mail", remote, "Maildir")
            name = "%d.M%dP%dQ%d.push,S=%d" % (int(now), i, os.getpid(), i,
                                               len(msg))
            with open(os.path.join(rdir, "tmp", name), "wb") as f:
                f.write(msg)
            os.chown(os.path.join(rdir, "tmp", name), MAIL_UID, MAIL_UID)
            os.rename(os.path.join(rdir, "tmp", name),
                      os.path.join(rdir, "new", name))
            pending[msgid] = (user, remote, time.time())
            i += 1
            t_next += spacing
            if i == len(picks):
                deadline = time.time() + 60
        for user in set(p[0] for p in pending.values()):
            home = os.path.join(local, user)
            names = maildir_files(home)
            fresh = names - seen[user]
            seen[user] = names
            for name in fresh:
                mid = message_id_of(home, name)
                if mid in pending and pending[mid][0] == user:
                    lat[mid] = time.time() - pending.pop(mid)[2]
        if i == len(picks) and (not pending or time.time() > deadline):
            break
        time.sleep(0.01)
    # every message exactly once: count files carrying each Message-ID
    dups = 0
    for user in seen:
        home = os.path.join(local, user)
        ids = [message_id_of(home, nm) for nm in maildir_files(home)]
        ids = [x for x in ids if x and x.startswith("<push-%d-" % os.getpid())]
        dups += len(ids) - len(set(ids))
    v = sorted(lat.values())

    def pct(p):
        return round(v[min(len(v) - 1, int(p * len(v)))], 3) if v else None
    out = {"sent": len(picks), "arrived": len(v), "missing": len(pending),
           "duplicates": dups, "spacing_s": spacing,
           "p50_s": pct(0.5), "p90_s": pct(0.9), "p99_s": pct(0.99),
           "max_s": round(v[-1], 3) if v else None,
           "min_s": round(v[0], 3) if v else None,
           "missing_ids": sorted(pending)[:10]}
    with open(outpath, "w") as f:
        json.dump(out, f)
    print(json.dumps(out))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"users": cmd_users, "mail": cmd_mail, "add": cmd_add,
          "edit": cmd_edit, "rcfile": cmd_rcfile, "sample": cmd_sample,
          "procs": cmd_procs, "look": cmd_look, "status": cmd_status,
          "waitfor": cmd_waitfor, "check": cmd_check, "fmcheck": cmd_fmcheck,
          "cpu": cmd_cpu, "pushlat": cmd_pushlat}.get(cmd)
    if fn is None:
        sys.exit(__doc__)
    fn(*args)


if __name__ == "__main__":
    main()
