#!/usr/bin/python3
"""report.py: the tables and the target verdicts of a bench/run-bench run.

    report.py [--doc FILE] [--meta key=value]... RESULTS.tsv

Prints Markdown to stdout. With --doc, also replaces the part of FILE
between the lines "<!-- BEGIN BENCH RESULTS -->" and
"<!-- END BENCH RESULTS -->" with it.

Every figure is the median over the repetitions that ran and verified
("ok"); a measurement with no verified repetition shows its first failure.
"""

import csv
import statistics
import sys

BEGIN = "<!-- BEGIN BENCH RESULTS -->"
END = "<!-- END BENCH RESULTS -->"
PROTOS = ["pop3", "imap", "pop3s", "imaps"]
TOOL_NAMES = {
    "plugin": "plugin (`doveadm fetchmail run`)",
    "floor": "local floor (`doveadm import` from mbox)",
    "dovecot": "Dovecot pull (`doveadm import` from pop3c:/imapc:)",
    "fetchmail": "fetchmail + dovecot-lda",
    "getmail": "getmail6 + dovecot-lda",
}
SHORT = {
    "plugin": "plugin",
    "floor": "floor (mbox import)",
    "dovecot": "pop3c/imapc import",
    "fetchmail": "fetchmail + lda",
    "getmail": "getmail6 + lda",
}


class Agg:
    """The repetitions of one measurement."""

    def __init__(self, rows):
        self.rows = rows
        self.ok = [r for r in rows if r["status"] == "ok"]
        self.n = int(rows[0]["n"])
        self.runs = len(rows)

    @property
    def good(self):
        return bool(self.ok)

    def med(self, key):
        return statistics.median(float(r[key]) for r in self.ok)

    @property
    def wall(self):
        return self.med("wall")

    @property
    def cpu(self):
        return statistics.median(float(r["user"]) + float(r["sys"]) for r in self.ok)

    @property
    def rss(self):
        return self.med("maxrss_kb")

    @property
    def self_rss(self):
        return self.med("self_kb")

    @property
    def rate(self):
        return self.n / self.wall if self.wall > 0 else float("inf")

    @property
    def failure(self):
        bad = [r for r in self.rows if r["status"] != "ok"]
        return bad[0]["status"] if bad else ""

    def spread(self):
        """min-max of the wall times, for the reader to judge the noise."""
        w = sorted(float(r["wall"]) for r in self.ok)
        if len(w) < 2:
            return ""
        return "%s-%s" % (fmt_s(w[0]), fmt_s(w[-1]))


def fmt_s(x):
    if x < 0.1:
        return "%.3f" % x
    if x < 10:
        return "%.2f" % x
    return "%.1f" % x


def fmt_mib(kb):
    return "%.1f" % (kb / 1024.0)


def fmt_ratio(x):
    if x >= 10:
        return "%.0f" % x
    return "%.2f" % x


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    groups = {}
    for r in rows:
        key = (r["section"], r["tool"], r["proto"], r["scenario"])
        groups.setdefault(key, []).append(r)
    return {k: Agg(v) for k, v in groups.items()}


def get(data, section, tool, proto, scenario):
    a = data.get((section, tool, proto, scenario))
    if a is None and tool == "floor":
        a = data.get((section, tool, "-", scenario))
    return a


def protos_in(data, section):
    seen = {k[2] for k in data if k[0] == section}
    return [p for p in PROTOS if p in seen]


