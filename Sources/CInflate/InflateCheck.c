#include <limits.h>
#include <string.h>
#include <zlib.h>
#include "InflateCheck.h"

enum { scratch_size = 16384, output_bound = 1 << 20 };

wirecheck_inflate_result wirecheck_inflate_check(const void *data, size_t length, int format) {
    wirecheck_inflate_result result = {0, 0, 0, 0, 0};
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    /* 15: the largest window, which accepts every zlib stream; +16: gzip. */
    if (inflateInit2(&stream, format == 1 ? 15 + 16 : 15) != Z_OK) return result;
    unsigned char scratch[scratch_size];
    stream.next_in = (Bytef *)data;
    stream.avail_in = length > UINT_MAX ? UINT_MAX : (uInt)length;
    int status = Z_OK;
    while (result.produced < output_bound) {
        stream.next_out = scratch;
        stream.avail_out = scratch_size;
        status = inflate(&stream, Z_SYNC_FLUSH);
        size_t made = scratch_size - stream.avail_out;
        for (size_t i = 0; i < made; i++) {
            unsigned char c = scratch[i];
            if ((c >= 0x20 && c < 0x7F) || c == '\t' || c == '\n' || c == '\r') result.printable++;
        }
        result.produced += made;
        if (status != Z_OK) break;
        if (stream.avail_in == 0 && stream.avail_out != 0) break;
    }
    result.consumed = length - stream.avail_in;
    result.ended = status == Z_STREAM_END;
    /* Z_BUF_ERROR: no progress possible, here because the input ran out. */
    result.valid = status == Z_STREAM_END || status == Z_OK || status == Z_BUF_ERROR;
    inflateEnd(&stream);
    return result;
}
