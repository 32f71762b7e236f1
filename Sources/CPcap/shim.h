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
#endif
