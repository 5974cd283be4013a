/*  zb_plan: what a reload does to the running services, worked out from the
    old and the new configuration alone (no sockets, no objects): per new
    service, keep it (unchanged or retimed in place), restart its check, or
    add it; per running service, whether it is removed. zb_agent makes and
    applies the objects; this says which. */
#ifndef ZB_PLAN_H
#define ZB_PLAN_H

#include "zb_agent_config.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    ZB_PLAN_ADD,       // no running service of its name
    ZB_PLAN_UNCHANGED, // the running object carries on as it is
    ZB_PLAN_RETIME,    // the running object takes the new timings in place
    ZB_PLAN_RESTART    // a new address, conversation or kind: a new object
} zb_plan_action_t;

//  A value the agent reads field by field, hence not opaque.
typedef struct {
    size_t count;             // services in the new configuration
    zb_plan_action_t *action; // [count], in the new config's order
    size_t *old_index;        // [count]: the running service of that name, or SIZE_MAX
    size_t old_count;         // running services
    bool *removed;            // [old_count]: no successor of its name
    size_t added, removed_count, retimed, restarted, unchanged;
    bool replay_changed; // agent/replay differs
} zb_plan_t;

//  Refuses a new configuration that a reload cannot take (agent/name,
//  agent/journal, the keys): 0, or -1 with "path: why" in err.
int zb_plan_check(const zb_agent_config_t *old, const zb_agent_config_t *config, const char *path,
                  char *err, size_t errsize);

//  The plan from old to config. NULL when out of memory.
zb_plan_t *zb_plan_new(const zb_agent_config_t *old, const zb_agent_config_t *config);
void zb_plan_destroy(zb_plan_t **self_p);

//  Whether the action keeps the running object.
bool zb_plan_keeps(zb_plan_action_t action);

void zb_plan_test(bool verbose);

#endif
