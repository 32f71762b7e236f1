/* fopencookie is a GNU extension. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include "StreamInput.h"

static volatile sig_atomic_t streams_stopped = 0;
/* CLOCK_REALTIME nanoseconds after which streams end (0: never); set before
 * any stream is read, then only read. */
static int64_t streams_deadline = 0;

void wirecheck_stop_streams(void) { streams_stopped = 1; }

int wirecheck_streams_stopped(void) { return streams_stopped != 0; }

static int64_t realtime_nanoseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

void wirecheck_stop_streams_at(int64_t deadline) { streams_deadline = deadline; }

/* What is there, once there is something; 0 (the end) at the writer's end
 * or once the streams are stopped. */
static ssize_t read_stream(void *cookie, char *buffer, size_t size) {
    int fd = (int)(intptr_t)cookie;
    for (;;) {
        if (!streams_stopped && streams_deadline > 0 && realtime_nanoseconds() >= streams_deadline) streams_stopped = 1;
        if (streams_stopped) return 0;
        struct pollfd waiting = { .fd = fd, .events = POLLIN, .revents = 0 };
        int ready = poll(&waiting, 1, 100);
        if (ready < 0 && errno != EINTR) return -1;
        if (ready <= 0) continue;
        /* Readable, at its end (POLLHUP) or in error: read says which. */
        ssize_t count = read(fd, buffer, size);
        if (count >= 0) return count;
        if (errno != EINTR && errno != EAGAIN) return -1;
    }
}

static int close_stream(void *cookie) {
    return close((int)(intptr_t)cookie) == 0 ? 0 : EOF;
}

FILE *wirecheck_open_stream(int fd) {
    cookie_io_functions_t functions = {
        .read = read_stream, .write = NULL, .seek = NULL, .close = close_stream,
    };
    return fopencookie((void *)(intptr_t)fd, "rb", functions);
}
