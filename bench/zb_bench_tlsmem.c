/*  zb-bench-tlsmem: where a held TLS connection's memory goes (issue 16).

    Opens N TLS connections to a server (127.0.0.1:PORT, e.g. the nginx of
    item 4t) through the agent's own zb_tls module (built with the library
    ZB_TLS names, as the agent: OpenSSL or GnuTLS), one after another, and
    holds them all. After each step (SSL objects made, handshakes done, one
    keep-alive GET answered, a second GET answered) it prints the memory
    held per connection, against a baseline taken after one warm-up
    connection (OpenSSL fetches and caches its algorithms on first use):

    - with --track (the default), OpenSSL's build: every allocation
      OpenSSL makes goes through CRYPTO_set_mem_functions, tagged with the
      file and line that asked for it; the live bytes (as requested) per
      connection, and the call sites and source areas holding the most,
      are printed. GnuTLS's build: malloc and friends are replaced for the
      whole process and each block is charged to its caller's code address
      (a library and an offset in it; GnuTLS takes no allocator of ours);
      the same figures, by library.
    - with --no-track: malloc's own count (mallinfo2's in-use bytes: what
      was requested plus malloc's headers and rounding) and the RSS, per
      connection. With GnuTLS a held connection's state comes from
      agent/zb_pool.c's mapped chunks, not malloc: only the RSS shows it.
      Tracking adds a header to every OpenSSL block, so the two modes are
      run separately.

    --verify CAFILE verifies the server's chain against CAFILE and its name
    (--name, default localhost), as a probe without `tls-verify = no`; the
    default is `tls-verify = no`, item 4t's setting.

    --burst K keeps up to K handshakes in flight at once (1: one after
    another), as an agent starting thousands of probes does.

    zb-bench-tlsmem --port 8443 [--count 1000] [--burst 1] [--no-track] [--sites 25]
                    [--verify CAFILE] [--name NAME]
*/
#include "zb_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#ifdef ZB_TLS_OPENSSL
#include <openssl/crypto.h>
#define S_LIBRARY "OpenSSL"
#define S_TRACKED "OpenSSL's allocations tracked"
#else
#include <dlfcn.h>
#include <sys/mman.h>
#define S_LIBRARY "GnuTLS"
#define S_TRACKED "every malloc tracked by its caller"
#endif
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

//  One call site of OPENSSL_malloc and friends, and what it holds now.
typedef struct {
    const char *file; // as OpenSSL passes it (a path in its source tree); NULL: free slot
    int line;         // -1: file is the caller's code address (S_CALLER, the GnuTLS build)
    long long bytes;  // live bytes, as requested
    long long count;  // live blocks
    long long base_bytes, base_count;
} s_site_t;

#define S_SITES 8192 // open addressing; OpenSSL has a few thousand call sites
#define S_HEADER 16  // before each block: its size and its site (keeps 16-byte alignment)

static s_site_t s_sites[S_SITES];
static long long s_live_bytes, s_live_count;

static uint32_t s_site_of(const char *file, int line)
{
    if (!file)
        file = "?";
    uint32_t hash = 2166136261u;
    for (const char *c = file; *c; c++)
        hash = (hash ^ (unsigned char)*c) * 16777619u;
    hash = (hash ^ (uint32_t)line) * 16777619u;
    for (uint32_t i = 0; i < S_SITES; i++) {
        s_site_t *site = &s_sites[(hash + i) % S_SITES];
        if (!site->file) {
            site->file = file;
            site->line = line;
            return (hash + i) % S_SITES;
        }
        if (site->line == line && (site->file == file || strcmp(site->file, file) == 0))
            return (hash + i) % S_SITES;
    }
    abort(); // more call sites than slots: raise S_SITES
}

#define S_CALLER (-1) // a site that is a code address: file is the address, not a name

