/*  zb_curve: the agent's CURVE keys. See zb_curve.h. */
#include "zb_curve.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_NO_SECRET "0000000000000000000000000000000000000000" // Z85 of 32 zero bytes

//  zcert_load (path) reads path_secret when it exists, else path; the
//  secret key is all zeros when the file that was read holds none.
static zcert_t *s_load(const char *path, char *why, size_t whysize)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, whysize, "\"%.200s\": no such file", path);
        return NULL;
    }
    zcert_t *cert = zcert_load(path);
    if (!cert)
        snprintf(why, whysize, "\"%.200s\" cannot be read as a certificate", path);
    return cert;
}

int zb_curve_load(const char *cert, const char *monitor_cert, zb_curve_keys_t *keys, int *which,
                  char *why, size_t whysize)
{
    assert(cert && monitor_cert && keys && which && why);
    memset(keys, 0, sizeof(*keys));
    *which = 0;
    zcert_t *own = s_load(cert, why, whysize);
    if (!own)
        return -1;
    int rc = -1;
    zcert_t *server = NULL;
    if (strcmp(zcert_secret_txt(own), S_NO_SECRET) == 0) {
        snprintf(why, whysize,
                 "\"%.200s\" holds no secret key (give this agent's .cert_secret file)", cert);
        goto done;
    }
    *which = 1;
    server = s_load(monitor_cert, why, whysize);
    if (!server)
        goto done;
    snprintf(keys->public_key, sizeof(keys->public_key), "%s", zcert_public_txt(own));
    snprintf(keys->secret_key, sizeof(keys->secret_key), "%s", zcert_secret_txt(own));
    snprintf(keys->server_key, sizeof(keys->server_key), "%s", zcert_public_txt(server));
    const char *host = zcert_meta(own, "host");
    if (host && zb_name_valid(host))
        snprintf(keys->host, sizeof(keys->host), "%s", host);
    keys->on = true;
    rc = 0;
done:
    zcert_destroy(&server);
    zcert_destroy(&own);
    return rc;
}

void zb_curve_apply(const zb_curve_keys_t *keys, zsock_t *sock)
{
    assert(keys && sock);
    if (!keys->on)
        return;
    zsock_set_curve_publickey(sock, keys->public_key);
    zsock_set_curve_secretkey(sock, keys->secret_key);
    zsock_set_curve_serverkey(sock, keys->server_key);
}

bool zb_curve_same(const zb_curve_keys_t *a, const zb_curve_keys_t *b)
{
    assert(a && b);
    return a->on == b->on && strcmp(a->public_key, b->public_key) == 0 &&
           strcmp(a->secret_key, b->secret_key) == 0 && strcmp(a->server_key, b->server_key) == 0;
}

void zb_curve_test(bool verbose)
{
    (void)verbose;
    char dir[] = "/tmp/zb-curve-test-XXXXXX";
    assert(mkdtemp(dir));
    char own_path[300], server_path[300], why[512];
    snprintf(own_path, sizeof(own_path), "%s/web-1.cert", dir);
    snprintf(server_path, sizeof(server_path), "%s/monitor.cert", dir);
    zcert_t *own = zcert_new();
    zcert_t *server = zcert_new();
    assert(own && server);
    zcert_set_meta(own, "host", "web-1");
    assert(zcert_save(own, own_path) == 0);
    assert(zcert_save(server, server_path) == 0);

    zb_curve_keys_t keys, again;
    int which;
    char secret_path[320];
    snprintf(secret_path, sizeof(secret_path), "%s_secret", own_path);
    assert(zb_curve_load(secret_path, server_path, &keys, &which, why, sizeof(why)) == 0);
    assert(keys.on && strcmp(keys.host, "web-1") == 0);
    assert(strcmp(keys.public_key, zcert_public_txt(own)) == 0);
    assert(strcmp(keys.secret_key, zcert_secret_txt(own)) == 0);
    assert(strcmp(keys.server_key, zcert_public_txt(server)) == 0);
    assert(zb_curve_load(secret_path, server_path, &again, &which, why, sizeof(why)) == 0);
    assert(zb_curve_same(&keys, &again));

    //  The public file alone is not enough to be a client.
    unlink(secret_path);
    assert(zb_curve_load(own_path, server_path, &keys, &which, why, sizeof(why)) == -1);
    assert(which == 0 && strstr(why, "holds no secret key"));
    assert(zb_curve_load("/nonexistent", server_path, &keys, &which, why, sizeof(why)) == -1);
    assert(which == 0 && strstr(why, "no such file") && !keys.on);
    assert(zcert_save(own, own_path) == 0);
    assert(zb_curve_load(secret_path, "/nonexistent", &keys, &which, why, sizeof(why)) == -1);
    assert(which == 1 && strstr(why, "no such file"));
    assert(!zb_curve_same(&keys, &again));

    zsock_t *pub = zsock_new(ZMQ_PUB);
    assert(pub);
    zb_curve_apply(&again, pub);
    char *key = zsock_curve_serverkey(pub);
    assert(key && strcmp(key, zcert_public_txt(server)) == 0);
    free(key);
    zsock_destroy(&pub);

    zcert_destroy(&own);
    zcert_destroy(&server);
    zdir_t *tree = zdir_new(dir, NULL);
    if (tree)
        zdir_remove(tree, true);
    zdir_destroy(&tree);
}
