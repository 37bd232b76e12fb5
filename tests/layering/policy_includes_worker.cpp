// Must not compile: policy/ is a stage component: it sees stage/, never the worker.
#include "worker.h"
