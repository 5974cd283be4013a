/*  hash_password: `zbeat hash-password`. See hash_password.h. */
#include "hash_password.h"

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_COST 10         // bcrypt's cost: 2^10 rounds, ~50 ms a check
#define S_PASSWORD_MAX 72 // bcrypt reads no further

static const char s_usage[] =
    "usage: zbeat hash-password < FILE\n"
    "\n"
    "Reads a password from stdin (its first line) and prints a bcrypt hash for\n"
    "the monitor's HTTP users file (docs/http.md):\n"
    "    user\n"
    "        alice\n"
    "            password = \"$2b$10$...\"\n"
    "            role = admin\n";

int zb_hash_password_main(int argc, char *argv[])
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(s_usage, stdout);
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr, "zbeat: hash-password takes no arguments (the password comes on stdin)\n");
        return 2;
    }
    int rc = 1;
    char password[S_PASSWORD_MAX + 2] = "";
    struct crypt_data *data = NULL;
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!fgets(password, sizeof(password), stdin) || password[0] == '\n' || !password[0]) {
        fprintf(stderr, "zbeat: hash-password: no password on stdin\n");
        rc = 2;
        goto done;
    }
    size_t len = strcspn(password, "\r\n");
    if (len > S_PASSWORD_MAX) {
        fprintf(stderr, "zbeat: hash-password: longer than %d bytes (bcrypt ignores the rest)\n",
                S_PASSWORD_MAX);
        rc = 2;
        goto done;
    }
    password[len] = '\0';
    //  NULL random bytes: libxcrypt reads them from the kernel.
    data = calloc(1, sizeof(*data));
    const char *hash = data && crypt_gensalt_rn("$2b$", S_COST, NULL, 0, salt, sizeof(salt))
                           ? crypt_r(password, salt, data)
                           : NULL;
    if (!hash || hash[0] == '*') {
        fprintf(stderr, "zbeat: hash-password: %s\n", strerror(errno ? errno : ENOMEM));
        goto done;
    }
    printf("%s\n", hash);
    rc = 0;
done:
    explicit_bzero(password, sizeof(password));
    if (data)
        explicit_bzero(data, sizeof(*data));
    free(data);
    return rc;
}
