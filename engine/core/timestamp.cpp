#include "timestamp.h"

#include <cstdio>
#include <ctime>

namespace tripline {

Timestamp wall_clock_now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<Timestamp>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

size_t format_iso8601(Timestamp t, char* buf) {
  time_t secs = static_cast<time_t>(t / kNsPerSec);
  int64_t rem = t % kNsPerSec;
  if (rem < 0) {
    rem += kNsPerSec;
    secs -= 1;
  }
  tm parts;
  gmtime_r(&secs, &parts);
  int n = std::snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+0000", parts.tm_year + 1900,
                        parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                        static_cast<long long>(rem / 1000));
  return n > 0 ? static_cast<size_t>(n) : 0;
}

std::string format_iso8601(Timestamp t) {
  char buf[40];
  size_t n = format_iso8601(t, buf);
  return std::string(buf, n);
}

}  // namespace tripline
