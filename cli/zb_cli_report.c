/*  zbeat report: availability per service and host. */
#include "zb_cli.h"
#include "zb_query.h"
#include "zb_report.h"
#include "zb_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int zb_cli_report_window(const zb_cli_args_t *args, int64_t now, int64_t *since, int64_t *until)
{
    *until = args->query.until_ms != ZB_STORE_NO_TIME ? args->query.until_ms : now;
    *since = args->query.since_ms != ZB_STORE_NO_TIME ? args->query.since_ms
                                                      : *until - 30LL * 86400 * 1000;
    return *since < *until ? 0 : zb_cli_bad("--since is not before --until");
}

int zb_cli_report_print(const json_t *report, const zb_cli_args_t *args)
{
    int rc = 0;
    if (args->format == ZB_CLI_JSON) {
        char *text = json_dumps(report, ZB_QUERY_JSON_FLAGS);
        rc = text && printf("%s\n", text) > 0 && fflush(stdout) == 0 ? 0 : -1;
        free(text);
    } else if (args->format == ZB_CLI_CSV)
        rc = zb_report_print_csv(report, stdout);
    else
        rc = zb_report_print_table(report, stdout);
    if (rc != 0)
        fprintf(stderr, ZB_CLI_NAME ": write error: %s\n", strerror(errno));
    return rc == 0 ? 0 : 1;
}

//  report: availability per service and host (zb_report; docs/cli.md).
int zb_cli_report(zb_store_t *store, const zb_cli_args_t *args)
{
    int64_t now = args->now_ms, since, until;
    int rc = zb_cli_report_window(args, now, &since, &until);
    if (rc != 0)
        return rc;
    char err[600], safe[700];
    json_t *report = zb_report_build(store, args->host, since, until, now, err, sizeof(err));
    if (!report) {
        zb_text_printable(err, strlen(err), safe, sizeof(safe), 0);
        fprintf(stderr, ZB_CLI_NAME ": %s\n", safe);
        return 1;
    }
    rc = zb_cli_report_print(report, args);
    json_decref(report);
    return rc;
}
