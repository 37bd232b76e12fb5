// STUB: being written by the lead. Replace entirely.
#include "replay.h"