#ifndef ZB_TLS_OPENSSL
//  The site of a caller's code address.
static uint32_t s_site_of_caller(const void *caller)
{
    uint64_t hash = (uint64_t)(uintptr_t)caller * 0x9E3779B97F4A7C15ull;
    for (uint32_t i = 0; i < S_SITES; i++) {
        uint32_t at = (uint32_t)((hash >> 40) + i) % S_SITES;
        s_site_t *site = &s_sites[at];
        if (!site->file) {
            site->file = (const char *)caller;
            site->line = S_CALLER;
            return at;
        }
        if (site->line == S_CALLER && site->file == (const char *)caller)
            return at;
    }
    abort(); // more call sites than slots: raise S_SITES
}
#endif

static void s_account(uint32_t site, long long bytes, int blocks)
{
    s_sites[site].bytes += bytes;
    s_sites[site].count += blocks;
    s_live_bytes += bytes;
    s_live_count += blocks;
}

static void *s_malloc(size_t size, const char *file, int line)
{
    char *block = malloc(S_HEADER + size);
    if (!block)
        return NULL;
    uint32_t site = s_site_of(file, line);
    memcpy(block, &size, sizeof(size));
    memcpy(block + sizeof(size), &site, sizeof(site));
    s_account(site, (long long)size, 1);
    return block + S_HEADER;
}

static void s_free(void *ptr, const char *file, int line)
{
    (void)file;
    (void)line;
    if (!ptr)
        return;
    char *block = (char *)ptr - S_HEADER;
    size_t size;
    uint32_t site;
    memcpy(&size, block, sizeof(size));
    memcpy(&site, block + sizeof(size), sizeof(site));
    s_account(site, -(long long)size, -1);
    free(block);
}

//  A block keeps the site that first asked for it: what grows a buffer is
//  rarely what it is for.
static void *s_realloc(void *ptr, size_t size, const char *file, int line)
{
    if (!ptr)
        return s_malloc(size, file, line);
    if (size == 0) {
        s_free(ptr, file, line);
        return NULL;
    }
    char *block = (char *)ptr - S_HEADER;
    size_t old;
    uint32_t site;
    memcpy(&old, block, sizeof(old));
    memcpy(&site, block + sizeof(old), sizeof(site));
    block = realloc(block, S_HEADER + size);
    if (!block)
        return NULL;
    memcpy(block, &size, sizeof(size));
    s_account(site, (long long)size - (long long)old, 0);
    return block + S_HEADER;
}

#ifndef ZB_TLS_OPENSSL
//  GnuTLS takes no allocator from its user (gnutls_global_set_mem_functions
//  does nothing since 3.3), so with --track malloc, calloc, realloc and free
//  are replaced here for the whole process (glibc allows it, and its own
//  calls go through them too), and each block is charged to the code that
//  asked for it: its return address, told as a library and an offset. Sizes
//  and sites are kept in a table beside the heap, so the heap is laid out as
//  without tracking; until --track turns it on, each call goes straight
//  through. memalign and friends are not counted (nothing here uses them).
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);

typedef struct {
    uintptr_t ptr; // 0: free slot
    uint32_t size;
    uint32_t site;
} s_block_t;

#define S_BLOCK_BITS 21 // 2 M live blocks: 2,000 connections of a few hundred each
#define S_BLOCKS (1u << S_BLOCK_BITS)

static s_block_t *s_blocks; // NULL: not counting

