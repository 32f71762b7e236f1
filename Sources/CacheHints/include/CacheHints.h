#ifndef WIRECHECK_CACHE_HINTS_H
#define WIRECHECK_CACHE_HINTS_H
#include <stddef.h>
#include <string.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

/* Asks for the cache line holding `address` ahead of its use. Only a hint:
 * it never faults (any address will do) and never changes a result. Swift
 * has no spelling for it; this inlines into the Swift caller. */
static inline void wirecheck_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/* Bytes a streamed copy writes for `count` bytes: whole 64-byte lines. */
static inline size_t wirecheck_streamed_size(size_t count) {
    return (count + 63) & ~(size_t)63;
}

/* Writes the 64 bytes at `source` to the 64-byte aligned line at `target`
 * with non-temporal stores (memcpy elsewhere), for the same reason as
 * wirecheck_copy_streaming: a whole line written so is never fetched. */
static inline void wirecheck_store_line_streaming(void *target, const void *source) {
#if defined(__x86_64__)
    __m128i *to = (__m128i *)target;
    const __m128i *from = (const __m128i *)source;
    _mm_stream_si128(to, _mm_loadu_si128(from));
    _mm_stream_si128(to + 1, _mm_loadu_si128(from + 1));
    _mm_stream_si128(to + 2, _mm_loadu_si128(from + 2));
    _mm_stream_si128(to + 3, _mm_loadu_si128(from + 3));
#else
    memcpy(target, source, 64);
#endif
}

/* Copies `count` bytes from `source` to `target`, which must be 64-byte
 * aligned with room for wirecheck_streamed_size(count) bytes (the last
 * line's bytes past `count` are zeroed), with non-temporal stores on x86-64:
 * the lines are written to memory without first being fetched for
 * ownership, which for memory last read by another processor is a wait on
 * that processor for every line. Other architectures copy with memcpy. The
 * stores are weakly ordered: wirecheck_store_fence() before handing the
 * bytes to another thread. */
static inline void wirecheck_copy_streaming(void *target, const void *source, size_t count) {
#if defined(__x86_64__)
    __m128i *to = (__m128i *)target;
    const char *from = (const char *)source;
    size_t whole = count & ~(size_t)63;
    for (size_t i = 0; i < whole; i += 64, to += 4) {
        wirecheck_store_line_streaming(to, from + i);
    }
    if (whole < count) {
        __attribute__((aligned(16))) char line[64] = {0};
        memcpy(line, from + whole, count - whole);
        wirecheck_store_line_streaming(to, line);
    }
#else
    memcpy(target, source, count);
    memset((char *)target + count, 0, wirecheck_streamed_size(count) - count);
#endif
}

/* Orders the streamed stores before any later store (the hand-over). */
static inline void wirecheck_store_fence(void) {
#if defined(__x86_64__)
    _mm_sfence();
#else
    __atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}
#endif
