#ifndef WIRECHECK_MAPPED_FILE_H
#define WIRECHECK_MAPPED_FILE_H
#include <stddef.h>

/* A capture file mapped into memory, so that a replay reads its packets
 * where the page cache holds them: no copy by the kernel into a stdio
 * buffer, and none by libpcap into its own.
 *
 * A mapped file that shrinks while it is read (another program truncating
 * or rewriting it, as tcpdump -C -W does when it reuses a name) would end
 * the process with SIGBUS at the first page past its new end. The first
 * mapping installs a SIGBUS handler that, for an address inside a mapping,
 * puts zero-filled memory over the rest of it and notes that the file
 * shrank (wirecheck_mapping_shrank), so that the read fails with an error
 * instead; any other SIGBUS goes to the handler that was there before (by
 * default, the process ends as it would have). */
struct wirecheck_mapping;

/* Maps `size` bytes (more than 0) of the file open as `descriptor`,
 * read-only. NULL if it cannot be mapped (errno set), or if too many
 * mappings are open at once. */
struct wirecheck_mapping *wirecheck_map_file(int descriptor, size_t size);

/* The mapping's first byte, and its size. */
const void *wirecheck_mapping_base(const struct wirecheck_mapping *mapping);
size_t wirecheck_mapping_size(const struct wirecheck_mapping *mapping);

/* Nonzero once a read past the file's end (it shrank) was answered with zeros. */
int wirecheck_mapping_shrank(const struct wirecheck_mapping *mapping);

/* Gives back the memory of the whole pages before `offset`: the file stays
 * in the page cache, and a later read of those pages maps them again. The
 * mapping's pages then count in the process's resident size only while
 * they are being read. */
void wirecheck_mapping_release(struct wirecheck_mapping *mapping, size_t offset);

/* Unmaps it: nothing read from it may be used after. */
void wirecheck_unmap(struct wirecheck_mapping *mapping);

#endif
