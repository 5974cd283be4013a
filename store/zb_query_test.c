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
}
