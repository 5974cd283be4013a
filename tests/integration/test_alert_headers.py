"""Webhook headers: repeated `header` keys, secrets from the environment
(${VAR}) and from files (@/path), reach a real HTTP receiver; a variable
that is not set is a configuration error naming the key (exit 2)."""

import os

import zbtest
from monitor_helpers import AlertCase, WebhookReceiver


class AlertHeadersTest(AlertCase):

    def test_headers_with_secrets_from_env_and_file(self):
        os.environ["ZB_TEST_HOOK_TOKEN"] = "t0ken-from-env"
        self.addCleanup(os.environ.pop, "ZB_TEST_HOOK_TOKEN", None)
        secret = self.write("api-key", "k3y-from-file\n")
        hook = WebhookReceiver(self)
        # A repeated key: the file is written by hand.
        cfg = self.write("monitor.cfg", "alert\n    pager\n        webhook = %s\n"
                         "        header = \"Authorization: Bearer ${ZB_TEST_HOOK_TOKEN}\"\n"
                         "        header = \"X-Api-Key: @%s\"\n"
                         "        header = \"X-Team: infra\"\n" % (hook.url, secret))
        self.start_monitor(["-c", cfg, "-v"])
        agent = self.fake("web-1", interval_ms=60000)
        agent.set("redis", "up")
        agent.beat()
        self.wait_state("web-1", "redis", "up", 10)
        agent.event("redis", "down")
        post = zbtest.wait_for(lambda: hook.posts(), 10, "the alert")[0]
        self.assertEqual(post["headers"]["Authorization"], "Bearer t0ken-from-env")
        self.assertEqual(post["headers"]["X-Api-Key"], "k3y-from-file")
        self.assertEqual(post["headers"]["X-Team"], "infra")
        self.assertEqual(post["headers"]["Content-Type"], "application/json")
        self.assertEqual(post["body"]["trigger"], "down")
        # The secrets are not in what `zbeat alerts` or the log shows.
        self.stop_monitor()
        self.assertNotIn("t0ken-from-env", self.monitor.output())
        self.assertNotIn("k3y-from-file", self.monitor.output())

    def test_unset_variable_is_a_config_error(self):
        os.environ.pop("ZB_TEST_UNSET_TOKEN", None)
        cfg = self.write("bad.cfg", "alert\n    pager\n        webhook = http://127.0.0.1:1/\n"
                         "        header = \"Authorization: Bearer ${ZB_TEST_UNSET_TOKEN}\"\n")
        rc, out, err = self.run_cmd([self.monitor_bin, "-c", cfg, "--check-config"])
        self.assertEqual(rc, 2, out + err)
        self.assertIn("%s: alert/pager/header: ${ZB_TEST_UNSET_TOKEN} is not set" % cfg, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)


if __name__ == "__main__":
    zbtest.main()
