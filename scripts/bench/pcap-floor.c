/* The floor: the fastest any libpcap-based reader can go. Opens a capture,
 * calls pcap_next_ex for every packet and touches every captured byte.
 *   cc -O2 pcap-floor.c -lpcap -o pcap-floor && ./pcap-floor FILE */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv) {
    char errbuf[PCAP_ERRBUF_SIZE];
    if (argc != 2) { fprintf(stderr, "usage: pcap-floor FILE\n"); return 2; }
    pcap_t *p = pcap_open_offline(argv[1], errbuf);
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
    return status == PCAP_ERROR ? 1 : 0;
}