static uint32_t s_slot(uintptr_t ptr)
{
    return (uint32_t)(((uint64_t)(ptr >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - S_BLOCK_BITS));
}

//  The slot of ptr, or of the free slot where it would go.
static uint32_t s_block_find(uintptr_t ptr)
{
    uint32_t i = s_slot(ptr);
    while (s_blocks[i].ptr && s_blocks[i].ptr != ptr)
        i = (i + 1) & (S_BLOCKS - 1);
    return i;
}

static void s_block_add(void *ptr, size_t size, uint32_t site)
{
    uint32_t i = s_block_find((uintptr_t)ptr);
    if (s_blocks[i].ptr) // an address freed behind our back (not through free): replaced
        s_account(s_blocks[i].site, -(long long)s_blocks[i].size, -1);
    s_blocks[i] = (s_block_t){(uintptr_t)ptr, (uint32_t)size, site};
    s_account(site, (long long)size, 1);
}

//  Forgets ptr (linear probing: later entries of its run move back); its
//  site, or UINT32_MAX when it was not counted.
static uint32_t s_block_remove(void *ptr)
{
    uint32_t i = s_block_find((uintptr_t)ptr);
    if (!s_blocks[i].ptr)
        return UINT32_MAX; // made before counting began
    uint32_t site = s_blocks[i].site;
    s_account(site, -(long long)s_blocks[i].size, -1);
    for (uint32_t j = i;;) {
        j = (j + 1) & (S_BLOCKS - 1);
        if (!s_blocks[j].ptr)
            break;
        uint32_t k = s_slot(s_blocks[j].ptr);
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue; // already as near its home as it can be
        s_blocks[i] = s_blocks[j];
        i = j;
    }
    s_blocks[i].ptr = 0;
    return site;
}

void *malloc(size_t size)
{
    void *ptr = __libc_malloc(size);
    if (s_blocks && ptr)
        s_block_add(ptr, size, s_site_of_caller(__builtin_return_address(0)));
    return ptr;
}

void *calloc(size_t count, size_t size)
{
    void *ptr = __libc_calloc(count, size);
    if (s_blocks && ptr)
        s_block_add(ptr, count * size, s_site_of_caller(__builtin_return_address(0)));
    return ptr;
}

//  A block keeps the site that first asked for it: what grows a buffer is
//  rarely what it is for.
void *realloc(void *ptr, size_t size)
{
    void *moved = __libc_realloc(ptr, size);
    if (!s_blocks || (!moved && size > 0))
        return moved;
    uint32_t site = ptr ? s_block_remove(ptr) : UINT32_MAX;
    if (moved)
        s_block_add(moved, size,
                    site != UINT32_MAX ? site : s_site_of_caller(__builtin_return_address(0)));
    return moved;
}

void free(void *ptr)
{
    if (s_blocks && ptr)
        (void)s_block_remove(ptr);
    __libc_free(ptr);
}

//  Turns counting on: every block made from now on is charged to its site.
static int s_count_blocks(void)
{
    s_blocks = mmap(NULL, S_BLOCKS * sizeof(*s_blocks), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s_blocks == MAP_FAILED) {
        s_blocks = NULL;
        return -1;
    }
    return 0;
}
#endif

static long s_rss_kib(void)
{
    FILE *file = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (file && fgets(line, sizeof(line), file))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (file)
        fclose(file);
    return kib;
}

typedef struct {
    bool track;
    long long bytes, count; // tracked: OpenSSL's live bytes and blocks
    size_t heap;            // untracked: mallinfo2's in-use bytes
    long rss;               // KiB
} s_snapshot_t;

static s_snapshot_t s_snapshot(bool track)
{
    s_snapshot_t snap = {track, s_live_bytes, s_live_count, mallinfo2().uordblks, s_rss_kib()};
    return snap;
}

static void s_set_baseline(void)
{
    for (int i = 0; i < S_SITES; i++) {
        s_sites[i].base_bytes = s_sites[i].bytes;
        s_sites[i].base_count = s_sites[i].count;
    }
}

static int s_by_growth(const void *a, const void *b)
{
    const s_site_t *x = *(s_site_t *const *)a, *y = *(s_site_t *const *)b;
    long long dx = x->bytes - x->base_bytes, dy = y->bytes - y->base_bytes;
    return dx < dy ? 1 : dx > dy ? -1 : 0;
}

//  Whether file (as __FILE__ gave it: "../ssl/x.c", "ssl/x.c") lies under
//  area ("/ssl/").
static bool s_in_area(const char *file, const char *area)
{
    return strstr(file, area) || strncmp(file, area + 1, strlen(area + 1)) == 0;
}

//  Where a site is: its file, or for a code address the library and the
//  offset in it ("libgnutls.so.30+0x4a2b0").
static const char *s_site_where(const s_site_t *site)
{
    if (site->line != S_CALLER)
        return site->file;
    static char text[4][300];
    static int next;
    char *out = text[next++ % 4];
#ifdef ZB_TLS_OPENSSL
    snprintf(out, sizeof(text[0]), "%p", (const void *)site->file);
#else
    Dl_info info;
    if (dladdr(site->file, &info) && info.dli_fname) {
        const char *base = strrchr(info.dli_fname, '/');
        snprintf(out, sizeof(text[0]), "/%s+0x%lx", base ? base + 1 : info.dli_fname,
                 (unsigned long)((uintptr_t)site->file - (uintptr_t)info.dli_fbase));
    } else
        snprintf(out, sizeof(text[0]), "%p", (const void *)site->file);
#endif
    return out;
}

//  What a step holds per connection, against the baseline.
static void s_report(const char *step, s_snapshot_t base, int n, int sites)
{
    s_snapshot_t now = s_snapshot(base.track);
    if (!base.track) {
        printf("%-22s heap %8.0f B/conn   rss %8.0f B/conn\n", step,
               ((double)now.heap - (double)base.heap) / n,
               ((double)now.rss - (double)base.rss) * 1024.0 / n);
        return;
    }
    printf("%-22s %s %8.0f B/conn in %5.1f blocks/conn\n", step,
#ifdef ZB_TLS_OPENSSL
           "openssl",
#else
           "malloc",
#endif
           (double)(now.bytes - base.bytes) / n, (double)(now.count - base.count) / n);
    static s_site_t *order[S_SITES];
    int used = 0;
    for (int i = 0; i < S_SITES; i++)
        if (s_sites[i].file && s_sites[i].bytes != s_sites[i].base_bytes)
            order[used++] = &s_sites[i];
    qsort(order, (size_t)used, sizeof(order[0]), s_by_growth);
#ifdef ZB_TLS_OPENSSL
    //  By area of OpenSSL's source tree: what a site is for, roughly.
    static const char *areas[] = {"/ssl/record/",
                                  "/ssl/statem/",
                                  "/ssl/",
                                  "/crypto/asn1/",
                                  "/crypto/x509/",
                                  "/crypto/ec/",
                                  "/crypto/bn/",
                                  "/crypto/evp/",
                                  "/crypto/stack/",
                                  "/crypto/threads",
                                  "/providers/implementations/ciphers/",
                                  "/providers/implementations/digests/",
                                  "/providers/implementations/keymgmt/",
                                  "/providers/",
                                  "/crypto/"};
#else
    //  By library: GnuTLS, its cryptography (nettle, hogweed, gmp), its
    //  ASN.1 parser, the C library (strdup and the like), this program.
    static const char *areas[] = {"/libgnutls", "/libnettle", "/libhogweed",     "/libgmp",
                                  "/libtasn1",  "/libp11",    "/libidn2",        "/libunistring",
                                  "/libc.so",   "/ld-linux",  "/zb-bench-tlsmem"};
#endif
    enum { S_AREAS = sizeof(areas) / sizeof(areas[0]) };
    long long area_bytes[S_AREAS + 1] = {0}, area_count[S_AREAS + 1] = {0};
    for (int i = 0; i < used; i++) {
        int a = 0;
        while (a < S_AREAS && !s_in_area(s_site_where(order[i]), areas[a]))
            a++;
        area_bytes[a] += order[i]->bytes - order[i]->base_bytes;
        area_count[a] += order[i]->count - order[i]->base_count;
    }
    for (int a = 0; a <= S_AREAS; a++)
        if (area_bytes[a] || area_count[a])
            printf("  %7.0f B %5.2f blk  %s (area)\n", (double)area_bytes[a] / n,
                   (double)area_count[a] / n, a < S_AREAS ? areas[a] + 1 : "elsewhere");
    for (int i = 0; i < used && i < sites; i++) {
        long long bytes = order[i]->bytes - order[i]->base_bytes;
        long long blocks = order[i]->count - order[i]->base_count;
        if (order[i]->line == S_CALLER) {
            printf("    %7.0f B %5.2f blk  %s (%.0f B a block)\n", (double)bytes / n,
                   (double)blocks / n, s_site_where(order[i]),
                   blocks ? (double)bytes / (double)blocks : 0.0);
            continue;
        }
        const char *file = order[i]->file;
        while (file[0] == '.' || file[0] == '/')
            file++;
        printf("    %7.0f B %5.2f blk  %s:%d\n", (double)bytes / n, (double)blocks / n, file,
               order[i]->line);
    }
}

//  A connected, non-blocking socket to 127.0.0.1:port, or -1.
static int s_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd == -1 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == -1 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
        perror("zb-bench-tlsmem: connect");
        if (fd != -1)
            close(fd);
        return -1;
    }
    return fd;
}

