// Must not compile: rules/ uses only engine/core, not the engine above it.
#include "config.h"
