#!/usr/bin/env python3
"""Checks (or rewrites) the key tables of docs/config-*.md against the
daemons' directive tables.

Each daemon prints its tables with a hidden option, `DAEMON --config-table`:
one line per key, SECTION<TAB>KEY<TAB>TYPE<TAB>DEFAULT<TAB>BOUNDS, the cells
in markdown. In the docs, a comment names the table that follows it:

    <!-- config-table: zbeat-agent agent -->
    | key | type | default | bounds | meaning |
    |---|---|---|---|---|
    | `beat` | duration | `1s` | `100ms` .. `1h` | beat interval ... |

The key, type, default and bounds cells are the program's; the meaning is
the docs' own (prose, links). Every section a daemon prints must have
exactly one such table.

    config_docs.py --check   exit 1, naming file, line, key and column, when
                             a cell differs, a key has no row or a row no key
    config_docs.py --write   rewrite the differing cells in place (the rest
                             of the file as it was) and add rows for missing
                             keys, with an empty meaning to write

The manual page man/zbeat.conf.5 states bounds and defaults in prose; a
comment before a key list names the table it summarises:

    .\" config-table: zbeat-agent agent
    .Bl -tag -width Ds
    .It Ic beat No = Ar duration
    How often the full state is published, 100ms to 1h.
    Default: 1s.

Each `.It Ic KEY` item of such a list must be a key of the table, and every
key must have an item. Where the program's bounds are a range (`A` .. `B`)
the item says "A to B"; where its default is "**required**" the item says
"Required."; where it has one (not "none ...") the item says "Default: X."
with X the default cell without its markdown, and a "Default:" it states
must be that. The page covers the agent and the monitor. --check reports the differences;
--write leaves the page to be edited by hand (and still reports them).

--build-dir (default $ZB_BUILD_DIR, else build/) holds the daemons in bin/;
--docs-dir (default docs/) the markdown; --man-dir (default man/) the page.
"""
import argparse
import glob
import os
import re
import subprocess
import sys

DAEMONS = ("zbeat-agent", "zbeat-monitor", "zbeat-relay")
HEADER = ["key", "type", "default", "bounds", "meaning"]
COLUMNS = ("type", "default", "bounds")  # the program's cells after the key
MARKER = re.compile(r"^<!--\s*config-table:\s*(\S+)\s+(\S+)\s*-->\s*$")
MAN_PAGE = "zbeat.conf.5"
MAN_DAEMONS = ("zbeat-agent", "zbeat-monitor")  # the page's (the relay has its own)
MAN_MARKER = re.compile(r'^\.\\"\s*config-table:\s*(\S+)\s+(\S+)\s*$')


def program_tables(build_dir):
    """{(daemon, section): {key: (type, default, bounds)}}, in order."""
    tables = {}
    for daemon in DAEMONS:
        path = os.path.join(build_dir, "bin", daemon)
        if not os.access(path, os.X_OK):
            sys.exit("config_docs: %s is not built (--build-dir %s)" % (path, build_dir))
        out = subprocess.run([path, "--config-table"], check=True, stdout=subprocess.PIPE,
                             universal_newlines=True).stdout
        for line in out.splitlines():
            fields = line.split("\t")
            if len(fields) != 5:
                sys.exit("config_docs: %s --config-table: bad line %r" % (daemon, line))
            tables.setdefault((daemon, fields[0]), {})[fields[1]] = tuple(fields[2:])
    return tables


def split_row(line):
    """The cells of a table row, split at pipes not escaped as \\|."""
    cells, cell, i = [], "", 0
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body) and body[i + 1] == "|":
            cell += "\\|"
            i += 2
            continue
        if body[i] == "|":
            cells.append(cell.strip())
            cell = ""
        else:
            cell += body[i]
        i += 1
    cells.append(cell.strip())
    return cells


def make_row(key, cells, meaning):
    return "| `%s` | %s | %s | %s | %s |" % ((key,) + tuple(cells) + (meaning,))


