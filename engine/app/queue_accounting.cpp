#include "queue_accounting.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "command_output.h"
#include "counters.h"

namespace tripline {
namespace {

bool parse_u64(const std::string& s, uint64_t& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  v = std::strtoull(s.c_str(), &end, 10);
  return end && *end == '\0';
}

}  // namespace

std::optional<uint64_t> parse_iptables_counter(std::string_view text, uint16_t first,
                                               uint16_t last) {
  // "   pkts bytes target prot opt in out source destination   NFQUEUE balance 0:1 bypass"
  std::optional<uint64_t> sum;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    auto w = words(line);
    uint64_t pkts = 0;
    if (w.size() < 4 || w[2] != "NFQUEUE" || !parse_u64(w[0], pkts)) continue;
    uint64_t lo = 0, hi = 0;  // without "num"/"balance" the target sends to queue 0
    for (size_t i = 3; i + 1 < w.size(); ++i) {
      if (w[i] == "num" && parse_u64(w[i + 1], lo)) hi = lo;
      if (w[i] == "balance") {
        auto colon = w[i + 1].find(':');
        if (colon == std::string::npos || !parse_u64(w[i + 1].substr(0, colon), lo) ||
            !parse_u64(w[i + 1].substr(colon + 1), hi))
          continue;
      }
    }
    if (hi < first || lo > last) continue;
    sum = sum.value_or(0) + pkts;
  }
  return sum;
}

std::optional<uint64_t> parse_nft_counter(std::string_view text) {
  // "counter packets 12 bytes 3456 queue flags bypass to 0-1"
  std::optional<uint64_t> sum;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    auto w = words(line);
    bool queue = false;
    std::optional<uint64_t> pkts;
    for (size_t i = 0; i < w.size(); ++i) {
      if (w[i] == "queue") queue = true;
      uint64_t v = 0;
      if (w[i] == "counter" && i + 2 < w.size() && w[i + 1] == "packets" && parse_u64(w[i + 2], v))
        pkts = v;
    }
    if (queue && pkts) sum = sum.value_or(0) + *pkts;
  }
  return sum;
}

QueueAccounting::QueueAccounting(const QueueConfig& cfg, std::function<uint64_t()> lost_ids)
    : cfg_(cfg),
      lost_ids_(std::move(lost_ids)),
      ids_(cfg.count, 0),
      qdrop_(cfg.count, 0),
      udrop_(cfg.count, 0) {}

QueueAccounting::~QueueAccounting() { stop(); }

std::optional<uint64_t> QueueAccounting::read_rule_counter() const {
  const uint16_t last = static_cast<uint16_t>(cfg_.first + cfg_.count - 1);
  auto nft = [] {
    auto out = command_output("nft list table inet tripline");
    return out ? parse_nft_counter(*out) : std::nullopt;
  };
  auto ipt = [&]() -> std::optional<uint64_t> {
    std::optional<uint64_t> sum;
    for (const char* tool : {"iptables", "ip6tables"}) {
      auto out = command_output(std::string(tool) + " -w 2 -L TRIPLINE -v -x -n");
      auto v = out ? parse_iptables_counter(*out, cfg_.first, last) : std::nullopt;
      if (v) sum = sum.value_or(0) + *v;
    }
    return sum;
  };
  switch (source_) {
    case RuleCounter::Nft:
      return nft();
    case RuleCounter::Iptables:
      return ipt();
    default:
      return std::nullopt;
  }
}

void QueueAccounting::start(std::chrono::milliseconds interval) {
  if (cfg_.rule_counter == RuleCounter::Off) return;
  // The kernel makes the queue table readable by root only (0440): as another
  // user, even with CAP_NET_ADMIN, the packets the queues took are unknown, and
  // comparing the rule counter with nothing would call all of them uninspected.
  const char* kTable = "/proc/net/netfilter/nfnetlink_queue";
  bool table_readable = static_cast<bool>(std::ifstream(kTable));
  if (!table_readable) {
    spdlog::warn(
        "cannot read {}: {} (the kernel lets only root read it): packets that cross "
        "uninspected and the kernel's queue drops (nfq_uninspected, nfq_queue_dropped, "
        "nfq_user_dropped) are not counted",
        kTable, std::strerror(errno));
  }
  for (RuleCounter s : {RuleCounter::Nft, RuleCounter::Iptables}) {
    if (!table_readable) break;
    if (cfg_.rule_counter != RuleCounter::Auto && cfg_.rule_counter != s) continue;
    source_ = s;
    baseline_ = read_rule_counter();
    if (baseline_) break;
  }
  if (!baseline_) {
    source_ = RuleCounter::Off;
  }
  if (!baseline_ && table_readable) {
    spdlog::warn(
        "no queue rule counter found (nft table inet tripline with a counter, or iptables chain "
        "TRIPLINE, see contrib/): packets that cross uninspected (queue full with fail_open, "
        "no tripline bound with bypass) cannot be counted");
  }
  thread_ = std::thread([this, interval] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      poll();
      lock.lock();
    }
  });
}

void QueueAccounting::poll(const std::vector<std::optional<QueueRow>>& final_rows) {
  std::lock_guard guard(poll_mu_);
  // The rule counter first, then the ids: a packet counted by the rule after
  // the first read may have its id by the second, so the difference is never
  // too high (uninspected only ever goes up).
  std::optional<uint64_t> reached;
  if (baseline_) {
    if (auto now = read_rule_counter()) reached = *now >= *baseline_ ? *now - *baseline_ : 0;
  }
  auto take = [this](const QueueRow& row) {
    if (row.queue < cfg_.first || row.queue >= uint32_t{cfg_.first} + cfg_.count) return;
    size_t i = row.queue - cfg_.first;
    ids_[i] = std::max(ids_[i], row.id_sequence);
    qdrop_[i] = std::max(qdrop_[i], row.queue_dropped);
    udrop_[i] = std::max(udrop_[i], row.user_dropped);
  };
  for (const auto& row : read_queue_table()) take(row);
  for (const auto& row : final_rows)
    if (row) take(*row);
  uint64_t ids = 0, qdrop = 0, udrop = 0;
  for (size_t i = 0; i < ids_.size(); ++i) {
    ids += ids_[i];
    qdrop += qdrop_[i];
    udrop += udrop_[i];
  }
  queue_dropped_.store(qdrop);
  user_dropped_.store(udrop);
  if (reached) {
    uint64_t seen = ids + qdrop;
    uint64_t missed = *reached > seen ? *reached - seen : 0;
    uint64_t before = uninspected_.load();
    if (missed > before) {
      uninspected_.store(missed);
      spdlog::warn(
          "{} packets crossed uninspected ({} since start): they reached the queue rule but "
          "not tripline (queue full with fail_open = {}, or no tripline bound to their queue "
          "with bypass)",
          missed - before, missed, cfg_.fail_open);
    }
  }
  uint64_t lost = lost_ids_ ? lost_ids_() : 0;
  if (lost > warned_lost_ids_) {
    spdlog::warn(
        "{} packets never reached tripline ({} since start): its socket buffer was "
        "full; {}",
        lost - warned_lost_ids_, lost,
        cfg_.fail_open ? "they passed uninspected (fail_open)" : "they were dropped");
    warned_lost_ids_ = lost;
  }
}

void QueueAccounting::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void QueueAccounting::add_to(CounterSnapshot& snap) const {
  snap.nfq_uninspected += uninspected_.load();
  snap.nfq_queue_dropped += queue_dropped_.load();
  snap.nfq_user_dropped += user_dropped_.load();
}

}  // namespace tripline
