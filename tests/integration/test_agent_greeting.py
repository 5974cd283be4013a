"""Greeting checks against real servers: `check = ssh` (a real sshd with its
own config on a free port) and `check = smtp` (python3-aiosmtpd's sink). The
server speaks first; the probe reads the greeting (smtp: says QUIT) and
closes, every interval; a check of the wrong protocol is a bad response."""

import os
import shutil
import signal
import subprocess
import unittest

import zbtest
from agent_helpers import AgentCase

SSHD = shutil.which("sshd", path="/usr/sbin:/usr/bin")
PYTHON = "/usr/bin/python3"


def have_aiosmtpd():
    return subprocess.run([PYTHON, "-c", "import aiosmtpd"], capture_output=True).returncode == 0


class GreetingCase(AgentCase):

    def sshd(self):
        port = zbtest.free_port()
        key = os.path.join(self.tmp, "host_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        # sshd insists on its privilege separation directory.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        conf = self.write("sshd_config", "Port %d\nListenAddress 127.0.0.1\nHostKey %s\n"
                          "PidFile %s/sshd.pid\nUsePAM no\nLogLevel INFO\n"
                          % (port, key, self.tmp))
        self.sshd_proc = self.start([SSHD, "-D", "-e", "-f", conf], "sshd")
        zbtest.wait_for(lambda: zbtest.port_open(port), 10, "sshd listening")
        return port

    def smtpd(self):
        port = zbtest.free_port()
        self.smtp_proc = self.start([PYTHON, "-m", "aiosmtpd", "-n", "-d", "-l",
                                     "127.0.0.1:%d" % port], "smtpd")
        zbtest.wait_for(lambda: zbtest.port_open(port), 10, "the SMTP sink listening")
        return port

    def beat_service(self, name, state):
        def ok(m):
            if m["msg"].get("type") != "beat":
                return None
            for s in m["msg"]["services"]:
                if s["name"] == name and s["state"] == state:
                    return s
            return None
        return ok(self.sub.wait(ok, 10, "%s %s in a beat" % (name, state)))


