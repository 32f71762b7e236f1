/* Header-only: CacheHints.h. A C target needs one source file. */
#include "CacheHints.h"
