// The Prometheus endpoint ([metrics] listen): an HTTP server (prometheus-cpp's
// pull exposer, its own thread) that answers GET /metrics. Nothing is kept
// between scrapes: each scrape reads the workers' counters and duration
// histograms (single-writer atomics, readable at any time), the kernel's queue
// table and the DNS cache size, and builds the metric families then. The
// packet path only counts; it never sees this code.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "queue_table.h"

namespace tripline {

struct Counters;

// What a scrape reads; everything here must outlive the server and be
// readable from its thread.
struct MetricsSources {
  std::vector<const Counters*> workers;  // worker label = index
  // The kernel's queue table (source/queue_table.h: read_queue_table); rows of
  // queues first_queue .. first_queue + queue_count - 1 are exported.
  std::function<std::vector<QueueRow>()> queue_table;
  uint16_t first_queue = 0;
  uint16_t queue_count = 0;
  // Entries in the shared DNS cache; null when there is none.
  std::function<uint64_t()> dns_cache_entries;
  // Packets that crossed the queue rule uninspected (app/queue_accounting.h);
  // null, or nullopt, when that is not known (no queue rule counter).
  std::function<std::optional<uint64_t>()> uninspected;
};

// The exposition text a scrape returns (Prometheus text format 0.0.4).
std::string metrics_text(const MetricsSources& sources);
// Whether the endpoint exports the worker counter of this printed name
// (stage/counters.h), per worker or per queue: a new counter needs a line in
// metrics_exporter.cpp, and a unit test holds every counter to it.
bool metrics_cover_counter(std::string_view counter);

class MetricsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class MetricsServer {
 public:
  // Listens on `address` (config.h: parse_listen_address; port 0 picks a free
  // one, for tests). Throws MetricsError naming the address when it cannot
  // (in use, not an address of this host, no permission).
  MetricsServer(const ListenAddress& address, MetricsSources sources);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port it listens on.
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tripline
