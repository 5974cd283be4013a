/*  zb_verdict's self-test: sequences of verdicts and clock values, the
    states, counts and times that follow. */
#include "zb_verdict.h"

#include <assert.h>
#include <string.h>

void zb_verdict_test(bool verbose)
{
    (void)verbose;
    zb_probe_config_t config;
    memset(&config, 0, sizeof(config));
    config.name = "svc";
    config.interval_ms = 1000;
    config.timeout_ms = 500;
    config.fails = 2;
    zb_verdict_t v;
    memset(&v, 0, sizeof(v));
    zb_verdict_init(&v, &config);
    assert(v.status.state == ZB_STATE_UNKNOWN && v.status.rtt_us == -1);
    assert(strcmp(v.status.name, "svc") == 0 && strcmp(v.status.kind, "probe") == 0);

    //  Down after two failures in a row; one good check is up again.
    assert(!zb_verdict_failure(&v, &config, "timeout") && v.status.state == ZB_STATE_UNKNOWN);
    assert(zb_verdict_failure(&v, &config, "closed") && v.status.state == ZB_STATE_DOWN);
    assert(strcmp(v.status.reason, "closed") == 0 && v.failures == 2);
    //  While down, the reason follows the latest failure, no change told.
    assert(!zb_verdict_failure(&v, &config, "timeout") && strcmp(v.status.reason, "timeout") == 0);
    assert(v.failures == 2);
    strcpy(v.status.error, "no reply");
    assert(zb_verdict_good(&v, &config, 1234) && v.status.state == ZB_STATE_UP);
    assert(v.failures == 0 && v.status.rtt_us == 1234 && v.status.error[0] == '\0');
    assert(strcmp(v.status.reason, "ok") == 0 && !zb_verdict_good(&v, &config, 5));
    //  A refusal is down at once; a single failure after a good is not.
    assert(!zb_verdict_failure(&v, &config, "timeout") && v.status.state == ZB_STATE_UP);
    assert(zb_verdict_good(&v, &config, 1) == false && v.failures == 0);
    assert(zb_verdict_down(&v, &config, "refused") && v.status.state == ZB_STATE_DOWN);

    //  Reconnects while down back off from 100 ms, doubling up to the interval.
    int64_t want[] = {100, 200, 400, 800, 1000, 1000};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert(zb_verdict_reconnect_at(&v, &config, 50000) == 50000 + want[i]);
    //  Down again after up: the backoff starts over.
    assert(zb_verdict_good(&v, &config, 1) && zb_verdict_down(&v, &config, "refused"));
    assert(zb_verdict_reconnect_at(&v, &config, 0) == 100);
    //  While up: at the next check, or now when it is past.
    assert(zb_verdict_good(&v, &config, 1));
    v.next_check = 7000;
    assert(zb_verdict_reconnect_at(&v, &config, 6000) == 7000);
    assert(zb_verdict_reconnect_at(&v, &config, 8000) == 8000);

    //  The cadence: an interval per check, from now after a stall.
    v.next_check = 1000;
    zb_verdict_consume(&v, &config, 1000);
    assert(v.next_check == 2000);
    zb_verdict_consume(&v, &config, 1500); // not due: unchanged
    assert(v.next_check == 2000);
    zb_verdict_consume(&v, &config, 5500);
    assert(v.next_check == 6500);
    //  Pings go on the slot boundary at or after next_check: 10 ms at 1 s,
    //  none at 20 ms.
    v.next_check = 2001;
    assert(zb_verdict_ping_at(&v, &config) == 2010);
    v.next_check = 2010;
    assert(zb_verdict_ping_at(&v, &config) == 2010);
    zb_probe_config_t fast = config;
    fast.interval_ms = 20;
    fast.timeout_ms = 10;
    v.next_check = 2001;
    assert(zb_verdict_ping_at(&v, &fast) == 2001);

    //  A reload to a shorter interval and fewer fails.
    assert(zb_verdict_down(&v, &config, "refused") && v.failures == 2);
    v.backoff_ms = 800;
    v.next_check = 10000;
    zb_probe_config_t fewer = config;
    fewer.fails = 1;
    fewer.interval_ms = 500;
    fewer.timeout_ms = 100;
    zb_verdict_set_config(&v, &fewer, 1000);
    assert(v.failures == 1 && v.backoff_ms == 500 && v.next_check == 1500);

    //  Another check's verdict taken over: down stays down until a good.
    zb_verdict_t next;
    memset(&next, 0, sizeof(next));
    zb_verdict_init(&next, &config);
    zb_verdict_take(&next, &config, &v.status);
    assert(next.status.state == ZB_STATE_DOWN && next.failures == 2);
    assert(strcmp(next.status.reason, "refused") == 0 && next.status.since_ms == v.status.since_ms);
    assert(!zb_verdict_failure(&next, &config, "timeout"));
    assert(zb_verdict_good(&next, &config, 1) && next.status.state == ZB_STATE_UP);
}
