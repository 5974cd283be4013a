/*  zb_json_scan: what jansson checked in a JSON text and yajl does not,
    checked over the whole text before it is parsed: strict UTF-8, no
    control characters but JSON's whitespace, no \u0000 and no unpaired
    UTF-16 surrogate in \u escapes. */
#ifndef ZB_JSON_SCAN_H
#define ZB_JSON_SCAN_H

#include <stddef.h>

//  0 if text passes; -1 with "bad JSON at byte N: what" in err otherwise.
int zb_json_scan(const unsigned char *text, size_t len, char *err, size_t errsize);

#endif
