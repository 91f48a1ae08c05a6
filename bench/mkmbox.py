#!/usr/bin/python3
"""mkmbox.py MAILDIR OUT: writes the messages of a Maildir folder (cur/ and
new/, in UID order as the sandbox's fill names them: by the leading
timestamp) as one mbox file, for the benchmark's local floor
(`doveadm import` from mbox). "From " lines in bodies are quoted the mboxrd
way; line ends stay as they are in the files (LF from the sandbox)."""

import os
import sys


def key(path):
    name = os.path.basename(path)
    try:
        return (int(name.split(".", 1)[0]), name)
    except ValueError:
        return (0, name)


def main(src, out):
    files = []
    for sub in ("cur", "new"):
        d = os.path.join(src, sub)
        files += [os.path.join(d, n) for n in os.listdir(d)]
    files.sort(key=key)
    with open(out, "wb") as f:
        for p in files:
            with open(p, "rb") as m:
                data = m.read()
            f.write(b"From sender@example.net Thu Jan  1 00:00:00 2026\n")
            lines = data.split(b"\n")
            if data.endswith(b"\n"):
                lines.pop()
            for line in lines:
                if line.lstrip(b">").startswith(b"From "):
                    line = b">" + line
                f.write(line + b"\n")
            f.write(b"\n")
    return len(files)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__ + "\n")
        sys.exit(64)
    print(main(sys.argv[1], sys.argv[2]))
