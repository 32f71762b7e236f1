#ifndef WIRECHECK_CACHE_HINTS_H
#define WIRECHECK_CACHE_HINTS_H
/* Asks for the cache line holding `address` ahead of its use. Only a hint:
 * it never faults (any address will do) and never changes a result. Swift
 * has no spelling for it; this inlines into the Swift caller. */
static inline void wirecheck_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}
#endif
