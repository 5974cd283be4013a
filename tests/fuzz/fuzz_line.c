/*  libFuzzer harness for the push listener's line parser. A parsed command
    must name a valid service when it is a HELLO, and nothing else. */
#include "zb_line.h"

#include <assert.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char line[ZB_LINE_MAX + 1];
    if (size > ZB_LINE_MAX)
        size = ZB_LINE_MAX;
    memcpy(line, data, size);
    line[size] = '\0';
    zb_line_cmd_t cmd;
    const char *reason = NULL;
    if (zb_line_parse(line, &cmd, &reason) == 0) {
        if (cmd.type == ZB_LINE_HELLO)
            assert(zb_name_valid(cmd.service));
        assert(cmd.interval_ms >= 0);
    } else
        assert(reason && *reason);
    return 0;
}
