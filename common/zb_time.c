/*  zb_time: clocks, durations and timestamps. */
#include "zb_time.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t s_clock_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t zb_time_mono_ms(void)
{
    return s_clock_us(CLOCK_MONOTONIC) / 1000;
}

int64_t zb_time_mono_us(void)
{
    return s_clock_us(CLOCK_MONOTONIC);
}

int64_t zb_time_wall_ms(void)
{
    return s_clock_us(CLOCK_REALTIME) / 1000;
}

//  The number is plain decimal: digits with an optional fraction. strtod
//  alone would also take "0x10s" (hex) and "1e-1s" (an exponent), which no
//  one means in a configuration file.
int zb_time_parse_duration(const char *text, int64_t *ms)
{
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}, {"d", 86400e3}};

    if (!text || !isdigit((unsigned char)*text))
        return -1;
    const char *end = text;
    while (isdigit((unsigned char)*end))
        end++;
    if (*end == '.') {
        end++;
        if (!isdigit((unsigned char)*end))
            return -1;
        while (isdigit((unsigned char)*end))
            end++;
    }
    //  Longer than any sane number: strtod below would take it, but the
    //  range check would refuse it anyway.
    if (end - text > 40)
        return -1;
    char number[48];
    memcpy(number, text, (size_t)(end - text));
    number[end - text] = '\0';
    errno = 0;
    double value = strtod(number, NULL);
    if (errno)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            double result = value * units[i].ms;
            //  Ten years is more than any interval or retention needs, and
            //  keeps every later sum far from overflow.
            if (result > 10.0 * 366 * 86400e3)
                return -1;
            *ms = (int64_t)(result + 0.5);
            return 0;
        }
    }
    return -1;
}

void zb_time_format_duration(int64_t ms, char *buf, size_t size)
{
    const char *sign = ms < 0 ? "-" : "";
    if (ms < 0)
        ms = -ms;
    int64_t s = ms / 1000;
    if (ms < 1000)
        snprintf(buf, size, "%s%" PRId64 "ms", sign, ms);
    else if (s < 60)
        snprintf(buf, size, "%s%" PRId64 ".%01" PRId64 "s", sign, s, (ms % 1000) / 100);
    else if (s < 3600)
        snprintf(buf, size, "%s%" PRId64 "m%02" PRId64 "s", sign, s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, size, "%s%" PRId64 "h%02" PRId64 "m", sign, s / 3600, (s % 3600) / 60);
    else
        snprintf(buf, size, "%s%" PRId64 "d%02" PRId64 "h", sign, s / 86400, (s % 86400) / 3600);
}

