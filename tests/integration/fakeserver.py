#!/usr/bin/env python3
"""A small scripted POP3/IMAP server for fault-injection tests.

    fakeserver.py --scenario NAME --port-file FILE --log FILE
                  [--messages N] [--size BYTES] [--lifetime SECONDS]
                  [--dump DIR] [--listing N] [--hold FILE]

Listens on 127.0.0.1 on a port it picks, writes the port to --port-file
(atomically, once it listens) and prints it, then serves connections one
after another, each with the scenario NAME, until --lifetime seconds
(default 60) have passed: it always stops by itself. Plain TCP only.

The mailbox is the same in every scenario and every run (so that a test can
break a run with one scenario and finish it with a well-behaved one): N
messages (default 3) of about SIZE bytes (default 2000), Message-ID
<fake-i@example.net>, POP3 UIDL fake-uidl-i, IMAP UID i, UIDVALIDITY 4242
(--dump writes them to DIR/i.eml, as served, for comparing).
Deletions (POP3 DELE + QUIT, IMAP \\Deleted + EXPUNGE) persist across the
connections of one server process.

The log (--log) gets one line per event, flushed at once:

    [1] BEGIN pop3-good
    [1] C: USER bob            every line the client sent, as sent
    [1] S: +OK [5 bytes]       the first line of each write, and its size
    [1] DELETED uid 2          a deletion took effect (POP3 QUIT, IMAP EXPUNGE)
    [1] END client closed      the connection is over

so that a test can assert what the client sent (e.g. that no DELE, UID
STORE, EXPUNGE or PASS was ever sent) once every BEGIN has its END.

Scenarios are the functions named in SCENARIOS at the bottom; the POP3 ones
start with pop3-, the IMAP ones with imap-. --listing N makes the -huge-
scenarios list N messages; --hold FILE makes pop3-hold wait for FILE to
exist before it answers the first RETR. Python 3 standard library only.
"""

import argparse
import os
import re
import select
import socket
import sys
import time

CRLF = b"\r\n"
OPTIONS = None   # the command line, for scenarios that take options


class Stop(Exception):
    """The connection is over (the client closed it, or the scenario ended)."""


# ------------------------------------------------------------------ mailbox

class Mailbox:
    """The messages every scenario serves; deletions persist per process."""

    UIDVALIDITY = 4242

    def __init__(self, count, size):
        self.messages = []  # (uid, body bytes with CRLF line ends)
        for i in range(1, count + 1):
            self.messages.append((i, make_message(i, size)))
        self.deleted = set()  # uids, committed deletions

    def live(self):
        """[(uid, body)] of the messages not deleted, in UID order."""
        return [(u, b) for u, b in self.messages if u not in self.deleted]


def make_message(i, size):
    head = (
        "From: Fake Sender <sender@example.net>\r\n"
        "To: bob@example.net\r\n"
        "Subject: fake message %d\r\n"
        "Date: Mon, 1 Jan 2024 12:00:00 +0000\r\n"
        "Message-ID: <fake-%d@example.net>\r\n"
        "\r\n" % (i, i)
    )
    lines = []
    n = 0
    total = len(head)
    while total < size:
        # lines starting with a dot exercise POP3 dot-stuffing
        line = (".dot line %d of message %d" if n % 7 == 3 else
                "line %d of message %d: the quick brown fox") % (n, i)
        lines.append(line + "\r\n")
        total += len(line) + 2
        n += 1
    return (head + "".join(lines)).encode()


def pop3_uidl(uid):
    return "fake-uidl-%d" % uid


def dot_stuff(body):
    out = re.sub(rb"(^|\r\n)\.", rb"\1..", body)
    if not out.endswith(CRLF):
        out += CRLF
    return out + b"." + CRLF


# ------------------------------------------------------------------ connection