@unittest.skipUnless(SSHD, "openssh-server is not installed (scripts/deps.sh)")
class SshTest(GreetingCase):

    def test_check_ssh_is_up_polite_and_down_when_stopped(self):
        port = self.sshd()
        # sshd forks and loads its keys per connection before its banner: a
        # timeout of 900 ms leaves that room on a loaded machine.
        agent = self.start_agent([("ssh", dict(probe="127.0.0.1:%d" % port, check="ssh",
                                                interval="1s", timeout="900ms"))])
        self.beat_service("ssh", "up")
        zbtest.wait_for(lambda: self.sshd_proc.output().count("[preauth]") >= 3, 15,
                        "three checks logged by sshd")
        # Each check closed its connection: none is left open at sshd.
        r = subprocess.run(["ss", "-Htn", "state", "established", "dst",
                            "127.0.0.1:%d" % port], capture_output=True, text=True)
        self.assertLessEqual(len(r.stdout.splitlines()), 1, r.stdout)
        # The probe gave its own identification before closing: sshd logs
        # one line per such check ("[preauth]"); kex_exchange_identification
        # is logged for the test's own port check, which says nothing, and
        # for a check that timed out before sshd's banner came (sshd forks
        # and loads its keys per connection: on a loaded machine that can
        # outlast the check's timeout). A probe that never identified itself
        # would have every check logged so, and none [preauth].
        log = self.sshd_proc.output()
        polite = log.count("[preauth]")
        silent = log.count("kex_exchange_identification") - 1
        self.assertGreaterEqual(polite, 3, log)
        self.assertLessEqual(silent, polite // 2, log)
        start = self.mark()
        self.sshd_proc.send_signal(signal.SIGTERM)
        down = self.wait_event("ssh", "down", 5, start=start)
        self.assertEqual(down["msg"]["reason"], "refused")
        self.stop_agent(agent)

    @unittest.skipUnless(have_aiosmtpd(), "python3-aiosmtpd is not installed")
    def test_the_wrong_protocol_is_a_bad_response(self):
        ssh, smtp = self.sshd(), self.smtpd()
        agent = self.start_agent([
            ("ssh-at-smtp", dict(probe="127.0.0.1:%d" % smtp, check="ssh", fails=1)),
            ("smtp-at-ssh", dict(probe="127.0.0.1:%d" % ssh, check="smtp", fails=1))])
        a = self.beat_service("ssh-at-smtp", "down")
        self.assertEqual(a["reason"], "bad-response")
        self.assertIn('bad response "220 ', a["error"])
        b = self.beat_service("smtp-at-ssh", "down")
        self.assertIn('bad response "SSH-2.0-OpenSSH', b["error"])
        self.stop_agent(agent)


@unittest.skipUnless(have_aiosmtpd(), "python3-aiosmtpd is not installed (scripts/deps.sh)")
class SmtpTest(GreetingCase):

    def test_check_smtp_says_quit(self):
        port = self.smtpd()
        agent = self.start_agent([("mail", dict(probe="127.0.0.1:%d" % port, check="smtp",
                                                 interval="500ms"))])
        self.beat_service("mail", "up")
        # The sink logs each command: wait for several checks' QUITs.
        zbtest.wait_for(lambda: self.smtp_proc.output().count(">> b'QUIT'") >= 3, 15,
                        "three QUITs at the sink")
        # Every session of the probe's that got the greeting ends with QUIT,
        # as smtplib's quit() does. Sessions without one: the test's own port
        # check, and a check that timed out before the sink's greeting came
        # (a Python sink on a loaded machine can outlast the 250 ms timeout).
        # A probe that never said QUIT would have no session with one.
        log = self.smtp_proc.output()
        quits = log.count(">> b'QUIT'")
        bare = log.count("handling connection") - quits - 1
        self.assertLessEqual(bare, quits // 2, log)
        path = self.write("once.cfg", "service\n    mail\n        probe = 127.0.0.1:%d\n"
                          "        check = smtp\n" % port)
        r = subprocess.run([self.agent_bin, "-c", path, "--probe-once", "mail"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r'greeting: \d+ bytes in [0-9.]+ms "220 ')
        self.assertIn('send: 6 bytes "QUIT\\r\\n"', r.stdout)
        start = self.mark()
        self.smtp_proc.send_signal(signal.SIGTERM)
        self.wait_event("mail", "down", 5, start=start)
        self.stop_agent(agent)


def mysql_packet(payload, seq=0):
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


# A MySQL 8 greeting (protocol 10, server version, thread id, salt, ...),
# and the error packet a server sends a host it will not serve.
MYSQL_GREETING = mysql_packet(b"\x0a8.0.36\x00" + (7).to_bytes(4, "little") + b"abcdefgh\x00" +
                              b"\xff\xf7\x21\x02\x00\xff\xdf\x15" + b"\x00" * 10 +
                              b"ijklmnopqrst\x00mysql_native_password\x00")
MYSQL_REFUSED = mysql_packet(b"\xff\x6a\x04Host '10.0.0.9' is not allowed to connect")


class GreetingServer(zbtest.SelectorServer):
    """Says its greeting to every connection; counts the connections that
    were closed by the peer."""

    def __init__(self, case, greeting):
        self.greeting = greeting
        self.closed_by_peer = 0
        super().__init__(case)

    def _open(self, sock):
        sock.sendall(self.greeting)
        return {}

    def _data(self, sock, record, data):
        pass

    def _closed(self, record, eof):
        if eof:
            with self._lock:
                self.closed_by_peer += 1


class MysqlTest(GreetingCase):
    """No MySQL or MariaDB in the test set: stand-in servers that send the
    packets the protocol documents."""

    def test_check_mysql_reads_the_greeting_and_closes(self):
        good = GreetingServer(self, MYSQL_GREETING)
        refusing = GreetingServer(self, MYSQL_REFUSED)
        agent = self.start_agent([
            ("db", dict(probe="127.0.0.1:%d" % good.port, check="mysql", interval="200ms")),
            ("refused", dict(probe="127.0.0.1:%d" % refusing.port, check="mysql", fails=1))])
        self.beat_service("db", "up")
        bad = self.beat_service("refused", "down")
        self.assertEqual(bad["reason"], "bad-response")
        self.assertEqual(bad["error"],
                         "mysql: error 1130: Host '10.0.0.9' is not allowed to connect")
        # The probe closes each connection itself, one per check.
        zbtest.wait_for(lambda: good.closed_by_peer >= 3, 10, "three checks closed by the probe")
        self.stop_agent(agent)


if __name__ == "__main__":
    zbtest.main()
