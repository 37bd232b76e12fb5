// Must not compile: lua/ may not use engine/source.
#include "nfqueue_source.h"
