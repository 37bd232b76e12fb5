// Must not compile: the control socket sits below app; app wires it to the live runtime.
#include "live_runtime.h"