static int s_wait(int fd, zb_tls_status_t status)
{
    struct pollfd item = {fd, status == ZB_TLS_WANT_WRITE ? POLLOUT : POLLIN, 0};
    return poll(&item, 1, 10000) == 1 ? 0 : -1;
}

static int s_handshake(zb_tls_t *tls, int fd)
{
    char err[256];
    bool refused;
    zb_tls_status_t rc;
    while ((rc = zb_tls_handshake(tls, &refused, err, sizeof(err))) == ZB_TLS_WANT_READ ||
           rc == ZB_TLS_WANT_WRITE)
        if (s_wait(fd, rc) == -1) {
            fprintf(stderr, "zb-bench-tlsmem: handshake: no answer within 10s\n");
            return -1;
        }
    if (rc != ZB_TLS_OK)
        fprintf(stderr, "zb-bench-tlsmem: %s\n", err);
    return rc == ZB_TLS_OK ? 0 : -1;
}

//  Handshakes on every connection, up to burst of them in flight at once
//  (as an agent starting thousands of probes has them): the blocks a held
//  session keeps are then mixed with many handshakes' passing ones.
static int s_handshake_all(zb_tls_t **conns, const int *fds, int count, int burst)
{
    struct pollfd *items = calloc((size_t)burst, sizeof(*items));
    int *which = calloc((size_t)burst, sizeof(*which));
    int next = 0, done = 0, active = 0, rc = -1;
    char err[256];
    bool refused;
    while (items && which && done < count) {
        while (active < burst && next < count)
            which[active++] = next++;
        for (int k = 0; k < active;) {
            zb_tls_status_t status = zb_tls_handshake(conns[which[k]], &refused, err, sizeof(err));
            if (status == ZB_TLS_OK) {
                which[k] = which[--active];
                done++;
            } else if (status == ZB_TLS_WANT_READ || status == ZB_TLS_WANT_WRITE) {
                items[k].fd = fds[which[k]];
                items[k].events = status == ZB_TLS_WANT_READ ? POLLIN : POLLOUT;
                k++;
            } else {
                fprintf(stderr, "zb-bench-tlsmem: %s\n", err);
                goto done;
            }
        }
        if (active && poll(items, (nfds_t)active, 10000) <= 0) {
            fprintf(stderr, "zb-bench-tlsmem: handshakes: no answer within 10s\n");
            goto done;
        }
    }
    rc = items && which ? 0 : -1;
done:
    free(which);
    free(items);
    return rc;
}

