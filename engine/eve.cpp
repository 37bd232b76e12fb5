// STUB: being written by the lead. Replace entirely.
#include "eve.h"
