"""Checks for tests/e2e/run.sh on the CLI's JSON (docs/cli.md).

Reads one JSON document (`zbeat status --json` or `zbeat outages --json`) on
stdin, checks one condition, exits 0 when it holds and 1 otherwise, printing
what it saw in one line either way (run.sh shows the last line of a check that
timed out). Times on the command line are Unix seconds, as bash's
$EPOCHREALTIME gives them.

  status-up HOSTS SERVICES          every host alive, each of SERVICES on it up
  status HOST STATE [SVC_STATE]     HOST in STATE, each of its services in SVC_STATE
  service HOST SERVICE STATE        that service in STATE
  absent HOSTS                      none of HOSTS (comma-separated) appears at all
  outages HOST SERVICE|- OPEN CLOSED
                                    exactly OPEN open and CLOSED closed outages of
                                    HOST's SERVICE (- = host outages)
  outage-set SPEC...                the whole history is exactly SPEC, each
                                    HOST/SERVICE:N (service outages) or HOST:N
                                    (host outages), all closed
  outage-times HOST SERVICE|- START_MIN START_MAX [END_MIN END_MAX]
                                    the newest such outage started (and ended)
                                    within the given times
  reason HOST SERVICE|- REASONS     the newest such outage's reason is one of
                                    REASONS (comma-separated)
  datagrams HOSTS                   on `zbeat hosts --json`: each of HOSTS has a
                                    datagram loss estimate (its liveness datagrams
                                    arrive and the adaptive detector judges it)
  alerts-sent N                     `zbeat alerts --json` lists exactly N alerts,
                                    each delivered ("sent") to every channel, but
                                    where a channel's grace (after) held it back
                                    because the outage was over within it
On the alert channel's file (one alert JSON per line, blank lines ignored):
  alert-log HOST SERVICE|- TRIGGERS the alerts about HOST's SERVICE (- = the host
                                    itself) are exactly TRIGGERS (comma-separated,
                                    in order; "" for none)
  alert-log-set SPEC...             the whole file is exactly SPEC, each
                                    HOST[/SERVICE]=TRIGGERS, and no id repeats
On `docker-compose config` (YAML) or `docker port CONTAINER` (text):
  published-local                   at least one port is published, and every
                                    one on 127.0.0.1 only
"""

import datetime
import json
import sys


def s_time(text):
    """RFC 3339 UTC with milliseconds -> Unix seconds."""
    if text is None:
        return None
    stamp = datetime.datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    return stamp.timestamp()


def s_done(ok, what):
    print(("ok: " if ok else "not yet: ") + what)
    sys.exit(0 if ok else 1)


def s_rows(doc, host):
    return [r for r in doc if r.get("host") == host]


def s_status_up(doc, hosts, services):
    bad = []
    for host in hosts.split(","):
        rows = s_rows(doc, host)
        states = {r["service"]: r["state"] for r in rows}
        if states.get(None) != "alive":
            bad.append("%s is %s" % (host, states.get(None, "absent")))
        for name in services.split(","):
            if states.get(name) != "up":
                bad.append("%s/%s is %s" % (host, name, states.get(name, "absent")))
    s_done(not bad, "; ".join(bad) or "%s alive, %s up on each" % (hosts, services))


def s_status(doc, host, state, service_state=None):
    rows = s_rows(doc, host)
    seen = ", ".join("%s=%s" % (r["service"] or "host", r["state"]) for r in rows) or "absent"
    host_rows = [r for r in rows if r["service"] is None]
    ok = len(host_rows) == 1 and host_rows[0]["state"] == state
    services = [r for r in rows if r["service"] is not None]
    if service_state is not None:
        ok = ok and services and all(r["state"] == service_state for r in services)
    s_done(bool(ok), "%s: %s" % (host, seen))


def s_service(doc, host, service, state):
    rows = [r for r in s_rows(doc, host) if r["service"] == service]
    seen = rows[0]["state"] if rows else "absent"
    s_done(seen == state, "%s/%s is %s" % (host, service, seen))


