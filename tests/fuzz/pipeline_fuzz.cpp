// Fuzzes a whole worker with the DNS observer and the rule chains (user
// rules, then the egress chain) on: a
// sequence of raw IP packets (each record: 1 byte of clock step in 100 ms
// units, 2 bytes of length, the packet) runs through decode, the flow table,
// DNS trust matching, the shared cache, block-list rewriting and the rule
// chains. Each packet must get exactly one sane decision; a rewritten answer
// must still be a packet; the flow table must stay within its bounds.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>

#include "config.h"
#include "decode.h"
#include "pipeline.h"
#include "worker.h"
#include "worker_fuzz_input.h"

namespace {

using tripline::fuzz::check;

// A small block list in a temporary file, made once per process, removed at exit.
char g_list_path[] = "/tmp/tripline-fuzz-blocklist-XXXXXX";

std::string block_list_path() {
  static const bool made = [] {
    int fd = mkstemp(g_list_path);
    check(fd >= 0, "temporary block list");
    const char text[] = "0.0.0.0 ads.example.test\n||tracker.example.test^\nblocked.test\n";
    check(write(fd, text, sizeof text - 1) == static_cast<ssize_t>(sizeof text - 1), "write list");
    close(fd);
    std::atexit([] { unlink(g_list_path); });
    return true;
  }();
  (void)made;
  return g_list_path;
}

std::shared_ptr<const tripline::Config> make_config(uint8_t variant) {
  std::string toml =
      "[dns]\n"
      "resolvers = [\"10.0.0.53\", \"[fd00::53]:53\"]\n"
      "min_ttl = 1\nmax_ttl = 30\ngrace = 1\nmax_entries = 64\nmax_addrs_per_name = 4\n"
      "max_outstanding = 16\n"
      "block_lists = [\"" +
      block_list_path() + "\"]\n";
  const char* modes[] = {"null", "nxdomain", "drop"};
  toml += std::string("block_mode = \"") + modes[variant % 3] + "\"\n";
  toml += (variant & 4) ? "scope = \"global\"\n" : "scope = \"client\"\n";
  toml += "[egress]\nmode = \"enforce\"\n";
  toml += (variant & 8) ? "action = \"reject\"\n" : "action = \"drop\"\n";
  toml += "[flows]\ncapacity = 32\nfragments = 16\n";
  // User rules before the egress chain: an alert, a domain rule, a monitored
  // zone rule (most flows still reach the egress chain).
  toml += "[zones.lab]\ncidrs = [\"10.0.0.0/25\", \"fd00::/64\"]\n";
  toml +=
      "[[rule]]\nname = \"f-alert\"\nmatch = { port = \"1-1024\", proto = [\"tcp\", \"udp\"] "
      "}\naction = [\"alert\", \"continue\"]\n";
  toml += "[[rule]]\nname = \"f-domain\"\nmatch = { domain_list = \"" + block_list_path() +
          "\", not = { resolved = \"client\" } }\naction = \"drop\"\n";
  toml +=
      "[[rule]]\nname = \"f-zone\"\nmatch = { src_zone = \"lab\", any = [{ resolved = "
      "\"anyone\" }, { direction = \"internal\" }] }\naction = \"drop\"\nmonitor = true\n";
  return std::make_shared<const tripline::Config>(
      tripline::Config::load_string(toml, "pipeline_fuzz.toml"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tripline;
  if (size < 1) return 0;
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);  // list summaries on every input
    return true;
  }();
  (void)quiet;
  static std::shared_ptr<const Config> configs[16];
  auto& cfg = configs[data[0] % 16];
  if (!cfg) cfg = make_config(data[0] % 16);
  Pipeline pipeline(cfg, Pipeline::Mode::Replay);
  Worker worker(cfg, 0, nullptr);
  pipeline.stage_factory()(worker);

  fuzz::run_records(worker, data, size, [&](const Decision& d) {
    if (!d.replacement.empty()) {
      Decoded again;
      check(d.replacement.size() <= 0xffff, "replacement fits a packet");
      check(decode(LinkType::Raw, d.replacement, again) == DecodeError::None,
            "a rewritten packet decodes");
    }
    check(worker.flows().size() <= cfg->flows.capacity, "flow table within capacity");
  });
  check(worker.flows().size() == 0, "shutdown ends every flow");
  return 0;
}
