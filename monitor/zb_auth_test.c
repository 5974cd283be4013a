/*  zb_auth's self-test (the module is zb_auth.c). */
#include "zb_auth.h"
#include "zb_log.h"
#include "zb_proto.h"
#include "zb_text.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  Self-test: a real CURVE handshake against the ZAP handler.

//  Sends from pub until sub gets a message or timeout; returns the User-Id
//  (static buffer) or NULL.
static const char *s_exchange(zsock_t *pub, zsock_t *sub, int timeout_ms)
{
    static char user_id[64];
    int64_t end = zb_time_mono_ms() + timeout_ms;
    zpoller_t *poller = zpoller_new(sub, NULL);
    const char *result = NULL;
    while (!result && zb_time_mono_ms() < end) {
        zstr_sendx(pub, "beat.x", "{}", NULL);
        if (zpoller_wait(poller, 20) == sub) {
            zb_msg_t *msg = NULL;
            char why[256];
            zb_msg_recv_nowait_user(sub, &msg, user_id, sizeof(user_id), why, sizeof(why));
            zb_msg_destroy(&msg);
            result = user_id;
        }
    }
    zpoller_destroy(&poller);
    return result;
}

static zsock_t *s_client(zcert_t *cert, const char *server_key, int port)
{
    zsock_t *pub = zsock_new(ZMQ_PUB);
    assert(pub);
    zcert_apply(cert, pub);
    zsock_set_curve_serverkey(pub, server_key);
    assert(zsock_connect(pub, "tcp://127.0.0.1:%d", port) == 0);
    return pub;
}

