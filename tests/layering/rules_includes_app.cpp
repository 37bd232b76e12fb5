// Must not compile: rules/ may not use engine/app.
#include "cli.h"
