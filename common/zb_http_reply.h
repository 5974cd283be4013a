/*  zb_http_reply: an HTTP/1.1 response parser for the agent's HTTP checks.

    Fed the bytes of one response as they arrive (any split), it finds the
    status, frames the body the way the server said (Content-Length,
    chunked, or until the connection closes) so that a kept-alive
    connection can carry the next request, and looks for a substring in
    the first 64 KiB of the body. It keeps no copy of the response: a
    probe's parser is under 200 bytes, whatever the server sends.

    Interim responses (100 Continue, 103 Early Hints) are skipped. Limits:
    64 KiB of headers; chunk sizes up to 2^60.
*/
#ifndef ZB_HTTP_REPLY_H
#define ZB_HTTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_HTTP_BODY_SCAN 65536     // body bytes searched for the expected text
#define ZB_HTTP_EXPECT_BODY_MAX 255 // bytes of the expected text
#define ZB_HTTP_LINE_KEPT 96        // bytes of a status or header line kept for parsing

typedef enum {
    ZB_HTTP_MORE = 0, // not complete yet: feed more (or call eof)
    ZB_HTTP_DONE,     // complete: status, close and body_found are set
    ZB_HTTP_ERROR     // not HTTP, or not framed properly: error says why
} zb_http_result_t;

typedef struct {
    //  Results.
    int status;        // the final response's status code, 0 before it
    bool close;        // the server closes the connection after this response
    bool body_found;   // the expected text was in the first 64 KiB of the body
    const char *error; // ZB_HTTP_ERROR: why (a static string)
    //  The parse (private).
    const char *pattern;   // expected text, or NULL
    const uint8_t *fail;   // its failure table (zb_http_body_table)
    uint16_t pattern_len;  // its length
    uint16_t matched;      // bytes of it matched so far
    uint8_t stage;         // where the parse is
    bool head;             // the request was HEAD: no body follows
    bool chunked;          // Transfer-Encoding: chunked
    bool has_length;       // Content-Length seen
    bool until_close;      // the body ends when the connection does
    bool keep_alive;       // Connection: keep-alive (matters for HTTP/1.0)
    bool http10;           // the response is HTTP/1.0
    bool truncated;        // the current line was longer than kept
    uint16_t line_len;     // bytes kept of the current line
    uint32_t header_bytes; // of this response's head
    uint32_t body_seen;    // body bytes searched
    uint64_t remaining;    // of the body (Content-Length) or of the chunk
    uint64_t length;       // Content-Length as given
    char line[ZB_HTTP_LINE_KEPT];
} zb_http_reply_t;

//  Fills fail[0..len) for pattern (len <= ZB_HTTP_EXPECT_BODY_MAX): the
//  table the search uses so that no body byte is looked at twice.
void zb_http_body_table(const char *pattern, size_t len, uint8_t *fail);

//  Starts a response. pattern (may be NULL) and fail must outlive it.
void zb_http_reply_start(zb_http_reply_t *self, bool head, const char *pattern, size_t len,
                         const uint8_t *fail);

//  Takes len bytes. *used gets how many belong to this response (the rest
//  are not, and are for the caller to drop). ZB_HTTP_DONE once complete.
zb_http_result_t zb_http_reply_feed(zb_http_reply_t *self, const char *data, size_t len,
                                    size_t *used);

//  The connection closed: DONE if the body ran until the close, else ERROR.
zb_http_result_t zb_http_reply_eof(zb_http_reply_t *self);

//  expect-status: comma-separated codes (200), ranges (200-399) and classes
//  (3xx). Returns 0, or -1 with why set (a static string).
int zb_http_status_check(const char *spec, const char **why);

//  expect-status compiled once, when the config is loaded, so that a
//  response's status is matched without reading the text again: its codes
//  as ranges, in order, neither overlapping nor touching ("2xx,301" and
//  "200-299, 301" give [200, 299], [301, 301]).
typedef struct {
    uint16_t lo, hi;
} zb_http_status_range_t;

#define ZB_HTTP_STATUS_RANGES_MAX 250 // codes 100 to 599, every other one

//  Compiles spec into ranges (room for ZB_HTTP_STATUS_RANGES_MAX). Returns
//  how many (1 or more), or -1 with why set, as zb_http_status_check.
int zb_http_status_compile(const char *spec, zb_http_status_range_t *ranges, const char **why);
//  Whether status is in the count ranges zb_http_status_compile made.
bool zb_http_status_in(const zb_http_status_range_t *ranges, size_t count, int status);

void zb_http_reply_test(bool verbose);

#endif
