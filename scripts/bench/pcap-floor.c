/* The floor: the fastest any libpcap-based reader can go. Opens a capture,
 * calls pcap_next_ex for every packet and touches every captured byte.
 *   cc -O2 pcap-floor.c -lpcap -o pcap-floor && ./pcap-floor FILE [BUFFER_BYTES]
 * With BUFFER_BYTES the file is opened here and libpcap reads it through a
 * stdio buffer of that size (pcap_fopen_offline) instead of stdio's default
 * 4 KiB, without stdio's per-call locking, as wirecheck does: the same loop
 * with fewer read calls and no lock taken per fread. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    char errbuf[PCAP_ERRBUF_SIZE];
    if (argc != 2 && argc != 3) { fprintf(stderr, "usage: pcap-floor FILE [BUFFER_BYTES]\n"); return 2; }
    pcap_t *p;
    char *buffer = NULL;
    if (argc == 3) {
        size_t size = strtoul(argv[2], NULL, 10);
        FILE *f = fopen(argv[1], "rb");
        if (!f) { perror(argv[1]); return 2; }
        buffer = malloc(size);
        if (!buffer || setvbuf(f, buffer, _IOFBF, size) != 0) { fprintf(stderr, "pcap-floor: cannot set a %zu-byte buffer\n", size); return 2; }
        __fsetlocking(f, FSETLOCKING_BYCALLER);
        p = pcap_fopen_offline(f, errbuf);
    } else {
        p = pcap_open_offline(argv[1], errbuf);
    }
    if (!p) { fprintf(stderr, "pcap-floor: %s\n", errbuf); return 2; }
    struct pcap_pkthdr *h;
    const u_char *data;
    unsigned long packets = 0, bytes = 0;
    unsigned char sum = 0;
    int status;
    while ((status = pcap_next_ex(p, &h, &data)) == 1) {
        for (bpf_u_int32 i = 0; i < h->caplen; i++) sum ^= data[i];
        packets++;
        bytes += h->caplen;
    }
    printf("%lu packets, %lu bytes, checksum %u\n", packets, bytes, sum);
    pcap_close(p);
    free(buffer);
    return status == PCAP_ERROR ? 1 : 0;
}
