/*  zb_fleet's self-test: message sequences in, the effects recorded by a
    sink that stands in for the store (zb_fleet_test_sink.c: it numbers
    outages and keeps replay keys as the store would), checked in order.
*/
#include "zb_fleet.h"
#include "zb_fleet_internal.h"
#include "zb_fleet_test.h"
#include "zb_log.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 ZB_FLEET_TEST_T0 // wall clock base: the sink logs times after it
#define S_A "00000000000000aa"
#define S_B "00000000000000bb"

//  The effects since the last check must be expect; the log starts over.
static void s_expect(zb_fleet_test_sink_t *sink, const char *expect)
{
    if (strcmp(sink->log, expect) != 0) {
        fprintf(stderr, "\neffects:  %s\nexpected: %s\n", sink->log, expect);
        assert(false);
    }
    sink->log[0] = '\0';
}

//  services: "name=state@since,..." (since after T0), e.g. "redis=up@1000".
static zb_msg_t *s_beat(const char *host, const char *instance, uint64_t seq, int64_t at,
                        const char *services)
{
    zb_msg_t *msg = zb_msg_new(ZB_MSG_BEAT);
    assert(msg);
    snprintf(msg->host, sizeof(msg->host), "%s", host);
    snprintf(msg->instance, sizeof(msg->instance), "%s", instance);
    msg->seq = seq;
    msg->time_ms = T0 + at;
    msg->interval_ms = 1000;
    char *list = strdup(services);
    assert(list);
    char *save = NULL;
    for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        zb_service_status_t status = {.rtt_us = -1};
        char state[16];
        long long since;
        int fields = sscanf(item, "%64[^=]=%15[^@]@%lld", status.name, state, &since);
        assert(fields == 3);
        assert(zb_state_parse(state, &status.state) == 0);
        status.since_ms = T0 + since;
        snprintf(status.kind, sizeof(status.kind), "probe");
        snprintf(status.reason, sizeof(status.reason), "%s",
                 status.state == ZB_STATE_DOWN ? "refused" : "ok");
        assert(zb_msg_add_service(msg, &status) == 0);
    }
    free(list);
    return msg;
}

static zb_msg_t *s_event(const char *host, const char *instance, uint64_t seq, const char *service,
                         zb_state_t to, int64_t at)
{
    zb_msg_t *msg = zb_msg_new(ZB_MSG_EVENT);
    assert(msg);
    snprintf(msg->host, sizeof(msg->host), "%s", host);
    snprintf(msg->instance, sizeof(msg->instance), "%s", instance);
    msg->seq = seq;
    msg->time_ms = T0 + at;
    snprintf(msg->service, sizeof(msg->service), "%s", service);
    msg->from = ZB_STATE_UNKNOWN;
    msg->to = to;
    msg->at_ms = T0 + at;
    snprintf(msg->reason, sizeof(msg->reason), "%s", to == ZB_STATE_DOWN ? "refused" : "ok");
    return msg;
}

static int s_quiet_seen; // messages zb_fleet_quiet let in, over all the tests

//  Heard live at monotonic `mono` (wall T0 + mono). A message that
//  zb_fleet_quiet lets in without a transaction must write nothing.
static void s_live(zb_fleet_t *fleet, zb_msg_t *msg, int64_t mono)
{
    zb_fleet_host_t *host;
    bool quiet = zb_fleet_quiet(fleet, msg, &host);
    assert(host == zb_fleet_host(fleet, msg->host));
    uint64_t writes = fleet->writes;
    zb_fleet_handle(fleet, msg, host, mono, T0 + mono);
    assert(!quiet || fleet->writes == writes);
    s_quiet_seen += quiet;
    zb_msg_destroy(&msg);
}

static int s_replayed(zb_fleet_t *fleet, zb_msg_t *msg, int64_t mono)
{
    int rc = zb_fleet_replay(fleet, msg, mono, T0 + mono);
    zb_msg_destroy(&msg);
    return rc;
}

