/*  zb_cli_dedup: one outage recorded by redundant monitors shows once
    (zbeat --url outages, zb_cli_remote.c).
*/
#ifndef ZB_CLI_DEDUP_H
#define ZB_CLI_DEDUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The outages of items (the API's outage objects, as the monitors gave
//  them; items is sorted in place, newest started_at first), newest first
//  and each once: records of one host, service and kind whose starts lie
//  within window_ms of the last one kept are one outage, shown by the first
//  that saw its end (else the first). At most limit rows (<= 0: all).
//  NULL: out of memory.
json_t *zb_cli_dedup_outages(json_t **items, size_t count, int64_t window_ms, int64_t limit);

void zb_cli_dedup_test(bool verbose);

#endif
