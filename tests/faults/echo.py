"""Echo traffic across a shaped link (tests/faults/test_netem_tool.py), run
inside a namespace:

    echo.py udp-server PORT                 echoes datagrams; prints "ready"
    echo.py tcp-server PORT                 echoes bytes per connection; "ready"
    echo.py udp-client HOST PORT COUNT GAP_MS WAIT_MS
        sends COUNT numbered datagrams GAP_MS apart, collects echoes until
        WAIT_MS after the last send; prints {"sent", "rtts_ms", "dups"}
    echo.py tcp-client HOST PORT BYTES TIMEOUT_S
        sends BYTES pseudo-random bytes and reads them back; prints
        {"sent", "received", "intact", "seconds"}
"""

import json
import os
import random
import select
import socket
import struct
import sys
import threading
import time


def udp_server(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(65536)
        s.sendto(data, peer)


def tcp_server(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    print("ready", flush=True)

    def serve(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def udp_client(host, port, count, gap_ms, wait_ms):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    sent_at, rtts, seen = {}, {}, set()
    dups = 0
    start = time.monotonic()
    next_send, i = start, 0
    end = None
    while end is None or time.monotonic() < end:
        now = time.monotonic()
        if i < count and now >= next_send:
            sent_at[i] = now
            s.send(struct.pack("!I", i) + b"x" * 60)
            i += 1
            next_send = start + i * gap_ms / 1000.0
            if i == count:
                end = now + wait_ms / 1000.0
        limit = (next_send if i < count else end) - time.monotonic()
        if select.select([s], [], [], max(0.0, limit))[0]:
            data = s.recv(65536)
            t = time.monotonic()
            seq = struct.unpack("!I", data[:4])[0]
            if seq in seen:
                dups += 1
            elif seq in sent_at:
                seen.add(seq)
                rtts[seq] = (t - sent_at[seq]) * 1000.0
    print(json.dumps({"sent": count, "rtts_ms": [rtts[k] for k in sorted(rtts)],
                      "dups": dups}))


def tcp_client(host, port, size, timeout):
    payload = random.Random(size).randbytes(size)
    start = time.monotonic()
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    got = bytearray()

    def send():
        s.sendall(payload)
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        while len(got) < size:
            data = s.recv(65536)
            if not data:
                break
            got += data
    except OSError:
        pass
    print(json.dumps({"sent": size, "received": len(got), "intact": bytes(got) == payload,
                      "seconds": time.monotonic() - start}))


def main(argv):
    mode, args = argv[1], argv[2:]
    if mode == "udp-server":
        udp_server(int(args[0]))
    elif mode == "tcp-server":
        tcp_server(int(args[0]))
    elif mode == "udp-client":
        udp_client(args[0], int(args[1]), int(args[2]), float(args[3]), float(args[4]))
    elif mode == "tcp-client":
        tcp_client(args[0], int(args[1]), int(args[2]), float(args[3]))
    else:
        sys.exit("echo.py: unknown mode %s" % mode)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main(sys.argv)
