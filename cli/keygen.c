/*  keygen: CURVE key pairs for agents and the monitor. See keygen.h. */
#include "keygen.h"
#include "zb_hostset.h"
#include "zb_proto.h"
#include "zb_time.h"
#include "zb_usage.h"

#include <czmq.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_NAME "zbeat keygen"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: " S_NAME " --host NAME --out DIR [--force]\n"
            "       " S_NAME " --monitor --out DIR [--force]\n"
            "       " S_NAME " --relay PATTERNS --out DIR [--force]\n"
            "\n"
            "  --host NAME  an agent's key pair, bound to host NAME:\n"
            "               DIR/NAME.cert (public: into the monitor's agents directory)\n"
            "               DIR/NAME.cert_secret (secret: the agent's agent/cert)\n"
            "  --monitor    the monitor's key pair: DIR/monitor.cert (public: every\n"
            "               agent's agent/monitor-cert), DIR/monitor.cert_secret (secret:\n"
            "               monitor/cert)\n"
            "  --relay PATTERNS  a zbeat-relay's key pair, trusted by monitors for the\n"
            "               hosts PATTERNS names (web-*,db-*; * for all): DIR/relay.cert\n"
            "               (public: into each shard's agents directory, its relay line\n"
            "               narrowed to that shard's hosts), DIR/relay.cert_secret (relay/cert)\n"
            "  --out DIR    where to write (created if missing)\n"
            "  --force      replace existing files (the old key stops working)\n");
}

static int s_bad(const char *format, const char *arg)
{
    return zb_usage_bad(S_NAME, format, arg);
}

//  mkdir -p, the last component private when we create it.
static int s_make_dir(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

//  Writes through a temporary name and renames: a monitor scanning the
//  directory never reads half a certificate.
static int s_save(zcert_t *cert, const char *path, bool secret)
{
    char tmp[4200];
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path + 1) : 0;
    snprintf(tmp, sizeof(tmp), "%.*s.%s.%d.tmp", (int)dir_len, path, path + dir_len, (int)getpid());
    int rc = secret ? zcert_save_secret(cert, tmp) : zcert_save_public(cert, tmp);
    if (rc == 0)
        rc = chmod(tmp, secret ? 0600 : 0644);
    if (rc == 0)
        rc = rename(tmp, path);
    if (rc != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
    }
    return rc;
}

int zb_keygen_main(int argc, char *argv[])
{
    const char *host = NULL, *out = NULL, *relay = NULL;
    bool monitor = false, force = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(arg, "--monitor") == 0)
            monitor = true;
        else if (strcmp(arg, "--force") == 0)
            force = true;
        else if (strcmp(arg, "--host") == 0 || strcmp(arg, "--out") == 0 ||
                 strcmp(arg, "--relay") == 0) {
            if (i + 1 == argc)
                return zb_usage_missing(S_NAME, arg);
            *(strcmp(arg, "--host") == 0 ? &host : arg[2] == 'o' ? &out : &relay) = argv[++i];
        } else if (strncmp(arg, "--relay=", 8) == 0)
            relay = arg + 8;
        else if (strncmp(arg, "--host=", 7) == 0)
            host = arg + 7;
        else if (strncmp(arg, "--out=", 6) == 0)
            out = arg + 6;
        else
            return s_bad("unknown argument '%.100s'", arg);
    }
    if (!out || !*out)
        return s_bad("%s", "--out DIR is required");
    if (monitor + (host != NULL) + (relay != NULL) != 1)
        return s_bad("%s", "give exactly one of --host NAME, --monitor and --relay PATTERNS");
    char why[256];
    if (relay && (!*relay || zb_hostset_check(relay, why, sizeof(why)) != 0))
        return s_bad("--relay: %s", *relay ? why : "give the hosts' patterns (web-*,db-*, or *)");
    if (host && !zb_name_valid(host))
        return s_bad("--host: \"%.100s\" is not a valid host name (1 to 64 of A-Z a-z 0-9 . _ -, "
                     "starting with a letter or digit)",
                     host);
    const char *name = monitor ? "monitor" : relay ? "relay" : host;
    char public_path[4200], secret_path[4300];
    snprintf(public_path, sizeof(public_path), "%s/%s.cert", out, name);
    snprintf(secret_path, sizeof(secret_path), "%s_secret", public_path);
    if (!force && (access(public_path, F_OK) == 0 || access(secret_path, F_OK) == 0)) {
        fprintf(stderr,
                S_NAME ": %s or its _secret exists already: not replacing a key (--force "
                       "does)\n",
                public_path);
        return 1;
    }
    if (s_make_dir(out) != 0) {
        fprintf(stderr, S_NAME ": %s: %s\n", out, strerror(errno));
        return 1;
    }
    //  Signals are ours: czmq's handler would swallow a Ctrl-C.
    zsys_handler_set(NULL);
    zcert_t *cert = zcert_new();
    if (!cert) {
        fprintf(stderr, S_NAME ": cannot make a key pair (libzmq without CURVE?)\n");
        return 1;
    }
    char now[40];
    zb_time_format_rfc3339(zb_time_wall_ms(), now, sizeof(now));
    zcert_set_meta(cert, "role", "%s", monitor ? "monitor" : relay ? "relay" : "agent");
    if (relay)
        zcert_set_meta(cert, "relay", "%s", relay);
    if (host)
        zcert_set_meta(cert, "host", "%s", host);
    zcert_set_meta(cert, "created", "%s", now);
    int rc = 0;
    if (s_save(cert, secret_path, true) != 0 || s_save(cert, public_path, false) != 0) {
        fprintf(stderr, S_NAME ": cannot write %s: %s\n", out, strerror(errno));
        rc = 1;
    } else if (monitor)
        printf("%s\n    public: give it to every agent (agent/monitor-cert)\n"
               "%s\n    secret: the monitor's monitor/cert; keep it private\n",
               public_path, secret_path);
    else if (relay)
        printf(
            "%s\n    public: copy it into each shard monitor's agents directory (monitor/agents);\n"
            "    its relay line there says which hosts that monitor trusts the relay for\n"
            "%s\n    secret: the relay's relay/cert; keep it private\n",
            public_path, secret_path);
    else
        printf("%s\n    public: copy it into the monitor's agents directory (monitor/agents)\n"
               "%s\n    secret: stays on %s (agent/cert); keep it private\n",
               public_path, secret_path, host);
    zcert_destroy(&cert);
    return rc;
}
