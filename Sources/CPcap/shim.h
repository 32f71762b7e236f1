#ifndef WIRECHECK_CPCAP_SHIM_H
#define WIRECHECK_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
