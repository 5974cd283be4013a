/*  zb_time: clocks, durations and timestamps.

    Deadlines use the monotonic clock (zb_time_mono_*); only timestamps that
    leave the process (wire messages, the database, the CLI) use the wall clock.
*/
#ifndef ZB_TIME_H
#define ZB_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Monotonic clock, for deadlines and intervals.
int64_t zb_time_mono_ms(void);
int64_t zb_time_mono_us(void);

//  Wall clock in milliseconds since the Unix epoch, for timestamps.
int64_t zb_time_wall_ms(void);

//  Parses "500ms", "1s", "1.5s", "2m", "1h", "400d" into milliseconds.
//  A bare number is refused: a duration always names its unit.
//  Returns 0, or -1 when the text is not a duration.
int zb_time_parse_duration(const char *text, int64_t *ms);

//  Formats a duration the way people read it: "850ms", "42s", "3m12s",
//  "2h05m", "3d04h".
void zb_time_format_duration(int64_t ms, char *buf, size_t size);

//  Formats wall-clock milliseconds as RFC 3339 UTC, "2026-11-28T05:40:07Z".
void zb_time_format_rfc3339(int64_t wall_ms, char *buf, size_t size);

//  Parses exactly that form ("2026-11-28T05:40:07Z") into Unix seconds.
//  Returns 0, or -1 for anything else.
int zb_time_parse_rfc3339(const char *text, int64_t *secs);

//  The same with milliseconds, "2026-11-28T05:40:07.123Z".
void zb_time_format_rfc3339_ms(int64_t wall_ms, char *buf, size_t size);

//  Parses a point in time as given on a command line: either a duration
//  meaning "that long before now" ("2h", "30d"), or an RFC 3339 UTC time
//  ("2026-11-01T00:00:00Z", "2026-11-01T00:00:00", "2026-11-01").
//  Returns 0, or -1 when the text is neither.
int zb_time_parse_when(const char *text, int64_t now_wall_ms, int64_t *wall_ms);

void zb_time_test(bool verbose);

#endif