//  The outage rules, live: down/up, lost events repaired by beats, stale
//  and duplicate messages, silence and its deadline, a planned stop, a new
//  agent run, removal.
static void s_test_live(void)
{
    zb_fleet_test_sink_t sink = {0};
    zb_fleet_t *fleet = zb_fleet_new(&zb_fleet_test_sink, &sink, 3);
    assert(fleet);
    zb_fleet_counts_t counts;

    s_live(fleet, s_beat("web", S_A, 1, 1000, "redis=up@500"), 1000);
    s_expect(&sink, "inst web/aa:1;svc web/redis=up@500;state web/redis unknown>up;"
                    "host web=alive;inst web/aa:1;");
    s_live(fleet, s_event("web", S_A, 2, "redis", ZB_STATE_DOWN, 1500), 1500);
    s_expect(&sink, "flip web/redis>down;open #1 web/redis@1500:refused;opened web/redis;"
                    "svc web/redis=down@1500;state web/redis up>down;inst web/aa:2;");
    //  A beat repeating the state writes nothing (not even the instance).
    s_live(fleet, s_beat("web", S_A, 3, 2000, "redis=down@1500"), 2000);
    s_expect(&sink, "");
    s_live(fleet, s_event("web", S_A, 4, "redis", ZB_STATE_UP, 2500), 2500);
    s_expect(&sink, "flip web/redis>up;close #1@2500:up;closed web/redis #1;"
                    "svc web/redis=up@2500;state web/redis down>up;inst web/aa:4;");
    //  Events lost: the beat repairs them (a gap of two is counted).
    s_live(fleet, s_beat("web", S_A, 7, 3000, "redis=down@2800"), 3000);
    s_expect(&sink, "flip web/redis>down;open #2 web/redis@2800:refused;opened web/redis;"
                    "svc web/redis=down@2800;state web/redis up>down;inst web/aa:7;");
    //  Stale and duplicate: counted, no effect.
    s_live(fleet, s_beat("web", S_A, 7, 3100, "redis=up@3100"), 3100);
    s_live(fleet, s_beat("web", S_A, 5, 3100, "redis=up@3100"), 3100);
    s_expect(&sink, "");
    zb_fleet_counts(fleet, &counts);
    assert(counts.messages == 5 && counts.stale == 2 && counts.seq_gaps == 2);
    assert(counts.service_outages == 2 && counts.host_outages == 0);

    //  Silent strictly after liveness x interval (heard over ZeroMQ only:
    //  the classic rule): its deadline says when, exactly.
    assert(zb_fleet_deadline(fleet, 3000) == 3000 + 3 * 1000 + 1);
    zb_fleet_sweep(fleet, 4001, T0 + 4001);
    s_expect(&sink, "");
    assert(zb_fleet_deadline(fleet, 4001) == 3000 + 3 * 1000 + 1);
    zb_fleet_sweep(fleet, 6000, T0 + 6000);
    s_expect(&sink, "");
    zb_fleet_sweep(fleet, 6001, T0 + 6001);
    //  One host outage from when it was last heard; redis's stays open.
    s_expect(&sink, "open #3 web/-@3000:silent;state web/- alive>silent;"
                    "svc web/redis=unknown@3000;host web=silent;opened web/-;");
    assert(zb_fleet_host(fleet, "web")->state == ZB_FLEET_SILENT);
    assert(zb_fleet_deadline(fleet, 6001) == 6001 + 86400000); // nothing alive
    zb_fleet_sweep(fleet, 9000, T0 + 9000);
    s_expect(&sink, "");
    //  Heard again: back. redis still down: its outage goes on (no new one).
    s_live(fleet, s_beat("web", S_A, 8, 10000, "redis=down@2800"), 10000);
    s_expect(&sink, "close #3@10000:back;closed web/- #3;state web/- silent>alive;"
                    "svc web/redis=down@2800;state web/redis unknown>down;host web=alive;"
                    "inst web/aa:8;");

    //  A planned stop: no outage, never silent; any message makes it alive.
    zb_msg_t *stop = s_event("web", S_A, 9, "", ZB_STATE_STOPPED, 11000);
    s_live(fleet, stop, 11000);
    s_expect(&sink, "state web/- alive>stopped;svc web/redis=unknown@11000;host web=stopped;"
                    "inst web/aa:9;");
    zb_fleet_sweep(fleet, 60000, T0 + 60000);
    s_expect(&sink, "");

    //  A new agent run: no gap, its instance written; a service it no
    //  longer lists is removed, its outage ended "removed".
    s_live(fleet, s_beat("web", S_B, 4, 61000, "ssh=up@60500"), 61000);
    s_expect(&sink, "inst web/bb:4;state web/- stopped>alive;svc web/ssh=up@60500;"
                    "state web/ssh unknown>up;close #2@61000:removed;closed web/redis #2;"
                    "del web/redis;host web=alive;inst web/bb:4;");
    zb_fleet_counts(fleet, &counts);
    assert(counts.seq_gaps == 2 && counts.host_outages == 1);
    //  Removed by event (and an unknown service removed: nothing).
    s_live(fleet, s_event("web", S_B, 5, "ssh", ZB_STATE_REMOVED, 62000), 62000);
    s_live(fleet, s_event("web", S_B, 6, "nope", ZB_STATE_REMOVED, 62000), 62000);
    s_expect(&sink, "del web/ssh;inst web/bb:5;");
    //  A host that never beat: a long grace period.
    s_live(fleet, s_event("db", S_A, 1, "pg", ZB_STATE_UP, 63000), 63000);
    s_expect(&sink, "inst db/aa:1;svc db/pg=up@63000;state db/pg unknown>up;host db=alive;"
                    "inst db/aa:1;");
    //  Exact: web's, heard at 62000; a sweep before it changes nothing.
    assert(zb_fleet_deadline(fleet, 63000) == 62000 + 3 * 1000 + 1);
    zb_fleet_sweep(fleet, 64001, T0 + 64001);
    s_expect(&sink, "");
    assert(zb_fleet_deadline(fleet, 64001) == 62000 + 3 * 1000 + 1);
    zb_fleet_host(fleet, "web")->state = ZB_FLEET_STOPPED; // out of the way
    zb_fleet_set_liveness(fleet, 3);                       // recomputes every deadline
    assert(zb_fleet_deadline(fleet, 64001) == 63000 + 3 * ZB_FLEET_UNKNOWN_INTERVAL_MS + 1);
    //  Its first beat announces a shorter interval: the deadline comes
    //  earlier at once (no sweep needed to see it).
    s_live(fleet, s_beat("db", S_A, 2, 64500, "pg=up@63000"), 64500);
    s_expect(&sink, "host db=alive;inst db/aa:2;");
    assert(zb_fleet_deadline(fleet, 64500) == 64500 + 3 * 1000 + 1);
    zb_fleet_destroy(&fleet);
    assert(!fleet);
}

