/*  zb_query's self-test: the JSON shapes printed by `zbeat ... --json`
    and the HTTP API, field by field, and printable text.
*/
#include "zb_query.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The compact dump of a shape, compared whole: a renamed or reordered
//  field is a change of the public output (docs/cli.md).
static void s_expect(json_t *o, const char *expect)
{
    assert(o);
    char *text = json_dumps(o, ZB_QUERY_JSON_FLAGS);
    assert(text);
    if (strcmp(text, expect) != 0) {
        fprintf(stderr, "\nzb_query: got    %s\n          expect %s\n", text, expect);
        assert(!"JSON shape differs");
    }
    free(text);
    json_decref(o);
}

void zb_query_test(bool verbose)
{
    (void)verbose;
    //  A host: its replay report counts only from its current agent run.
    zb_store_host_t host = {
        "web-1", "alive", 0, "0123456789abcdef", 1000, 1500, 3, 2000, "0123456789abcdef", 0, -1};
    assert(zb_query_host_replay_known(&host));
    s_expect(zb_query_host_json(&host),
             "{\"host\":\"web-1\",\"state\":\"alive\",\"since\":\"1970-01-01T00:00:00.000Z\","
             "\"last_seen\":\"1970-01-01T00:00:01.500Z\",\"instance\":\"0123456789abcdef\","
             "\"interval_ms\":1000,\"replay_pending\":3,"
             "\"replay_reported\":\"1970-01-01T00:00:02.000Z\",\"silence_threshold_ms\":null,"
             "\"datagram_loss\":null}");
    host.replay_instance = "00000000000000ff";
    host.last_seen_ms = 0;
    assert(!zb_query_host_replay_known(&host));
    s_expect(zb_query_host_json(&host),
             "{\"host\":\"web-1\",\"state\":\"alive\",\"since\":\"1970-01-01T00:00:00.000Z\","
             "\"last_seen\":null,\"instance\":\"0123456789abcdef\",\"interval_ms\":1000,"
             "\"replay_pending\":null,\"replay_reported\":null,\"silence_threshold_ms\":null,"
             "\"datagram_loss\":null}");
    host.silence_threshold_ms = 1250;
    host.datagram_loss = 0.125;
    s_expect(zb_query_host_json(&host),
             "{\"host\":\"web-1\",\"state\":\"alive\",\"since\":\"1970-01-01T00:00:00.000Z\","
             "\"last_seen\":null,\"instance\":\"0123456789abcdef\",\"interval_ms\":1000,"
             "\"replay_pending\":null,\"replay_reported\":null,\"silence_threshold_ms\":1250,"
             "\"datagram_loss\":0.125}");

    //  An alert and its deliveries: the payload embedded as JSON.
    zb_store_alert_t alert = {.seq = 1,
                              .id = "a1",
                              .created_at_ms = 1000,
                              .trigger = "down",
                              .host = "web-1",
                              .service = "redis",
                              .outage_id = 7,
                              .payload = "{\"x\":1}"};
    json_t *a = zb_query_alert_json(&alert);
    zb_store_delivery_t sent = {.alert = &alert,
                                .channel = "ops",
                                .status = "sent",
                                .attempts = 1,
                                .next_attempt_at_ms = 1000,
                                .last_error = "",
                                .result = 200,
                                .sent_at_ms = 1100,
                                .queued_at_ms = 1000};
    zb_store_delivery_t pending = {.alert = &alert,
                                   .channel = "pager",
                                   .status = "pending",
                                   .attempts = 0,
                                   .next_attempt_at_ms = 3000,
                                   .last_error = "timeout",
                                   .result = -1,
                                   .sent_at_ms = -1,
                                   .queued_at_ms = 1000};
    json_array_append_new(json_object_get(a, "deliveries"), zb_query_delivery_json(&sent));
    json_array_append_new(json_object_get(a, "deliveries"), zb_query_delivery_json(&pending));
    s_expect(a, "{\"id\":\"a1\",\"created_at\":\"1970-01-01T00:00:01.000Z\",\"trigger\":\"down\","
                "\"host\":\"web-1\",\"service\":\"redis\",\"outage_id\":7,\"alert\":{\"x\":1},"
                "\"deliveries\":[{\"channel\":\"ops\",\"status\":\"sent\",\"attempts\":1,"
                "\"sent_at\":\"1970-01-01T00:00:01.100Z\",\"next_attempt_at\":null,"
                "\"result\":200,\"last_error\":\"\"},{\"channel\":\"pager\","
                "\"status\":\"pending\",\"attempts\":0,\"sent_at\":null,"
                "\"next_attempt_at\":\"1970-01-01T00:00:03.000Z\",\"result\":null,"
                "\"last_error\":\"timeout\"}]}");
    //  A host alert about no outage, with a payload that is not JSON.
    alert.service = NULL;
    alert.outage_id = 0;
    alert.payload = "not json";
    s_expect(zb_query_alert_json(&alert),
             "{\"id\":\"a1\",\"created_at\":\"1970-01-01T00:00:01.000Z\",\"trigger\":\"down\","
             "\"host\":\"web-1\",\"service\":null,\"outage_id\":null,\"alert\":null,"
             "\"deliveries\":[]}");

    //  A silence, active from its start up to (not at) its end.
    zb_store_silence_t silence = {.id = 4,
                                  .host = "web-*",
                                  .service = NULL,
                                  .starts_at_ms = 1000,
                                  .ends_at_ms = 5000,
                                  .reason = "deploy",
                                  .created_at_ms = 900};
    const char *shape = "{\"id\":4,\"host\":\"web-*\",\"service\":null,"
                        "\"starts_at\":\"1970-01-01T00:00:01.000Z\","
                        "\"ends_at\":\"1970-01-01T00:00:05.000Z\",\"reason\":\"deploy\","
                        "\"created_at\":\"1970-01-01T00:00:00.900Z\",\"active\":%s}";
    char expect[512];
    snprintf(expect, sizeof(expect), shape, "true");
    s_expect(zb_query_silence_json(&silence, 1000), expect);
    snprintf(expect, sizeof(expect), shape, "false");
    s_expect(zb_query_silence_json(&silence, 5000), expect);
    s_expect(zb_query_silence_json(&silence, 999), expect);

    //  Filters: states (with "problems"), globs; a service filter keeps
    //  service rows only.
    zb_store_status_t rows[] = {
        {.host = "web-1", .state = "alive"},
        {.host = "web-1", .service = "redis", .state = "down"},
        {.host = "web-1", .service = "www", .state = "up"},
        {.host = "db-1", .state = "silent"},
        {.host = "db-1", .service = "pg", .state = "up"},
    };
    zb_query_filter_t problems = {.states = "problems"}, web = {.host = "web-*"};
    zb_query_filter_t up = {.states = "silent,up", .service = "p?"}, none = {0};
    const char *expect_keep[] = {"01010", "11100", "00001", "11111"};
    const zb_query_filter_t *filters[] = {&problems, &web, &up, &none};
    for (size_t f = 0; f < 4; f++)
        for (size_t r = 0; r < 5; r++)
            assert(zb_query_status_keeps(filters[f], &rows[r]) == (expect_keep[f][r] == '1'));
    assert(zb_query_glob_valid("web-[0-9]*") && !zb_query_glob_valid("") &&
           !zb_query_glob_valid("a b") && !zb_query_glob_valid("a/b"));

    //  The summary: counts by state, its JSON and its line.
    zb_query_summary_t summary = {0};
    for (size_t r = 0; r < 5; r++)
        zb_query_summary_add(&summary, &rows[r]);
    s_expect(zb_query_summary_json(&summary),
             "{\"hosts\":{\"total\":2,\"problems\":1,\"states\":{\"alive\":1,\"silent\":1}},"
             "\"services\":{\"total\":3,\"problems\":1,\"states\":{\"down\":1,\"up\":2}}}");
    char line[200];
    zb_query_summary_line(&summary, line, sizeof(line));
    if (strcmp(line, "2 hosts: 1 alive, 1 silent; 3 services: 2 up, 1 down") != 0) {
        fprintf(stderr, "zb_query: summary line %s\n", line);
        assert(!"summary line");
    }
    zb_query_summary_t empty = {0};
    zb_query_summary_line(&empty, line, sizeof(line));
    assert(strcmp(line, "0 hosts; 0 services") == 0);
    //  More states than slots: the rest count as "other".
    char names[ZB_QUERY_STATES_MAX + 3][8];
    for (size_t i = 0; i < ZB_QUERY_STATES_MAX + 3; i++) {
        snprintf(names[i], sizeof(names[i]), "s%zu", i);
        zb_store_status_t odd = {.host = "h", .state = names[i]};
        zb_query_summary_add(&empty, &odd);
    }
    assert(empty.hosts.states == ZB_QUERY_STATES_MAX &&
           empty.hosts.total == ZB_QUERY_STATES_MAX + 3);
    assert(strcmp(empty.hosts.by_state[ZB_QUERY_STATES_MAX - 1].state, "other") == 0 &&
           empty.hosts.by_state[ZB_QUERY_STATES_MAX - 1].count == 4);
}
