/*  zb_http_page: the status page's files (monitor/www, embedded at build
    time by embed_www.cmake), served under a strict Content-Security-Policy.
*/
#include "zb_http_internal.h"

#include <string.h>

const zb_http_asset_t *zb_http_page_find(const char *url)
{
    const char *path = strcmp(url, "/") == 0 ? "/index.html" : url;
    for (size_t i = 0; i < zb_http_asset_count; i++)
        if (strcmp(path, zb_http_assets[i].path) == 0)
            return &zb_http_assets[i];
    return NULL;
}

enum MHD_Result zb_http_page_asset(zb_http_req_t *req, const zb_http_asset_t *asset)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(asset->size, (void *)asset->data, MHD_RESPMEM_PERSISTENT);
    if (!response)
        return MHD_NO;
    zb_http_common_headers(response, asset->type);
    //  The page loads nothing from anywhere else (no CDN): say so, so that
    //  an injected script could not either.
    MHD_add_response_header(response, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; "
                            "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                            "base-uri 'none'; form-action 'none'");
    enum MHD_Result rc = MHD_queue_response(req->conn, MHD_HTTP_OK, response);
    MHD_destroy_response(response);
    return rc;
}