//  The races with replay and restarts, fixed before and kept fixed here.
static void s_test_races(void)
{
    zb_fleet_test_sink_t sink = {0};
    zb_fleet_t *fleet = zb_fleet_new(&zb_fleet_test_sink, &sink, 3);
    assert(fleet);
    zb_fleet_counts_t counts;

    //  kill -9 of the monitor: the next run loads what was committed, the
    //  instance's last sequence number with it. A beat the agent queued
    //  while the monitor was down (older) must not undo a transition the
    //  previous run recorded: it is stale.
    bool failed = true;
    zb_fleet_host_t *host =
        zb_fleet_load_host(fleet, "web", "alive", T0, S_A, 1000, T0 + 900, 5, 1000, &failed);
    assert(host && !failed && host->last_seq == 5);
    zb_fleet_service_t *service = zb_fleet_load_service(fleet, "web", "s", "down", T0 + 800,
                                                        "probe", "refused", "", 0, &failed);
    assert(service && !failed);
    zb_fleet_host_t *owner = NULL;
    zb_fleet_service_t *whose = NULL;
    assert(zb_fleet_load_outage(fleet, "web", "s", 1, T0 + 800, 1000, &owner, &whose) == 0);
    assert(owner == host && whose == service && service->outage_id == 1);
    sink.outages[0] = (zb_fleet_test_outage_t){"web", "s", T0 + 800, -1};
    sink.outage_count = 1;
    s_live(fleet, s_beat("web", S_A, 4, 1100, "s=up@700"), 1100);
    s_expect(&sink, "");
    zb_fleet_counts(fleet, &counts);
    assert(counts.stale == 1 && counts.messages == 0);

    //  Replay and live race: the agent's journal brings "up at 2000" (seq
    //  8); a beat sent before it (seq 7, "down") is still queued on the SUB
    //  socket. Applied first, the replay makes that beat stale.
    assert(s_replayed(fleet, s_event("web", S_A, 8, "s", ZB_STATE_UP, 2000), 2100) == 1);
    s_expect(&sink, "inst web/aa:8;flip web/s>up;close #1@2000:up;closed web/s #1;"
                    "svc web/s=up@2000;state web/s down>up;history up web/s@2000;");
    s_live(fleet, s_beat("web", S_A, 7, 1900, "s=down@800"), 2200);
    s_expect(&sink, "");
    //  The same transition again (its ack was lost): nothing new.
    assert(s_replayed(fleet, s_event("web", S_A, 8, "s", ZB_STATE_UP, 2000), 2300) == 0);
    //  Seen before, it still makes live messages up to it stale.
    host->last_seq = 6;
    assert(s_replayed(fleet, s_event("web", S_A, 8, "s", ZB_STATE_UP, 2000), 2300) == 0);
    assert(host->last_seq == 8);
    s_expect(&sink, "");

    //  A beat's "up since" after an unseen up/down pair: live, s went
    //  down at 3000 (outage #2); up at 4000 and down at 5000 were lost;
    //  a beat then says "up since 6000", which ends #2 at 6000 as if one
    //  outage. The journal's transitions come in behind the current state
    //  and go to history (the store splits the outage there), never
    //  applied live: they must not merge, reopen or close anything.
    s_live(fleet, s_event("web", S_A, 9, "s", ZB_STATE_DOWN, 3000), 3000);
    s_live(fleet, s_beat("web", S_A, 12, 6000, "s=up@6000"), 6000);
    s_expect(&sink, "flip web/s>down;open #2 web/s@3000:refused;opened web/s;"
                    "svc web/s=down@3000;state web/s up>down;inst web/aa:9;"
                    "flip web/s>up;close #2@6000:up;closed web/s #2;svc web/s=up@6000;"
                    "state web/s down>up;inst web/aa:12;");
    assert(s_replayed(fleet, s_event("web", S_A, 10, "s", ZB_STATE_UP, 4000), 6100) == 1);
    //  The down at 5000 lies inside #2 as the beat closed it: covered.
    assert(s_replayed(fleet, s_event("web", S_A, 11, "s", ZB_STATE_DOWN, 5000), 6100) == 1);
    s_expect(&sink, "inst web/aa:10;history up web/s@4000;inst web/aa:11;covered web/s@5000;");
    //  Once the store split it (#2 ends at 4000), a down behind the current
    //  state is history bounded where the current state began.
    sink.outages[1].ended = T0 + 4000;
    assert(s_replayed(fleet, s_event("web", S_B, 1, "s", ZB_STATE_DOWN, 5000), 6200) == 1);
    s_expect(&sink, "inst web/bb:1;history down web/s@5000 until 6000;");
    assert(zb_fleet_host(fleet, "web")->outage_id == 0 && service->outage_id == 0);

    //  An old "up" must not end the outage a newer "down" began.
    s_live(fleet, s_event("web", S_A, 13, "s", ZB_STATE_DOWN, 7000), 7000);
    s_expect(&sink, "flip web/s>down;open #3 web/s@7000:refused;opened web/s;"
                    "svc web/s=down@7000;state web/s up>down;inst web/aa:13;");
    assert(s_replayed(fleet, s_event("web", S_B, 2, "s", ZB_STATE_UP, 6500), 7100) == 1);
    s_expect(&sink, "inst web/bb:2;history up web/s@6500;");
    assert(service->outage_id == 3);

    //  Replayed out of the journal's order (entries in flight to a killed
    //  run come again after later ones): live, s went down at 9000 and up
    //  at 12000; the up at 10000 and down at 11000 were missed, so #5
    //  merged two outages. The down (from up) comes first: #5 is split at
    //  11000; the up then goes to history (the store moves #5's end there).
    s_live(fleet, s_beat("app", S_A, 1, 8000, "s=up@8000"), 8000);
    s_live(fleet, s_event("app", S_A, 2, "s", ZB_STATE_DOWN, 9000), 9000);
    s_live(fleet, s_event("app", S_A, 5, "s", ZB_STATE_UP, 12000), 12000);
    sink.log[0] = '\0';
    zb_msg_t *down = s_event("app", S_A, 4, "s", ZB_STATE_DOWN, 11000);
    down->from = ZB_STATE_UP;
    assert(s_replayed(fleet, down, 12100) == 1);
    s_expect(&sink, "inst app/aa:4;covered app/s@11000;split #4@11000 -> #5;");
    assert(s_replayed(fleet, s_event("app", S_A, 3, "s", ZB_STATE_UP, 10000), 12100) == 1);
    s_expect(&sink, "inst app/aa:3;history up app/s@10000;");
    assert(sink.outages[4].started == T0 + 11000 && sink.outages[4].ended == T0 + 12000);
    //  The same while the outage is open: its second part is the open one,
    //  and the live up ends that one.
    zb_fleet_service_t *app = zb_table_lookup(zb_fleet_host(fleet, "app")->services, "s");
    s_live(fleet, s_event("app", S_A, 6, "s", ZB_STATE_DOWN, 13000), 13000);
    assert(app->outage_id == 6);
    sink.log[0] = '\0';
    down = s_event("app", S_A, 8, "s", ZB_STATE_DOWN, 15000);
    down->from = ZB_STATE_UP;
    assert(s_replayed(fleet, down, 15100) == 1);
    s_expect(&sink, "inst app/aa:8;covered app/s@15000;split #6@15000 -> #7;svc app/s=down@15000;");
    assert(app->outage_id == 7 && app->outage_started_ms == T0 + 15000);
    s_live(fleet, s_event("app", S_A, 9, "s", ZB_STATE_UP, 16000), 16000);
    assert(app->outage_id == 0 && sink.outages[6].ended == T0 + 16000);
    assert(sink.outages[5].ended == T0 + 15000);
    //  A down from unknown (the agent restarted while s was down) inside
    //  an outage is the same outage: nothing is split.
    s_live(fleet, s_event("app", S_A, 10, "s", ZB_STATE_DOWN, 17000), 17000);
    sink.log[0] = '\0';
    assert(s_replayed(fleet, s_event("app", S_B, 1, "s", ZB_STATE_DOWN, 18000), 18100) == 1);
    s_expect(&sink, "inst app/bb:1;covered app/s@18000;");

    //  A host first heard through replay: heard now (its deadline starts
    //  now), and the transition applied as if live.
    assert(s_replayed(fleet, s_event("db", S_A, 3, "pg", ZB_STATE_DOWN, 7000), 8000) == 1);
    s_expect(&sink, "inst db/aa:3;host db=alive;open #9 db/pg@7000:refused;opened db/pg;"
                    "svc db/pg=down@7000;state db/pg unknown>down;");
    assert(zb_fleet_host(fleet, "db")->last_seen_mono == 8000);
    //  Its run is the one known now: what that run's PUB socket queued
    //  while no monitor ran (the same down, older) is stale when it comes,
    //  not a new run's news applied a second time.
    zb_fleet_counts(fleet, &counts);
    uint64_t stale = counts.stale;
    s_live(fleet, s_event("db", S_A, 2, "pg", ZB_STATE_DOWN, 7000), 8100);
    s_expect(&sink, "");
    zb_fleet_counts(fleet, &counts);
    assert(counts.stale == stale + 1);
    zb_fleet_destroy(&fleet);
}

