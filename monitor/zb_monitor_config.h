/*  zb_monitor_config: the monitor's settings, from defaults, a ZPL file, the
    environment and flags (in rising precedence). docs/config-monitor.md.

    A plain struct rather than an opaque class: it is a bag of values that
    main fills layer by layer and the monitor reads, nothing more.
*/
#ifndef ZB_MONITOR_CONFIG_H
#define ZB_MONITOR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ZB_MONITOR_BIND_DEFAULT "tcp://*:7400"
#define ZB_MONITOR_DB_DEFAULT "zbeat.db"
#define ZB_MONITOR_LIVENESS_DEFAULT 5
#define ZB_MONITOR_MAX_HOSTS 10000 // monitor/max-hosts, the default
#define ZB_MONITOR_MAX_HOSTS_LIMIT 1000000
#define ZB_MONITOR_LIVENESS_MIN 1
#define ZB_MONITOR_LIVENESS_MAX 100
#define ZB_MONITOR_RETENTION_DEFAULT_MS (400LL * 86400 * 1000)
#define ZB_MONITOR_RETENTION_MIN_MS (3600LL * 1000)
#define ZB_MONITOR_RETENTION_MAX_MS (100LL * 365 * 86400 * 1000)

#define ZB_MONITOR_LIVENESS_MIN_DEFAULT_MS 1000
#define ZB_MONITOR_LIVENESS_MAX_DEFAULT_MS 10000
#define ZB_MONITOR_PHI_DEFAULT 8
#define ZB_MONITOR_FLAP_THRESHOLD_DEFAULT 6
#define ZB_MONITOR_FLAP_WINDOW_DEFAULT_MS (10LL * 60 * 1000)
#define ZB_MONITOR_CHANNELS_MAX 16
#define ZB_CHANNEL_TIMEOUT_DEFAULT_MS 10000
#define ZB_CHANNEL_RETRY_FOR_DEFAULT_MS (24LL * 3600 * 1000)
#define ZB_CHANNEL_BACKOFF_MAX_DEFAULT_MS (5LL * 60 * 1000)

//  How a webhook's body looks: the alert JSON itself, or a chat message.
typedef enum { ZB_TEMPLATE_JSON, ZB_TEMPLATE_SLACK, ZB_TEMPLATE_MATTERMOST } zb_template_t;

//  One alert channel (section alert/<name>): exactly one of exec, webhook,
//  alertmanager, email (zb_monitor_config_alert.c reads it).
typedef struct {
    char name[65];           // the user's name for it (a valid zbeat name)
    char exec[1024];         // command line run by /bin/sh -c, or ""
    char webhook[2048];      // http(s) URL, or ""
    zb_template_t template;  // webhook body
    char hosts[512];         // comma-separated glob patterns, "" = every host
    char services[512];      // comma-separated glob patterns, "" = every service
    int64_t timeout_ms;      // one attempt
    int64_t retry_for_ms;    // an alert undelivered this long after it was made fails
    int64_t backoff_max_ms;  // cap of the exponential backoff between attempts
    int64_t after_ms;        // grace: an outage over this soon sends nothing here; 0 = none
    char headers[4096];      // webhook, alertmanager: extra "Name: value" lines, \n-ended
    char alertmanager[2048]; // Alertmanager base URL(s), comma-separated, or ""
    char email[1024];        // recipients, comma-separated, or ""
    char smtp[1024];         // email: smtp:// or smtps:// URL (user:password@ for AUTH)
    char from[256];          // email: the sender address
    int64_t resend_ms;       // alertmanager: firing alerts are restated this often
    char monitor_name[65];   // alertmanager: the zbeat_monitor label
} zb_channel_config_t;

