#ifndef WIRECHECK_CPCAP_SHIM_H
#define WIRECHECK_CPCAP_SHIM_H
#include <pcap/pcap.h>
/* __fsetlocking: a capture file's stream is read by one thread only. */
#include <stdio_ext.h>
#include <pthread.h>

/* Names the calling thread as `top -H`, `ps -L` and /proc/PID/task/TID/comm
 * show it (at most 15 bytes). Declared here: glibc's header shows it only to
 * _GNU_SOURCE builds. */
extern int pthread_setname_np(pthread_t thread, const char *name);
static inline int wirecheck_name_this_thread(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}
/* Puts the calling thread in SCHED_BATCH (Linux): the scheduler does not
 * let it preempt a running thread when it wakes. 0, or -1 and errno.
 * Defined here: glibc's <sched.h> shows SCHED_BATCH only to _GNU_SOURCE
 * builds. */
#include <sched.h>
static inline int wirecheck_batch_schedule_this_thread(void) {
    struct sched_param parameter = { .sched_priority = 0 };
    return sched_setscheduler(0, 3 /* SCHED_BATCH */, &parameter);
}
#endif
