// Must not compile: events/ builds EVE lines from facts; it does not reach into capture.
#include "capture_recorder.h"