//  One keep-alive GET, read until the end of a short reply (nginx's "ok\n"
//  or any body that ends in a newline after the headers).
static int s_request(zb_tls_t *tls, int fd)
{
    static const char get[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    char err[256], reply[4096];
    size_t have = 0;
    zb_tls_status_t rc = zb_tls_write(tls, get, sizeof(get) - 1, err, sizeof(err));
    if (rc != ZB_TLS_OK) {
        fprintf(stderr, "zb-bench-tlsmem: write: %s\n", rc == ZB_TLS_ERROR ? err : "not ready");
        return -1;
    }
    for (;;) {
        size_t got = 0;
        rc = zb_tls_read(tls, reply + have, sizeof(reply) - 1 - have, &got, err, sizeof(err));
        if (rc == ZB_TLS_OK) {
            have += got;
            reply[have] = '\0';
            char *body = strstr(reply, "\r\n\r\n");
            if (body && have > (size_t)(body - reply) + 4 && reply[have - 1] == '\n' &&
                !zb_tls_pending(tls))
                return 0;
            if (have == sizeof(reply) - 1)
                have = 0; // a long reply: only its end matters
        } else if (rc == ZB_TLS_WANT_READ || rc == ZB_TLS_WANT_WRITE) {
            if (s_wait(fd, rc) == -1) {
                fprintf(stderr, "zb-bench-tlsmem: read: no reply within 10s\n");
                return -1;
            }
        } else {
            fprintf(stderr, "zb-bench-tlsmem: read: %s\n",
                    rc == ZB_TLS_CLOSED ? "connection closed" : err);
            return -1;
        }
    }
}

int main(int argc, char *argv[])
{
    int port = 0, count = 1000, sites = 25, burst = 1;
    bool track = true;
    const char *ca = NULL, *name = "localhost";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = atoi(argv[++i]);
        else if (strcmp(argv[i], "--burst") == 0 && i + 1 < argc)
            burst = atoi(argv[++i]);
        else if (strcmp(argv[i], "--sites") == 0 && i + 1 < argc)
            sites = atoi(argv[++i]);
        else if (strcmp(argv[i], "--verify") == 0 && i + 1 < argc)
            ca = argv[++i];
        else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (strcmp(argv[i], "--no-track") == 0)
            track = false;
        else if (strcmp(argv[i], "--track") == 0)
            track = true;
        else {
            fprintf(stderr, "usage: zb-bench-tlsmem --port PORT [--count N] [--no-track] "
                            "[--burst N] [--sites N] [--verify CAFILE] [--name NAME]\n");
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || count <= 0 || burst <= 0) {
        fprintf(stderr, "zb-bench-tlsmem: --port 1..65535, --count > 0 and --burst > 0 are "
                        "required\n");
        return 2;
    }
#ifdef ZB_TLS_OPENSSL
    //  Before OpenSSL allocates anything, or it refuses.
    if (track && !CRYPTO_set_mem_functions(s_malloc, s_realloc, s_free)) {
        fprintf(stderr, "zb-bench-tlsmem: CRYPTO_set_mem_functions refused\n");
        return 1;
    }
#else
    (void)s_malloc;
    (void)s_realloc;
    (void)s_free;
    if (track && s_count_blocks() == -1) {
        perror("zb-bench-tlsmem: mmap");
        return 1;
    }
#endif
    signal(SIGPIPE, SIG_IGN);
    char err[256];
    zb_tls_ctx_t *ctx = zb_tls_ctx_get(ca, ca != NULL, err, sizeof(err));
    int *fds = calloc((size_t)count, sizeof(*fds));
    zb_tls_t **conns = calloc((size_t)count, sizeof(*conns));
    if (!ctx || !fds || !conns) {
        fprintf(stderr, "zb-bench-tlsmem: %s\n", ctx ? "out of memory" : err);
        return 1;
    }
    //  The warm-up: one whole connection, made and freed.
    int fd = s_connect(port);
    zb_tls_t *tls = fd == -1 ? NULL : zb_tls_new(ctx, fd, name);
    if (!tls || s_handshake(tls, fd) || s_request(tls, fd) || s_request(tls, fd))
        return 1;
    printf("zb-bench-tlsmem: %d connections to 127.0.0.1:%d, %s, %s, %s, %d handshake(s) at "
           "once, %s\n",
           count, port, S_LIBRARY, zb_tls_version(tls), ca ? "verified" : "not verified", burst,
           track ? S_TRACKED : "malloc's count");
    zb_tls_destroy(&tls);
    close(fd);
    malloc_trim(0);
    s_set_baseline();
    s_snapshot_t base = s_snapshot(track);

    for (int i = 0; i < count; i++)
        if ((fds[i] = s_connect(port)) == -1 || !(conns[i] = zb_tls_new(ctx, fds[i], name)))
            return 1;
    s_report("made (zb_tls_new)", base, count, sites);
    if (s_handshake_all(conns, fds, count, burst))
        return 1;
    zb_tls_trim(); // as the agent's beat does after a burst of handshakes
    s_report("handshake done", base, count, sites);
    for (int i = 0; i < count; i++)
        if (s_request(conns[i], fds[i]))
            return 1;
    s_report("first GET answered", base, count, sites);
    for (int i = 0; i < count; i++)
        if (s_request(conns[i], fds[i]))
            return 1;
    s_report("second GET answered", base, count, sites);
    for (int i = 0; i < count; i++) {
        zb_tls_destroy(&conns[i]);
        close(fds[i]);
    }
    s_report("all freed", base, count, sites);
    zb_tls_ctx_release(&ctx);
    free(conns);
    free(fds);
    return 0;
}
