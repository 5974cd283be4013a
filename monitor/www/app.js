// zbeat status page: reads the monitor's JSON API (docs/http.md) and draws
// every host and service with its state, its availability and its outages
// over the last 24 hours and 7 days, problems first, with a list of recent
// incidents and a filter. Plain DOM, no library; all text from the API goes
// in through textContent, never as HTML. The JSON is fetched again every
// REFRESH_MS and the page redrawn at once from it (no blank in between).
"use strict";

(function () {
    const WINDOWS = [
        { since: "24h", label: "24 h" },
        { since: "7d", label: "7 d" },
    ];
    const param = new URLSearchParams(window.location.search).get("refresh");
    const REFRESH_MS = Math.max(2, Number(param) || 10) * 1000;
    const tip = document.getElementById("tip");
    const COLLAPSE_HOSTS = 30;   // more hosts than this: the all-up ones fold into one line
    const MATCHES_MAX = 200;     // hosts drawn in full for one filter
    const INCIDENTS_MAX = 30;    // rows of the incidents list
    const MARK_MIN_PX = 6;       // an outage of any length stays this wide (style.css)
    let last = null;             // the answers last drawn, for the filter
    let expanded = false;        // the all-up hosts unfolded
    const LATENCY_MS = 60000;    // the rollups are per minute: fetched once a minute
    let latency = new Map();     // "host/service" -> {mean_us: [60], last_us}
    let latencyAt = 0;
    let tlsWarnMs = 14 * 86400000; // monitor/tls-warn (from /api/v1/monitor)
    const SVG = "http://www.w3.org/2000/svg";

    // The last hour's round trips (1-minute means) as a line; gaps where a
    // minute had none.
    function sparkline(series) {
        const svg = document.createElementNS(SVG, "svg");
        svg.setAttribute("class", "spark");
        const n = series.mean_us.length;
        svg.setAttribute("viewBox", "0 0 " + (n - 1) + " 20");
        svg.setAttribute("preserveAspectRatio", "none");
        const known = series.mean_us.filter((v) => v !== null);
        const max = Math.max(1, ...known);
        let d = "", pen = false;
        series.mean_us.forEach((v, i) => {
            if (v === null) { pen = false; return; }
            const y = (19 - (18 * v) / max).toFixed(1);
            // A run starts a little to the left: a lone minute is a dash.
            d += pen ? "L" + i + " " + y : "M" + Math.max(0, i - 0.8) + " " + y + "L" + i + " " + y;
            pen = true;
        });
        const path = document.createElementNS(SVG, "path");
        path.setAttribute("d", d || "M0 19");
        path.setAttribute("vector-effect", "non-scaling-stroke");
        svg.appendChild(path);
        const title = document.createElementNS(SVG, "title");
        const ms = (us) => (us / 1000).toFixed(us < 10000 ? 2 : 0) + " ms";
        title.textContent = "round trip, last hour (1-minute means): last " +
            (series.last_us === null ? "\u2013" : ms(series.last_us)) + ", max " + ms(max);
        svg.appendChild(title);
        svg.dataset.points = String(known.length);
        return svg;
    }

    function el(tag, cls, text) {
        const e = document.createElement(tag);
        if (cls) e.className = cls;
        if (text !== undefined) e.textContent = text;
        return e;
    }

    // As the CLI prints durations: 850ms, 42.0s, 3m12s, 2h05m, 3d04h.
    function duration(ms) {
        ms = Math.max(0, Math.round(ms));
        const s = Math.floor(ms / 1000);
        const two = (n) => String(n).padStart(2, "0");
        if (ms < 1000) return ms + "ms";
        if (s < 60) return s + "." + Math.floor((ms % 1000) / 100) + "s";
        if (s < 3600) return Math.floor(s / 60) + "m" + two(s % 60) + "s";
        if (s < 86400) return Math.floor(s / 3600) + "h" + two(Math.floor((s % 3600) / 60)) + "m";
        return Math.floor(s / 86400) + "d" + two(Math.floor((s % 86400) / 3600)) + "h";
    }

    function localTime(ms) {
        return new Date(ms).toLocaleString();
    }

    // Rounded down, so that 100% means no downtime at all.
    function percent(value) {
        if (value === null || value === undefined) return "\u2013";
        return (Math.floor(value * 100) / 100).toFixed(2) + "%";
    }

    async function getJSON(url) {
        const response = await fetch(url, { cache: "no-store" });
        let body = null;
        try {
            body = await response.json();
        } catch (e) {
            body = null;
        }
        if (!response.ok)
            throw new Error(url + ": " + ((body && body.error) || response.status + " " + response.statusText));
        return { body: body, more: response.headers.has("Link") };
    }

    function showTip(target) {
        tip.textContent = target.dataset.tip;
        tip.hidden = false;
        const box = target.getBoundingClientRect();
        const width = tip.offsetWidth;
        const left = Math.min(Math.max(4, box.left + box.width / 2 - width / 2), window.innerWidth - width - 4);
        let top = box.bottom + 6;
        if (top + tip.offsetHeight > window.innerHeight) top = box.top - tip.offsetHeight - 6;
        tip.style.left = left + "px";
        tip.style.top = top + "px";
    }

    function hideTip() {
        tip.hidden = true;
    }

    // One bar: the window from left to right, an outage as a segment.
    function bar(spans, from, to) {
        const b = el("div", "bar");
        const width = to - from;
        for (const span of spans) {
            const start = Math.max(span.start, from);
            const end = Math.min(span.end === null ? to : span.end, to);
            if (end < from || start > to) continue;
            const seg = el("span", "seg " + span.kind);
            // A short outage keeps a minimum width (style.css), grown away
            // from the nearer edge so that it never falls off the bar.
            const left = (100 * (start - from)) / width;
            const right = 100 - (100 * (end - from)) / width;
            if (left < 50) seg.style.left = left.toFixed(3) + "%";
            else seg.style.right = Math.max(0, right).toFixed(3) + "%";
            seg.style.width = ((100 * Math.max(0, end - start)) / width).toFixed(3) + "%";
            const what = span.kind === "down" ? "down" : "host silent";
            const cause = span.reason + (span.error ? ": " + span.error : "");
            const length = (span.end === null ? to : span.end) - span.start;
            seg.dataset.tip =
                what + " \u2013 " + cause + "\nfrom " + localTime(span.start) + "\n" +
                (span.end === null ? "still open (" + duration(length) + " so far)"
                                   : "to " + localTime(span.end) + " (" + duration(length) + ")");
            seg.dataset.start = new Date(span.start).toISOString();
            seg.dataset.end = span.end === null ? "" : new Date(span.end).toISOString();
            seg.dataset.reason = span.reason;
            seg.tabIndex = 0;
            seg.setAttribute("aria-label", seg.dataset.tip);
            seg.addEventListener("mouseenter", () => showTip(seg));
            seg.addEventListener("focus", () => showTip(seg));
            seg.addEventListener("click", () => showTip(seg));
            seg.addEventListener("mouseleave", hideTip);
            seg.addEventListener("blur", hideTip);
            b.appendChild(seg);
        }
        return b;
    }

    function span(outage, kind) {
        return {
            kind: kind,
            start: Date.parse(outage.started_at),
            end: outage.ended_at === null ? null : Date.parse(outage.ended_at),
            reason: outage.reason,
            error: outage.error || "",
        };
    }

    // How bad a state is: problems sort first.
    function rank(state) {
        return state === "alive" || state === "up" ? 2 : state === "unknown" ? 1 : 0;
    }

    // Recent incidents, open ones first, then newest first.
    function incidents(outages, now) {
        const table = document.getElementById("incidents");
        const rows = outages.slice().sort((a, b) =>
            (a.ended_at === null ? 0 : 1) - (b.ended_at === null ? 0 : 1) ||
            Date.parse(b.started_at) - Date.parse(a.started_at)).slice(0, INCIDENTS_MAX);
        const body = document.createElement("tbody");
        for (const o of rows) {
            const start = Date.parse(o.started_at);
            const end = o.ended_at === null ? null : Date.parse(o.ended_at);
            const tr = el("tr", end === null ? "open" : "");
            tr.dataset.host = o.host;
            tr.dataset.service = o.service === null ? "" : o.service;
            tr.dataset.kind = o.kind;
            tr.dataset.open = String(end === null);
            tr.dataset.start = o.started_at;
            const what = el("td", "what");
            what.appendChild(el("span", "name", o.service === null ? o.host : o.host + "/" + o.service));
            what.appendChild(el("span", "badge " + (o.kind === "host" ? "silent" : "down"),
                                o.kind === "host" ? "silent" : "down"));
            tr.appendChild(what);
            const when = el("td", "since", localTime(start));
            tr.appendChild(when);
            tr.appendChild(el("td", "since", end === null ? duration(now - start) + " so far"
                                                         : duration(end - start)));
            tr.appendChild(el("td", "cause", o.reason + (o.error ? ": " + o.error : "")));
            tr.appendChild(el("td", "silenced", o.silenced ? "silenced" : ""));
            body.appendChild(tr);
        }
        table.replaceChildren(body);
        document.getElementById("no-incidents").hidden = rows.length > 0;
    }

    // A TLS service's certificate: a badge with the days left once within
    // the monitor's tls-warn (expired: how long ago), else a quiet mark
    // whose title says when it expires.
    function certBadge(notAfter, now) {
        const left = notAfter - now;
        const days = Math.floor(left / 86400000);
        const warn = tlsWarnMs > 0 && left <= tlsWarnMs;
        const text = !warn ? "cert" : left <= 0 ? "cert expired" :
            days >= 1 ? "cert " + days + "d" : "cert " + duration(left);
        const b = el("span", warn ? "badge cert " + (left <= 0 ? "expired" : "expiring") : "cert quiet", text);
        b.dataset.certDays = String(days);
        b.title = (left <= 0 ? "certificate expired " : "certificate expires ") + localTime(notAfter) +
            (left > 0 ? " (" + duration(left) + " left)" : "");
        return b;
    }

    function card(name, host, services, spans, figures, now) {
        const state = host.row ? host.row.state : "unknown";
        const card = el("section", "host");
        card.dataset.host = name;
        card.dataset.state = state;
        const head = el("div", "host-head");
        const title = el("h2", "", name);
        title.title = name;
        head.appendChild(title);
        head.appendChild(el("span", "badge " + state, state));
        if (host.row) {
            const since = Date.parse(host.row.since);
            const s = el("span", "since", "for " + duration(now - since));
            s.title = "since " + localTime(since);
            head.appendChild(s);
        }
        card.appendChild(head);
        if (host.services.length === 0) card.appendChild(el("p", "muted", "no services reported"));
        for (const svc of services) {
            const key = name + "/" + svc.service;
            const row = el("div", "service");
            row.dataset.host = name;
            row.dataset.service = svc.service;
            row.dataset.state = svc.state;
            const label = el("span", "name", svc.service);
            label.title = svc.service;
            row.appendChild(label);
            row.appendChild(el("span", "badge " + svc.state, svc.state));
            const since = Date.parse(svc.since);
            const meta = el("div", "meta");
            const s = el("span", "since", "for " + duration(now - since));
            s.title = "since " + localTime(since);
            meta.appendChild(s);
            if (svc.tls_expires) meta.appendChild(certBadge(Date.parse(svc.tls_expires), now));
            const rtt = latency.get(key);
            if (rtt) meta.appendChild(sparkline(rtt));
            row.appendChild(meta);
            const mine = (spans.get(key) || []).concat(spans.get(name) || []);
            WINDOWS.forEach((w, i) => {
                const f = figures[i];
                const r = f.rows.get(key);
                const box = el("div", "window");
                box.dataset.window = w.since;
                const label = el("div", "label");
                label.appendChild(el("span", "", w.label));
                const pct = el("span", "pct", percent(r ? r.availability_pct : null));
                if (r) pct.title = r.outages + " outage" + (r.outages === 1 ? "" : "s") +
                    (r.down_s ? ", down " + duration(r.down_s * 1000) : "") +
                    (r.silent_s ? ", host silent " + duration(r.silent_s * 1000) : "") +
                    (r.mttr_s !== null ? ", MTTR " + duration(r.mttr_s * 1000) : "");
                label.appendChild(pct);
                box.appendChild(label);
                box.appendChild(bar(mine, f.from, f.to));
                row.appendChild(box);
            });
            if (svc.state === "down" && svc.reason)
                row.appendChild(el("div", "reason", svc.reason + (svc.error ? ": " + svc.error : "")));
            card.appendChild(row);
        }
        return card;
    }

    function render(status, outages, reports, truncated) {
        const hosts = new Map(); // name -> {row, services}
        for (const row of status) {
            if (!hosts.has(row.host)) hosts.set(row.host, { row: null, services: [] });
            const host = hosts.get(row.host);
            if (row.service === null) host.row = row;
            else host.services.push(row);
        }
        const spans = new Map(); // "host" or "host/service" -> [span]
        for (const o of outages) {
            const key = o.kind === "host" ? o.host : o.host + "/" + o.service;
            if (!spans.has(key)) spans.set(key, []);
            spans.get(key).push(span(o, o.kind === "host" ? "silent" : "down"));
        }
        const figures = reports.map((report) => {
            const rows = new Map();
            for (const r of report.rows) rows.set(r.service === null ? r.host : r.host + "/" + r.service, r);
            return { from: Date.parse(report.since), to: Date.parse(report.until), rows: rows };
        });
        const now = figures[0].to;
        const dayStart = figures[0].from;
        const recent = new Set(); // hosts with an outage in the last 24 h
        for (const o of outages)
            if (o.ended_at === null || Date.parse(o.ended_at) >= dayStart) recent.add(o.host);

        // Problems first: a host that is not alive, then one with a service
        // not up, then one with a recent outage; by name within each.
        let silent = 0, services = 0, down = 0;
        const order = [];
        for (const [name, host] of hosts) {
            const state = host.row ? host.row.state : "unknown";
            if (state !== "alive") silent++;
            host.services.sort((a, b) => rank(a.state) - rank(b.state) ||
                (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
            let worst = 2;
            for (const svc of host.services) {
                services++;
                if (svc.state === "down") down++;
                worst = Math.min(worst, rank(svc.state));
            }
            const level = rank(state) < 2 ? 0 : worst < 2 ? 1 : recent.has(name) ? 2 : 3;
            order.push({ name: name, host: host, level: level });
        }
        order.sort((a, b) => a.level - b.level || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

        const filter = document.getElementById("filter").value.trim().toLowerCase();
        const fragment = document.createDocumentFragment();
        let shown = 0, folded = 0, matched = 0;
        const fold = !filter && !expanded && hosts.size > COLLAPSE_HOSTS;
        for (const item of order) {
            let services = item.host.services;
            if (filter) {
                if (!item.name.toLowerCase().includes(filter)) {
                    services = services.filter((s) => s.service.toLowerCase().includes(filter));
                    if (services.length === 0) continue;
                }
                if (++matched > MATCHES_MAX) continue;
            } else if (fold && item.level === 3) {
                folded++;
                continue;
            }
            shown++;
            fragment.appendChild(card(item.name, item.host, services, spans, figures, now));
        }
        if (folded) {
            const line = el("section", "host folded");
            line.appendChild(el("span", "", folded + " more host" + (folded === 1 ? "" : "s") +
                                " all up, no outage in 24 h"));
            const show = el("button", "", "show them");
            show.type = "button";
            show.addEventListener("click", () => { expanded = true; redraw(); });
            line.appendChild(show);
            fragment.appendChild(line);
        }
        if (filter && matched === 0) fragment.appendChild(el("p", "muted", "no host or service matches"));
        if (matched > MATCHES_MAX)
            fragment.appendChild(el("p", "muted", "first " + MATCHES_MAX + " of " + matched +
                                    " matching hosts: narrow the filter"));
        hideTip();
        const main = document.getElementById("hosts");
        main.replaceChildren(fragment);
        main.dataset.folded = String(folded);
        incidents(outages, now);
        const summary = hosts.size + " host" + (hosts.size === 1 ? "" : "s") +
            (silent ? " (" + silent + " not alive)" : "") + ", " + services + " service" +
            (services === 1 ? "" : "s") + (down ? " (" + down + " down)" : "");
        document.getElementById("summary").textContent = hosts.size ? summary : "no hosts yet";
        document.title = (down ? "(" + down + " down) " : "") + "zbeat status";
        problem(truncated ? "more than 10000 outages in 7 days: the timelines show the newest" : null);
    }

    function redraw() {
        if (!last) return;
        const started = performance.now();
        render(last.status, last.outages, last.reports, last.truncated);
        document.body.dataset.renderMs = String(Math.round(performance.now() - started));
    }

    function problem(text) {
        const p = document.getElementById("problem");
        p.hidden = !text;
        p.textContent = text || "";
    }

    async function refresh() {
        try {
            const answers = await Promise.all([
                getJSON("/api/v1/status"),
                getJSON("/api/v1/outages?since=7d&limit=10000"),
            ].concat(WINDOWS.map((w) => getJSON("/api/v1/report?since=" + w.since))));
            if (Date.now() - latencyAt >= LATENCY_MS) {
                try {
                    const m = await getJSON("/api/v1/monitor");
                    if (typeof m.body.tls_warn_s === "number") tlsWarnMs = m.body.tls_warn_s * 1000;
                } catch (e) {
                    // keep the default
                }
                // Best effort: the page works without it.
                try {
                    const l = await getJSON("/api/v1/latency");
                    latency = new Map(l.body.series.map((s) => [s.host + "/" + s.service, s]));
                    latencyAt = Date.now();
                } catch (e) {
                    latency = new Map();
                }
            }
            last = { status: answers[0].body, outages: answers[1].body,
                     reports: answers.slice(2).map((a) => a.body), truncated: answers[1].more };
            redraw();
            document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
            document.body.dataset.loaded = String(Date.now());
        } catch (e) {
            problem("cannot read the monitor: " + e.message);
        }
        window.setTimeout(refresh, REFRESH_MS);
    }

    document.addEventListener("keydown", (e) => {
        if (e.key === "Escape") hideTip();
    });
    // Typing redraws from the answers in hand, a moment after the last key.
    let typing = 0;
    document.getElementById("filter").addEventListener("input", () => {
        window.clearTimeout(typing);
        typing = window.setTimeout(redraw, 150);
    });
    refresh();
})();
