// Must not compile: the worker knows stages only through stage/; the composition root picks them.
#include "dns_observer.h"
