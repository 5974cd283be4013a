/*  zb_http_users: the users file and Basic credentials. See zb_http_users.h. */
#include "zb_http_users.h"
#include "zb_config.h"

#include <assert.h>
#include <crypt.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_BCRYPT_LEN 60  // $2b$NN$ + 22 salt + 31 hash characters
#define S_BCRYPT_COST 10 // ~50 ms a check on one core: slow for guessing, fine for a page

typedef struct {
    char name[ZB_HTTP_USER_NAME_MAX + 1]; // zero-padded: compared in full
    char hash[CRYPT_OUTPUT_SIZE];
    zb_http_role_t role;
} s_user_t;

struct _zb_http_users_t {
    size_t count;
    s_user_t users[]; // count of them
};

//  Equal or not, in a time that depends on the length only.
static bool s_same(const char *a, const char *b, size_t len)
{
    unsigned char diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

static void s_user_load(zb_config_t *config, zconfig_t *node, s_user_t *user)
{
    static const char *const keys[] = {"password", "role", NULL};
    const char *name = zconfig_name(node);
    size_t len = strlen(name);
    if (len == 0 || len > ZB_HTTP_USER_NAME_MAX || strchr(name, ':')) {
        zb_config_fail(config, node, "a user name is 1 to %d bytes, without ':'",
                       ZB_HTTP_USER_NAME_MAX);
        return;
    }
    if (zconfig_value(node) && *zconfig_value(node)) {
        zb_config_fail(config, node, "is a section: it takes no value");
        return;
    }
    zb_config_check_known(config, node, keys);
    memcpy(user->name, name, len);
    const char *hash = zb_config_string(config, node, "password", NULL);
    zconfig_t *key = zconfig_locate(node, "password");
    if (!hash || !*hash)
        zb_config_fail(config, key ? key : node,
                       "no password hash (zbeat hash-password makes one)");
    else if (strncmp(hash, "$2", 2) != 0 || strlen(hash) != S_BCRYPT_LEN ||
             crypt_checksalt(hash) != CRYPT_SALT_OK)
        zb_config_fail(config, key, "not a bcrypt hash ($2b$...; zbeat hash-password makes one)");
    else
        snprintf(user->hash, sizeof(user->hash), "%s", hash);
    const char *role = zb_config_string(config, node, "role", "read");
    if (strcmp(role, "read") == 0)
        user->role = ZB_HTTP_ROLE_READ;
    else if (strcmp(role, "admin") == 0)
        user->role = ZB_HTTP_ROLE_ADMIN;
    else
        zb_config_fail(config, zconfig_locate(node, "role"), "\"%.40s\" is not read or admin",
                       role);
}

zb_http_users_t *zb_http_users_load(const char *path, char *err, size_t errsize)
{
    assert(path && err);
    static const char *const sections[] = {"user", NULL};
    zb_http_users_t *self = NULL;
    zb_config_t *config = zb_config_load(path, err, errsize);
    if (!config)
        return NULL;
    zconfig_t *root = zb_config_root(config);
    zb_config_check_known(config, root, sections);
    zconfig_t *section = zconfig_locate(root, "user");
    size_t count = 0;
    for (zconfig_t *child = section ? zconfig_child(section) : NULL; child;
         child = zconfig_next(child))
        count++;
    if (count == 0)
        zb_config_fail(config, section, "no user: add user/NAME/password and user/NAME/role");
    else if (count > ZB_HTTP_USERS_MAX)
        zb_config_fail(config, section, "more than %d users", ZB_HTTP_USERS_MAX);
    else if (!(self = calloc(1, sizeof(*self) + count * sizeof(s_user_t))))
        zb_config_fail(config, NULL, "out of memory");
    else {
        for (zconfig_t *child = zconfig_child(section); child; child = zconfig_next(child)) {
            for (zconfig_t *other = zconfig_next(child); other; other = zconfig_next(other))
                if (strcmp(zconfig_name(child), zconfig_name(other)) == 0)
                    zb_config_fail(config, other, "given twice");
            s_user_load(config, child, &self->users[self->count++]);
        }
    }
    if (zb_config_close(&config, err, errsize) != 0) {
        free(self);
        self = NULL;
    }
    return self;
}

void zb_http_users_destroy(zb_http_users_t **self_p)
{
    assert(self_p);
    free(*self_p);
    *self_p = NULL;
}

size_t zb_http_users_count(const zb_http_users_t *self)
{
    assert(self);
    return self->count;
}

zb_http_role_t zb_http_users_check(const zb_http_users_t *self, const char *name,
                                   const char *password)
{
    assert(self && name && password);
    char padded[ZB_HTTP_USER_NAME_MAX + 1] = {0};
    size_t len = strlen(name);
    if (len <= ZB_HTTP_USER_NAME_MAX)
        memcpy(padded, name, len);
    //  Every name compared in full, no early exit.
    const s_user_t *match = NULL;
    for (size_t i = 0; i < self->count; i++) {
        bool same = s_same(padded, self->users[i].name, sizeof(padded));
        if (same && !match)
            match = &self->users[i];
    }
    if (len > ZB_HTTP_USER_NAME_MAX)
        match = NULL;
    //  bcrypt runs either way, so that a wrong name takes as long as a
    //  wrong password.
    const char *hash = match ? match->hash : self->users[0].hash;
    struct crypt_data *data = calloc(1, sizeof(*data));
    if (!data)
        return ZB_HTTP_ROLE_NONE;
    const char *out = crypt_r(password, hash, data);
    bool ok =
        out && out[0] != '*' && strlen(out) == strlen(hash) && s_same(out, hash, strlen(hash));
    free(data);
    return ok && match ? match->role : ZB_HTTP_ROLE_NONE;
}

int zb_http_users_hash(const char *password, char *hash, size_t size, char *err, size_t errsize)
{
    assert(password && hash && err);
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *data = NULL;
    int rc = -1;
    //  NULL random bytes: libxcrypt reads them from the kernel.
    if (!crypt_gensalt_rn("$2b$", S_BCRYPT_COST, NULL, 0, salt, sizeof(salt))) {
        snprintf(err, errsize, "cannot make a salt: %s", strerror(errno));
        goto done;
    }
    data = calloc(1, sizeof(*data));
    const char *out = data ? crypt_r(password, salt, data) : NULL;
    if (!out || out[0] == '*' || strlen(out) >= size) {
        snprintf(err, errsize, "cannot hash the password: %s", strerror(errno ? errno : ENOMEM));
        goto done;
    }
    snprintf(hash, size, "%s", out);
    rc = 0;
done:
    free(data);
    return rc;
}

void zb_http_users_test(bool verbose)
{
    (void)verbose;
    char err[600], hash[CRYPT_OUTPUT_SIZE], other[CRYPT_OUTPUT_SIZE];
    assert(zb_http_users_hash("s3cret", hash, sizeof(hash), err, sizeof(err)) == 0);
    assert(strncmp(hash, "$2b$10$", 7) == 0);
    assert(zb_http_users_hash("s3cret", other, sizeof(other), err, sizeof(err)) == 0);
    assert(strcmp(hash, other) != 0); // a fresh salt each time

    char dir[] = "/tmp/zb_http_users_test.XXXXXX";
    assert(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/users", dir);
    FILE *file = fopen(path, "w");
    assert(file);
    fprintf(file,
            "user\n    alice\n        password = \"%s\"\n        role = admin\n"
            "    bob\n        password = \"%s\"\n",
            hash, other);
    fclose(file);
    zb_http_users_t *users = zb_http_users_load(path, err, sizeof(err));
    assert(users && zb_http_users_count(users) == 2);
    assert(zb_http_users_check(users, "alice", "s3cret") == ZB_HTTP_ROLE_ADMIN);
    assert(zb_http_users_check(users, "bob", "s3cret") == ZB_HTTP_ROLE_READ);
    assert(zb_http_users_check(users, "alice", "s3cre") == ZB_HTTP_ROLE_NONE);
    assert(zb_http_users_check(users, "alic", "s3cret") == ZB_HTTP_ROLE_NONE);
    assert(zb_http_users_check(users, "alicee", "s3cret") == ZB_HTTP_ROLE_NONE);
    assert(zb_http_users_check(users, "", "") == ZB_HTTP_ROLE_NONE);
    zb_http_users_destroy(&users);
    zb_http_users_destroy(&users); // harmless on NULL

    //  Bad files: one line naming the file and the key.
    const char *bad[][2] = {
        {"user\n    carol\n        password = plain\n", "user/carol/password: not a bcrypt"},
        {"user\n    carol\n        role = root\n", "no password hash"},
        {"user\n    carol\n        password = \"$2b$10$short\"\n", "not a bcrypt"},
        {"user\n", "no user"},
        {"users\n    x\n", "users"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        file = fopen(path, "w");
        assert(file);
        fputs(bad[i][0], file);
        fclose(file);
        assert(!zb_http_users_load(path, err, sizeof(err)));
        assert(strstr(err, path) && strstr(err, bad[i][1]));
    }
    unlink(path);
    assert(!zb_http_users_load(path, err, sizeof(err)));
    rmdir(dir);
}
