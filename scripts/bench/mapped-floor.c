/* The mapped floor: the fastest a reader of the file mapped in memory can
 * go, as wirecheck reads a regular pcap or pcapng file since stop 50
 * (Sources/PacketCapture/MappedRecords.swift). Maps the capture, walks its
 * records (pcap) or enhanced packet blocks (pcapng) and reads every
 * captured byte, eight at a time, as pcap-floor.c does through libpcap.
 *   cc -O2 mapped-floor.c -o mapped-floor && ./mapped-floor FILE
 * Files in this machine's byte order only (the benchmark's captures). The
 * issue's floor stays the libpcap loop; this one says how much of
 * wirecheck's time the reading itself now leaves. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

static uint32_t word(const unsigned char *at) { uint32_t value; memcpy(&value, at, 4); return value; }

static uint64_t touch(const unsigned char *data, uint32_t n) {
    uint64_t sum = 0;
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, data + i, 8); /* an unaligned load */
        sum ^= w;
    }
    for (; i < n; i++) sum ^= data[i];
    return sum;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: mapped-floor FILE\n"); return 2; }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 24) { perror(argv[1]); return 2; }
    size_t size = (size_t)st.st_size;
    const unsigned char *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) { perror("mmap"); return 2; }
    madvise((void *)m, size, MADV_SEQUENTIAL);
    unsigned long packets = 0, bytes = 0;
    uint64_t sum = 0;
    uint32_t magic = word(m);
    if (magic == 0xA1B2C3D4 || magic == 0xA1B23C4D) {
        for (size_t off = 24; off + 16 <= size;) {
            uint32_t caplen = word(m + off + 8);
            if (caplen > size - off - 16) break;
            sum ^= touch(m + off + 16, caplen);
            packets++;
            bytes += caplen;
            off += 16 + caplen;
        }
    } else if (magic == 0x0A0D0D0A) {
        for (size_t off = 0; off + 12 <= size;) {
            uint32_t type = word(m + off), length = word(m + off + 4);
            if (length < 12 || length > size - off) break;
            if (type == 6 && length >= 32) {
                uint32_t caplen = word(m + off + 20);
                if (caplen > length - 32) break;
                sum ^= touch(m + off + 28, caplen);
                packets++;
                bytes += caplen;
            }
            off += length;
        }
    } else {
        fprintf(stderr, "mapped-floor: not a pcap or pcapng file in this machine's byte order\n");
        return 2;
    }
    printf("%lu packets, %lu bytes, checksum %llu\n", packets, bytes, (unsigned long long)sum);
    return 0;
}
