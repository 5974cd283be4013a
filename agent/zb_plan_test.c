/*  zb_plan's self-test: pairs of configurations, as files, and the plan
    between them. */
#include "zb_plan.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static zb_agent_config_t *s_load(const char *text)
{
    char path[] = "/tmp/zb-plan-test-XXXXXX", err[512];
    int fd = mkstemp(path);
    assert(fd >= 0);
    assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    zb_agent_config_t *self = zb_agent_config_load(path, NULL, err, sizeof(err));
    if (!self)
        fprintf(stderr, "\n%s\n", err);
    assert(self);
    unlink(path);
    return self;
}

//  The refusal of new for a reload from old, which must mention expect.
static void s_expect_refused(const zb_agent_config_t *old, const char *text, const char *expect)
{
    zb_agent_config_t *config = s_load(text);
    char err[512] = "";
    assert(zb_plan_check(old, config, "agent.conf", err, sizeof(err)) == -1);
    if (!strstr(err, expect)) {
        fprintf(stderr, "\nrefusal '%s' lacks '%s'\n", err, expect);
        assert(false);
    }
    zb_agent_config_destroy(&config);
}

void zb_plan_test(bool verbose)
{
    (void)verbose;
    zb_agent_config_t *old = s_load("agent\n"
                                    "    name = web-1\n"
                                    "service\n"
                                    "    redis\n"
                                    "        probe = 127.0.0.1:6379\n"
                                    "    ssh\n"
                                    "        probe = 127.0.0.1:22\n"
                                    "    db\n"
                                    "        probe = 127.0.0.1:5432\n"
                                    "    cron\n"
                                    "        push = 30s\n"
                                    "    gone\n"
                                    "        probe = 127.0.0.1:1\n");
    //  Unchanged, retimed, a new address, push to ttl, added; gone removed.
    zb_agent_config_t *config = s_load("agent\n"
                                       "    name = web-1\n"
                                       "    replay = tcp://127.0.0.1:7401\n"
                                       "service\n"
                                       "    fresh\n"
                                       "        probe = 127.0.0.1:2\n"
                                       "    redis\n"
                                       "        probe = 127.0.0.1:6379\n"
                                       "    ssh\n"
                                       "        probe = 127.0.0.1:22\n"
                                       "        interval = 5s\n"
                                       "    db\n"
                                       "        probe = 127.0.0.1:5433\n"
                                       "    cron\n"
                                       "        ttl = 30s\n");
    char err[512];
    assert(zb_plan_check(old, config, "agent.conf", err, sizeof(err)) == 0);
    zb_plan_t *plan = zb_plan_new(old, config);
    assert(plan && plan->count == 5 && plan->old_count == 5);
    assert(plan->action[0] == ZB_PLAN_ADD && plan->old_index[0] == SIZE_MAX);
    assert(plan->action[1] == ZB_PLAN_UNCHANGED && plan->old_index[1] == 0);
    assert(plan->action[2] == ZB_PLAN_RETIME && plan->old_index[2] == 1);
    assert(plan->action[3] == ZB_PLAN_RESTART && plan->old_index[3] == 2);
    assert(plan->action[4] == ZB_PLAN_RESTART && plan->old_index[4] == 3);
    assert(!plan->removed[0] && !plan->removed[1] && !plan->removed[2] && !plan->removed[3]);
    assert(plan->removed[4]);
    assert(plan->added == 1 && plan->unchanged == 1 && plan->retimed == 1 && plan->restarted == 2 &&
           plan->removed_count == 1);
    assert(plan->replay_changed);
    assert(zb_plan_keeps(ZB_PLAN_UNCHANGED) && zb_plan_keeps(ZB_PLAN_RETIME));
    assert(!zb_plan_keeps(ZB_PLAN_RESTART) && !zb_plan_keeps(ZB_PLAN_ADD));
    zb_plan_destroy(&plan);
    assert(plan == NULL);
    zb_plan_destroy(&plan);

    //  The same configuration: everything carries on.
    plan = zb_plan_new(config, config);
    assert(plan && plan->unchanged == 5 && plan->added == 0 && plan->removed_count == 0);
    assert(!plan->replay_changed);
    zb_plan_destroy(&plan);

    //  To no services at all: every running one is removed.
    zb_agent_config_t *empty = s_load("agent\n    name = web-1\n");
    plan = zb_plan_new(old, empty);
    assert(plan && plan->count == 0 && plan->removed_count == 5);
    zb_plan_destroy(&plan);
    zb_agent_config_destroy(&empty);

    //  What only a restart can change.
    s_expect_refused(old, "agent\n    name = web-2\n", "agent/name cannot change on reload");
    s_expect_refused(old, "agent\n    name = web-1\n    journal = /tmp/zb-plan-journal\n",
                     "agent/journal cannot change");
    zb_agent_config_destroy(&config);
    zb_agent_config_destroy(&old);
}
