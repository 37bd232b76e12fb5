// Benchmark inputs chosen from the environment: how many packets to generate
// (TRIPLINE_BENCH_PACKETS, TRIPLINE_BENCH_SEED), where to cache generated
// pcaps (TRIPLINE_BENCH_DIR, else TMPDIR, else /tmp), or a user's own pcap
// (TRIPLINE_BENCH_PCAP).
#pragma once

#include <cstdint>
#include <string>

#include "traffic_gen.h"

namespace tripline::gen {

// The unsigned integer in environment variable `name`, or `fallback`. A
// malformed value is fatal (it would silently benchmark something else).
uint64_t env_u64(const char* name, uint64_t fallback);

// Options for the benchmark traffic: TRIPLINE_BENCH_PACKETS packets (default
// `default_packets`), seed TRIPLINE_BENCH_SEED (default 1), raw IP.
GenOptions bench_gen_options(uint64_t default_packets);

// The pcap the replay benchmarks read: TRIPLINE_BENCH_PCAP when set (it must
// exist), otherwise a generated file for bench_gen_options(1'000'000), made
// once and reused (its name carries the generator version, count and seed).
// Progress goes to stderr. Exits with a message when it cannot be made.
std::string bench_pcap_path();

// A scratch folder for this benchmark process (under TMPDIR or /tmp), made on
// first use and removed at exit: trigger scripts, capture files.
const std::string& bench_scratch_dir();
// Writes `content` to bench_scratch_dir()/name and returns the path.
std::string bench_scratch_file(const std::string& name, const std::string& content);

}  // namespace tripline::gen