//  Two agent runs claiming one name (A and B, beating every second half a
//  second apart): proven, the rival dropped, the outage of the
//  authoritative run whole; over when the rival goes quiet.
static void s_test_conflict(void)
{
    zb_fleet_test_sink_t sink = {0};
    zb_fleet_t *fleet = zb_fleet_new(&zb_fleet_test_sink, &sink, 3);
    assert(fleet);
    zb_fleet_counts_t counts;

    s_live(fleet, s_beat("web", S_A, 1, 1000, "s=up@500"), 1000);
    sink.log[0] = '\0';
    //  B takes over: to the monitor, a restart.
    s_live(fleet, s_beat("web", S_B, 1, 1500, "s=up@1400"), 1500);
    s_expect(&sink, "inst web/bb:1;host web=alive;inst web/bb:1;");
    //  A again, less than its interval later: could be its queue draining.
    s_live(fleet, s_beat("web", S_A, 2, 2000, "s=up@500"), 2000);
    s_live(fleet, s_beat("web", S_B, 2, 2500, "s=up@1400"), 2500);
    s_expect(&sink, "");
    zb_fleet_counts(fleet, &counts);
    assert(counts.conflicts == 0 && counts.stale == 1);
    //  A a full interval after it was displaced: alive, a conflict.
    s_live(fleet, s_beat("web", S_A, 3, 3000, "s=up@500"), 3000);
    s_expect(&sink, "state web/- alive>name-conflict;host web=name-conflict;conflict web+;");
    zb_fleet_host_t *host = zb_fleet_host(fleet, "web");
    assert(strcmp(host->instance, S_B) == 0 && strcmp(host->rival, S_A) == 0);
    assert(host->conflict_ms == T0 + 3000);
    //  Its replay backlog is not the host's either.
    assert(zb_fleet_replay_status(fleet, "web", S_A, 5, T0 + 3000, T0) == 0);
    assert(!host->replay_known);
    assert(zb_fleet_replay_status(fleet, "web", S_B, 0, T0 + 3000, T0) == 1);
    //  The rival's messages, live or replayed, change nothing; B's outage
    //  is one outage (A's "up" and its beats do not close it).
    s_live(fleet, s_event("web", S_B, 3, "s", ZB_STATE_DOWN, 3300), 3300);
    s_expect(&sink, "flip web/s>down;open #1 web/s@3300:refused;opened web/s;"
                    "svc web/s=down@3300;state web/s up>down;inst web/bb:3;");
    s_live(fleet, s_beat("web", S_A, 4, 4000, "t=up@500"), 4000);
    s_live(fleet, s_event("web", S_A, 5, "s", ZB_STATE_UP, 4100), 4100);
    assert(s_replayed(fleet, s_event("web", S_A, 6, "s", ZB_STATE_UP, 4200), 4200) == 0);
    s_live(fleet, s_beat("web", S_B, 4, 4500, "s=down@3300"), 4500);
    s_live(fleet, s_beat("web", S_A, 7, 5000, "s=up@500"), 5000);
    s_expect(&sink, "");
    zb_fleet_counts(fleet, &counts);
    assert(counts.conflicts == 5 && counts.service_outages == 1);
    //  Not silent meanwhile, and the conflict holds while both speak.
    zb_fleet_sweep(fleet, 5000, T0 + 5000);
    s_expect(&sink, "");
    //  A goes quiet: over once it was not heard for the liveness window.
    assert(zb_fleet_deadline(fleet, 5000) <= 5000 + 3 * 1000 + 1);
    s_live(fleet, s_beat("web", S_B, 5, 5500, "s=down@3300"), 5500);
    s_live(fleet, s_beat("web", S_B, 6, 6500, "s=down@3300"), 6500);
    s_live(fleet, s_beat("web", S_B, 7, 7500, "s=down@3300"), 7500);
    zb_fleet_sweep(fleet, 8000, T0 + 8000);
    s_expect(&sink, "");
    zb_fleet_sweep(fleet, 8001, T0 + 8001);
    s_expect(&sink, "state web/- name-conflict>alive;host web=alive;conflict web-;");
    assert(!host->rival[0] && sink.outages[0].ended < 0);
    zb_fleet_destroy(&fleet);

    //  A monitor restarted during a conflict: proven again, not alerted
    //  again (the previous run did).
    fleet = zb_fleet_new(&zb_fleet_test_sink, &sink, 3);
    assert(fleet);
    bool failed = true;
    host = zb_fleet_load_host(fleet, "web", "name-conflict", T0, S_B, 1000, T0, 9, 1000, &failed);
    assert(host && !failed && host->state == ZB_FLEET_ALIVE && host->conflict_loaded);
    s_live(fleet, s_beat("web", S_A, 20, 1100, ""), 1100);
    sink.log[0] = '\0';
    s_live(fleet, s_beat("web", S_B, 10, 2200, ""), 2200);
    s_expect(&sink, "state web/- alive>name-conflict;host web=name-conflict;");
    assert(strcmp(host->rival, S_B) == 0 && !host->conflict_loaded);
    zb_fleet_destroy(&fleet);
    //  Left in a conflict that is over: the row says alive after a window.
    fleet = zb_fleet_new(&zb_fleet_test_sink, &sink, 3);
    assert(fleet);
    host = zb_fleet_load_host(fleet, "web", "name-conflict", T0, S_B, 1000, T0, 9, 1000, &failed);
    assert(host && host->conflict_loaded);
    s_live(fleet, s_beat("web", S_B, 10, 2000, ""), 2000);
    sink.log[0] = '\0';
    zb_fleet_sweep(fleet, 4001, T0 + 4001);
    s_expect(&sink, "host web=alive;");
    assert(!host->conflict_loaded);
    zb_fleet_destroy(&fleet);
}