def doc_tables(path, lines):
    """[(daemon, section, marker_line, rows, end)] where rows is
    [(index, key, cells)] and end the index after the table; problems as
    messages."""
    tables, problems = [], []
    for i, line in enumerate(lines):
        match = MARKER.match(line)
        if not match:
            continue
        start = i + 1
        while start < len(lines) and not lines[start].strip():
            start += 1
        if start + 1 >= len(lines) or split_row(lines[start]) != HEADER:
            problems.append("%s:%d: the config-table comment is not followed by a table "
                            "| %s |" % (path, i + 1, " | ".join(HEADER)))
            continue
        rows, end = [], start + 2
        while end < len(lines) and lines[end].lstrip().startswith("|"):
            cells = split_row(lines[end])
            key = cells[0].strip("`")
            if len(cells) != len(HEADER):
                problems.append("%s:%d: %s: %d cells, not %d" %
                                (path, end + 1, key, len(cells), len(HEADER)))
            else:
                rows.append((end, key, cells))
            end += 1
        tables.append((match.group(1), match.group(2), i, rows, end))
    return tables, problems


def known_rows(path, daemon, section, rows, program, what, problems):
    """The rows [(line index, key, body)] of a docs table or of a manual
    page's list (`what`: "row" or "item") that the program's table knows,
    each key once, as [(line index, where, key, body, the program's
    cells)]; a second row of a key, or a row of a key the program does not
    know, goes into problems. Returns (those rows, the program's keys with
    no row)."""
    known, seen = [], set()
    for index, key, body in rows:
        where = "%s:%d: %s/%s" % (path, index + 1, section, key)
        if key in seen:
            problems.append("%s: a second %s" % (where, what))
            continue
        seen.add(key)
        if key not in program:
            problems.append("%s: not a key of %s (remove the %s)" % (where, daemon, what))
            continue
        known.append((index, where, key, body, program[key]))
    return known, [key for key in program if key not in seen]


def compare(path, lines, table, program, write):
    """Problems of one docs table against the program's; with write, lines
    are fixed in place. Returns (problems, notes)."""
    daemon, section, _, rows, end = table
    problems, notes = [], []
    known, missing = known_rows(path, daemon, section, rows, program, "row", problems)
    for index, where, key, cells, want in known:
        if not cells[4]:
            problems.append("%s: meaning is empty" % where)
        differ = [(column, got, wanted)
                  for column, got, wanted in zip(COLUMNS, cells[1:4], want) if got != wanted]
        if not differ and cells[0] == "`%s`" % key:
            continue
        if write:
            lines[index] = make_row(key, want, cells[4])
            notes.append("%s: rewrote %s" % (where, ", ".join(c for c, _, _ in differ) or "key"))
            continue
        if cells[0] != "`%s`" % key:
            problems.append("%s: key is %s, not `%s`" % (where, cells[0], key))
        for column, got, wanted in differ:
            problems.append("%s: %s is \"%s\", %s says \"%s\"" %
                            (where, column, got, daemon, wanted))
    for key in missing:
        where = "%s: %s/%s" % (path, section, key)
        if write:
            notes.append("%s: added a row; write its meaning" % where)
        else:
            problems.append("%s: no row (%s knows the key)" % (where, daemon))
    if write and missing:
        lines[end:end] = [make_row(key, program[key], "") for key in missing]
    return problems, notes


# --- the manual page ------------------------------------------------------

# mdoc macros that only format their arguments (dropped from the text).
MAN_INLINE = set("Ad Ar Cm Dv Em Er Ev Fa Ic Li Ms Nm No Pa Ql Sy Va Xr".split())
MAN_CLOSE = set(". , ; : ? ! ) ]".split())
MAN_ENCLOSE = {"Pq": ("(", ")"), "Aq": ("<", ">"), "Op": ("[", "]"), "Dq": ('"', '"'),
               "Sq": ("'", "'")}
