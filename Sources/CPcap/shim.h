#ifndef WIRECHECK_CPCAP_SHIM_H
#define WIRECHECK_CPCAP_SHIM_H
#include <pcap/pcap.h>
/* __fsetlocking: a capture file's stream is read by one thread only. */
#include <stdio_ext.h>
#endif
