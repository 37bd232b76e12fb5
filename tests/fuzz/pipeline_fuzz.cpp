// Fuzzes a whole worker with the DNS observer and the egress policy on: a
// sequence of raw IP packets (each record: 1 byte of clock step in 100 ms
// units, 2 bytes of length, the packet) runs through decode, the flow table,
// DNS trust matching, the shared cache, block-list rewriting and the egress
// check. Each packet must get exactly one sane decision; a rewritten answer
// must still be a packet; the flow table must stay within its bounds.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>

#include <spdlog/spdlog.h>

#include "config.h"
#include "decode.h"
#include "pipeline.h"
#include "worker.h"

namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "pipeline_fuzz: invariant violated: %s\n", what);
  std::abort();
}

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
      "block_lists = [\"" + block_list_path() + "\"]\n";
  const char* modes[] = {"null", "nxdomain", "drop"};
  toml += std::string("block_mode = \"") + modes[variant % 3] + "\"\n";
  toml += (variant & 4) ? "scope = \"global\"\n" : "scope = \"client\"\n";
  toml += "[egress]\nmode = \"enforce\"\n";
  toml += (variant & 8) ? "action = \"reject\"\n" : "action = \"drop\"\n";
  toml += "[flows]\ncapacity = 32\nfragments = 16\n";
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

  Timestamp now = seconds(1767225600);  // 2026-01-01
  size_t off = 1;
  uint64_t packets = 0;
  while (off + 3 <= size) {
    now += static_cast<Timestamp>(data[off]) * seconds(1) / 10;
    size_t len = static_cast<size_t>(data[off + 1]) << 8 | data[off + 2];
    off += 3;
    len = std::min(len, size - off);
    std::span<const uint8_t> pkt(data + off, len);
    off += len;
    Decision d = worker.process(LinkType::Raw, pkt, now);
    ++packets;
    check(d.verdict == Verdict::Accept || d.verdict == Verdict::Drop ||
              d.verdict == Verdict::Reject,
          "verdict in range");
    check(!d.reason.empty(), "every decision has a reason");
    if (!d.replacement.empty()) {
      Decoded again;
      check(d.replacement.size() <= 0xffff, "replacement fits a packet");
      check(decode(LinkType::Raw, d.replacement, again) == DecodeError::None,
            "a rewritten packet decodes");
    }
    check(worker.flows().size() <= cfg->flows.capacity, "flow table within capacity");
  }
  worker.shutdown(now);
  const Counters& c = worker.counters();
  check(c.packets.get() == packets, "every packet counted once");
  check(c.verdict_accept.get() + c.verdict_drop.get() + c.verdict_reject.get() == packets,
        "exactly one verdict per packet");
  check(worker.flows().size() == 0, "shutdown ends every flow");
  return 0;
}
