/* fopencookie is a GNU extension. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

/* How the bytes handed to stdio are framed, followed as they pass so that a
 * quiet pipe is reported only where libpcap is between two records (then
 * it has read every byte handed over, and asks for the next header). */
enum framing { FRAMING_UNKNOWN, FRAMING_PCAP, FRAMING_PCAPNG, FRAMING_LOST };

/* A record or block larger than this is taken for garbage: libpcap refuses
 * far smaller ones, and the framing is no longer followed. */
#define LARGEST_UNIT (256u << 20)

struct wirecheck_stream {
    int fd;
    enum framing framing;
    int big_endian;
    /* pcap's record header: 16 bytes, 24 in the "modified" format. */
    uint32_t record_header;
    /* Bytes handed to stdio, and where the next record or block starts. */
    uint64_t delivered;
    uint64_t next_unit;
    /* The first bytes of the unit at next_unit, gathered as they come. */
    unsigned char head[12];
    uint32_t head_count;
    /* Set by wirecheck_stream_report_quiet(); then a read that waited 100 ms
     * between records returns an error and sets quiet. */
    int reports_quiet;
    int quiet;
    int64_t last_arrival;
    /* Where the unit measured last starts (the one ending at next_unit). */
    uint64_t unit_start;
    /* Set by wirecheck_stream_stop() from another thread: the next read ends the stream. */
    atomic_int stopped;
};

