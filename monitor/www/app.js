// zbeat status page: reads the monitor's JSON API (docs/http.md) and draws
// every host and service with its state, its availability and its outages
// over the last 24 hours and 7 days. Plain DOM, no library; all text from
// the API goes in through textContent, never as HTML.
"use strict";

(function () {
    const WINDOWS = [
        { since: "24h", label: "24 h" },
        { since: "7d", label: "7 d" },
    ];
    const param = new URLSearchParams(window.location.search).get("refresh");
    const REFRESH_MS = Math.max(2, Number(param) || 10) * 1000;
    const tip = document.getElementById("tip");

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
            seg.style.left = ((100 * (start - from)) / width).toFixed(3) + "%";
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

        let silent = 0, services = 0, down = 0;
        const fragment = document.createDocumentFragment();
        for (const [name, host] of hosts) {
            const state = host.row ? host.row.state : "unknown";
            if (state !== "alive") silent++;
            const card = el("section", "host");
            card.dataset.host = name;
            card.dataset.state = state;
            const head = el("div", "host-head");
            head.appendChild(el("h2", "", name));
            head.appendChild(el("span", "badge " + state, state));
            if (host.row) {
                const since = Date.parse(host.row.since);
                const s = el("span", "since", "for " + duration(now - since));
                s.title = "since " + localTime(since);
                head.appendChild(s);
            }
            card.appendChild(head);
            if (host.services.length === 0) card.appendChild(el("p", "muted", "no services reported"));
            for (const svc of host.services) {
                services++;
                if (svc.state === "down") down++;
                const key = name + "/" + svc.service;
                const row = el("div", "service");
                row.dataset.host = name;
                row.dataset.service = svc.service;
                row.dataset.state = svc.state;
                row.appendChild(el("span", "name", svc.service));
                row.appendChild(el("span", "badge " + svc.state, svc.state));
                const since = Date.parse(svc.since);
                const s = el("span", "since", "for " + duration(now - since));
                s.title = "since " + localTime(since);
                row.appendChild(s);
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
            fragment.appendChild(card);
        }
        hideTip();
        const main = document.getElementById("hosts");
        main.replaceChildren(fragment);
        const summary = hosts.size + " host" + (hosts.size === 1 ? "" : "s") +
            (silent ? " (" + silent + " not alive)" : "") + ", " + services + " service" +
            (services === 1 ? "" : "s") + (down ? " (" + down + " down)" : "");
        document.getElementById("summary").textContent = hosts.size ? summary : "no hosts yet";
        document.title = (down ? "(" + down + " down) " : "") + "zbeat status";
        problem(truncated ? "more than 10000 outages in 7 days: the timelines show the newest" : null);
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
            render(answers[0].body, answers[1].body, answers.slice(2).map((a) => a.body), answers[1].more);
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
    refresh();
})();
