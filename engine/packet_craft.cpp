// STUB: being implemented (decode helper). Replace entirely.
#include "packet_craft.h"