MAN_ESCAPES = ((r"\&", ""), (r"\(dq", '"'), (r"\(mu", "\u00d7"), (r"\(em", "-"), (r"\-", "-"),
               (r"\e", "\\"))


def man_unescape(text):
    for escape, plain in MAN_ESCAPES:
        text = text.replace(escape, plain)
    return text


def man_text(lines):
    """The text an item's mdoc lines make, near enough to read its facts:
    formatting macros dropped, delimiters attached, Ns and Pf joining,
    Pq, Aq and Op enclosing."""
    words, glue = [], False  # glue: the next word joins the last one

    def add(word, join=False):
        nonlocal glue
        if words and (glue or join):
            words[-1] += word
        else:
            words.append(word)
        glue = False

    for line in lines:
        if line.startswith('.\\"'):
            continue
        if not line.startswith("."):
            for word in line.split():
                add(man_unescape(word))
            continue
        tokens = [a if a else b for a, b in re.findall(r'"((?:[^"]|"")*)"|(\S+)', line[1:])]
        if not tokens or (tokens[0] not in MAN_INLINE and tokens[0] not in MAN_ENCLOSE and
                          tokens[0] not in ("Pf", "Ns", "Fl")):
            continue  # .Pp, .Bl, .El, ...
        closes = []
        for i, arg in enumerate(tokens):
            if arg in MAN_ENCLOSE:
                add(MAN_ENCLOSE[arg][0])
                glue = True
                closes.append(MAN_ENCLOSE[arg][1])
            elif arg == "Ns":
                glue = True
            elif arg == "Fl":
                add("-")
                glue = True
            elif arg == "Pf" and i == 0:
                continue
            elif arg in MAN_INLINE:
                continue
            else:
                if closes and arg in MAN_CLOSE and all(a in MAN_CLOSE for a in tokens[i:]):
                    while closes:
                        add(closes.pop(), True)
                add(man_unescape(arg), arg in MAN_CLOSE)
                if i == 1 and tokens[0] == "Pf":
                    glue = True
        while closes:
            add(closes.pop(), True)
    return " ".join(words)


def man_plain(cell):
    """A docs cell as the page says it: no backticks, bold or links."""
    cell = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", cell)
    return cell.replace("`", "").replace("**", "").strip()


def man_tables(path, lines):
    """[(daemon, section, marker_line, items)], items [(line, key, text)];
    problems as messages."""
    tables, problems = [], []
    for i, line in enumerate(lines):
        match = MAN_MARKER.match(line)
        if not match:
            continue
        start = i + 1
        if start >= len(lines) or not lines[start].startswith(".Bl "):
            problems.append("%s:%d: the config-table comment is not followed by a .Bl list" %
                            (path, i + 1))
            continue
        items, depth, end = [], 0, start
        for end in range(start, len(lines)):
            text = lines[end]
            if text.startswith(".Bl "):
                depth += 1
            elif text.startswith(".El"):
                depth -= 1
                if depth == 0:
                    break
            elif depth == 1 and text.startswith(".It "):
                key = re.match(r"^\.It\s+Ic\s+(\S+)", text)
                items.append([end, key.group(1) if key else text, []])
                continue
            if items and depth >= 1:
                items[-1][2].append(text)
        tables.append((match.group(1), match.group(2), i,
                       [(index, key, man_text(body)) for index, key, body in items]))
    return tables, problems


def man_default(text):
    """What the item says after "Default:", to the end of its sentence."""
    match = re.search(r"\bDefault: (.*?)(?:\.(?:\s|$)|$)", text)
    return match.group(1).strip() if match else None