void zb_time_format_rfc3339(int64_t wall_ms, char *buf, size_t size)
{
    time_t secs = (time_t)(wall_ms >= 0 ? wall_ms / 1000 : (wall_ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int zb_time_parse_rfc3339(const char *text, int64_t *secs)
{
    //  Digits where the pattern has 9, the rest literally.
    static const char pattern[] = "9999-99-99T99:99:99Z";
    if (strlen(text) != sizeof(pattern) - 1)
        return -1;
    for (size_t i = 0; pattern[i]; i++)
        if (pattern[i] == '9' ? text[i] < '0' || text[i] > '9' : text[i] != pattern[i])
            return -1;
    struct tm tm = {0};
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6 ||
        tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *secs = (int64_t)timegm(&tm);
    return 0;
}

void zb_time_format_rfc3339_ms(int64_t wall_ms, char *buf, size_t size)
{
    char base[32];
    zb_time_format_rfc3339(wall_ms, base, sizeof(base));
    base[strlen(base) - 1] = '\0'; // the Z goes after the milliseconds
    snprintf(buf, size, "%s.%03dZ", base, (int)(((wall_ms % 1000) + 1000) % 1000));
}

int zb_time_parse_when(const char *text, int64_t now_wall_ms, int64_t *wall_ms)
{
    int64_t ago;
    if (zb_time_parse_duration(text, &ago) == 0) {
        *wall_ms = now_wall_ms - ago;
        return 0;
    }
    //  RFC 3339 in UTC, with the time (and the Z) optional.
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *rest = strptime(text, "%Y-%m-%d", &tm);
    if (!rest)
        return -1;
    if (*rest == 'T' || *rest == ' ') {
        rest = strptime(rest + 1, "%H:%M:%S", &tm);
        if (!rest)
            return -1;
    }
    if (*rest == 'Z')
        rest++;
    if (*rest != '\0')
        return -1;
    //  strptime takes any day from 1 to 31 and timegm would roll
    //  2026-02-30 over into March: a day the month lacks is refused.
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year = tm.tm_year + 1900;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (tm.tm_mon < 0 || tm.tm_mon > 11 ||
        tm.tm_mday > days[tm.tm_mon] + (tm.tm_mon == 1 && leap ? 1 : 0))
        return -1;
    time_t secs = timegm(&tm);
    if (secs == (time_t)-1)
        return -1;
    *wall_ms = (int64_t)secs * 1000;
    return 0;
}

void zb_time_test(bool verbose)
{
    (void)verbose;
    int64_t ms = -1;
    int64_t secs = 0;
    char stamp[32];
    assert(zb_time_parse_rfc3339("2026-11-28T05:40:07Z", &secs) == 0);
    zb_time_format_rfc3339(secs * 1000, stamp, sizeof(stamp));
    assert(strcmp(stamp, "2026-11-28T05:40:07Z") == 0);
    assert(zb_time_parse_rfc3339("1970-01-01T00:00:00Z", &secs) == 0 && secs == 0);
    assert(zb_time_parse_rfc3339("2026-11-28T05:40:07", &secs) == -1);
    assert(zb_time_parse_rfc3339("2026-11-28 05:40:07Z", &secs) == -1);
    assert(zb_time_parse_rfc3339("2026-13-28T05:40:07Z", &secs) == -1);
    assert(zb_time_parse_rfc3339("+026-11-28T05:40:07Z", &secs) == -1);
    assert(zb_time_parse_duration("500ms", &ms) == 0 && ms == 500);
    assert(zb_time_parse_duration("1s", &ms) == 0 && ms == 1000);
    assert(zb_time_parse_duration("1.5s", &ms) == 0 && ms == 1500);
    assert(zb_time_parse_duration("2m", &ms) == 0 && ms == 120000);
    assert(zb_time_parse_duration("1h", &ms) == 0 && ms == 3600000);
    assert(zb_time_parse_duration("400d", &ms) == 0 && ms == 400LL * 86400000);
    assert(zb_time_parse_duration("0s", &ms) == 0 && ms == 0);
    assert(zb_time_parse_duration("5x", &ms) == -1);
    assert(zb_time_parse_duration("5", &ms) == -1);
    assert(zb_time_parse_duration("", &ms) == -1);
    assert(zb_time_parse_duration(NULL, &ms) == -1);
    assert(zb_time_parse_duration("-1s", &ms) == -1);
    assert(zb_time_parse_duration(" 1s", &ms) == -1);
    assert(zb_time_parse_duration("1s ", &ms) == -1);
    assert(zb_time_parse_duration("1e300d", &ms) == -1);
    assert(zb_time_parse_duration("nan", &ms) == -1);
    //  Plain decimal only: no hex, no exponent, no bare dot.
    assert(zb_time_parse_duration("0x10s", &ms) == -1);
    assert(zb_time_parse_duration("1e-1s", &ms) == -1);
    assert(zb_time_parse_duration("1E3ms", &ms) == -1);
    assert(zb_time_parse_duration("1.s", &ms) == -1);
    assert(zb_time_parse_duration("1..5s", &ms) == -1);
    assert(zb_time_parse_duration("infs", &ms) == -1);
    assert(zb_time_parse_duration("0.25s", &ms) == 0 && ms == 250);
    assert(zb_time_parse_duration("007s", &ms) == 0 && ms == 7000);

    char buf[32];
    zb_time_format_duration(850, buf, sizeof(buf));
    assert(strcmp(buf, "850ms") == 0);
    zb_time_format_duration(42300, buf, sizeof(buf));
    assert(strcmp(buf, "42.3s") == 0);
    zb_time_format_duration(192000, buf, sizeof(buf));
    assert(strcmp(buf, "3m12s") == 0);
    zb_time_format_duration(7500000, buf, sizeof(buf));
    assert(strcmp(buf, "2h05m") == 0);
    zb_time_format_duration(3 * 86400000LL + 4 * 3600000LL, buf, sizeof(buf));
    assert(strcmp(buf, "3d04h") == 0);

    zb_time_format_rfc3339(1764308407123LL, buf, sizeof(buf));
    assert(strcmp(buf, "2025-11-28T05:40:07Z") == 0);
    zb_time_format_rfc3339_ms(1764308407123LL, buf, sizeof(buf));
    assert(strcmp(buf, "2025-11-28T05:40:07.123Z") == 0);
    zb_time_format_rfc3339_ms(-1, buf, sizeof(buf));
    assert(strcmp(buf, "1969-12-31T23:59:59.999Z") == 0);

    int64_t when;
    assert(zb_time_parse_when("2h", 10000000, &when) == 0 && when == 10000000 - 7200000);
    assert(zb_time_parse_when("2025-11-28T05:40:07Z", 0, &when) == 0 && when == 1764308407000LL);
    assert(zb_time_parse_when("2025-11-28T05:40:07", 0, &when) == 0 && when == 1764308407000LL);
    assert(zb_time_parse_when("2025-11-28", 0, &when) == 0 && when == 1764288000000LL);
    assert(zb_time_parse_when("yesterday", 0, &when) == -1);
    assert(zb_time_parse_when("2025-11-28T05:40", 0, &when) == -1);
    assert(zb_time_parse_when("2025-11-28Tjunk", 0, &when) == -1);
    //  Days the month lacks are refused, not rolled into the next month.
    assert(zb_time_parse_when("2026-02-30", 0, &when) == -1);
    assert(zb_time_parse_when("2026-02-29", 0, &when) == -1);
    assert(zb_time_parse_when("2026-04-31T00:00:00Z", 0, &when) == -1);
    assert(zb_time_parse_when("1900-02-29", 0, &when) == -1);
    assert(zb_time_parse_when("2028-02-29", 0, &when) == 0 && when == 1835395200000LL);
    assert(zb_time_parse_when("2000-02-29", 0, &when) == 0 && when == 951782400000LL);
    assert(zb_time_parse_when("2026-12-31", 0, &when) == 0);
    assert(zb_time_parse_when("2026-13-01", 0, &when) == -1);

    int64_t a = zb_time_mono_ms();
    int64_t b = zb_time_mono_ms();
    assert(b >= a);
    assert(zb_time_wall_ms() > 1600000000000LL);
}
