#ifndef WIRECHECK_STREAM_INPUT_H
#define WIRECHECK_STREAM_INPUT_H
#include <stdint.h>
#include <stdio.h>

/* A stream opened below: its reading state, owned by its FILE (freed when
 * that is closed). */
struct wirecheck_stream;

/* Opens the descriptor `fd` (a pipe or socket: a capture streamed
 * in, as `tcpdump -w - | wirecheck -r -`) as a stdio stream for libpcap that
 * waits for data in slices of 100 ms, so that wirecheck_stop_streams() is
 * noticed even while the writer is silent: a read after it ends the stream
 * (end of file). Without this a read blocked on a quiet pipe held wirecheck
 * past Ctrl-C and SIGTERM (glibc restarts the read after the handler).
 * `*stream`, when given, is set to the stream's state, for the two calls
 * below, valid until the FILE is closed. Closing the stream closes `fd`.
 * NULL, with errno set, on failure. */
FILE *wirecheck_open_stream(int fd, struct wirecheck_stream **stream);

/* Makes the stream report a quiet writer: once its reader has taken every
 * record handed over, a read that waits 100 ms for more fails with EAGAIN
 * and marks the stream quiet (wirecheck_stream_take_quiet). libpcap then
 * returns an error from pcap_next_ex having read nothing of the next record;
 * after clearerr() the stream reads on. The stream follows the pcap or
 * pcapng framing of the bytes it hands over to know where records end;
 * other bytes are never reported quiet. Call it after libpcap has opened the
 * stream (a pcapng header is followed by reads for its interfaces). */
void wirecheck_stream_report_quiet(struct wirecheck_stream *stream);

/* Whether the reader of `file` (the stream's stdio stream), between two
 * records, would have to wait for the writer to read the next: no whole
 * record or block left in stdio's buffer, nothing in the pipe now. For a
 * reader on its own thread, which then hands on what it has read rather
 * than hold it until its batch is full. 0 while the framing is unknown. */
int wirecheck_stream_would_wait(const struct wirecheck_stream *stream, FILE *file);

/* Makes this stream end at its next read (within 100 ms, however quiet its
 * writer): for another thread than the one reading it, done with it. */
void wirecheck_stream_stop(struct wirecheck_stream *stream);

/* Whether the stream's last read failed for quiet (then cleared), with the
 * CLOCK_REALTIME nanoseconds at which data last arrived. */
int wirecheck_stream_take_quiet(struct wirecheck_stream *stream, int64_t *last_arrival);

/* How many of the stream's bytes its reader has taken (those handed to
 * `file`, its stdio stream, less what stdio holds unread): where a read
 * stopped, as ftell() says for a file, which it cannot for a pipe. */
int64_t wirecheck_stream_position(const struct wirecheck_stream *stream, FILE *file);

/* Makes every stream opened above end at its next read; async-signal-safe
 * (a store to a sig_atomic_t), for a SIGINT or SIGTERM handler. */
void wirecheck_stop_streams(void);

/* Whether wirecheck_stop_streams() was called, or the deadline passed. */
int wirecheck_streams_stopped(void);

/* Makes the streams end by themselves once CLOCK_REALTIME passes `deadline`
 * (nanoseconds; `--duration`), however quiet their writers; 0: never. Call
 * it before reading any. */
void wirecheck_stop_streams_at(int64_t deadline);

#endif
