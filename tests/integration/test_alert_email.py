"""The email channel against a real SMTP server (python3-aiosmtpd's,
started here on loopback, storing into a Maildir): one mail per alert of an
incident (down, then recovered), plain text a person can read."""

import mailbox
import os
import unittest

import zbtest
from monitor_helpers import AlertCase

PYTHON = "/usr/bin/python3"


def aiosmtpd_present():
    return os.path.exists(PYTHON) and os.system(
        "%s -c 'import aiosmtpd' 2>/dev/null" % PYTHON) == 0


@unittest.skipUnless(aiosmtpd_present(), "needs python3-aiosmtpd (scripts/deps.sh)")
class AlertEmailTest(AlertCase):

    def start_sink(self):
        port = zbtest.free_port()
        maildir = os.path.join(self.tmp, "maildir")
        proc = self.start([PYTHON, "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:%d" % port,
                           "-c", "aiosmtpd.handlers.Mailbox", maildir], "smtp-sink")
        zbtest.wait_for(lambda: zbtest.port_open(port) or not proc.alive(), 20, "smtp sink")
        self.assertTrue(proc.alive(), proc.output())
        return port, maildir

    def mails(self, maildir):
        if not os.path.isdir(os.path.join(maildir, "new")):
            return []
        box = mailbox.Maildir(maildir, create=False)
        return sorted((m for m in box), key=lambda m: m["Date"] + m["X-Zbeat-Alert"][-9:])

    def test_one_mail_per_alert_readable(self):
        port, maildir = self.start_sink()
        self.start_alerting([("oncall", {"email": "oncall@example.com,ops@example.com",
                                         "smtp": "smtp://127.0.0.1:%d" % port,
                                         "from": "zbeat@monitor.example.com"})])
        agent = self.fake("web-1", interval_ms=60000)
        agent.set("redis", "up")
        agent.beat()
        self.wait_state("web-1", "redis", "up", 10)
        agent.event("redis", "down", reason="refused", error="connect: Connection refused")
        zbtest.wait_for(lambda: self.mails(maildir), 10, "the down mail")
        agent.event("redis", "up")
        zbtest.wait_for(lambda: len(self.mails(maildir)) >= 2, 10, "the recovery mail")
        self.wait_delivered(2, 10, "both delivered")
        mails = self.mails(maildir)
        outage = self.outages("--service", "redis")[0]
        by_trigger = {m["X-Zbeat-Alert"].rsplit("/", 1)[1]: m for m in mails}
        self.assertEqual(sorted(by_trigger), ["down", "recovered"])
        down = by_trigger["down"]
        self.assertEqual(down["From"], "zbeat <zbeat@monitor.example.com>")
        self.assertEqual(down["To"], "oncall@example.com,ops@example.com")
        self.assertTrue(down["Subject"].startswith("DOWN web-1/redis: refused"), down["Subject"])
        self.assertEqual(down["X-Zbeat-Alert"], "web-1/redis/%d/down" % outage["id"])
        self.assertEqual(down.get_content_type(), "text/plain")
        body = down.get_payload(decode=True).decode()
        self.assertIn("Host          web-1\n", body)
        self.assertIn("Service       redis\n", body)
        self.assertIn("Error         connect: Connection refused\n", body)
        self.assertIn("Outage        %d\n" % outage["id"], body)
        self.assertIn("Started       %s\n" % outage["started_at"], body)
        rec = by_trigger["recovered"]
        self.assertTrue(rec["Subject"].startswith("RECOVERED web-1/redis after"), rec["Subject"])
        self.assertIn("Ended         %s\n" % self.outages("--service", "redis")[0]["ended_at"],
                      rec.get_payload(decode=True).decode())
        # Both recipients got them (the sink records the envelope).
        self.assertIn("oncall@example.com", down["X-RcptTo"] or "")
        self.assertIn("ops@example.com", down["X-RcptTo"] or "")
        # Exactly one mail per alert: nothing more comes.
        self.stop_monitor()
        self.assertEqual(len(self.mails(maildir)), 2)


if __name__ == "__main__":
    zbtest.main()