def table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(" --- " if i < 2 else " ---: " for i in range(len(header))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return out


def failed_cells(a, width):
    text = "FAILED: " + a.failure if a else "not run"
    return [text] + [""] * (width - 1)


def nokeep_table(data, section, tools, cpu_note=True):
    header = ["protocol", "tool", "messages", "wall s (median)", "range s",
              "msg/s", "CPU s", "peak RSS MiB", "tool's own RSS MiB",
              "plugin speed ÷ tool speed"]
    rows = []
    for proto in protos_in(data, section):
        plugin = get(data, section, "plugin", proto, "nokeep")
        for tool in tools:
            a = get(data, section, tool, proto, "nokeep")
            if a is None:
                continue
            row = [proto, SHORT[tool], str(a.n)]
            if not a.good:
                rows.append(row + failed_cells(a, 7))
                continue
            ratio = ""
            if plugin is not None and plugin.good:
                ratio = fmt_ratio(plugin.rate / a.rate)
            row += [fmt_s(a.wall), a.spread(), "%.0f" % a.rate, fmt_s(a.cpu),
                    fmt_mib(a.rss), fmt_mib(a.self_rss) if a.self_rss else "",
                    ratio]
            rows.append(row)
    return table(header, rows)


def keep_table(data, section, tools):
    header = ["protocol", "tool", "first run: messages", "s", "msg/s",
              "+new: messages", "s", "msg/s", "poll: messages on server", "s",
              "CPU s", "poll ÷ plugin's poll", "peak RSS MiB"]
    rows = []
    for proto in protos_in(data, section):
        plugin_poll = get(data, section, "plugin", proto, "keep-poll")
        for tool in tools:
            full = get(data, section, tool, proto, "keep-full")
            new = get(data, section, tool, proto, "keep-new")
            poll = get(data, section, tool, proto, "keep-poll")
            if full is None:
                continue
            row = [proto, SHORT[tool]]
            for a in (full, new):
                if a is not None and a.good:
                    row += ["%d (%d run%s)" % (a.n, len(a.ok), "" if len(a.ok) == 1 else "s"),
                            fmt_s(a.wall), "%.0f" % a.rate]
                else:
                    row += failed_cells(a, 3)
            if poll is not None and poll.good:
                ratio = ""
                if plugin_poll is not None and plugin_poll.good:
                    ratio = fmt_ratio(poll.wall / plugin_poll.wall)
                row += [str(poll.n), fmt_s(poll.wall), fmt_s(poll.cpu), ratio]
            else:
                row += failed_cells(poll, 4)
            rss = max(a.rss for a in (full, new, poll) if a is not None and a.good) \
                if any(a is not None and a.good for a in (full, new, poll)) else 0
            row.append(fmt_mib(rss))
            rows.append(row)
    return table(header, rows)


def mixed_table(data, tools, meta):
    header = ["protocol", "tool", "messages", "wall s (median)", "MiB/s",
              "CPU s", "peak RSS MiB", "tool's own RSS MiB",
              "RSS − same tool's RSS with 4 KiB messages, MiB"]
    rows = []
    for proto in protos_in(data, "mixed"):
        for tool in tools:
            a = get(data, "mixed", tool, proto, "nokeep")
            if a is None:
                continue
            row = [proto, SHORT[tool], str(a.n)]
            if not a.good:
                rows.append(row + failed_cells(a, 6))
                continue
            base = get(data, "mixbase", tool, proto, "nokeep") or \
                get(data, "main", tool, proto, "nokeep")
            delta = ""
            if base is not None and base.good:
                delta = "%+.1f" % ((a.rss - base.rss) / 1024.0)
            mib = float(meta.get("mixed_mib", "0") or 0)
            row += [fmt_s(a.wall), "%.1f" % (mib / a.wall) if mib else "", fmt_s(a.cpu), fmt_mib(a.rss),
                    fmt_mib(a.self_rss) if a.self_rss else "", delta]
            rows.append(row)
    return table(header, rows)


def verdicts(data, meta):
    out = []

    def line(name, ok, text):
        out.append("- %s: **%s** — %s" % (name, "met" if ok else "not met", text))

    protos = protos_in(data, "main")

    def vs_floor(section):
        parts, allok = [], True
        for p in protos_in(data, section):
            pl = get(data, section, "plugin", p, "nokeep")
            fl = get(data, section, "floor", p, "nokeep")
            if not (pl and pl.good and fl and fl.good):
                parts.append("%s: not measured" % p)
                allok = False
                continue
            r = pl.rate / fl.rate
            allok &= r >= 0.8
            parts.append("%s %.0f msg/s = %.2f × floor (%.0f msg/s)" % (p, pl.rate, r, fl.rate))
        return parts, allok

    def vs_import(section):
        parts, allok = [], True
        for p in protos_in(data, section):
            pl = get(data, section, "plugin", p, "nokeep")
            dv = get(data, section, "dovecot", p, "nokeep")
            if not (pl and pl.good) or dv is None:
                parts.append("%s: not measured" % p)
                allok = False
                continue
            if not dv.good:
                parts.append("%s %.0f msg/s; %s import failed (%s)"
                             % (p, pl.rate, "pop3c" if p.startswith("pop3") else "imapc",
                                dv.failure))
                continue
            allok &= pl.rate > dv.rate
            parts.append("%s %.0f vs %.0f msg/s (%.2f×)" % (p, pl.rate, dv.rate, pl.rate / dv.rate))
        return parts, allok

    # 1. 0.8 x the local floor.
    parts, allok = vs_floor("main")
    if parts:
        line("keep = no at ≥ 0.8 × the local floor (local mail on disk)", allok, "; ".join(parts))
    # 2. faster than pop3c/imapc import.
    parts, allok = vs_import("main")
    if parts:
        line("faster than Dovecot's pop3c/imapc import (local mail on disk)", allok, "; ".join(parts))
    if any(k[0] == "tmpfs" for k in data):
        parts, allok = vs_floor("tmpfs")
        line("the same on tmpfs (software cost only): ≥ 0.8 × floor", allok, "; ".join(parts))
        parts, allok = vs_import("tmpfs")
        line("the same on tmpfs: faster than pop3c/imapc import", allok, "; ".join(parts))
    # 3. 15 x fetchmail.
    parts, allok = [], True
    for p in protos:
        pl, fm = get(data, "main", "plugin", p, "nokeep"), get(data, "main", "fetchmail", p, "nokeep")
        if not (pl and pl.good and fm and fm.good):
            parts.append("%s: not measured" % p)
            allok = False
            continue
        r = pl.rate / fm.rate
        allok &= r >= 15
        parts.append("%s %.1f× (%.0f vs %.1f msg/s)" % (p, r, pl.rate, fm.rate))
    if parts:
        line("≥ 15 × fetchmail + dovecot-lda (keep = no)", allok, "; ".join(parts))
    # 4. memory flat in message size.
    parts, allok = [], True
    what = "the main 4 KiB run"
    for p in protos_in(data, "mixed"):
        mx = get(data, "mixed", "plugin", p, "nokeep")
        base = get(data, "mixbase", "plugin", p, "nokeep")
        if base is not None:
            what = "%d messages of 4 KiB" % base.n
        else:
            base = get(data, "main", "plugin", p, "nokeep")
        if not (mx and mx.good and base and base.good):
            parts.append("%s: not measured" % p)
            allok = False
            continue
        d = (mx.rss - base.rss) / 1024.0
        allok &= d < 4.0
        parts.append("%s %+.1f MiB (%s → %s MiB)" % (p, d, fmt_mib(base.rss), fmt_mib(mx.rss)))
    if parts:
        line("the 20 MiB message raises peak RSS by < 4 MiB (against %s)" % what,
             allok, "; ".join(parts))
    # 5. poll < 0.2 s.
    parts, allok = [], True
    for p in protos:
        a = get(data, "main", "plugin", p, "keep-poll")
        if not (a and a.good):
            parts.append("%s: not measured" % p)
            allok = False
            continue
        allok &= a.wall < 0.2
        parts.append("%s %.3f s" % (p, a.wall))
    if parts:
        line("keep = yes poll of an unchanged %s-message mailbox < 0.2 s" % meta.get("count", "?"),
             allok, "; ".join(parts))
    return out


def render(data, meta):
    o = []
    o.append("Produced by `%s` on %s." % (meta.get("command", "?"), meta.get("date", "?")))
    o.append("")
    o.append("- machine: %s CPUs (`nproc`), %s, Linux %s; load average %s"
             % (meta.get("nproc", "?"), meta.get("cpu", "?"), meta.get("kernel", "?"),
                meta.get("load", "?")))
    o.append("- plugin source: %s" % meta.get("source", "?"))
    o.append("- %s; runtime %s" % (meta.get("versions", "?"), meta.get("runtime", "?")))
    o.append("- main workload: %s messages of %s; fetchmail and getmail: %s messages; "
             "medians of %s repetitions (%s for the keep = no runs of the plugin, the floor and "
             "the imports in the disk and tmpfs sections); keep = yes increments: %s new "
             "messages; dovecot-lda settings from the config %s"
             % (meta.get("count"), meta.get("size"), meta.get("comp_count"), meta.get("reps"),
                meta.get("core_reps", meta.get("reps")), meta.get("new"),
                meta.get("lda_config")))
    o.append("- mixed workload: %s" % meta.get("mixed", "?"))
    o.append("")
    o.append("#### Targets")
    o.append("")
    v = verdicts(data, meta)
    o += v if v else ["(not enough sections ran to judge the targets)"]
    o.append("")
    order = ["plugin", "floor", "dovecot", "fetchmail", "getmail"]
    if any(k[0] == "main" for k in data):
        o.append("#### keep = no, %s × %s, default `mail_fsync` (optimized)"
                 % (meta.get("count"), meta.get("size")))
        o.append("")
        o.append("The floor and the pop3c/imapc import copy and delete nothing; "
                 "fetchmail and getmail ran %s messages (their rate does not depend on the "
                 "count: a dovecot-lda process per message)." % meta.get("comp_count"))
        o.append("")
        o += nokeep_table(data, "main", order)
        o.append("")
        o.append("#### keep = yes: first run, poll of the unchanged mailbox, %s new messages"
                 % meta.get("new"))
        o.append("")
        o += keep_table(data, "main", ["plugin", "fetchmail", "getmail"])
        o.append("")
    if any(k[0] == "mixed" for k in data):
        o.append("#### Mixed sizes, keep = no (%s)" % meta.get("mixed"))
        o.append("")
        o += mixed_table(data, order, meta)
        o.append("")
    if any(k[0] == "tmpfs" for k in data):
        o.append("#### keep = no with the local mail on tmpfs (no disk: what the software costs)")
        o.append("")
        o += nokeep_table(data, "tmpfs", ["plugin", "floor", "dovecot"])
        o.append("")
    if any(k[0] == "nofsync" for k in data):
        o.append("#### keep = no with `mail_fsync = never` (what is left without the fsync per message)")
        o.append("")
        o += nokeep_table(data, "nofsync", ["plugin", "floor", "dovecot"])
        o.append("")
    bad = [(k, a) for k, a in sorted(data.items()) if len(a.ok) < a.runs]
    if bad:
        o.append("#### Failed repetitions")
        o.append("")
        for k, a in bad:
            o.append("- %s: %d of %d failed: %s" % (" ".join(k), a.runs - len(a.ok), a.runs, a.failure))
        o.append("")
    return "\n".join(o)


def splice(doc, text):
    with open(doc) as f:
        content = f.read()
    if BEGIN not in content or END not in content:
        raise SystemExit("report.py: %s has no %s ... %s block" % (doc, BEGIN, END))
    head, rest = content.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(doc, "w") as f:
        f.write(head + BEGIN + "\n" + text.rstrip("\n") + "\n" + END + tail)


def main(argv):
    meta, doc, path = {}, None, None
    i = 0
    while i < len(argv):
        if argv[i] == "--meta":
            k, _, v = argv[i + 1].partition("=")
            meta[k] = v
            i += 2
        elif argv[i] == "--doc":
            doc = argv[i + 1]
            i += 2
        else:
            path = argv[i]
            i += 1
    if path is None:
        sys.stderr.write(__doc__)
        return 64
    text = render(load(path), meta)
    print(text)
    if doc:
        splice(doc, text)
        sys.stderr.write("report.py: results written into %s\n" % doc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
