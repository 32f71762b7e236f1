/* Counts heap allocations of a process: LD_PRELOAD=./malloc-count.so CMD...
 * prints "malloc-count: N allocations" to stderr at exit. Used to show that the
 * in-order packet path allocates nothing: the count must not grow with the
 * number of in-order packets (see scripts/bench/allocations.sh). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_ulong count;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);

/* dlsym may itself call calloc: serve it from a small static arena. */
static char arena[4096];
static size_t arena_used;
static int resolving;

static void resolve(void) {
    if (real_malloc || resolving) return;
    resolving = 1;
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    resolving = 0;
}

void *malloc(size_t n) { resolve(); atomic_fetch_add(&count, 1); return real_malloc(n); }

void *calloc(size_t a, size_t b) {
    if (!real_calloc) {
        if (resolving) { void *p = arena + arena_used; arena_used += (a * b + 15) & ~15UL; return p; }
        resolve();
    }
    atomic_fetch_add(&count, 1);
    return real_calloc(a, b);
}

void *realloc(void *p, size_t n) { resolve(); atomic_fetch_add(&count, 1); return real_realloc(p, n); }

int posix_memalign(void **p, size_t a, size_t n) { resolve(); atomic_fetch_add(&count, 1); return real_posix_memalign(p, a, n); }

void free(void *p) {
    static void (*real_free)(void *);
    if ((char *)p >= arena && (char *)p < arena + sizeof arena) return;
    if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
    real_free(p);
}

__attribute__((destructor)) static void report(void) {
    char line[64];
    int n = snprintf(line, sizeof line, "malloc-count: %lu allocations\n", (unsigned long)atomic_load(&count));
    if (n > 0) write(2, line, (size_t)n);
}
