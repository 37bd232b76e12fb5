// Must not compile: capture/ counts into counters its owner passes in; it sits below stage/.
#include "counters.h"