def s_absent(doc, hosts):
    seen = sorted({r["host"] for r in doc if r.get("host") in hosts.split(",")})
    s_done(not seen, "present: %s" % ", ".join(seen) if seen else "%s absent" % hosts)


def s_select(doc, host, service):
    service = None if service == "-" else service
    return [o for o in doc if o["host"] == host and o["service"] == service]


def s_describe(outages):
    return (
        "[%s]"
        % ", ".join(
            "%s/%s %s..%s %s/%s"
            % (
                o["host"],
                o["service"] or "-",
                o["started_at"],
                o["ended_at"] or "open",
                o["reason"],
                o["end_reason"] or "-",
            )
            for o in outages
        )
    )


def s_outages(doc, host, service, n_open, n_closed):
    found = s_select(doc, host, service)
    n_open_seen = sum(1 for o in found if o["ended_at"] is None)
    ok = n_open_seen == int(n_open) and len(found) - n_open_seen == int(n_closed)
    s_done(ok, "%s/%s: %s" % (host, service, s_describe(found)))


def s_outage_set(doc, specs):
    want = {}
    for spec in specs:
        key, count = spec.rsplit(":", 1)
        host, _, service = key.partition("/")
        want[(host, service or None)] = int(count)
    got = {}
    for o in doc:
        key = (o["host"], o["service"])
        got[key] = got.get(key, 0) + 1
    all_closed = all(o["ended_at"] is not None for o in doc)
    s_done(got == want and all_closed, "history %s" % s_describe(doc))


def s_outage_times(doc, host, service, *bounds):
    found = s_select(doc, host, service)
    if not found:
        s_done(False, "%s/%s: no outage" % (host, service))
    newest = found[0]  # the CLI lists newest first
    lo, hi = float(bounds[0]), float(bounds[1])
    started = s_time(newest["started_at"])
    ok = lo <= started <= hi
    what = "started at %.3fs in the window [0, %.3f]" % (started - lo, hi - lo)
    if len(bounds) == 4:
        lo2, hi2 = float(bounds[2]), float(bounds[3])
        ended = s_time(newest["ended_at"])
        ok = ok and ended is not None and lo2 <= ended <= hi2
        if ended is None:
            what += ", not ended"
        else:
            what += ", ended at %.3fs in the window [0, %.3f]" % (ended - lo2, hi2 - lo2)
    s_done(ok, what + " " + s_describe([newest]))


def s_reason(doc, host, service, reasons):
    found = s_select(doc, host, service)
    reason = found[0]["reason"] if found else None
    s_done(reason in reasons.split(","), "%s/%s reason %s" % (host, service, reason))


def s_alerts_sent(doc, count):
    unsent = [
        "%s to %s: %s" % (a["id"], d["channel"], d["status"])
        for a in doc
        for d in a["deliveries"]
        if d["status"] != "sent" and not (d["status"] == "held" and
                                          (d.get("last_error") or "").startswith("held back:"))
    ]
    ok = len(doc) == int(count) and not unsent and all(a["deliveries"] for a in doc)
    s_done(ok, "%d alerts (%s)%s" % (
        len(doc), ", ".join(a["id"] for a in doc), "; not sent: " + ", ".join(unsent) if unsent else ""))


def s_alert_lines(text):
    lines = []
    for line in text.splitlines():
        if line.strip():
            try:
                lines.append(json.loads(line))
            except ValueError:
                s_done(False, "not an alert: %r" % line[:200])
    return lines


def s_alert_key(alert):
    return alert["host"] + ("/" + alert["service"] if alert["service"] else "")


def s_alert_log(alerts, host, service, triggers):
    key = host + ("" if service == "-" else "/" + service)
    got = [a["trigger"] for a in alerts if s_alert_key(a) == key]
    want = [t for t in triggers.split(",") if t]
    s_done(got == want, "alerts for %s: %s" % (key, ",".join(got) or "none"))


