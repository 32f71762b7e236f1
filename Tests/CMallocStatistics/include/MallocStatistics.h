#ifndef WIRECHECK_MALLOC_STATISTICS_H
#define WIRECHECK_MALLOC_STATISTICS_H
#include <stddef.h>
#include <stdlib.h> /* defines __GLIBC__ where the C library is glibc */
#if defined(__GLIBC__)
#include <malloc.h>
#endif

/* Bytes the program has allocated from malloc's heap and not freed, by
 * glibc's own count (mallinfo2: every arena; chunks malloc gave from mmap are
 * not in it). For tests that check memory is given back; the Glibc module
 * does not bring malloc.h. 0 where the C library is not glibc. */
static inline size_t wirecheck_test_heap_bytes_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    return mallinfo2().uordblks;
#else
    return 0;
#endif
}

#endif
