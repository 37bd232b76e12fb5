#include "bench_env.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace tripline::gen {

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  unsigned long long x = std::strtoull(v, &end, 10);
  if (*end != '\0' || v[0] == '-') {
    std::fprintf(stderr, "%s=%s: not an unsigned integer\n", name, v);
    std::exit(2);
  }
  return x;
}

GenOptions bench_gen_options(uint64_t default_packets) {
  GenOptions o;
  o.packets = env_u64("TRIPLINE_BENCH_PACKETS", default_packets);
  o.seed = env_u64("TRIPLINE_BENCH_SEED", 1);
  // A gateway's mix: thousands of sessions at once, their packets interleaved.
  o.concurrency = static_cast<uint32_t>(
      std::min<uint64_t>(env_u64("TRIPLINE_BENCH_CONCURRENCY", o.concurrency), 1'000'000));
  if (o.packets == 0) o.packets = 1;
  return o;
}

std::string bench_pcap_path() {
  namespace fs = std::filesystem;
  if (const char* user = std::getenv("TRIPLINE_BENCH_PCAP"); user && *user) {
    std::error_code ec;
    if (!fs::is_regular_file(user, ec)) {
      std::fprintf(stderr, "TRIPLINE_BENCH_PCAP=%s: not a readable file\n", user);
      std::exit(2);
    }
    return user;
  }
  GenOptions o = bench_gen_options(1'000'000);
  std::string dir = "/tmp";
  if (const char* d = std::getenv("TRIPLINE_BENCH_DIR"); d && *d) {
    dir = d;
  } else if (const char* t = std::getenv("TMPDIR"); t && *t) {
    dir = t;
  }
  std::string path = fmt::format(
      "{}/tripline-bench-v{}-{}-seed{}{}.pcap", dir, kGeneratorVersion, o.packets, o.seed,
      o.concurrency == GenOptions{}.concurrency ? std::string()
                                                : fmt::format("-c{}", o.concurrency));
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return path;

  // Written under a temporary name and renamed, so a concurrent or interrupted
  // run never leaves a half-written file under the cached name.
  std::string tmp = fmt::format("{}.tmp{}", path, static_cast<long>(getpid()));
  try {
    auto t0 = std::chrono::steady_clock::now();
    GenStats s = generate_pcap(o, tmp);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "generated %s in %.2f s: %s\n", path.c_str(), secs, s.summary().c_str());
    fs::rename(tmp, path);
  } catch (const std::exception& e) {
    fs::remove(tmp, ec);
    std::fprintf(stderr, "cannot generate %s: %s\n", path.c_str(), e.what());
    std::exit(2);
  }
  return path;
}

const std::string& bench_scratch_dir() {
  // Never destroyed: the exit handler that removes the folder runs after
  // static destructors would have.
  static const std::string* dir = [] {
    namespace fs = std::filesystem;
    const char* t = std::getenv("TMPDIR");
    fs::path p = fs::path(t && *t ? t : "/tmp") / fmt::format("tripline-bench-{}", getpid());
    fs::create_directories(p);
    auto* path = new std::string(p.string());
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(bench_scratch_dir(), ec);
    });
    return path;
  }();
  return *dir;
}

std::string bench_scratch_file(const std::string& name, const std::string& content) {
  std::string path = bench_scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(2);
  }
  return path;
}

}  // namespace tripline::gen