//  A crash and a restart: the crashed run's last queued messages come
//  right after the new run's first. Not a conflict: they are stale.
static void s_test_restart(void)
{
    zb_fleet_test_sink_t sink = {0};
    zb_fleet_t *fleet = zb_fleet_new(&zb_fleet_test_sink, &sink, 3);
    assert(fleet);
    zb_fleet_counts_t counts;
    s_live(fleet, s_beat("db", S_A, 1, 1000, "pg=up@500"), 1000);
    s_live(fleet, s_beat("db", S_A, 2, 2000, "pg=up@500"), 2000);
    s_live(fleet, s_beat("db", S_B, 1, 2500, "pg=up@2400"), 2500);
    sink.log[0] = '\0';
    s_live(fleet, s_event("db", S_A, 3, "pg", ZB_STATE_DOWN, 2490), 2505);
    s_live(fleet, s_beat("db", S_A, 4, 2495, "pg=down@2490"), 2510);
    s_live(fleet, s_beat("db", S_B, 2, 3500, "pg=up@2400"), 3500);
    s_expect(&sink, "");
    zb_fleet_counts(fleet, &counts);
    assert(counts.conflicts == 0 && counts.stale == 2 && counts.service_outages == 0);
    assert(strcmp(zb_fleet_host_word(zb_fleet_host(fleet, "db")), "alive") == 0);
    zb_fleet_destroy(&fleet);
}

//  A clone started before the first run's first beat: the displaced run's
//  interval is not known, and its successor's beats give it, instead of
//  holding the rival off as stale for the unknown-interval minute.
static void s_test_conflict_early(void)
{
    zb_fleet_test_sink_t sink = {0};
    zb_fleet_t *fleet = zb_fleet_new(&zb_fleet_test_sink, &sink, 3);
    assert(fleet);
    s_live(fleet, s_event("web", S_A, 1, "s", ZB_STATE_UP, 1000), 1000);
    s_live(fleet, s_event("web", S_B, 1, "s", ZB_STATE_UP, 1200), 1200);
    s_live(fleet, s_beat("web", S_B, 2, 1300, "s=up@1200"), 1300);
    sink.log[0] = '\0';
    s_live(fleet, s_beat("web", S_A, 2, 1400, "s=up@1000"), 1400);
    s_expect(&sink, "");
    s_live(fleet, s_beat("web", S_A, 3, 2400, "s=up@1000"), 2400);
    s_expect(&sink, "state web/- alive>name-conflict;host web=name-conflict;conflict web+;");
    zb_fleet_counts_t counts;
    zb_fleet_counts(fleet, &counts);
    assert(counts.stale == 1 && counts.conflicts == 1);
    zb_fleet_destroy(&fleet);
}

//  A proven conflict whose authoritative run goes quiet: the rival takes
//  over as a restart, with no silent host in between.
static void s_test_takeover(void)
{
    zb_fleet_test_sink_t sink = {0};
    zb_fleet_t *fleet = zb_fleet_new(&zb_fleet_test_sink, &sink, 3);
    assert(fleet);
    s_live(fleet, s_beat("web", S_A, 1, 1000, "s=up@500"), 1000);
    s_live(fleet, s_beat("web", S_B, 1, 1500, "s=up@1400"), 1500);
    s_live(fleet, s_beat("web", S_A, 2, 3000, "s=up@500"), 3000);
    zb_fleet_host_t *host = zb_fleet_host(fleet, "web");
    assert(host->rival[0]);
    sink.log[0] = '\0';
    //  B is never heard again; A speaks on.
    s_live(fleet, s_beat("web", S_A, 3, 4000, "s=up@500"), 4000);
    zb_fleet_sweep(fleet, 4500, T0 + 4500);
    s_expect(&sink, "");
    zb_fleet_sweep(fleet, 1500 + 3001, T0 + 1500 + 3001);
    s_expect(&sink, "state web/- name-conflict>alive;host web=alive;conflict web-;inst web/aa:0;");
    assert(strcmp(host->instance, S_A) == 0 && host->state == ZB_FLEET_ALIVE);
    assert(host->last_seen_mono == 4000);
    s_live(fleet, s_beat("web", S_A, 5, 5000, "s=up@500"), 5000);
    s_expect(&sink, "");
    //  A's next beat is the authoritative run's: applied.
    s_live(fleet, s_beat("web", S_A, 6, 6000, "s=down@5900"), 6000);
    s_expect(&sink, "flip web/s>down;open #1 web/s@5900:refused;opened web/s;"
                    "svc web/s=down@5900;state web/s up>down;inst web/aa:6;");
    //  B back a while later: both alive again, a conflict again.
    s_live(fleet, s_beat("web", S_B, 9, 7000, "s=up@1400"), 7000);
    s_expect(&sink, "state web/- alive>name-conflict;host web=name-conflict;conflict web+;");
    zb_fleet_destroy(&fleet);
}

//  Protocol v2: a full beat stamped with the digest of its table, and a
//  thin beat carrying only a digest.
static zb_msg_t *s_full(const char *host, const char *instance, uint64_t seq, int64_t at,
                        const char *services, uint64_t digest)
{
    zb_msg_t *msg = s_beat(host, instance, seq, at, services);
    msg->has_digest = true;
    msg->digest = digest;
    return msg;
}