class Conn:
    """One client connection: line reading with a deadline, logged I/O."""

    def __init__(self, sock, number, log, deadline):
        self.sock = sock
        self.number = number
        self.logf = log
        self.deadline = deadline
        self.buf = b""

    def log(self, text):
        self.logf.write("[%d] %s\n" % (self.number, text))
        self.logf.flush()

    def send(self, data, note=None):
        """Sends bytes in one write; logs the first line (or note)."""
        if isinstance(data, str):
            data = data.encode()
        first = note if note is not None else \
            data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
        self.log("S: %s [%d bytes]" % (first[:200], len(data)))
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Stop("send failed: %s" % e)

    def _fill(self, timeout=None):
        """Reads more into buf; False when nothing came within timeout."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Stop("lifetime over")
        wait = left if timeout is None else min(left, timeout)
        r, _, _ = select.select([self.sock], [], [], wait)
        if not r:
            if timeout is None:
                raise Stop("lifetime over")
            return False
        try:
            data = self.sock.recv(65536)
        except OSError as e:
            raise Stop("recv failed: %s" % e)
        if not data:
            raise Stop("client closed")
        self.buf += data
        return True

    def readline(self):
        """The next line from the client, without CRLF, logged."""
        while b"\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\n", 1)
        text = line.rstrip(b"\r").decode("utf-8", "replace")
        self.log("C: " + text)
        return text

    def read_bytes(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def has_line(self, wait):
        """A complete line is buffered, or arrives within wait seconds."""
        end = time.monotonic() + wait
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or not self._fill(left):
                return False
        return True

    def drain(self):
        """Reads (and logs) whatever the client sends until it closes."""
        while True:
            self.readline()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# ------------------------------------------------------------------ POP3

class Pop3:
    """A POP3 server with hooks: scenarios override single replies."""

    def __init__(self, conn, box, pipelining=False, stls=False):
        self.c = conn
        self.box = box
        self.pipelining = pipelining
        self.stls = stls
        self.marked = set()
        self.numbers = box.live()  # message number i -> numbers[i-1]
        self.out = []              # replies collected for one write

    def reply(self, data):
        self.out.append(data.encode() if isinstance(data, str) else data)

    def flush(self):
        if self.out:
            data = b"".join(self.out)
            self.out = []
            self.c.send(data)

    def msg(self, arg):
        try:
            n = int(arg)
        except ValueError:
            return None
        if 1 <= n <= len(self.numbers):
            uid, body = self.numbers[n - 1]
            if uid not in self.marked:
                return n, uid, body
        return None

    def serve(self, greeting="+OK fake POP3 server ready"):
        self.c.send(greeting + "\r\n")
        while True:
            line = self.c.readline()
            self.command(line)
            # with PIPELINING: answer everything the client sent together
            # in one write (wait briefly for the rest of a pipelined batch)
            if self.pipelining and self.c.has_line(0.3):
                continue
            self.flush()

    def command(self, line):
        verb, _, arg = line.partition(" ")
        handler = getattr(self, "cmd_" + verb.upper(), None)
        if handler is None:
            self.reply("-ERR unknown command\r\n")
        else:
            handler(arg.strip())

    def cmd_CAPA(self, arg):
        caps = ["USER", "UIDL", "TOP"]
        if self.pipelining:
            caps.append("PIPELINING")
        if self.stls:
            caps.append("STLS")
        self.reply("+OK capabilities\r\n" + "".join(c + "\r\n" for c in caps) + ".\r\n")

    def cmd_USER(self, arg):
        self.reply("+OK send PASS\r\n")

    def cmd_PASS(self, arg):
        self.reply("+OK logged in\r\n")

    def cmd_STAT(self, arg):
        live = [(n, u, b) for n, (u, b) in enumerate(self.numbers, 1) if u not in self.marked]
        self.reply("+OK %d %d\r\n" % (len(live), sum(len(b) for _, _, b in live)))

    def listing(self, arg, fmt):
        if arg:
            m = self.msg(arg)
            if m is None:
                self.reply("-ERR no such message\r\n")
            else:
                self.reply("+OK " + fmt(*m) + "\r\n")
            return
        lines = [fmt(n, u, b) + "\r\n"
                 for n, (u, b) in enumerate(self.numbers, 1) if u not in self.marked]
        self.reply("+OK\r\n" + "".join(lines) + ".\r\n")

    def cmd_UIDL(self, arg):
        self.listing(arg, lambda n, u, b: "%d %s" % (n, pop3_uidl(u)))

    def cmd_LIST(self, arg):
        self.listing(arg, lambda n, u, b: "%d %d" % (n, len(b)))

    def cmd_RETR(self, arg):
        m = self.msg(arg)
        if m is None:
            self.reply("-ERR no such message\r\n")
            return
        self.retr(*m)

    def retr(self, n, uid, body):
        self.reply(b"+OK %d octets\r\n" % len(body) + dot_stuff(body))

    def cmd_DELE(self, arg):
        m = self.msg(arg)
        if m is None:
            self.reply("-ERR no such message\r\n")
            return
        self.marked.add(m[1])
        self.reply("+OK deleted\r\n")

    def cmd_NOOP(self, arg):
        self.reply("+OK\r\n")

    def cmd_RSET(self, arg):
        self.marked.clear()
        self.reply("+OK\r\n")

    def cmd_QUIT(self, arg):
        for uid in sorted(self.marked):
            self.c.log("DELETED %s" % pop3_uidl(uid))
        self.box.deleted |= self.marked
        self.reply("+OK bye\r\n")
        self.flush()
        raise Stop("QUIT")


def half(body):
    return body[: len(body) // 2]


def pop3_good(c, box):
    Pop3(c, box).serve()


def pop3_pipelining(c, box):
    """PIPELINING: every batch of pipelined commands (e.g. all the RETRs)
    is answered in one write."""
    Pop3(c, box, pipelining=True).serve()


def pop3_retr_cut(c, box):
    """RETR of message 2: +OK and half of the message, then close."""
    class P(Pop3):
        def retr(self, n, uid, body):
            if n != 2:
                return Pop3.retr(self, n, uid, body)
            self.reply(b"+OK %d octets\r\n" % len(body) + half(dot_stuff(body)))
            self.flush()
            raise Stop("closed in the middle of RETR %d" % n)
    P(c, box).serve()


def pop3_retr_stall(c, box):
    """RETR of message 2: +OK and half of the message, then silence."""
    class P(Pop3):
        def retr(self, n, uid, body):
            if n != 2:
                return Pop3.retr(self, n, uid, body)
            self.reply(b"+OK %d octets\r\n" % len(body) + half(dot_stuff(body)))
            self.flush()
            c.log("stalling in the middle of RETR %d" % n)
            c.drain()
    P(c, box).serve()


def pop3_retr_err(c, box):
    """RETR of message 2 is answered -ERR (the message vanished)."""
    class P(Pop3):
        def retr(self, n, uid, body):
            if n != 2:
                return Pop3.retr(self, n, uid, body)
            self.reply("-ERR message %d vanished\r\n" % n)
    P(c, box).serve()


def pop3_garbage_greeting(c, box):
    """An SMTP server where POP3 was expected."""
    c.send("220 mail.example.net ESMTP Postfix\r\n")
    c.drain()


def pop3_garbage_listing(c, box):
    """A line that is no UIDL line in the middle of the UIDL listing."""
    class P(Pop3):
        def cmd_UIDL(self, arg):
            self.reply("+OK\r\n1 %s\r\n%%%%%% garbage \x01\x02 %%%%%%\r\n2 %s\r\n.\r\n"
                       % (pop3_uidl(1), pop3_uidl(2)))
    P(c, box).serve()


def pop3_long_line(c, box):
    """The reply to CAPA is 1 MiB without CRLF; then silence."""
    class P(Pop3):
        def cmd_CAPA(self, arg):
            self.reply(b"+OK " + b"x" * (1024 * 1024))
            self.flush()
            c.drain()
    P(c, box).serve()


def pop3_echo_password(c, box):
    """PASS is refused with a reply that repeats the password (the client
    must not log it)."""
    class P(Pop3):
        def cmd_PASS(self, arg):
            self.reply("-ERR [AUTH] wrong password %s for bob\r\n" % arg)
    P(c, box).serve()


def pop3_echo_base64(c, box):
    """PASS is refused with a reply that repeats the password base64-
    encoded, in a SASL PLAIN response and on its own (none of those forms
    may reach a log, an error or a status field)."""
    import base64

    class P(Pop3):
        def cmd_PASS(self, arg):
            plain = base64.b64encode(b"\0bob\0" + arg.encode()).decode()
            alone = base64.b64encode(arg.encode()).decode()
            self.reply("-ERR [AUTH] bad credentials (%s, %s)\r\n" % (plain, alone))
    P(c, box).serve()


def pop3_drip(c, box):
    """RETR of message 1: +OK, then the message one byte every 0.3 seconds,
    for ever: the connection is never silent long enough for an inactivity
    timeout."""
    class P(Pop3):
        def retr(self, n, uid, body):
            self.flush()
            c.send(b"+OK %d octets\r\n" % (len(body) * 1000))
            while True:
                for b in dot_stuff(body)[:-3]:
                    c.sock.sendall(bytes([b]))
                    time.sleep(0.3)
                    if time.monotonic() > c.deadline:
                        raise Stop("lifetime over")
    P(c, box).serve()


def pop3_hold(c, box):
    """Like pop3-good, but the first RETR is answered only once the file
    named by --hold exists (a test changes the account meanwhile)."""
    class P(Pop3):
        held = False

        def retr(self, n, uid, body):
            if not P.held:
                c.log("holding before RETR %d" % n)
                self.flush()
                while not os.path.exists(OPTIONS.hold):
                    time.sleep(0.05)
                    if time.monotonic() > c.deadline:
                        raise Stop("lifetime over")
                P.held = True
            Pop3.retr(self, n, uid, body)
    P(c, box).serve()


def pop3_huge_uidl(c, box):
    """UIDL and LIST list --listing N messages (a hostile server: N is a
    million), sent in large writes."""
    class P(Pop3):
        def huge(self, fmt):
            self.flush()
            c.send("+OK\r\n")
            chunk = []
            for n in range(1, OPTIONS.listing + 1):
                chunk.append(fmt(n))
                if len(chunk) == 10000:
                    c.sock.sendall("".join(chunk).encode())
                    chunk = []
            chunk.append(".\r\n")
            c.sock.sendall("".join(chunk).encode())

        def cmd_UIDL(self, arg):
            self.huge(lambda n: "%d hostile-uidl-%d\r\n" % (n, n))

        def cmd_LIST(self, arg):
            self.huge(lambda n: "%d 1000\r\n" % n)
    P(c, box).serve()


def pop3_silent(c, box):
    """The greeting, then not a byte more (what the client sends is logged)."""
    c.send("+OK fake POP3 server ready\r\n")
    c.drain()


def pop3_stls_inject(c, box):
    """STLS is answered "+OK Begin TLS" plus, in the same write, a plaintext
    line that the client must not take as the first reply under TLS."""
    class P(Pop3):
        def cmd_STLS(self, arg):
            self.reply("+OK Begin TLS\r\n+OK fake\r\n")
    P(c, box, stls=True).serve()


def pop3_stls_inject_late(c, box):
    """Like pop3-stls-inject, but the plaintext line comes in a second
    write, after the client had time to start its TLS handshake."""
    class P(Pop3):
        def cmd_STLS(self, arg):
            self.reply("+OK Begin TLS\r\n")
            self.flush()
            time.sleep(0.3)
            self.reply("+OK fake\r\n")
    P(c, box, stls=True).serve()


# ------------------------------------------------------------------ IMAP

def parse_uid_set(text, max_uid):
    uids = set()
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        lo = max_uid if lo == "*" else int(lo)
        hi = lo if not hi else (max_uid if hi == "*" else int(hi))
        if lo > hi:
            lo, hi = hi, lo
        uids.update(range(lo, hi + 1))
    return uids


def imap_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Imap:
    """An IMAP4rev1 server with hooks: scenarios override single replies.
    Untagged responses and literals are enough for the plugin's client;
    it is no general IMAP server."""

    INTERNALDATE = "01-Jan-2024 12:00:00 +0000"

    def __init__(self, conn, box, starttls=False, batch=False):
        self.c = conn
        self.box = box
        self.starttls = starttls
        self.batch = batch         # answer pipelined commands in one write
        self.selected = False
        self.marked = set()        # \Deleted, not expunged
        self.out = []

    def caps(self):
        caps = "IMAP4rev1 LITERAL+ UIDPLUS"
        if self.starttls:
            caps += " STARTTLS"
        return caps

    def reply(self, data):
        self.out.append(data.encode() if isinstance(data, str) else data)

    def flush(self):
        if self.out:
            data = b"".join(self.out)
            self.out = []
            self.c.send(data)

    def seqs(self):
        """[(seq, uid, body)] of the messages in the mailbox now."""
        return [(i, u, b) for i, (u, b) in enumerate(self.box.live(), 1)]

    def read_command(self):
        """A command line with its literals inlined as [n bytes]."""
        line = self.c.readline()
        while True:
            m = re.search(r"\{(\d+)(\+?)\}$", line)
            if not m:
                return line
            if not m.group(2):
                self.c.send("+ go ahead\r\n")
            n = int(m.group(1))
            self.c.read_bytes(n)
            line = line[: m.start()] + "[%d bytes]" % n + self.c.readline()

    def serve(self, greeting=None):
        if greeting is None:
            greeting = "* OK [CAPABILITY %s] fake IMAP server ready" % self.caps()
        self.c.send(greeting + "\r\n")
        while True:
            line = self.read_command()
            self.command(line)
            if self.batch and self.c.has_line(0.3):
                continue
            self.flush()

    def command(self, line):
        parts = line.split(" ", 2)
        if len(parts) < 2:
            self.reply("* BAD missing command\r\n")
            return
        tag, verb = parts[0], parts[1].upper()
        arg = parts[2] if len(parts) > 2 else ""
        if verb == "UID":
            sub, _, arg = arg.partition(" ")
            verb = "UID_" + sub.upper()
        handler = getattr(self, "cmd_" + verb, None)
        if handler is None:
            self.reply("%s BAD unknown command\r\n" % tag)
        else:
            handler(tag, arg)

    def cmd_CAPABILITY(self, tag, arg):
        self.reply("* CAPABILITY %s\r\n%s OK done\r\n" % (self.caps(), tag))

    def cmd_NOOP(self, tag, arg):
        self.reply("%s OK done\r\n" % tag)

    def cmd_LOGIN(self, tag, arg):
        self.reply("%s OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] Logged in\r\n" % tag)

    def cmd_SELECT(self, tag, arg, verb="SELECT"):
        if arg.strip('"').upper() != "INBOX":
            self.reply("%s NO [NONEXISTENT] no such mailbox\r\n" % tag)
            return
        live = self.box.live()
        uidnext = max([u for u, _ in self.box.messages] + [0]) + 1
        self.selected = True
        self.reply(
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
            "* %d EXISTS\r\n* 0 RECENT\r\n"
            "* OK [UIDVALIDITY %d] UIDs valid\r\n"
            "* OK [UIDNEXT %d] Predicted next UID\r\n"
            "%s OK [%s] %s completed\r\n"
            % (len(live), Mailbox.UIDVALIDITY, uidnext, tag,
               "READ-ONLY" if verb == "EXAMINE" else "READ-WRITE", verb))

    def cmd_EXAMINE(self, tag, arg):
        self.cmd_SELECT(tag, arg, "EXAMINE")

    def cmd_UID_FETCH(self, tag, arg):
        uidset, _, items = arg.partition(" ")
        seqs = self.seqs()
        max_uid = seqs[-1][1] if seqs else 0
        wanted = parse_uid_set(uidset, max_uid)
        hits = [m for m in seqs if m[1] in wanted]
        if not hits and "*" in uidset and seqs:
            hits = [seqs[-1]]  # "N:*" always returns the last message
        body = "BODY.PEEK[]" in items.upper()
        for seq, uid, data in hits:
            if body:
                self.fetch_body(seq, uid, data)
            else:
                self.fetch_listing(seq, uid, data, items)
        self.reply("%s OK Fetch completed\r\n" % tag)

    def fetch_listing(self, seq, uid, data, items):
        extra = ""
        if "INTERNALDATE" in items.upper():
            extra += ' INTERNALDATE "%s"' % self.INTERNALDATE
        if "HEADER.FIELDS" in items.upper():
            hdr = b"Message-ID: <fake-%d@example.net>\r\n\r\n" % uid
            self.reply("* %d FETCH (UID %d RFC822.SIZE %d%s "
                       "BODY[HEADER.FIELDS (MESSAGE-ID)] {%d}\r\n"
                       % (seq, uid, len(data), extra, len(hdr)))
            self.reply(hdr + b")\r\n")
        else:
            self.reply("* %d FETCH (UID %d RFC822.SIZE %d%s)\r\n"
                       % (seq, uid, len(data), extra))

    def fetch_body(self, seq, uid, data):
        self.reply('* %d FETCH (UID %d FLAGS (\\Seen) INTERNALDATE "%s" BODY[] {%d}\r\n'
                   % (seq, uid, self.INTERNALDATE, len(data)))
        self.reply(data + b")\r\n")

    def cmd_UID_STORE(self, tag, arg):
        uidset, _, rest = arg.partition(" ")
        seqs = self.seqs()
        wanted = parse_uid_set(uidset, seqs[-1][1] if seqs else 0)
        if "\\DELETED" in rest.upper():
            self.marked |= {u for _, u, _ in seqs if u in wanted}
        self.reply("%s OK Store completed\r\n" % tag)

    def expunge(self, uids):
        for seq, uid, _ in reversed(self.seqs()):
            if uid in uids and uid in self.marked:
                self.reply("* %d EXPUNGE\r\n" % seq)
                self.c.log("DELETED uid %d" % uid)
                self.box.deleted.add(uid)
                self.marked.discard(uid)

    def cmd_UID_EXPUNGE(self, tag, arg):
        seqs = self.seqs()
        self.expunge(parse_uid_set(arg, seqs[-1][1] if seqs else 0))
        self.reply("%s OK Expunge completed\r\n" % tag)

    def cmd_EXPUNGE(self, tag, arg):
        self.expunge(set(self.marked))
        self.reply("%s OK Expunge completed\r\n" % tag)

    def cmd_CLOSE(self, tag, arg):
        self.expunge(set(self.marked))
        self.selected = False
        self.reply("%s OK Close completed\r\n" % tag)

    def cmd_LOGOUT(self, tag, arg):
        self.reply("* BYE Logging out\r\n%s OK Logout completed\r\n" % tag)
        self.flush()
        raise Stop("LOGOUT")


def imap_good(c, box):
    Imap(c, box).serve()


def imap_pipelining(c, box):
    """Every batch of pipelined commands (e.g. all the UID FETCHes of the
    window) is answered in one write."""
    Imap(c, box, batch=True).serve()


def imap_fetch_cut(c, box):
    """The body of UID 2: {N} announced, half of it sent, then close."""
    class I(Imap):
        def fetch_body(self, seq, uid, data):
            if uid != 2:
                return Imap.fetch_body(self, seq, uid, data)
            self.reply("* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, len(data)))
            self.reply(half(data))
            self.flush()
            raise Stop("closed in the middle of the literal of UID %d" % uid)
    I(c, box).serve()


def imap_fetch_stall(c, box):
    """The body of UID 2: {N} announced, half of it sent, then silence."""
    class I(Imap):
        def fetch_body(self, seq, uid, data):
            if uid != 2:
                return Imap.fetch_body(self, seq, uid, data)
            self.reply("* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, len(data)))
            self.reply(half(data))
            self.flush()
            c.log("stalling in the middle of the literal of UID %d" % uid)
            c.drain()
    I(c, box).serve()


def imap_fetch_vanished(c, box):
    """UID FETCH of UID 2 returns no data, just the tagged OK (the message
    was expunged by someone else meanwhile)."""
    class I(Imap):
        def fetch_body(self, seq, uid, data):
            if uid != 2:
                Imap.fetch_body(self, seq, uid, data)
    I(c, box).serve()


def imap_garbage_greeting(c, box):
    """An SMTP server where IMAP was expected."""
    c.send("220 mail.example.net ESMTP Postfix\r\n")
    c.drain()


def imap_garbage_listing(c, box):
    """A broken line in the middle of the UID listing."""
    class I(Imap):
        def fetch_listing(self, seq, uid, data, items):
            Imap.fetch_listing(self, seq, uid, data, items)
            if seq == 1:
                self.reply("* 2 FETCH (UID 2 RFC822.SIZE 100)) garbage \x01 (((\r\n")
    I(c, box).serve()


def imap_bogus_tag(c, box):
    """LOGIN is answered with a tag the client never sent."""
    class I(Imap):
        def cmd_LOGIN(self, tag, arg):
            self.reply("zz999 OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in\r\n")
    I(c, box).serve()


def imap_long_line(c, box):
    """The reply to LOGIN is an untagged line of 1 MiB without CRLF; then
    silence."""
    class I(Imap):
        def cmd_LOGIN(self, tag, arg):
            self.reply(b"* OK " + b"x" * (1024 * 1024))
            self.flush()
            c.drain()
    I(c, box).serve()


def imap_huge_literal(c, box):
    """The body of UID 1 announces {99999999999} (93 GiB), then a few bytes
    and silence."""
    class I(Imap):
        def fetch_body(self, seq, uid, data):
            self.reply("* %d FETCH (UID %d BODY[] {99999999999}\r\n" % (seq, uid))
            self.reply(data)
            self.flush()
            c.drain()
    I(c, box).serve()


def imap_huge_literal_listing(c, box):
    """The listing has a non-body literal of {99999999999} bytes."""
    class I(Imap):
        def fetch_listing(self, seq, uid, data, items):
            self.reply("* %d FETCH (UID %d RFC822.SIZE %d X-JUNK {99999999999}\r\n"
                       % (seq, uid, len(data)))
            self.reply(b"y" * 4096)
            self.flush()
            c.drain()
    I(c, box).serve()


def imap_echo_password(c, box):
    """LOGIN is refused with a reply that repeats the password."""
    class I(Imap):
        def cmd_LOGIN(self, tag, arg):
            self.reply("%s NO [AUTHENTICATIONFAILED] bad credentials %s\r\n"
                       % (tag, arg))
    I(c, box).serve()


def imap_huge_listing(c, box):
    """The UID listing of INBOX has --listing N messages (a hostile
    server: millions)."""
    class I(Imap):
        def cmd_UID_FETCH(self, tag, arg):
            if "BODY.PEEK[]" in arg.upper():
                return Imap.cmd_UID_FETCH(self, tag, arg)
            self.flush()
            chunk = []
            for n in range(1, OPTIONS.listing + 1):
                chunk.append("* %d FETCH (UID %d RFC822.SIZE 1000)\r\n" % (n, n))
                if len(chunk) == 10000:
                    c.sock.sendall("".join(chunk).encode())
                    chunk = []
            chunk.append("%s OK Fetch completed\r\n" % tag)
            c.sock.sendall("".join(chunk).encode())
    I(c, box).serve()


def imap_silent(c, box):
    """The greeting, then not a byte more."""
    c.send("* OK [CAPABILITY IMAP4rev1 UIDPLUS] fake IMAP server ready\r\n")
    c.drain()


def imap_starttls_inject(c, box):
    """STARTTLS is answered OK plus, in the same write, plaintext that the
    client must not take as a reply under TLS."""
    class I(Imap):
        def cmd_STARTTLS(self, tag, arg):
            self.reply("%s OK Begin TLS negotiation now\r\n"
                       "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" % tag)
    I(c, box, starttls=True).serve()


# ------------------------------------------------------------------ main

SCENARIOS = {
    "pop3-good": pop3_good,
    "pop3-pipelining": pop3_pipelining,
    "pop3-retr-cut": pop3_retr_cut,
    "pop3-retr-stall": pop3_retr_stall,
    "pop3-retr-err": pop3_retr_err,
    "pop3-garbage-greeting": pop3_garbage_greeting,
    "pop3-garbage-listing": pop3_garbage_listing,
    "pop3-long-line": pop3_long_line,
    "pop3-echo-password": pop3_echo_password,
    "pop3-echo-base64": pop3_echo_base64,
    "pop3-drip": pop3_drip,
    "pop3-hold": pop3_hold,
    "pop3-huge-uidl": pop3_huge_uidl,
    "pop3-silent": pop3_silent,
    "pop3-stls-inject": pop3_stls_inject,
    "pop3-stls-inject-late": pop3_stls_inject_late,
    "imap-good": imap_good,
    "imap-pipelining": imap_pipelining,
    "imap-fetch-cut": imap_fetch_cut,
    "imap-fetch-stall": imap_fetch_stall,
    "imap-fetch-vanished": imap_fetch_vanished,
    "imap-garbage-greeting": imap_garbage_greeting,
    "imap-garbage-listing": imap_garbage_listing,
    "imap-bogus-tag": imap_bogus_tag,
    "imap-long-line": imap_long_line,
    "imap-huge-literal": imap_huge_literal,
    "imap-huge-literal-listing": imap_huge_literal_listing,
    "imap-echo-password": imap_echo_password,
    "imap-huge-listing": imap_huge_listing,
    "imap-silent": imap_silent,
    "imap-starttls-inject": imap_starttls_inject,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--messages", type=int, default=3)
    ap.add_argument("--size", type=int, default=2000)
    ap.add_argument("--lifetime", type=float, default=60)
    ap.add_argument("--dump", help="write the messages to DIR/i.eml")
    ap.add_argument("--listing", type=int, default=1000000)
    ap.add_argument("--hold", help="pop3-hold: the file to wait for")
    args = ap.parse_args()
    global OPTIONS
    OPTIONS = args

    deadline = time.monotonic() + args.lifetime
    box = Mailbox(args.messages, args.size)
    scenario = SCENARIOS[args.scenario]
    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
        for uid, body in box.messages:
            with open(os.path.join(args.dump, "%d.eml" % uid), "wb") as f:
                f.write(body)

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    port = lsock.getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.port_file)
    print(port, flush=True)

    with open(args.log, "a", buffering=1) as log:
        number = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([lsock], [], [], left)
            if not r:
                break
            sock, _ = lsock.accept()
            number += 1
            conn = Conn(sock, number, log, deadline)
            conn.log("BEGIN " + args.scenario)
            reason = "scenario ended"
            try:
                scenario(conn, box)
            except Stop as e:
                reason = str(e)
            except Exception as e:  # a bug here must not hang the test
                reason = "fakeserver error: %r" % e
            conn.close()
            conn.log("END " + reason)
    lsock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
