// Time as the pipeline sees it: nanoseconds since the Unix epoch. Live, it is
// the system clock when a packet arrives; in replay, the packet's own stamp.
#pragma once

#include <cstdint>
#include <string>

namespace tripline {

using Timestamp = int64_t;  // ns since 1970-01-01T00:00:00Z
constexpr Timestamp kNsPerSec = 1'000'000'000;

inline constexpr Timestamp seconds(double s) { return static_cast<Timestamp>(s * 1e9); }

// The system's wall clock, for the live source.
Timestamp wall_clock_now();

// ISO 8601 with microseconds and "+0000", as Suricata's EVE writes it:
// 2026-11-22T10:11:12.123456+0000. Writes into buf (>= 32 bytes), returns length.
size_t format_iso8601(Timestamp t, char* buf);
std::string format_iso8601(Timestamp t);

}  // namespace tripline
