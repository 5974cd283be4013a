"""Helpers shared by the test_http_*.py and test_report_*.py integration
tests: a MonitorCase whose monitor serves HTTP on a free port, and a plain
HTTP client (http.client: real sockets, any method, the raw answer)."""

import http.client
import json
import os
import shutil
import subprocess

import zbtest
from monitor_helpers import MonitorCase


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # {lower-case name: value}
        self.body = body        # bytes

    def json(self):
        return json.loads(self.body)

    def text(self):
        return self.body.decode("utf-8")


def request(port, path, method="GET", body=None, headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * zbtest.SLOW)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


class HttpCase(MonitorCase):
    """MonitorCase + `--http 127.0.0.1:<free port>`."""

    def setUp(self):
        super().setUp()
        self.http_port = zbtest.free_port()

    def start_http_monitor(self, args=(), name="monitor"):
        proc = self.start_monitor(["--http", "127.0.0.1:%d" % self.http_port] + list(args), name)
        zbtest.wait_for(lambda: zbtest.port_open(self.http_port), 10, "the HTTP port")
        return proc

    def get(self, path, **kw):
        return request(self.http_port, path, **kw)

    def get_json(self, path):
        a = self.get(path)
        self.assertEqual(a.status, 200, "GET %s: %s" % (path, a.body[:300]))
        self.assertEqual(a.headers.get("content-type"), "application/json")
        return a.json()


def promtool():
    """Path of Debian's promtool (package prometheus), or None."""
    return shutil.which("promtool")


def check_metrics_text(case, text):
    """The text parses as Prometheus exposition format: promtool when it is
    installed (strict, and lints), else python3-prometheus-client's parser.
    Returns {(name, frozenset(labels.items())): value} from the parser."""
    tool = promtool()
    if tool:
        r = subprocess.run([tool, "check", "metrics"], input=text.encode(), capture_output=True,
                           timeout=30)
        case.assertEqual(r.returncode, 0, "promtool check metrics:\n%s%s" %
                         (r.stdout.decode(), r.stderr.decode()))
    from prometheus_client.parser import text_string_to_metric_families
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def sample(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))
