// conntrack is low (core only): it may not see the flow table.
#include "flow_table.h"
