/* Header-only: CByteScan.h. A C target needs one source file. */
#include "CByteScan.h"
