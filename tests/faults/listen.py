"""A stand-in service for the fault suite: listens on 127.0.0.1:PORT (inside
whatever network namespace it was started in) and accepts and closes every
connection. Killing it makes the port refuse: a service down."""

import socket
import sys

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
while True:
    conn, _ = s.accept()
    conn.close()
