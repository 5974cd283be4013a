"""A counting proxy in front of a monitor's HTTP API, shared by
test_cli_remote.py and bench/cli_fanout.py (which puts this folder on its
path): the standard library only, so that the bench runs with any python3."""

import http.server
import ssl
import threading
import urllib.error
import urllib.request


class Proxy:
    """A plain-HTTP front for a monitor at `target` (https: verified against
    `cafile`). It logs every GET's path and query (an access log) and the
    bytes of the /api/v1/hosts answers, calls `hold()` (when set: a slow
    shard, a gate) and passes the request on, Authorization included, when
    it returns true, else answers 504; then it relays the monitor's answer
    (`timeout` seconds at the most)."""

    def __init__(self, target, cafile=None, hold=None, timeout=30):
        self.paths = []
        self.hosts_bytes = 0
        self.hold = hold
        self.lock = threading.Lock()
        context = ssl.create_default_context(cafile=cafile) if cafile else None
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with proxy.lock:
                    proxy.paths.append(self.path)
                hold = proxy.hold
                if hold and not hold():
                    return self.answer(504, b'{"error": "proxy: held for too long"}')
                req = urllib.request.Request(target + self.path)
                if self.headers.get("Authorization"):
                    req.add_header("Authorization", self.headers["Authorization"])
                try:
                    with urllib.request.urlopen(req, context=context, timeout=timeout) as r:
                        status, body = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, body = e.code, e.read()
                if self.path.startswith("/api/v1/hosts"):
                    with proxy.lock:
                        proxy.hosts_bytes += len(body)
                self.answer(status, body)

            def answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def requests(self):
        with self.lock:
            return len(self.paths)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
