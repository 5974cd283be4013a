#!/usr/bin/env python3
"""Checks the include arrows between and inside rooms (docs/architecture.md).

Rooms are the top-level source directories. A room may include from
itself, and: agent, monitor and cli from store and common; store from
common; client from common (zbeat-ping's zb_time); relay from monitor, store and
common; nothing else. Inside a
room, modules (a .c and its .h; NAME_test.c and NAME_internal.h belong to
NAME) must not include each other in a circle. Prints every offence and exits 1 if there is one.
"""
import os
import re
import sys

ROOMS = ["common", "store", "agent", "monitor", "cli", "client", "relay"]
ALLOWED = {
    "common": {"common"},
    "store": {"store", "common"},
    "agent": {"agent", "store", "common"},
    "monitor": {"monitor", "store", "common"},
    "cli": {"cli", "store", "common"},
    #   zbeat-ping takes zb_time for durations; the library itself
    #   (zbeat_client.c) includes nothing of ours.
    "client": {"client", "common"},
    #   zbeat-relay admits agents with the monitor's zb_auth and checks
    #   endpoints with its config's rules.
    "relay": {"relay", "monitor", "store", "common"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module(name):
    base = os.path.splitext(name)[0]
    for suffix in ("_test", "_internal"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    os.chdir(root)
    headers = {}  # header name -> room
    files = []  # (room, file)
    for room in ROOMS:
        for dirpath, _, names in os.walk(room):
            for name in sorted(names):
                if name.endswith((".c", ".h")):
                    files.append((room, os.path.join(dirpath, name)))
                if name.endswith(".h"):
                    headers.setdefault(name, room)
    bad = []
    edges = {room: {} for room in ROOMS}  # room -> module -> {module: file}
    for room, path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        src = module(os.path.basename(path))
        for target in INCLUDE.findall(text):
            name = os.path.basename(target)
            to_room = room if os.path.exists(os.path.join(os.path.dirname(path), name)) \
                else headers.get(name)
            if to_room is None:
                continue  # generated (build/) or a system header in quotes
            if to_room not in ALLOWED[room]:
                bad.append(f"{path}: includes {target} from {to_room}/ ({room}/ may not)")
            elif to_room == room and module(name) != src:
                edges[room].setdefault(src, {}).setdefault(module(name), path)
    for room in ROOMS:
        graph = edges[room]
        state = {}  # module -> 1 on the stack, 2 done
        stack = []

        def visit(node):
            state[node] = 1
            stack.append(node)
            for nxt in sorted(graph.get(node, {})):
                if state.get(nxt) == 1:
                    cycle = stack[stack.index(nxt):] + [nxt]
                    bad.append(f"{room}/: include circle " + " -> ".join(cycle))
                elif nxt not in state:
                    visit(nxt)
            stack.pop()
            state[node] = 2

        for node in sorted(graph):
            if node not in state:
                visit(node)
    for line in bad:
        print(line)
    if not bad:
        print(f"includes: {len(files)} files in {len(ROOMS)} rooms, no circles, no wrong arrows")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
