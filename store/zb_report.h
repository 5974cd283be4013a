/*  zb_report: availability per service and per host over a window of time
    (`zbeat report`, GET /api/v1/report; definitions in docs/cli.md).

    The arithmetic (zb_report_figures, zb_report_exclusive) is pure: spans
    in, figures out, no clock and no database, so the self-test checks it
    against hand-computed cases. zb_report_build reads the outages through
    zb_store and shapes the JSON that the CLI and the HTTP API both print.

    - A service's downtime is the union of its service outages clipped to
      the window; an open outage lasts until now.
    - Its host's silences are not downtime: the time its host was silent
      while the service was not down is reported apart (silent_s).
    - So every instant of the window is down, silent or neither, and
      availability = 100 x (window - down) / window.
*/
#ifndef ZB_REPORT_H
#define ZB_REPORT_H

#include "zb_store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

//  The most outages one report reads: beyond, it refuses (narrow the
//  window or pick a host) rather than grow without bound.
#define ZB_REPORT_MAX_OUTAGES 1000000

//  One outage (or host silence) as an interval of wall-clock ms.
typedef struct {
    int64_t start_ms;
    int64_t end_ms; // -1 while open
} zb_report_span_t;

//  What one series of spans amounts to in a window.
typedef struct {
    int64_t window_ms;  // until - since
    int64_t down_ms;    // the union of the spans, clipped to the window
    int64_t count;      // spans that overlap the window (as `zbeat outages --since --until`)
    int64_t open;       // of which still open
    int64_t closed;     // of which ended
    int64_t mttr_ms;    // mean length of the ended ones, whole (not clipped); -1 when none
    int64_t longest_ms; // longest whole span, an open one up to now; -1 when none
} zb_report_figures_t;

//  The figures of count spans (sorted in place) in the window [since,
//  until]; now_ms ends the open spans.
void zb_report_figures(zb_report_span_t *spans, size_t count, int64_t since_ms, int64_t until_ms,
                       int64_t now_ms, zb_report_figures_t *figures);

//  The time in the window covered by spans a but not by spans b (both
//  sorted in place): a host's silence while its service was not down.
int64_t zb_report_exclusive(zb_report_span_t *a, size_t a_count, zb_report_span_t *b,
                            size_t b_count, int64_t since_ms, int64_t until_ms, int64_t now_ms);

//  100 x (window - down) / window; a negative number when the window is
//  empty (no availability to speak of).
double zb_report_availability(const zb_report_figures_t *figures);

//  The report of every service and host (or only host's, when not NULL)
//  over [since, until], as JSON:
//  {"since", "until", "window_s", "services": [row...], "hosts": [row...]}.
//  Returns NULL with a one-line reason in err.
json_t *zb_report_build(zb_store_t *store, const char *host, int64_t since_ms, int64_t until_ms,
                        int64_t now_ms, char *err, size_t errsize);
//  The same with only the rows that had an outage (a host row: a silence)
//  in the window, for fleets too large to list whole: every other service
//  was 100% available with no outage. (A service whose host was silent but
//  which had no outage of its own is left out too: its silent_s is lost.)
json_t *zb_report_build_outages(zb_store_t *store, int64_t since_ms, int64_t until_ms,
                                int64_t now_ms, char *err, size_t errsize);

//  Prints a report as an aligned table or as CSV. Returns 0, or -1 on a
//  write error.
int zb_report_print_table(const json_t *report, FILE *out);
int zb_report_print_csv(const json_t *report, FILE *out);

void zb_report_test(bool verbose);

#endif
