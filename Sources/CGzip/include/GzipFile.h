#ifndef WIRECHECK_GZIP_FILE_H
#define WIRECHECK_GZIP_FILE_H
#include <stdio.h>

/* Opens a gzip-compressed file as a stdio stream of its decompressed bytes,
 * for libpcap's pcap_fopen_offline (libpcap reads no compressed file itself,
 * and tcpdump -z leaves rotated captures gzipped). NULL, with errno set, if
 * the file cannot be opened. Reading it fails (short read, ferror) where the
 * compressed data is corrupt or cut off. */
FILE *wirecheck_open_gzip(const char *path);

#endif