static uint32_t word_at(const unsigned char *bytes, int big_endian) {
    return big_endian
        ? (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | bytes[3]
        : (uint32_t)bytes[3] << 24 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[1] << 8 | bytes[0];
}

/* How many of its first bytes the unit at next_unit needs to be measured. */
static uint32_t head_needed(const struct wirecheck_stream *s) {
    switch (s->framing) {
    case FRAMING_UNKNOWN: return 4;                  /* the file's magic number */
    case FRAMING_PCAP: return 12;                    /* the record's captured length */
    case FRAMING_PCAPNG:                             /* type and length; a section's byte order */
        return s->head_count >= 4 && word_at(s->head, 0) == 0x0A0D0D0A ? 12 : 8;
    default: return 0;
    }
}

/* The unit's head is complete: where the next one starts. */
static void measure(struct wirecheck_stream *s) {
    const unsigned char *h = s->head;
    switch (s->framing) {
    case FRAMING_UNKNOWN: {
        uint32_t little = word_at(h, 0), big = word_at(h, 1);
        if (little == 0x0A0D0D0A) {
            s->framing = FRAMING_PCAPNG;    /* the section header block: more of it is needed */
            return;
        }
        if (little == 0xA1B2C3D4 || little == 0xA1B23C4D || little == 0xA1B2CD34) s->big_endian = 0;
        else if (big == 0xA1B2C3D4 || big == 0xA1B23C4D || big == 0xA1B2CD34) s->big_endian = 1;
        else { s->framing = FRAMING_LOST; return; }
        s->framing = FRAMING_PCAP;
        s->record_header = word_at(h, s->big_endian) == 0xA1B2CD34 ? 24 : 16;
        s->next_unit = 24;                  /* the file header */
        break;
    }
    case FRAMING_PCAP: {
        uint32_t captured = word_at(h + 8, s->big_endian);
        if (captured > LARGEST_UNIT) { s->framing = FRAMING_LOST; return; }
        s->unit_start = s->next_unit;
        s->next_unit += s->record_header + captured;
        break;
    }
    case FRAMING_PCAPNG: {
        if (word_at(h, 0) == 0x0A0D0D0A) {
            uint32_t order = word_at(h + 8, 0);
            if (order == 0x1A2B3C4D) s->big_endian = 0;
            else if (order == 0x4D3C2B1A) s->big_endian = 1;
            else { s->framing = FRAMING_LOST; return; }
        }
        uint32_t length = word_at(h + 4, s->big_endian);
        if (length < 12 || length % 4 != 0 || length > LARGEST_UNIT) { s->framing = FRAMING_LOST; return; }
        s->unit_start = s->next_unit;
        s->next_unit += length;
        break;
    }
    default:
        return;
    }
    s->head_count = 0;
}

/* Follows the framing through `count` bytes just handed to stdio. */
static void follow(struct wirecheck_stream *s, const unsigned char *bytes, size_t count) {
    uint64_t end = s->delivered + count;
    while (s->framing != FRAMING_LOST && s->delivered < end) {
        if (s->delivered < s->next_unit) {
            uint64_t skip = s->next_unit - s->delivered;
            uint64_t left = end - s->delivered;
            s->delivered += skip < left ? skip : left;
            continue;
        }
        /* The position moves past the head's bytes; the unit starts at next_unit. */
        uint64_t left = end - s->delivered;
        uint32_t take = head_needed(s) - s->head_count;
        if (take > left) take = (uint32_t)left;
        memcpy(s->head + s->head_count, bytes + (count - (size_t)left), take);
        s->head_count += take;
        s->delivered += take;
        /* A section header block needs more than its first 8 bytes said. */
        if (s->head_count == head_needed(s)) measure(s);
    }
    s->delivered = end;
}

static int between_units(const struct wirecheck_stream *s) {
    return (s->framing == FRAMING_PCAP || s->framing == FRAMING_PCAPNG)
        && s->head_count == 0 && s->delivered == s->next_unit;
}

/* What is there, once there is something; 0 (the end) at the writer's end
 * or once the streams are stopped; -1 with EAGAIN after 100 ms of quiet
 * between two records, when asked to report quiet. */
static ssize_t read_stream(void *cookie, char *buffer, size_t size) {
    struct wirecheck_stream *s = cookie;
    for (;;) {
        if (!streams_stopped && streams_deadline > 0 && realtime_nanoseconds() >= streams_deadline) streams_stopped = 1;
        if (streams_stopped || atomic_load_explicit(&s->stopped, memory_order_relaxed)) return 0;
        struct pollfd waiting = { .fd = s->fd, .events = POLLIN, .revents = 0 };
        int ready = poll(&waiting, 1, 100);
        if (ready < 0 && errno != EINTR) return -1;
        if (ready == 0 && s->reports_quiet && between_units(s)) {
            s->quiet = 1;
            errno = EAGAIN;
            return -1;
        }
        if (ready <= 0) continue;
        /* Readable, at its end (POLLHUP) or in error: read says which. */
        ssize_t count = read(s->fd, buffer, size);
        if (count > 0) {
            s->last_arrival = realtime_nanoseconds();
            follow(s, (const unsigned char *)buffer, (size_t)count);
        }
        if (count >= 0) return count;
        if (errno != EINTR && errno != EAGAIN) return -1;
    }
}

static int close_stream(void *cookie) {
    struct wirecheck_stream *s = cookie;
    int closed = close(s->fd);
    free(s);
    return closed == 0 ? 0 : EOF;
}

FILE *wirecheck_open_stream(int fd, struct wirecheck_stream **stream) {
    struct wirecheck_stream *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->fd = fd;
    s->framing = FRAMING_UNKNOWN;
    /* A pipe of 64 KiB (Linux's default) woke the reader and its writer
     * for every few packets; 1 MiB, the most an unprivileged process may
     * ask for by default, lets each read take more. Not fatal if refused. */
    (void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
    cookie_io_functions_t functions = {
        .read = read_stream, .write = NULL, .seek = NULL, .close = close_stream,
    };
    FILE *file = fopencookie(s, "rb", functions);
    if (file == NULL) {
        free(s);
        return NULL;
    }
    if (stream != NULL) *stream = s;
    return file;
}

void wirecheck_stream_report_quiet(struct wirecheck_stream *stream) { stream->reports_quiet = 1; }

int wirecheck_stream_would_wait(const struct wirecheck_stream *s, FILE *file) {
    if (s->framing != FRAMING_PCAP && s->framing != FRAMING_PCAPNG) return 0;
    /* Where the last whole unit handed to stdio ends: past it lies a unit
     * whose head, or whose body, has not all come. */
    uint64_t whole = s->head_count > 0 ? s->next_unit
                   : s->delivered >= s->next_unit ? s->delivered : s->unit_start;
    if ((uint64_t)wirecheck_stream_position(s, file) < whole) return 0;
    struct pollfd waiting = { .fd = s->fd, .events = POLLIN, .revents = 0 };
    return poll(&waiting, 1, 0) == 0;
}

void wirecheck_stream_stop(struct wirecheck_stream *stream) { atomic_store_explicit(&stream->stopped, 1, memory_order_relaxed); }

int wirecheck_stream_take_quiet(struct wirecheck_stream *stream, int64_t *last_arrival) {
    if (!stream->quiet) return 0;
    stream->quiet = 0;
    if (last_arrival != NULL) *last_arrival = stream->last_arrival;
    return 1;
}

int64_t wirecheck_stream_position(const struct wirecheck_stream *stream, FILE *file) {
    /* glibc's FILE: what was read ahead and not yet taken lies between
     * _IO_read_ptr and _IO_read_end. */
    ptrdiff_t unread = file->_IO_read_end - file->_IO_read_ptr;
    return (int64_t)stream->delivered - (unread > 0 ? (int64_t)unread : 0);
}