def s_alert_log_set(alerts, specs):
    want = {}
    for spec in specs:
        key, _, triggers = spec.partition("=")
        want[key] = [t for t in triggers.split(",") if t]
    got = {}
    for a in alerts:
        got.setdefault(s_alert_key(a), []).append(a["trigger"])
    ids = [a["id"] for a in alerts]
    unique = len(ids) == len(set(ids))
    s_done(got == want and unique, "alert log %s%s" % (
        " ".join("%s=%s" % (k, ",".join(v)) for k, v in sorted(got.items())),
        "" if unique else " (repeated ids: %s)" % sorted(i for i in set(ids) if ids.count(i) > 1)))


def s_unquote(text):
    return text.strip().strip("'\"")


def s_published(text):
    """Each published port's host address, from `docker port` lines
    ("7400/tcp -> 127.0.0.1:32768") or from the ports lists of a
    `docker-compose config`, in either the short form docker-compose 1.29
    prints ("- 127.0.0.1:7400:7400/tcp") or the long one of Compose v2
    ("- host_ip: 127.0.0.1" among the item's keys). No YAML library: the
    shape of these lists is all that is needed."""
    lines = text.splitlines()
    if any(" -> " in line for line in lines):
        return [line.split(" -> ", 1)[1].rsplit(":", 1)[0] for line in lines if " -> " in line]
    hosts = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.strip() != "ports:":
            continue
        indent = len(line) - len(line.lstrip())
        items = []
        while i < len(lines):
            item = lines[i]
            depth = len(item) - len(item.lstrip())
            if not item.strip() or depth < indent or (
                    depth == indent and not item.lstrip().startswith("- ")):
                break
            if item.lstrip().startswith("- ") and depth <= indent + 2:
                items.append([item.lstrip()[2:]])
            elif items:
                items[-1].append(item.strip())
            i += 1
        for item in items:
            fields = dict(f.split(":", 1) for f in item if ": " in f)
            if len(item) == 1 and ": " not in item[0]:
                short = s_unquote(item[0])  # [HOST:][PUBLISHED:]TARGET[/PROTO]
                hosts.append(short.rsplit(":", 2)[0] if short.count(":") == 2 else "")
            else:
                hosts.append(s_unquote(fields.get("host_ip", "")))
    return hosts


def s_published_local(text):
    hosts = s_published(text)
    ok = bool(hosts) and all(h == "127.0.0.1" for h in hosts)
    s_done(ok, "published on %s" % (", ".join(h or "all addresses" for h in hosts) or "nothing"))


def s_datagrams(doc, hosts):
    rows = {r.get("host"): r for r in doc}
    bad = ["%s: %s" % (h, "absent" if h not in rows else "no datagram loss estimate")
           for h in hosts.split(",") if rows.get(h, {}).get("datagram_loss") is None]
    s_done(not bad, "; ".join(bad) or "%s: loss %s, threshold %s ms" % (
        hosts, ",".join(str(rows[h]["datagram_loss"]) for h in hosts.split(",")),
        ",".join(str(rows[h].get("silence_threshold_ms")) for h in hosts.split(","))))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    command, args = sys.argv[1], sys.argv[2:]
    text = sys.stdin.read()
    if command == "published-local":
        s_published_local(text)
    if command == "alert-log":
        s_alert_log(s_alert_lines(text), *args)
    if command == "alert-log-set":
        s_alert_log_set(s_alert_lines(text), args)
    try:
        doc = json.loads(text)
    except ValueError:
        s_done(False, "not JSON: %r" % text[:200])
    table = {
        "status-up": s_status_up,
        "status": s_status,
        "service": s_service,
        "absent": s_absent,
        "outages": s_outages,
        "outage-times": s_outage_times,
        "reason": s_reason,
        "alerts-sent": s_alerts_sent,
        "datagrams": s_datagrams,
    }
    if command == "outage-set":
        s_outage_set(doc, args)
    elif command in table:
        table[command](doc, *args)
    else:
        sys.exit("check.py: unknown check %r\n%s" % (command, __doc__))


if __name__ == "__main__":
    main()
