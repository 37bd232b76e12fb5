// Must not compile: lua/ is a stage: it sees stage/, never the worker.
#include "worker.h"