typedef struct {
    char bind[1024];         // ZeroMQ endpoint(s) the SUB socket binds, comma-separated
    char db[4096];           // SQLite file
    int liveness;            // beats a host may miss before it is silent
    int64_t liveness_min_ms; // the adaptive silence threshold's bounds (zb_detector)
    int64_t liveness_max_ms;
    int phi;                  // its suspicion threshold: -log10 of false-silence odds per arrival
    char udp[256];            // HOST:PORT of the liveness datagram socket (zb_pulse), "" = none
    int64_t retention_ms;     // outages that ended longer ago are pruned
    char publish[1024];       // ZeroMQ endpoint(s) the PUB socket of alerts binds, "" = none
    char replay[1024];        // ZeroMQ endpoint(s) the replay ROUTER binds (zb_replay), "" = none
    char http[256];           // HOST:PORT of the HTTP server (docs/http.md), "" = none
    char http_tls_cert[4096]; // PEM certificate: the HTTP server speaks TLS; "" = plain
    char http_tls_key[4096];  // its PEM key
    char http_users[4096];    // users file (bcrypt hashes, roles); "" = no authentication
    bool http_metrics_auth;   // /metrics wants credentials too
    char metrics_detail[16];  // /metrics's series: all, problems, none (zb_http_detail_t)
    char cert[4096];          // the monitor's secret certificate: CURVE on; "" = plaintext
    char agents[4096];        // directory of admitted agents' public certificates (zb_auth)
    int flap_threshold;       // more transitions than this in the window is flapping; 0 = off
    int64_t flap_window_ms;
    int64_t flap_quiet_ms;    // stable this long ends flapping
    int64_t repeat_ms;        // reminder period while an outage stays open, 0 = none
    int64_t stopped_alert_ms; // a host stopped this long makes one alert, 0 = never
    int64_t tls_warn_ms;      // a certificate this close to its notAfter alerts, 0 = never
    int max_services;         // services an agent may report: sizes the frame limit (zb_intake)
    int max_hosts;            // hosts tracked; messages of more are dropped (zb_fleet)
    char hosts[1024]; // the hosts this monitor owns (a shard): zb_hostset patterns, "" = all
    size_t channel_count;
    zb_channel_config_t channels[ZB_MONITOR_CHANNELS_MAX];
} zb_monitor_config_t;

void zb_monitor_config_defaults(zb_monitor_config_t *self);

//  Overlays the file's settings. Returns 0, or -1 with one line for the user
//  in err: "FILE:LINE: message" or "FILE: monitor/key: message".
int zb_monitor_config_load(zb_monitor_config_t *self, const char *path, char *err, size_t errsize);

//  Checks and sets single values, for the environment and flags; `what`
//  names the source in err ("--liveness", "ZBEAT_BIND").
int zb_monitor_config_set_bind(zb_monitor_config_t *self, const char *value, const char *what,
                               char *err, size_t errsize);
int zb_monitor_config_set_db(zb_monitor_config_t *self, const char *value, const char *what,
                             char *err, size_t errsize);
int zb_monitor_config_set_http(zb_monitor_config_t *self, const char *value, const char *what,
                               char *err, size_t errsize);
int zb_monitor_config_set_liveness(zb_monitor_config_t *self, const char *value, const char *what,
                                   char *err, size_t errsize);

//  What a reload cannot change in a running monitor (db, bind, cert,
//  agents, replay, max-services, hosts): 0, or -1 with "monitor/KEY: cannot change
//  on reload; restart" in err.
int zb_monitor_config_reloadable(const zb_monitor_config_t *old, const zb_monitor_config_t *fresh,
                                 char *err, size_t errsize);

//  Logs what a reload changes of liveness, retention and the detector
//  ("reload: liveness 5 -> 2").
void zb_monitor_config_log_changes(const zb_monitor_config_t *old,
                                   const zb_monitor_config_t *fresh);

//  Why a comma-separated endpoint list ("tcp://*:7400,ipc:///run/x") is not
//  one ("is empty", "needs a port ..."), or NULL. Shared with zbeat-relay.
const char *zb_monitor_config_endpoints_problem(const char *value);
//  An endpoint list into buf (size bytes): 0, or -1 with err saying
//  `what: "value" problem` or `what: too long`. Shared with zbeat-relay.
int zb_monitor_config_endpoints_set(char *buf, size_t size, const char *value, const char *what,
                                    char *err, size_t errsize);

//  Prints the docs' cells of every directive of the monitor section, one
//  line each ("monitor\tKEY\tTYPE\tDEFAULT\tBOUNDS"), in the order they are
//  read, then those of an alert channel ("alert\tKEY\t..."):
//  `zbeat-monitor --config-table`, for scripts/config_docs.py.
void zb_monitor_config_print_table(FILE *out);

void zb_monitor_config_test(bool verbose);

#endif
