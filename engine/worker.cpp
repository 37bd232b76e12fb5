// STUB: being written by the lead. Replace entirely.
#include "worker.h"
