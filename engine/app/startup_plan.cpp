#include "startup_plan.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <filesystem>
#include <system_error>

#include "capture_recorder.h"
#include "flow_table.h"
#include "nfqueue_source.h"

namespace tripline {
namespace {

// Per-flow table storage besides the slot: a free-list entry and the index
// (at least twice the capacity, rounded up to a power of two: up to 4
// entries of 8 bytes).
constexpr uint64_t kFlowIndexBytes = 4 + 32;
// A fragment-id entry (hash bucket of key + entry, and its age ring slot).
constexpr uint64_t kFragmentBytes = 160;
// A DNS cache entry: key, addresses, up to four names, hash bucket.
constexpr uint64_t kDnsEntryBytes = 200;

std::string human(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 30)) return fmt::format("{:.1f} GB", bytes / double(1u << 30));
  if (bytes >= (uint64_t{1} << 20)) return fmt::format("{:.1f} MB", bytes / double(1u << 20));
  return fmt::format("{:.1f} kB", bytes / 1024.0);
}

uint64_t physical_memory() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
}

bool dns_on(const Config& c) {
  return !c.dns.resolvers.empty() || c.egress.mode != EgressMode::Off;
}

}  // namespace

StartupPlan plan_startup(const Config& c, uint64_t machine_bytes) {
  StartupPlan p;
  const uint64_t workers = c.queue.count;
  const std::string per = fmt::format("x {} worker{}", workers, workers == 1 ? "" : "s");

  uint64_t flow = uint64_t{c.flows.capacity} * (FlowTable::slot_bytes() + kFlowIndexBytes) +
                  uint64_t{c.flows.fragments} * kFragmentBytes;
  p.items.push_back({"flows", "flows.capacity", fmt::format("{} flows {}", c.flows.capacity, per),
                     flow * workers});
  p.items.push_back({"receive buffers", "queue.batch",
                     fmt::format("{} datagrams of 64 kB {}", c.queue.batch, per),
                     uint64_t{NfqueueSource::buffer_bytes(c.queue)} * workers});
  if (!c.capture.dir.empty()) {
    uint64_t ring = std::bit_floor(uint64_t{c.capture.ring_bytes});
    uint64_t pre = uint64_t{c.capture.pre_packets} *
                   std::min(c.capture.snaplen, CaptureRecorder::kPreSlotBytes);
    p.items.push_back(
        {"capture rings", "capture.ring_mb",
         fmt::format("{} ring + {} packets before {}", human(ring), c.capture.pre_packets, per),
         (ring + pre) * workers});
  }
  if (dns_on(c)) {
    p.items.push_back({"DNS cache", "dns.max_entries",
                       fmt::format("{} entries, shared", c.dns.max_entries),
                       uint64_t{c.dns.max_entries} * kDnsEntryBytes});
  }
  if (!c.lua.script.empty()) {
    p.items.push_back({"Lua (limit)", "lua.memory_mb",
                       fmt::format("{} MB {}", c.lua.memory_mb, per),
                       (uint64_t{c.lua.memory_mb} << 20) * workers});
  }
  for (const auto& item : p.items) p.total += item.bytes;
  p.kernel_bytes = uint64_t{c.queue.rcvbuf} * workers;
  p.machine_bytes = machine_bytes ? machine_bytes : physical_memory();
  return p;
}

std::string StartupPlan::describe() const {
  std::string out =
      fmt::format("memory        about {} at start{}\n", human(total),
                  machine_bytes ? " (this machine: " + human(machine_bytes) + ")" : std::string());
  for (const auto& item : items)
    out += fmt::format("  {:<16}{:>10}  {} ({})\n", item.what, human(item.bytes), item.detail,
                       item.key);
  out +=
      fmt::format("  {:<16}{:>10}  at most, kernel memory as the queues back up (queue.rcvbuf)\n",
                  "socket buffers", human(kernel_bytes));
  return out;
}

void check_startup(const Config& c, const StartupPlan& plan) {
  const std::string& events = c.log.events;
  if (!events.empty() && events != "-") {
    std::filesystem::path folder = std::filesystem::path(events).parent_path();
    if (folder.empty()) folder = ".";
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec))
      throw ConfigError(fmt::format("{}: folder {} does not exist (create it first)",
                                    c.where("log.events"), folder.string()));
  }
  if (plan.machine_bytes != 0 && plan.total > plan.machine_bytes) {
    auto largest = std::max_element(plan.items.begin(), plan.items.end(),
                                    [](auto& a, auto& b) { return a.bytes < b.bytes; });
    throw ConfigError(fmt::format(
        "{}: the configuration needs about {} at start, more than this machine's {} ({} alone "
        "take {}: {})",
        c.where(largest->key), human(plan.total), human(plan.machine_bytes), largest->what,
        human(largest->bytes), largest->detail));
  }
}

}  // namespace tripline
