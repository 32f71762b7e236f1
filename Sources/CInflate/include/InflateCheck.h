#ifndef WIRECHECK_INFLATE_CHECK_H
#define WIRECHECK_INFLATE_CHECK_H
#include <stddef.h>

/* What zlib made of bytes taken for a compressed stream. */
typedef struct {
    /* 1 if zlib found no error: it reached the stream's end (checksum
     * verified) or ran out of the bytes given while still decoding. */
    int valid;
    /* 1 if the stream ended, with its checksum verified. */
    int ended;
    size_t consumed; /* bytes of input decoded */
    size_t produced; /* bytes it inflated to (counted up to a bound) */
    size_t printable; /* of those, printable text bytes (ASCII, tab, line ends) */
} wirecheck_inflate_result;

/* Inflates `length` bytes of a zlib (format 0) or gzip (format 1) stream
 * into a scratch buffer, without keeping the output: enough to tell
 * compressed data from ciphertext, which zlib rejects within a few bytes.
 * Bounded: stops after 1 MiB of output. */
wirecheck_inflate_result wirecheck_inflate_check(const void *data, size_t length, int format);

#endif
