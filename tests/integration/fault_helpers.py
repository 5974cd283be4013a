"""Helpers for the fault tests (issue 11): agent journals as the ground
truth, the outages they imply, and the outages a monitor's database holds."""

import json
import os
import signal

import zbtest
from agent_helpers import agent_config
from monitor_helpers import MonitorCase, parse_rfc3339_ms


def journal_events(path):
    """Every event in an agent journal (PATH.1 then PATH), in order."""
    events = []
    for name in (path + ".1", path):
        if not os.path.exists(name):
            continue
        with open(name, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.endswith("\n") or "\t" not in line:
                    continue
                try:
                    events.append(json.loads(line.split("\t", 1)[1]))
                except ValueError:
                    pass
    return events


def expected_outages(events, host):
    """{service: [(start_ms, end_ms or None)]} as the agent's own record says."""
    open_, done = {}, {}
    for e in events:
        if e.get("host") != host or "service" not in e:
            continue
        name, to = e["service"], e["to"]
        if to == "down" and name not in open_:
            open_[name] = e["at_ms"]
        elif to in ("up", "stopped", "removed") and name in open_:
            done.setdefault(name, []).append((open_.pop(name), e["at_ms"]))
    for name, start in open_.items():
        done.setdefault(name, []).append((start, None))
    return {k: sorted(v) for k, v in done.items()}


def db_outages(rows, host):
    """The same shape from `zbeat outages --json` rows."""
    got = {}
    for r in rows:
        if r["host"] != host or r["kind"] != "service":
            continue
        end = parse_rfc3339_ms(r["ended_at"]) if r["ended_at"] else None
        got.setdefault(r["service"], []).append((parse_rfc3339_ms(r["started_at"]), end))
    return {k: sorted(v) for k, v in got.items()}


def journal_agent_config(monitor, replay, journal, services, host="web-1", beat="200ms"):
    """An agent that journals and replays. services: {name: port};
    connection-only probes, every 100 ms, down after one failure."""
    probes = [(name, {"probe": "127.0.0.1:%d" % port, "interval": "100ms", "fails": 1})
              for name, port in services.items()]
    return agent_config(monitor, probes, host, beat, keys=(("replay", replay),
                                                          ("journal", journal)))


def wait_journal_in_db(journal, host, outages, timeout, what, rows=None):
    """Until outages() (rows as `zbeat outages --json` gives them) hold
    exactly the outages host's journal implies; returns them. Fails showing
    both, and rows() when given."""
    last = {}

    def matches():
        want = expected_outages(journal_events(journal), host)
        got = db_outages(outages(), host)
        last["want"], last["got"] = want, got
        return want == got
    try:
        zbtest.wait_for(matches, timeout, what)
    except AssertionError as e:
        extra = "\nrows %r" % (rows(),) if rows else ""
        raise AssertionError("%s\nwant %r\ngot  %r%s" % (e, last.get("want"), last.get("got"),
                                                       extra))
    return last["want"]


class FaultCase(MonitorCase):
    """A monitor with a replay endpoint, and agents that journal into tmp."""

    def setUp(self):
        super().setUp()
        self.replay_port = zbtest.free_port()
        self.replay = "tcp://127.0.0.1:%d" % self.replay_port
        self.monitor_cfg = self.write("monitor.cfg", "monitor\n    replay = %s\n" % self.replay)
        self.journal = os.path.join(self.tmp, "journal-web-1")

    def start_replaying_monitor(self, name="monitor"):
        # ZB_TEST_VERBOSE=1: debug logs, to see why a run went wrong.
        verbose = ["-v"] if os.environ.get("ZB_TEST_VERBOSE") == "1" else []
        return self.start_monitor(["-c", self.monitor_cfg] + verbose, name=name)

    def start_agent(self, services, name="agent", host="web-1"):
        return self.start_agent_config(journal_agent_config(self.endpoint, self.replay,
                                                            self.journal, services, host), name)

    def change_unseen(self, servers, bounce=(), down=(), up=()):
        """Kills the monitor (SIGKILL); then, unseen by it, each service of
        bounce goes down and recovers, each of down goes down, each of up
        recovers (servers: {name: TcpServer}). Returns the journal's length
        from before the changes."""
        self.monitor.stop(signal.SIGKILL)
        mark = len(journal_events(self.journal))
        for name in bounce:
            servers[name].set_mode("refuse")
            n = self.wait_transition(name, "down", mark)
            servers[name].set_mode("answer")
            self.wait_transition(name, "up", n)
        for name in down:
            servers[name].set_mode("refuse")
            self.wait_transition(name, "down", mark)
        for name in up:
            servers[name].set_mode("answer")
            self.wait_transition(name, "up", mark)
        return mark

    def journal_has(self, pred, timeout, what):
        return zbtest.wait_for(lambda: [e for e in journal_events(self.journal) if pred(e)],
                               timeout, what)

    def wait_transition(self, service, to, after=0, timeout=10):
        """Waits for the agent's journal to record service -> to (after
        journal index `after`); returns the journal's length then."""
        def seen():
            events = journal_events(self.journal)
            for e in events[after:]:
                if e.get("service") == service and e.get("to") == to:
                    return len(events)
            return None
        return zbtest.wait_for(seen, timeout, "journal: %s -> %s" % (service, to))

    def wait_db_matches_journal(self, host="web-1", timeout=20):
        """Until the database holds exactly the outages the journal implies;
        fails showing both."""
        return wait_journal_in_db(
            self.journal, host, lambda: self.outages() if os.path.exists(self.db) else [], timeout,
            "database outages match the agent's journal",
            rows=lambda: [(r["service"], r["started_at"], r["ended_at"], r["end_reason"], r["id"])
                          for r in self.outages() if r["host"] == host])


def host_outages_of(rows, host):
    """Host (silent) outages of host in `zbeat outages --json` rows."""
    return [r for r in rows if r["host"] == host and r["kind"] == "host"]
