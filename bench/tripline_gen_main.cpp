// tripline-gen: writes a deterministic, realistic pcap for benchmarks and tests
// (see traffic_gen.h for what is in it).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "traffic_check.h"
#include "traffic_gen.h"

int main(int argc, char** argv) {
  using namespace tripline::gen;
  GenOptions opt;
  std::string out;
  std::string linktype = "raw";
  int64_t start_sec = opt.start / tripline::kNsPerSec;
  bool check = false;
  bool quiet = false;

  CLI::App app{
      "Writes a deterministic pcap of realistic gateway traffic: clients resolving names through\n"
      "a resolver (10.0.0.53, fd00::53), TCP/UDP flows to the answers, flows to literal\n"
      "addresses, ICMP echo, IP fragments and malformed packets. Same options, same bytes.",
      "tripline-gen"};
  app.add_option("--packets", opt.packets, "Number of packets to write")
      ->required()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  app.add_option("--seed", opt.seed, "Random seed")->capture_default_str();
  app.add_option("--out", out, "Output pcap file")->required();
  app.add_option("--linktype", linktype, "Link layer: raw (DLT_RAW) or ethernet (DLT_EN10MB)")
      ->check(CLI::IsMember({"raw", "ethernet"}))
      ->capture_default_str();
  app.add_option("--rate", opt.rate, "Mean packets per second of the timestamps")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}))
      ->capture_default_str();
  app.add_option("--start", start_sec,
                 "First timestamp, Unix seconds (default 2026-01-01T00:00:00Z)")
      ->check(CLI::Range(int64_t{0}, int64_t{4'000'000'000}))
      ->capture_default_str();
  app.add_option("--concurrency", opt.concurrency, "Sessions in progress at once")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--clients", opt.clients, "Inside clients (every fourth dual-stack)")
      ->check(CLI::Range(1u, 60'000u))
      ->capture_default_str();
  app.add_option("--names", opt.names, "Distinct resolvable names")
      ->check(CLI::Range(1u, 10'000'000u))
      ->capture_default_str();
  app.add_flag("--check", check,
               "Read the file back: all but the malformed packets must decode, all DNS must parse");
  app.add_flag("-q,--quiet", quiet, "Print nothing unless something fails");
  CLI11_PARSE(app, argc, argv);

  opt.link = linktype == "ethernet" ? LinkKind::Ethernet : LinkKind::Raw;
  opt.start = start_sec * tripline::kNsPerSec;
  try {
    auto t0 = std::chrono::steady_clock::now();
    GenStats stats = generate_pcap(opt, out);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!quiet) {
      std::fprintf(stderr, "%s: %s\n", out.c_str(), stats.summary().c_str());
      std::fprintf(stderr, "wrote %llu packets in %.2f s\n",
                   static_cast<unsigned long long>(stats.packets), secs);
    }
    if (!check) return 0;
    CheckReport r = check_pcap(out);
    if (!quiet) std::fprintf(stderr, "check: %s\n", r.summary().c_str());
    std::string problems;
    auto expect = [&](const char* what, uint64_t got, uint64_t want) {
      if (got != want) {
        problems += "  " + std::string(what) + ": " + std::to_string(got) + ", expected " +
                    std::to_string(want) + "\n";
      }
    };
    expect("packets read", r.packets, stats.packets);
    expect("decode errors", r.decode_errors, stats.malformed);
    expect("fragments", r.fragments, stats.fragments);
    expect("DNS messages", r.dns_messages, stats.dns_queries + stats.dns_responses);
    expect("DNS responses", r.dns_responses, stats.dns_responses);
    expect("DNS parse errors", r.dns_parse_errors, 0);
    if (!problems.empty()) {
      std::fprintf(stderr, "check FAILED:\n%s%s%s", problems.c_str(), r.first_problem.c_str(),
                   r.first_problem.empty() ? "" : "\n");
      return 1;
    }
    if (!quiet) std::fprintf(stderr, "check: ok\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tripline-gen: %s\n", e.what());
    return 1;
  }
}
