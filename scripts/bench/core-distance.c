/* How far apart two processors are: the round trip of a cache line between
 * two threads, each pinned to one of them, bouncing a counter.
 *   cc -O2 -pthread core-distance.c -o core-distance && ./core-distance [CPU_A CPU_B]
 * Default: the first two processors this process may run on. Prints the
 * median of 9 trials of 20 000 round trips each, in nanoseconds.
 *
 * Why the benchmarks print it: a replay hands every packet from the reading
 * thread to the analysing thread on the other processor, and on this 2-vCPU
 * virtual machine the host placed the two vCPUs sometimes close (a round trip
 * of about 110 ns: a shared cache) and sometimes far (about 430 ns: another
 * core complex or socket), changing within minutes to hours (2026-12-05).
 * Far, stop 44's build of wirecheck took 40 to 50 % longer to replay the
 * benchmark capture (stop 45's, which then streams its copies, 25 to 30 %),
 * while the single-threaded floor barely moved; a ratio to the floor means
 * little without this figure beside it. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { roundTrips = 20000, trials = 9 };

static _Alignas(64) _Atomic long counter;
static int pin(int processor) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(processor, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* Answers each odd value with the next even one. */
static void *answer(void *unused) {
    (void)unused;
    for (long i = 0; i < (long)roundTrips * trials; i++) {
        while (atomic_load_explicit(&counter, memory_order_acquire) != 2 * i + 1) {}
        atomic_store_explicit(&counter, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int first = -1, second = -1;
    if (argc == 3) {
        first = atoi(argv[1]);
        second = atoi(argv[2]);
    } else if (argc == 1) {
        cpu_set_t allowed;
        if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) { perror("sched_getaffinity"); return 2; }
        for (int cpu = 0; cpu < CPU_SETSIZE && second < 0; cpu++) {
            if (!CPU_ISSET(cpu, &allowed)) continue;
            if (first < 0) first = cpu; else second = cpu;
        }
    } else {
        fprintf(stderr, "usage: core-distance [CPU_A CPU_B]\n");
        return 2;
    }
    if (first < 0 || second < 0) { fprintf(stderr, "core-distance: needs two processors\n"); return 2; }
    if (pin(first) != 0) { fprintf(stderr, "core-distance: cannot run on processor %d\n", first); return 2; }
    /* Started on its processor, or not at all (never a partner that does not answer). */
    pthread_attr_t attributes;
    cpu_set_t other;
    CPU_ZERO(&other);
    CPU_SET(second, &other);
    pthread_attr_init(&attributes);
    pthread_t thread;
    if (pthread_attr_setaffinity_np(&attributes, sizeof other, &other) != 0
        || pthread_create(&thread, &attributes, answer, NULL) != 0) {
        fprintf(stderr, "core-distance: cannot run on processor %d\n", second);
        return 2;
    }
    pthread_attr_destroy(&attributes);
    double results[trials];
    long next = 0;
    for (int trial = 0; trial < trials; trial++) {
        struct timespec start, end;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (int i = 0; i < roundTrips; i++, next++) {
            atomic_store_explicit(&counter, 2 * next + 1, memory_order_release);
            while (atomic_load_explicit(&counter, memory_order_acquire) != 2 * next + 2) {}
        }
        clock_gettime(CLOCK_MONOTONIC, &end);
        results[trial] = ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) / roundTrips;
    }
    pthread_join(thread, NULL);
    qsort(results, trials, sizeof results[0], compare);
    printf("processors %d and %d: cache line round trip %.0f ns (median of %d x %d)\n", first, second, results[trials / 2],
           trials, roundTrips);
    return 0;
}
