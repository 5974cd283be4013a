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

--build-dir (default $ZB_BUILD_DIR, else build/) holds the daemons in bin/;
--docs-dir (default docs/) the markdown.
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


def compare(path, lines, table, program, write):
    """Problems of one docs table against the program's; with write, lines
    are fixed in place. Returns (problems, notes)."""
    daemon, section, _, rows, end = table
    problems, notes, seen = [], [], set()
    for index, key, cells in rows:
        where = "%s:%d: %s/%s" % (path, index + 1, section, key)
        if key in seen:
            problems.append("%s: a second row" % where)
            continue
        seen.add(key)
        if key not in program:
            problems.append("%s: not a key of %s (remove the row)" % (where, daemon))
            continue
        want = program[key]
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
    missing = [key for key in program if key not in seen]
    for key in missing:
        where = "%s: %s/%s" % (path, section, key)
        if write:
            notes.append("%s: added a row; write its meaning" % where)
        else:
            problems.append("%s: no row (%s knows the key)" % (where, daemon))
    if write and missing:
        lines[end:end] = [make_row(key, program[key], "") for key in missing]
    return problems, notes


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="report differences, exit 1 on any")
    mode.add_argument("--write", action="store_true", help="rewrite the program's cells")
    parser.add_argument("--build-dir", default=os.environ.get("ZB_BUILD_DIR")
                        or os.path.join(root, "build"))
    parser.add_argument("--docs-dir", default=os.path.join(root, "docs"))
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
    for line in notes:
        print(line)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