static zb_msg_t *s_thin(const char *host, const char *instance, uint64_t seq, int64_t at,
                        uint64_t digest)
{
    zb_msg_t *msg = s_full(host, instance, seq, at, "", digest);
    msg->thin = true;
    return msg;
}

//  Thin beats keep a host alive and never change its services: with the
//  digest of the last full beat they say nothing changed; with another
//  (a change whose full beat was lost), or while the monitor's state is
//  not that full beat's (an event since, silence, a new agent run), the
//  state stays as it is until the next full beat.
static void s_test_thin(void)
{
    zb_fleet_test_sink_t sink = {0};
    zb_fleet_t *fleet = zb_fleet_new(&zb_fleet_test_sink, &sink, 3);
    assert(fleet);
    zb_fleet_counts_t counts;
    zb_fleet_host_t *host;

    s_live(fleet, s_full("web", S_A, 1, 1000, "redis=up@500", 0xd1), 1000);
    host = zb_fleet_host(fleet, "web");
    assert(host && host->digest_known && host->digest == 0xd1);
    sink.log[0] = '\0';
    s_live(fleet, s_thin("web", S_A, 2, 2000, 0xd1), 2000);
    s_expect(&sink, "");
    assert(host->last_seen_mono == 2000 && host->last_seq == 2);
    zb_fleet_counts(fleet, &counts);
    assert(counts.thin == 1 && counts.thin_unsynced == 0);

    //  redis went down; its event and the full beat after it were lost.
    //  Thin beats with the new digest: counted, nothing invented.
    s_live(fleet, s_thin("web", S_A, 5, 3000, 0xd2), 3000);
    s_live(fleet, s_thin("web", S_A, 6, 4000, 0xd2), 4000);
    s_expect(&sink, "");
    zb_fleet_service_t *redis = zb_table_lookup(host->services, "redis");
    assert(redis && redis->state == ZB_STATE_UP && redis->outage_id == 0);
    zb_fleet_counts(fleet, &counts);
    assert(counts.thin == 3 && counts.thin_unsynced == 2 && counts.seq_gaps == 2);
    //  The next full beat repairs it.
    s_live(fleet, s_full("web", S_A, 7, 5000, "redis=down@2500", 0xd2), 5000);
    s_expect(&sink, "flip web/redis>down;open #1 web/redis@2500:refused;opened web/redis;"
                    "svc web/redis=down@2500;state web/redis up>down;inst web/aa:7;");
    s_live(fleet, s_thin("web", S_A, 8, 6000, 0xd2), 6000);
    zb_fleet_counts(fleet, &counts);
    assert(counts.thin_unsynced == 2);

    //  An event moves the state past the last full beat: a thin beat with
    //  that beat's digest no longer vouches for it.
    s_live(fleet, s_event("web", S_A, 9, "redis", ZB_STATE_UP, 6500), 6500);
    sink.log[0] = '\0';
    s_live(fleet, s_thin("web", S_A, 10, 7000, 0xd2), 7000);
    s_expect(&sink, "");
    zb_fleet_counts(fleet, &counts);
    assert(counts.thin_unsynced == 3 && redis->state == ZB_STATE_UP);
    s_live(fleet, s_full("web", S_A, 11, 8000, "redis=up@6500", 0xd3), 8000);
    s_expect(&sink, "");
    assert(host->digest_known && host->digest == 0xd3);
    //  The same table again, full (every N beats): writes nothing, and
    //  zb_fleet_quiet says so (so the monitor begins no transaction).
    zb_msg_t *again = s_full("web", S_A, 12, 8500, "redis=up@6500", 0xd3);
    zb_fleet_host_t *found;
    assert(zb_fleet_quiet(fleet, again, &found) && found == host);
    s_live(fleet, again, 8500);
    s_expect(&sink, "");

    //  Silent: services unknown. Back on a thin beat whose digest is the
    //  held one: alive again, the services stay unknown (the thin beat does
    //  not say what they are), until the next full beat.
    zb_fleet_sweep(fleet, 8500 + 3001, T0 + 8500 + 3001);
    assert(host->state == ZB_FLEET_SILENT && redis->state == ZB_STATE_UNKNOWN);
    sink.log[0] = '\0';
    s_live(fleet, s_thin("web", S_A, 20, 12000, 0xd3), 12000);
    s_expect(&sink, "close #2@12000:back;closed web/- #2;state web/- silent>alive;host web=alive;"
                    "inst web/aa:20;");
    assert(host->state == ZB_FLEET_ALIVE && redis->state == ZB_STATE_UNKNOWN);
    zb_fleet_counts(fleet, &counts);
    assert(counts.thin_unsynced == 4);
    //  That full beat's digest is the held one, but the services no longer
    //  follow it: not quiet.
    again = s_full("web", S_A, 21, 13000, "redis=up@6500", 0xd3);
    assert(!zb_fleet_quiet(fleet, again, &found) && found == host);
    s_live(fleet, again, 13000);
    assert(redis->state == ZB_STATE_UP);

    //  A new agent run whose first full beat was lost: its thin beats
    //  leave the previous run's state alone.
    sink.log[0] = '\0';
    s_live(fleet, s_thin("web", S_B, 3, 14000, 0xd3), 14000);
    s_expect(&sink, "inst web/bb:3;host web=alive;inst web/bb:3;");
    assert(redis->state == ZB_STATE_UP && !host->digest_known);
    zb_fleet_counts(fleet, &counts);
    assert(counts.thin_unsynced == 5);
    zb_fleet_destroy(&fleet);
}

