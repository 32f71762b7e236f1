#ifndef WIRECHECK_BYTE_SCAN_H
#define WIRECHECK_BYTE_SCAN_H
#include <stddef.h>
#include <stdint.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

/* Byte searches over text heads that Swift cannot spell well (it has no
 * way to turn a vector comparison into a bit mask, SSE2's movemask), for
 * the classifier's per-flow probes. Header-only: they inline into the
 * Swift caller. */

/* True when the line feed at `last` ends a blank line: "\r\n\r\n" ends there. */
static inline int wirecheck_ends_blank_line(const uint8_t *bytes, size_t last) {
    return last >= 3 && bytes[last - 1] == 0x0D && bytes[last - 2] == 0x0A && bytes[last - 3] == 0x0D;
}

/* Where the first "\r\n\r\n" in the `count` bytes starts, or -1. Sixteen
 * bytes at a time: one comparison finds the block's line feeds, and only
 * at those are the three bytes before looked at. */
static inline ptrdiff_t wirecheck_blank_line(const uint8_t *bytes, size_t count) {
    size_t block = 0;
#if defined(__x86_64__)
    const __m128i lf = _mm_set1_epi8(0x0A);
    for (; block + 16 <= count; block += 16) {
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(bytes + block)), lf));
        while (mask != 0) {
            size_t last = block + (size_t)__builtin_ctz(mask);
            if (wirecheck_ends_blank_line(bytes, last)) return (ptrdiff_t)(last - 3);
            mask &= mask - 1;
        }
    }
#endif
    for (size_t last = block; last < count; last++) {
        if (bytes[last] == 0x0A && wirecheck_ends_blank_line(bytes, last)) return (ptrdiff_t)(last - 3);
    }
    return -1;
}

#endif
