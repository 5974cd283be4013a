/*  libFuzzer harness for the config loader: ZPL parsing (czmq's zconfig
    under zb_config_load) and every typed getter over every key of the
    resulting tree. Every error must name the file. */
#include "zb_config.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *s_path = "fuzz.cfg";

//  Reads every node as every type: none may crash, whatever the text.
static void s_walk(zb_config_t *config, zconfig_t *section, int depth)
{
    static const char *const none[] = {NULL};
    for (zconfig_t *node = zconfig_child(section); node && depth < 16; node = zconfig_next(node)) {
        const char *key = zconfig_name(node);
        int64_t n;
        char bytes[64];
        size_t len;
        zb_config_string(config, section, key, "");
        zb_config_duration(config, section, key, 0, 0, INT64_MAX, &n);
        zb_config_int(config, section, key, 0, INT64_MIN, INT64_MAX, &n);
        zb_config_bytes(config, section, key, bytes, sizeof(bytes), &len);
        s_walk(config, node, depth + 1);
    }
    zb_config_check_known(config, section, none);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    assert(text);
    memcpy(text, data, size);
    text[size] = '\0';
    char err[1024];
    zb_config_t *config = zb_config_load_text(text, s_path, err, sizeof(err));
    free(text);
    if (config) {
        s_walk(config, zb_config_root(config), 0);
        const char *error = zb_config_error(config);
        assert(!error || strncmp(error, s_path, strlen(s_path)) == 0);
        zb_config_destroy(&config);
    } else
        assert(strncmp(err, s_path, strlen(s_path)) == 0); // every error names the file
    return 0;
}