def man_compare(path, table, program):
    daemon, section, _, items = table
    problems = []
    known, missing = known_rows(path, daemon, section, items, program, "item", problems)
    for _, where, key, text, (_, default, bounds) in known:
        said = man_default(text)
        if default == "**required**":
            if not re.search(r"\bRequired\.", text):
                problems.append("%s: does not say \"Required.\" (%s: required)" % (where, daemon))
        elif not default.startswith("none") and said is None:
            problems.append("%s: states no default, %s says \"%s\"" %
                            (where, daemon, man_plain(default)))
        elif said is not None and said != man_plain(default):
            problems.append("%s: default is \"%s\", %s says \"%s\"" %
                            (where, said, daemon, man_plain(default)))
        span = re.search(r"`([^`]+)` \.\. `([^`]+)`", bounds)
        if span and not re.search(r"(?<![\w.])%s to %s(?![\w])" %
                                  tuple(re.escape(value) for value in span.groups()), text):
            problems.append("%s: does not say \"%s to %s\" (%s: %s)" %
                            (where, span.group(1), span.group(2), daemon, man_plain(bounds)))
    for key in missing:
        problems.append("%s: %s/%s: no item (%s knows the key)" % (path, section, key, daemon))
    return problems


def check_man(man_dir, programs):
    """Problems of the manual page against the programs' tables."""
    path = os.path.join(man_dir, MAN_PAGE)
    name = os.path.relpath(path, os.path.dirname(os.path.abspath(man_dir)))
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    tables, problems = man_tables(name, lines)
    found = {}
    for table in tables:
        daemon, section = table[0], table[1]
        where = "%s:%d" % (name, table[2] + 1)
        if (daemon, section) not in programs:
            problems.append("%s: %s prints no section %s" % (where, daemon, section))
        elif (daemon, section) in found:
            problems.append("%s: a second list for %s %s (the first: %s)" %
                            (where, daemon, section, found[(daemon, section)]))
        else:
            found[(daemon, section)] = where
            problems += man_compare(name, table, programs[(daemon, section)])
    for daemon, section in programs:
        if daemon in MAN_DAEMONS and (daemon, section) not in found:
            problems.append("%s: no list for %s section %s (.\\\" config-table: %s %s)" %
                            (name, daemon, section, daemon, section))
    return problems


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="report differences, exit 1 on any")
    mode.add_argument("--write", action="store_true", help="rewrite the program's cells")
    parser.add_argument("--build-dir", default=os.environ.get("ZB_BUILD_DIR")
                        or os.path.join(root, "build"))
    parser.add_argument("--docs-dir", default=os.path.join(root, "docs"))
    parser.add_argument("--man-dir", default=os.path.join(root, "man"))
    args = parser.parse_args()

    programs = program_tables(args.build_dir)
    problems, notes, found = [], [], {}
    for path in sorted(glob.glob(os.path.join(args.docs_dir, "*.md"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        lines = text.split("\n")
        name = os.path.relpath(path, os.path.dirname(os.path.abspath(args.docs_dir)))
        tables, bad = doc_tables(name, lines)
        problems += bad
        # Bottom up, so that added rows do not move the tables above; the
        # problems are told top down.
        told = []
        for table in reversed(tables):
            daemon, section = table[0], table[1]
            where = "%s:%d" % (name, table[2] + 1)
            if (daemon, section) not in programs:
                problems.append("%s: %s prints no section %s" % (where, daemon, section))
                continue
            if (daemon, section) in found:
                problems.append("%s: a second table for %s %s (the first: %s)" %
                                (where, daemon, section, found[(daemon, section)]))
                continue
            found[(daemon, section)] = where
            told.insert(0, compare(name, lines, table, programs[(daemon, section)], args.write))
        for more, said in told:
            problems += more
            notes += said
        if args.write and "\n".join(lines) != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(lines))
    for daemon, section in programs:
        if (daemon, section) not in found:
            problems.append("%s: no table for %s section %s (<!-- config-table: %s %s -->)" %
                            (os.path.basename(os.path.abspath(args.docs_dir)), daemon, section,
                             daemon, section))
    problems += check_man(args.man_dir, programs)
    for line in notes:
        print(line)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
