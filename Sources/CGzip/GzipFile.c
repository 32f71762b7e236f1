/* fopencookie is a GNU extension. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <zlib.h>
#include "GzipFile.h"

/* A read error, for libpcap to report: corrupt data, or an end of input
 * before the gzip trailer (a file cut off, which would otherwise read as a
 * clean end when the cut falls between two packets). */
static ssize_t read_decompressed(void *cookie, char *buffer, size_t size) {
    gzFile compressed = (gzFile)cookie;
    int count = gzread(compressed, buffer, size > INT_MAX ? INT_MAX : (unsigned)size);
    int status = Z_OK;
    if (count <= 0) gzerror(compressed, &status);
    if (count < 0 || (count == 0 && status != Z_OK)) {
        errno = EIO;
        return -1;
    }
    return count;
}

static int close_decompressed(void *cookie) {
    return gzclose((gzFile)cookie) == Z_OK ? 0 : EOF;
}

FILE *wirecheck_open_gzip(const char *path) {
    gzFile compressed = gzopen(path, "rb");
    if (compressed == NULL) return NULL;
    /* zlib's input buffer; the stream's own (decompressed) buffer is set by the caller. */
    gzbuffer(compressed, 1 << 18);
    cookie_io_functions_t functions = {
        .read = read_decompressed, .write = NULL, .seek = NULL, .close = close_decompressed,
    };
    FILE *stream = fopencookie(compressed, "rb", functions);
    if (stream == NULL) gzclose(compressed);
    return stream;
}
