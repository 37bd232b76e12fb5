// Memory probes for benchmarks that report memory per item (flow, DNS cache
// entry, listed name): the process's resident set size (Linux
// /proc/self/statm; allocator slack and page rounding included, but memory an
// earlier benchmark freed and the allocator kept is reused without growing
// it) and the heap bytes in use (glibc), which do not depend on that.
#pragma once

#include <malloc.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>

namespace tripline::gen {

// Resident bytes now, or 0 if /proc/self/statm cannot be read.
inline uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long long size = 0, resident = 0;
  int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// Bytes the allocator has handed out and not taken back (glibc mallinfo2:
// arena chunks in use, their headers included, plus mmapped blocks). Unlike
// the RSS, it does not depend on what earlier code freed, so benchmarks run
// in any order give the same figure.
inline uint64_t heap_bytes_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return static_cast<uint64_t>(mi.uordblks) + static_cast<uint64_t>(mi.hblkhd);
}

}  // namespace tripline::gen
