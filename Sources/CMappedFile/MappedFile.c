#define _GNU_SOURCE
#include "MappedFile.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct wirecheck_mapping {
    char *base;
    size_t size;
    int slot;
    volatile sig_atomic_t shrank;
    /* Pages before this offset have been given back. */
    size_t released;
};

/* The mappings the SIGBUS handler knows, in slots it reads without a lock:
 * a mapping is published once it is set up and withdrawn before it is
 * unmapped and freed. */
enum { slot_count = 64 };
static _Atomic(struct wirecheck_mapping *) slots[slot_count];
static struct sigaction previous_action;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static int handler_installed;
/* Read before the handler is installed: sysconf is not on POSIX's list of
 * functions a signal handler may call. */
static uintptr_t page_size = 4096;

static void on_bus_error(int signal, siginfo_t *info, void *context) {
    char *address = info->si_addr;
    for (int i = 0; i < slot_count; i++) {
        struct wirecheck_mapping *mapping = atomic_load_explicit(&slots[i], memory_order_acquire);
        if (!mapping || address < mapping->base || address >= mapping->base + mapping->size) continue;
        char *from = (char *)((uintptr_t)address & ~(page_size - 1));
        /* Zeros over the rest: the read is retried and finds them. */
        if (mmap(from, (size_t)(mapping->base + mapping->size - from), PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
            mapping->shrank = 1;
            return;
        }
        break;
    }
    /* Not a mapped file's: as before this handler was installed. */
    if (previous_action.sa_flags & SA_SIGINFO) {
        if (previous_action.sa_sigaction) { previous_action.sa_sigaction(signal, info, context); return; }
    } else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
        previous_action.sa_handler(signal);
        return;
    }
    /* The default action: the fault repeats when this returns, and ends the process. */
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(SIGBUS, &fallback, NULL);
}

static void install_handler(void) {
    long page = sysconf(_SC_PAGESIZE);
    if (page > 0) page_size = (uintptr_t)page;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_bus_error;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    handler_installed = sigaction(SIGBUS, &action, &previous_action) == 0;
}

struct wirecheck_mapping *wirecheck_map_file(int descriptor, size_t size) {
    if (size == 0) { errno = EINVAL; return NULL; }
    pthread_once(&handler_once, install_handler);
    if (!handler_installed) { errno = ENOTSUP; return NULL; }
    struct wirecheck_mapping *mapping = calloc(1, sizeof *mapping);
    if (!mapping) return NULL;
    void *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, descriptor, 0);
    if (base == MAP_FAILED) { free(mapping); return NULL; }
    /* Read front to back: the kernel reads a file on disk further ahead. */
    (void)madvise(base, size, MADV_SEQUENTIAL);
    mapping->base = base;
    mapping->size = size;
    mapping->slot = -1;
    for (int i = 0; i < slot_count; i++) {
        struct wirecheck_mapping *empty = NULL;
        if (atomic_compare_exchange_strong(&slots[i], &empty, mapping)) { mapping->slot = i; break; }
    }
    if (mapping->slot < 0) {
        munmap(base, size);
        free(mapping);
        errno = EMFILE;
        return NULL;
    }
    return mapping;
}

const void *wirecheck_mapping_base(const struct wirecheck_mapping *mapping) { return mapping->base; }
size_t wirecheck_mapping_size(const struct wirecheck_mapping *mapping) { return mapping->size; }
int wirecheck_mapping_shrank(const struct wirecheck_mapping *mapping) { return mapping->shrank != 0; }

void wirecheck_mapping_release(struct wirecheck_mapping *mapping, size_t offset) {
    if (offset > mapping->size) offset = mapping->size;
    size_t whole = offset & ~(size_t)(page_size - 1);
    if (whole <= mapping->released) return;
    (void)madvise(mapping->base + mapping->released, whole - mapping->released, MADV_DONTNEED);
    mapping->released = whole;
}

void wirecheck_unmap(struct wirecheck_mapping *mapping) {
    if (!mapping) return;
    atomic_store_explicit(&slots[mapping->slot], NULL, memory_order_release);
    munmap(mapping->base, mapping->size);
    free(mapping);
}
