#!/usr/bin/python3
"""cgtree.py: callers and callees of functions in a callgrind profile.

    cgtree.py FILE [--top N] [PATTERN...]

Without PATTERN: the N (default 30) functions with the highest inclusive
cost. With PATTERN (a substring of the function name): for each matching
function its self and inclusive cost, the call count, its callers (cost of
the calls from each) and its callees (inclusive cost of the calls to each).
Costs are the first event of the file (Ir, instructions), in percent of the
total and per call. It reads callgrind's name compression and relative
positions; recursion makes inclusive figures approximate, as in
callgrind_annotate.
"""

import collections
import re
import sys


def parse(path):
    names = {"fn": {}, "fl": {}}
    self_cost = collections.Counter()
    calls = collections.Counter()         # (caller, callee) -> inclusive
    ncalls = collections.Counter()        # (caller, callee) -> count
    total = 0
    fn = None
    cfn = None
    pending_calls = None
    comp = re.compile(r"^\((\d+)\)(?: (.*))?$")

    def name(kind, val):
        m = comp.match(val)
        if not m:
            return val
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
            return m.group(2)
        return names[kind].get(m.group(1), val)

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
                if pending_calls is not None:
                    calls[(fn, cfn)] += cost
                    ncalls[(fn, cfn)] += pending_calls
                    pending_calls = None
                else:
                    self_cost[fn] += cost
                    total += cost
                continue
            key, _, val = line.partition("=")
            if key == "fn":
                fn = name("fn", val)
            elif key == "cfn":
                cfn = name("fn", val)
            elif key in ("fl", "fi", "fe", "cfl", "cfi"):
                name("fl", val)
            elif key == "calls":
                pending_calls = int(val.split()[0])
            elif key == "summary" or key == "totals":
                try:
                    total = max(total, int(val.split()[0]))
                except ValueError:
                    pass
    return self_cost, calls, ncalls, total


def short(name, width=110):
    name = re.sub(r"std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >",
                  "std::string", name)
    name = re.sub(r"std::basic_string_view<char, std::char_traits<char> >", "std::string_view", name)
    return name if len(name) <= width else name[:width - 3] + "..."


def main(argv):
    if not argv:
        sys.stderr.write(__doc__)
        return 64
    path, top, pats = argv[0], 30, []
    i = 1
    while i < len(argv):
        if argv[i] == "--top":
            top = int(argv[i + 1])
            i += 2
        else:
            pats.append(argv[i])
            i += 1
    self_cost, calls, ncalls, total = parse(path)
    incl = collections.Counter(self_cost)
    for (caller, callee), cost in calls.items():
        if caller != callee:
            incl[caller] += cost
    count_in = collections.Counter()
    for (caller, callee), n in ncalls.items():
        count_in[callee] += n

    def pct(x):
        return 100.0 * x / total if total else 0.0

    print("total: %d Ir" % total)
    if not pats:
        print("%14s %6s %14s %6s  %s" % ("inclusive", "%", "self", "%", "function"))
        # (Functions of the same name in several objects, such as
        # "(below main)", are merged and can exceed the total: left out.)
        for fn, cost in [x for x in incl.most_common(top + 5) if x[1] <= total][:top]:
            print("%14d %5.1f%% %14d %5.1f%%  %s" % (cost, pct(cost), self_cost[fn],
                                                   pct(self_cost[fn]), short(fn)))
        return 0
    for pat in pats:
        for fn in sorted((f for f in incl if pat in f), key=lambda f: -incl[f])[:5]:
            n = count_in[fn]
            print("\n== %s" % short(fn, 200))
            print("   inclusive %d (%.1f%%), self %d (%.1f%%), %d calls%s"
                  % (incl[fn], pct(incl[fn]), self_cost[fn], pct(self_cost[fn]), n,
                     ", %.0f Ir per call" % (incl[fn] / n) if n else ""))
            callers = [(c, cost) for (c, e), cost in calls.items() if e == fn]
            for c, cost in sorted(callers, key=lambda x: -x[1])[:8]:
                print("   <  %12d %5.1f%% %7dx  %s" % (cost, pct(cost), ncalls[(c, fn)], short(c)))
            callees = [(e, cost) for (c, e), cost in calls.items() if c == fn]
            for e, cost in sorted(callees, key=lambda x: -x[1])[:12]:
                print("   >  %12d %5.1f%% %7dx  %s" % (cost, pct(cost), ncalls[(fn, e)], short(e)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
