// The process's resident set size, for benchmarks that report memory per item
// (flow, DNS cache entry, listed name) as the RSS growth over building N items.
// Linux only (/proc/self/statm). Allocator slack and page rounding are part of
// the figure, as they are part of what the daemon costs.
#pragma once

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

}  // namespace tripline::gen
