"""A stand-in service for the fault suite: listens on 127.0.0.1:PORT (inside
whatever network namespace it was started in), accepts every connection and
holds it open, discarding what it reads, until the client closes it. Killing
it closes them all and makes the port refuse: a service down.

It prints "listening" once the port accepts, so a test never takes a
listener that is still starting for a service that is up.

(Closing each connection at once would make the agent's connection-only
probe reconnect at once, over and over: a busy loop that took most of a core
from the timing-sensitive tests.)"""

import selectors
import socket
import sys

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
print("listening", flush=True)  # the test waits for this line: the service is up
sel = selectors.DefaultSelector()
sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is s:
            conn, _ = s.accept()
            sel.register(conn, selectors.EVENT_READ)
            continue
        try:
            data = key.fileobj.recv(4096)
        except OSError:
            data = b""
        if not data:
            sel.unregister(key.fileobj)
            key.fileobj.close()
