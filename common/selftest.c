/*  zb-common-selftest: the self-tests of the common modules. */
#include "zb_config.h"
#include "zb_daemon_args.h"
#include "zb_heap.h"
#include "zb_hostset.h"
#include "zb_datagram.h"
#include "zb_http_reply.h"
#include "zb_line.h"
#include "zb_log.h"
#include "zb_loop.h"
#include "zb_pace.h"
#include "zb_proto.h"
#include "zb_selftest.h"
#include "zb_text.h"
#include "zb_time.h"

static const zb_selftest_t s_tests[] = {
    {"time", zb_time_test},
    {"proto", zb_proto_test},
    {"config", zb_config_test},
    {"heap", zb_heap_test},
    {"loop", zb_loop_test},
    {"line", zb_line_test},
    {"log", zb_log_test},
    {"text", zb_text_test},
    {"http_reply", zb_http_reply_test},
    {"hostset", zb_hostset_test},
    {"datagram", zb_datagram_test},
    {"daemon_args", zb_daemon_args_test},
    {"pace", zb_pace_test},
};

ZB_SELFTEST_MAIN(s_tests)