//  Deadlines in the heap (zb_fleet_liveness.c; once moved lazily, keys
//  left early by beats and made exact at the top): whatever the heap
//  holds, the effects must be the eager rule's, at the same moment: a host
//  is silent the first ms after last heard + liveness x interval, never
//  before, and the owner's next wake (zb_fleet_deadline) is always the
//  nearest true deadline, never an early key. A clock run ms by ms, with
//  an interval made longer and shorter (the deadline must move earlier at
//  once), a gap of exactly the threshold, and the liveness lowered under a
//  waiting host.
#define S_LAZY_HOSTS 6
static void s_test_lazy(void)
{
    zb_fleet_test_sink_t sink = {0};
    zb_fleet_t *fleet = zb_fleet_new(&zb_fleet_test_sink, &sink, 3);
    assert(fleet);
    //  Beats: a host's times, and the interval each announces (0: the
    //  one before); a list ends at 0. steady beats every second to the end.
    static const struct {
        const char *name;
        int64_t at[12];
        int64_t interval[12];
        int64_t silent_at; // expected, 0 never
    } hosts[S_LAZY_HOSTS] = {
        {"steady", {0}, {1000}, 0},
        {"stops", {1000, 2000, 5000, 8000, 10000}, {1000}, 10000 + 3000 + 1},
        {"slower", {1000, 3000, 5000, 6000, 11000}, {1000, 0, 0, 5000}, 11000 + 15000 + 1},
        {"faster", {1000, 6000, 7000, 7500, 8000}, {5000, 0, 500}, 8000 + 1500 + 1},
        {"jitter", {1000, 3900, 6899, 9899}, {1000}, 9899 + 3000 + 1},
        //  Liveness 3 -> 2 at 30000: 28000 + 2 x 1000 + 1.
        {"late", {25000, 28000}, {1000}, 28000 + 2000 + 1},
    };
    int64_t last[S_LAZY_HOSTS] = {0}, interval[S_LAZY_HOSTS] = {0};
    uint64_t seq[S_LAZY_HOSTS] = {0};
    size_t next[S_LAZY_HOSTS] = {0};
    int liveness = 3;
    for (int64_t now = 1000; now <= 40000; now++) {
        for (int h = 0; h < S_LAZY_HOSTS; h++) {
            bool steady = h == 0 && now % 1000 == 0;
            if (!steady && (h == 0 || hosts[h].at[next[h]] != now))
                continue;
            if (!steady && hosts[h].interval[next[h]])
                interval[h] = hosts[h].interval[next[h]];
            if (steady)
                interval[h] = 1000;
            next[h] += steady ? 0 : 1;
            zb_msg_t *msg = s_thin(hosts[h].name, S_A, ++seq[h], now, 0xd1);
            msg->interval_ms = interval[h];
            s_live(fleet, msg, now);
            last[h] = now;
        }
        if (now == 30000) {
            liveness = 2;
            zb_fleet_set_liveness(fleet, liveness);
        }
        //  The owner's next wake: the nearest true deadline of a live host.
        int64_t expect = now + 86400000;
        for (int h = 0; h < S_LAZY_HOSTS; h++) {
            zb_fleet_host_t *host = zb_fleet_host(fleet, hosts[h].name);
            int64_t at = last[h] + liveness * interval[h] + 1;
            if (host && host->state == ZB_FLEET_ALIVE && at < expect)
                expect = at;
        }
        assert(zb_fleet_deadline(fleet, now) == expect);
        //  Swept every ms (an owner waking early changes nothing).
        zb_fleet_sweep(fleet, now, T0 + now);
        sink.log[0] = '\0';
        for (int h = 0; h < S_LAZY_HOSTS; h++) {
            zb_fleet_host_t *host = zb_fleet_host(fleet, hosts[h].name);
            bool silent = host && host->state == ZB_FLEET_SILENT;
            assert(silent == (hosts[h].silent_at && now >= hosts[h].silent_at));
        }
    }
    zb_fleet_counts_t counts;
    zb_fleet_counts(fleet, &counts);
    assert(counts.host_outages == S_LAZY_HOSTS - 1 && counts.seq_gaps == 0);
    zb_fleet_destroy(&fleet);
}

//  The checkpoint queue: oldest first, each host once per period, a new
//  host stamped when first passed over, a forgotten one gone from it.
static void s_test_heard(void)
{
    zb_fleet_test_sink_t sink = {0};
    zb_fleet_t *fleet = zb_fleet_new(&zb_fleet_test_sink, &sink, 3);
    assert(fleet);
    s_live(fleet, s_beat("a", S_A, 1, 1000, ""), 1000);
    s_live(fleet, s_beat("b", S_A, 1, 1000, ""), 1000);
    assert(zb_fleet_heard_next(fleet, 0, 5000) == NULL); // both stamped 5000
    s_live(fleet, s_beat("c", S_A, 1, 6000, ""), 6000);
    assert(zb_fleet_heard_next(fleet, 4999, 7000) == NULL); // c stamped 7000
    zb_fleet_host_t *host = zb_fleet_heard_next(fleet, 5000, 8000);
    assert(host && strcmp(host->name, "b") == 0 && host->heard_mono == 8000);
    host = zb_fleet_heard_next(fleet, 5000, 8000);
    assert(host && strcmp(host->name, "a") == 0);
    assert(zb_fleet_heard_next(fleet, 5000, 8000) == NULL); // c is 7000
    host = zb_fleet_heard_next(fleet, 7000, 9000);
    assert(host && strcmp(host->name, "c") == 0);
    assert(zb_fleet_forget(fleet, "c"));
    host = zb_fleet_heard_next(fleet, 8000, 9000);
    assert(host && strcmp(host->name, "b") == 0);
    host = zb_fleet_heard_next(fleet, 8000, 9000);
    assert(host && strcmp(host->name, "a") == 0);
    assert(zb_fleet_heard_next(fleet, 8999, 9500) == NULL);
    zb_fleet_destroy(&fleet);
}

