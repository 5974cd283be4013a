/*  hash_password: `zbeat hash-password`, a bcrypt hash for the monitor's
    HTTP users file (docs/http.md, "Users").

    echo -n 'the password' | zbeat hash-password
        reads the password from stdin (one line; the newline is not part of
        it), prints $2b$10$... for user/NAME/password. Exit: 0, 1 when no
        hash could be made, 2 on bad usage or an empty password.
*/
#ifndef ZB_HASH_PASSWORD_H
#define ZB_HASH_PASSWORD_H

//  argv[0] is "hash-password".
int zb_hash_password_main(int argc, char *argv[]);

#endif