void zb_auth_test(bool verbose)
{
    (void)verbose;
    assert(zb_auth_endpoint_local("tcp://127.0.0.1:7400"));
    assert(zb_auth_endpoint_local("tcp://[::1]:7400"));
    assert(zb_auth_endpoint_local("tcp://localhost:7400"));
    assert(zb_auth_endpoint_local("ipc:///run/zbeat.sock"));
    assert(!zb_auth_endpoint_local("tcp://*:7400"));
    assert(!zb_auth_endpoint_local("tcp://0.0.0.0:7400"));
    assert(!zb_auth_endpoint_local("tcp://10.0.0.1:7400"));
    assert(!zb_auth_endpoint_local("tcp://localhost.evil.example:7400"));

    char dir[] = "/tmp/zb-auth-test-XXXXXX";
    assert(mkdtemp(dir));
    char agents[300], path[400], server_path[400];
    snprintf(agents, sizeof(agents), "%s/agents", dir);
    assert(mkdir(agents, 0700) == 0);
    zcert_t *server = zcert_new();
    zcert_t *web1 = zcert_new();
    zcert_t *web2 = zcert_new();
    zcert_t *stranger = zcert_new();
    assert(server && web1 && web2 && stranger);
    snprintf(server_path, sizeof(server_path), "%s/monitor.cert", dir);
    assert(zcert_save(server, server_path) == 0);
    zcert_set_meta(web1, "host", "web-1");
    zcert_set_meta(web2, "host", "web-2");
    snprintf(path, sizeof(path), "%s/web-1.cert", agents);
    assert(zcert_save_public(web1, path) == 0);
    snprintf(path, sizeof(path), "%s/web-2.cert", agents);
    assert(zcert_save_public(web2, path) == 0);
    //  The same key twice (a backup copy): tolerated, same host.
    snprintf(path, sizeof(path), "%s/web-2.cert.bak", agents);
    assert(zcert_save_public(web2, path) == 0);

    //  Configuration checks.
    char cert_buf[400], agents_buf[400], err[512];
    zb_config_t *config =
        zb_config_load_text("monitor\n    agents = /nonexistent\n", "t", err, sizeof(err));
    assert(config);
    zconfig_t *section = zconfig_locate(zb_config_root(config), "monitor");
    zb_auth_config_load(config, section, cert_buf, sizeof(cert_buf), agents_buf,
                        sizeof(agents_buf));
    assert(zb_config_error(config) && strstr(zb_config_error(config), "monitor/agents: needs"));
    zb_config_destroy(&config);
    char text[1200];
    snprintf(text, sizeof(text), "monitor\n    cert = %s\n    agents = %s\n", server_path, path);
    config = zb_config_load_text(text, "t", err, sizeof(err));
    zb_auth_config_load(config, zconfig_locate(zb_config_root(config), "monitor"), cert_buf,
                        sizeof(cert_buf), agents_buf, sizeof(agents_buf));
    assert(zb_config_error(config) && strstr(zb_config_error(config), "is not a directory"));
    zb_config_destroy(&config);
    snprintf(text, sizeof(text), "monitor\n    cert = %s/web-1.cert\n    agents = %s\n", agents,
             agents);
    config = zb_config_load_text(text, "t", err, sizeof(err));
    zb_auth_config_load(config, zconfig_locate(zb_config_root(config), "monitor"), cert_buf,
                        sizeof(cert_buf), agents_buf, sizeof(agents_buf));
    assert(zb_config_error(config) && strstr(zb_config_error(config), "holds no secret key"));
    zb_config_destroy(&config);
    snprintf(text, sizeof(text), "monitor\n    cert = %s_secret\n    agents = %s\n", server_path,
             agents);
    config = zb_config_load_text(text, "t", err, sizeof(err));
    zb_auth_config_load(config, zconfig_locate(zb_config_root(config), "monitor"), cert_buf,
                        sizeof(cert_buf), agents_buf, sizeof(agents_buf));
    assert(!zb_config_error(config));
    assert(strcmp(agents_buf, agents) == 0);
    zb_config_destroy(&config);

    //  CURVE: listed keys pass the handshake and bind their host.
    zsock_t *sub = zsock_new(ZMQ_SUB);
    assert(sub);
    zsock_set_subscribe(sub, "");
    zb_auth_t *auth = zb_auth_new(sub, cert_buf, agents, "tcp://127.0.0.1:*", err, sizeof(err));
    assert(auth && zb_auth_enabled(auth));
    int port = zsock_bind(sub, "tcp://127.0.0.1:*");
    assert(port > 0);
    zsock_t *pub1 = s_client(web1, zcert_public_txt(server), port);
    const char *user = s_exchange(pub1, sub, 5000);
    assert(user && strcmp(user, zcert_public_txt(web1)) == 0);
    assert(zb_auth_check(auth, user, "web-1") == 0);
    assert(zb_auth_check(auth, user, "web-2") == -1); // forged
    zsock_t *pub2 = s_client(web2, zcert_public_txt(server), port);
    user = s_exchange(pub2, sub, 5000);
    assert(user && strcmp(user, zcert_public_txt(web2)) == 0);
    assert(zb_auth_check(auth, user, "web-2") == 0);

    //  A key not listed never gets a message through.
    zsock_t *pub3 = s_client(stranger, zcert_public_txt(server), port);
    zpoller_t *poller = zpoller_new(sub, NULL);
    for (int i = 0; i < 10; i++) {
        zstr_sendx(pub3, "beat.x", "{}", NULL);
        while (zpoller_wait(poller, 20) == sub) {
            zb_msg_t *msg = NULL;
            char id[64], why[256];
            zb_msg_recv_nowait_user(sub, &msg, id, sizeof(id), why, sizeof(why));
            zb_msg_destroy(&msg);
            assert(strcmp(id, zcert_public_txt(stranger)) != 0);
        }
    }
    zpoller_destroy(&poller);
    zb_auth_stats_t stats;
    zb_auth_stats(auth, &stats);
    assert(stats.refused >= 1 && stats.forged == 1 && stats.revoked == 0 && stats.keys == 2);

    //  Revocation: the file goes, the rescan sees it, the open connection's
    //  messages are refused from then on.
    snprintf(path, sizeof(path), "%s/web-1.cert", agents);
    assert(unlink(path) == 0);
    zb_auth_rescan(auth);
    assert(zb_auth_check(auth, zcert_public_txt(web1), "web-1") == -1);
    assert(zb_auth_check(auth, "", "web-1") == -1);
    zb_auth_stats(auth, &stats);
    assert(stats.revoked == 2 && stats.keys == 1);

    //  A second socket (the replay ROUTER) secured the same way: the same
    //  allow-list admits web-2 and tells its key; the stranger gets nothing in.
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    assert(router);
    assert(zb_auth_secure(auth, router, "tcp://127.0.0.1:*", err, sizeof(err)) == 0);
    int router_port = zsock_bind(router, "tcp://127.0.0.1:*");
    assert(router_port > 0);
    zsock_t *dealers[2] = {zsock_new(ZMQ_DEALER), zsock_new(ZMQ_DEALER)};
    zcert_t *dealer_certs[2] = {web2, stranger};
    for (int i = 0; i < 2; i++) {
        assert(dealers[i]);
        zcert_apply(dealer_certs[i], dealers[i]);
        zsock_set_curve_serverkey(dealers[i], zcert_public_txt(server));
        assert(zsock_connect(dealers[i], "tcp://127.0.0.1:%d", router_port) == 0);
        zstr_sendx(dealers[i], "STATUS", i ? "stranger" : "web-2", NULL);
    }
    zmsg_t *msg = zmsg_recv(router); // web-2's, the only one that can come
    assert(msg && zmsg_size(msg) == 3);
    zframe_t *routing = zmsg_first(msg);
    zframe_t *kind = zmsg_next(msg);
    (void)routing;
    assert(zframe_streq(kind, "STATUS"));
    const char *router_user = zframe_meta(kind, "User-Id");
    assert(router_user && strcmp(router_user, zcert_public_txt(web2)) == 0);
    assert(zb_auth_check(auth, router_user, "web-2") == 0);
    zmsg_destroy(&msg);
    poller = zpoller_new(router, NULL);
    assert(zpoller_wait(poller, 200) == NULL);
    zpoller_destroy(&poller);
    zb_auth_forget(auth, router);
    zsock_destroy(&dealers[0]);
    zsock_destroy(&dealers[1]);
    zsock_destroy(&router);

    zsock_destroy(&pub1);
    zsock_destroy(&pub2);
    zsock_destroy(&pub3);
    zb_auth_destroy(&auth);
    assert(auth == NULL);
    zb_auth_destroy(&auth);
    zsock_destroy(&sub);

    //  Plaintext: everything passes.
    sub = zsock_new(ZMQ_SUB);
    auth = zb_auth_new(sub, "", "", "tcp://127.0.0.1:*", err, sizeof(err));
    assert(auth && !zb_auth_enabled(auth));
    assert(zb_auth_check(auth, "", "anything") == 0);
    zb_auth_destroy(&auth);
    zsock_destroy(&sub);

    zcert_destroy(&server);
    zcert_destroy(&web1);
    zcert_destroy(&web2);
    zcert_destroy(&stranger);
    zdir_t *tree = zdir_new(dir, NULL);
    if (tree)
        zdir_remove(tree, true);
    zdir_destroy(&tree);
}
