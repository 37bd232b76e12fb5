// Must not compile: the stage interface does not know the worker.
#include "worker.h"
