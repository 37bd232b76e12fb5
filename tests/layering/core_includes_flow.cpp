// Must not compile: core/ uses nothing of tripline.
#include "flow_table.h"