//  Liveness datagrams: they keep the current run alive on a threshold of
//  their own, far shorter than ZeroMQ's; anyone else's are refused.
static void s_test_datagrams(void)
{
    zb_fleet_test_sink_t sink = {0};
    zb_fleet_t *fleet = zb_fleet_new(&zb_fleet_test_sink, &sink, 5);
    assert(fleet);
    zb_fleet_set_detector(fleet, 1000, 10000, 8);
    assert(zb_fleet_heard(fleet, "web", S_A, 1, 250, 500, T0 + 500) == -1); // unknown
    s_live(fleet, s_beat("web", S_A, 1, 1000, "redis=up@500"), 1000);
    s_expect(&sink, "inst web/aa:1;svc web/redis=up@500;state web/redis unknown>up;"
                    "host web=alive;inst web/aa:1;");
    assert(zb_fleet_deadline(fleet, 1000) == 1000 + 5 * 1000 + 1);            // ZeroMQ only
    assert(zb_fleet_heard(fleet, "web", S_B, 1, 250, 1100, T0 + 1100) == -1); // another run
    int64_t now = 1000;
    for (uint64_t seq = 1; seq <= 400; seq++) {
        now += 250;
        assert(zb_fleet_heard(fleet, "web", S_A, seq, 250, now, T0 + now) == 0);
    }
    zb_fleet_host_t *host = zb_fleet_host(fleet, "web");
    int64_t threshold = zb_fleet_threshold(fleet, host);
    assert(threshold >= 1000 && threshold <= 1500);
    assert(zb_fleet_deadline(fleet, now) == now + threshold + 1);
    assert(host->datagrams == 400 && zb_detector_loss(&host->detector) < 0.02);
    s_expect(&sink, ""); // no writes for datagrams
    zb_fleet_sweep(fleet, now + threshold, T0 + now + threshold);
    s_expect(&sink, "");
    zb_fleet_sweep(fleet, now + threshold + 1, T0 + now + threshold + 1);
    assert(host->state == ZB_FLEET_SILENT);
    sink.log[0] = '\0';
    //  Silent: a datagram does not bring it back (its next message does).
    assert(zb_fleet_heard(fleet, "web", S_A, 500, 250, now + 5000, T0 + now + 5000) == -1);
    zb_fleet_destroy(&fleet);
}

//  Input the owner dropped may have been any host's: no host is silent
//  before a threshold since the last drop, and then it is.
static void s_test_lost(void)
{
    zb_fleet_test_sink_t sink = {0};
    zb_fleet_t *fleet = zb_fleet_new(&zb_fleet_test_sink, &sink, 3);
    assert(fleet);
    s_live(fleet, s_beat("web", S_A, 1, 1000, "redis=up@500"), 1000);
    s_live(fleet, s_beat("db", S_B, 1, 1000, "pg=up@500"), 2500);
    sink.log[0] = '\0';
    assert(zb_fleet_deadline(fleet, 2500) == 1000 + 3 * 1000 + 1);
    //  A drop at 2000: no host is silent before 2000 + 3000 (web was due
    //  at 4001; db, heard at 2500, is due later anyway).
    zb_fleet_input_lost(fleet, 2000);
    zb_fleet_input_lost(fleet, 1500); // an older report changes nothing
    zb_fleet_sweep(fleet, 4001, T0 + 4001);
    s_expect(&sink, "");
    assert(zb_fleet_host(fleet, "web")->state == ZB_FLEET_ALIVE);
    assert(zb_fleet_deadline(fleet, 4001) == 2000 + 3 * 1000 + 1);
    zb_fleet_sweep(fleet, 5000, T0 + 5000);
    s_expect(&sink, "");
    //  Past it: web is silent from when it was last heard, not the drop;
    //  db, heard after the drop, keeps its own deadline.
    zb_fleet_sweep(fleet, 5001, T0 + 5001);
    assert(zb_fleet_host(fleet, "web")->state == ZB_FLEET_SILENT);
    assert(zb_fleet_host(fleet, "db")->state == ZB_FLEET_ALIVE);
    assert(strstr(sink.log, "open #1 web/-@1000:silent;"));
    assert(zb_fleet_deadline(fleet, 5001) == 2500 + 3 * 1000 + 1);
    zb_fleet_destroy(&fleet);
}

//  The texts a service keeps at their length: an error only while there
//  is one, at most ZB_ERROR_MAX bytes, the same one again not copied
//  again; a name of ZB_NAME_MAX bytes whole.
static void s_test_texts(void)
{
    zb_fleet_test_sink_t sink = {0};
    zb_fleet_t *fleet = zb_fleet_new(&zb_fleet_test_sink, &sink, 3);
    assert(fleet);
    char name[ZB_NAME_MAX + 1], list[ZB_NAME_MAX + 32];
    memset(name, 'n', ZB_NAME_MAX);
    name[ZB_NAME_MAX] = '\0';
    snprintf(list, sizeof(list), "redis=up@500,%s=up@500", name);
    s_live(fleet, s_beat("web", S_A, 1, 1000, list), 1000);
    zb_fleet_host_t *host = zb_fleet_host(fleet, "web");
    assert(host && zb_table_lookup(host->services, name));
    zb_fleet_service_t *service = zb_table_lookup(host->services, "redis");
    assert(service && strcmp(service->name, "redis") == 0);
    assert(!service->error && strcmp(zb_fleet_service_error(service), "") == 0);
    const char *refused = "connect: Connection refused";
    zb_fleet_service_apply(fleet, host, service, ZB_STATE_DOWN, T0 + 1100, "probe", "refused",
                           refused);
    const char *kept = service->error;
    assert(kept && kept != refused && strcmp(kept, refused) == 0);
    zb_fleet_service_apply(fleet, host, service, ZB_STATE_DOWN, T0 + 1200, "probe", "refused",
                           refused);
    assert(service->error == kept);
    char longer[ZB_ERROR_MAX + 50];
    memset(longer, 'e', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    zb_fleet_service_apply(fleet, host, service, ZB_STATE_DOWN, T0 + 1300, "probe", "refused",
                           longer);
    assert(strlen(service->error) == ZB_ERROR_MAX && service->error[0] == 'e');
    zb_fleet_service_apply(fleet, host, service, ZB_STATE_UP, T0 + 1400, "probe", "ok", "");
    assert(!service->error);
    zb_fleet_destroy(&fleet);
}

void zb_fleet_test(bool verbose)
{
    if (!verbose)
        zb_log_init("zb_fleet_test", false);
    zb_table_test(verbose);
    s_test_live();
    s_test_races();
    s_test_conflict();
    s_test_conflict_early();
    s_test_restart();
    s_test_takeover();
    s_test_thin();
    s_test_lazy();
    s_test_datagrams();
    s_test_heard();
    s_test_lost();
    s_test_texts();
    assert(s_quiet_seen > 0); // the thin beats above took the quiet way
}
