#include "metrics_exporter.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <limits>
#include <string_view>
#include <utility>

#include "counters.h"
#include "decode.h"
#include "duration_histogram.h"

namespace tripline {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// How each worker counter (stage/counters.h) is exported: its family, an
// optional label that tells it from the other counters of that family, and
// the help line. Counters not listed are not per worker (the queue's, from
// the kernel) and are exported per queue instead.
struct CounterMetric {
  std::string_view counter;  // the counter's printed name
  std::string_view family;
  std::string_view label;  // "" = none
  std::string_view label_value;
  std::string_view help;
};

constexpr CounterMetric kCounterMetrics[] = {
    {"packets", "tripline_packets_total", "", "", "Packets judged."},
    {"bytes", "tripline_packet_bytes_total", "", "", "Bytes of the packets judged."},
    {"verdict_accept", "tripline_verdicts_total", "verdict", "accept", "Verdicts given."},
    {"verdict_drop", "tripline_verdicts_total", "verdict", "drop", ""},
    {"verdict_reject", "tripline_verdicts_total", "verdict", "reject", ""},
    {"verdict_marked", "tripline_verdicts_marked_total", "", "",
     "Verdicts that set a packet mark (also counted in tripline_verdicts_total)."},
    {"decode_errors", "tripline_decode_errors_total", "", "",
     "Packets that did not decode (reasons in tripline_decode_error_reasons_total)."},
    {"not_ip", "tripline_not_ip_packets_total", "", "", "Packets that were not IP."},
    {"fragments", "tripline_fragments_total", "", "", "IP fragments seen."},
    {"fragments_unmatched", "tripline_fragments_unmatched_total", "", "",
     "Non-first fragments of no known flow."},
    {"flows_created", "tripline_flows_created_total", "", "", "Flows created."},
    {"flows_ended", "tripline_flows_ended_total", "", "", "Flows ended, for any reason."},
    {"flows_timed_out", "tripline_flows_timed_out_total", "", "", "Flows ended by a timeout."},
    {"flows_evicted", "tripline_flows_evicted_total", "", "",
     "Flows ended to make room in a full flow table."},
    {"events_written", "tripline_events_written_total", "", "", "EVE events written."},
    {"events_dropped", "tripline_events_dropped_total", "", "",
     "EVE events dropped: the event writer's queue was full."},
    {"events_lost", "tripline_events_lost_total", "", "",
     "EVE events lost: writing the event log failed."},
    {"nfq_recv_batches", "tripline_nfqueue_receive_batches_total", "", "",
     "Batches of packets received from the kernel."},
    {"nfq_enobufs", "tripline_nfqueue_enobufs_total", "", "",
     "Receive errors ENOBUFS: the socket buffer overflowed."},
    {"nfq_verdict_errors", "tripline_nfqueue_verdict_errors_total", "", "",
     "Verdicts the kernel refused or that could not be sent."},
    {"nfq_verdict_msgs", "tripline_nfqueue_verdict_messages_total", "", "",
     "Verdict messages sent (one may judge several packets)."},
    {"nfq_lost_ids", "tripline_nfqueue_lost_packets_total", "", "",
     "Packets the kernel numbered but never delivered (socket full)."},
    {"dns_queries", "tripline_dns_queries_total", "", "", "DNS queries seen."},
    {"dns_answers", "tripline_dns_answers_total", "", "", "DNS answers seen."},
    {"dns_answers_trusted", "tripline_dns_answers_trusted_total", "", "",
     "DNS answers from a trusted resolver matching a query."},
    {"dns_answers_unmatched", "tripline_dns_answers_unmatched_total", "", "",
     "DNS answers that matched no outstanding query."},
    {"dns_answers_duplicate", "tripline_dns_answers_duplicate_total", "", "",
     "DNS answers to a query already answered."},
    {"dns_answers_late", "tripline_dns_answers_late_total", "", "",
     "DNS answers after their query expired."},
    {"dns_answers_no_question", "tripline_dns_answers_no_question_total", "", "",
     "DNS answers without a question."},
    {"dns_would_drop", "tripline_dns_would_drop_total", "", "",
     "DNS answers monitor mode would have dropped."},
    {"dns_truncated_by_capture", "tripline_dns_truncated_by_capture_total", "", "",
     "DNS messages cut short by the queue's copy range."},
    {"dns_answers_untrusted", "tripline_dns_answers_untrusted_total", "", "",
     "DNS answers from a resolver not configured as trusted."},
    {"dns_parse_errors", "tripline_dns_parse_errors_total", "", "", "DNS messages not parsed."},
    {"dns_outstanding_full", "tripline_dns_outstanding_full_total", "", "",
     "DNS queries not tracked: the outstanding-query table was full."},
    {"dns_addresses_opened", "tripline_dns_addresses_opened_total", "", "",
     "Addresses DNS answers put into the DNS cache."},
    {"dns_blocked", "tripline_dns_blocked_total", "", "", "DNS answers blocked by name rules."},
    {"dns_rewritten", "tripline_dns_rewritten_total", "", "", "DNS answers rewritten."},
    {"dns_tcp_messages", "tripline_dns_tcp_messages_total", "", "", "DNS messages over TCP."},
    {"dns_tcp_resyncs", "tripline_dns_tcp_resyncs_total", "", "",
     "DNS-over-TCP streams that lost their framing."},
    {"dns_fragments", "tripline_dns_fragments_total", "", "", "Fragments of DNS answers."},
    {"dns_reassembled", "tripline_dns_reassembled_total", "", "",
     "DNS answers reassembled from fragments."},
    {"dns_fragments_dropped", "tripline_dns_fragments_dropped_total", "", "",
     "Fragments of DNS answers dropped."},
    {"dns_fragments_table_full", "tripline_dns_fragments_table_full_total", "", "",
     "Fragments not kept: the reassembly table was full."},
    {"dns_fragments_timed_out", "tripline_dns_fragments_timed_out_total", "", "",
     "Fragmented DNS answers that never completed."},
    {"egress_allowed", "tripline_egress_total", "result", "allowed",
     "New outbound flows by the DNS-gated egress check."},
    {"egress_blocked", "tripline_egress_total", "result", "blocked", ""},
    {"egress_would_block", "tripline_egress_total", "result", "would_block", ""},
    {"lua_calls", "tripline_lua_calls_total", "", "", "Calls into trigger scripts."},
    {"lua_errors", "tripline_lua_errors_total", "", "",
     "Calls into trigger scripts that failed (any reason)."},
    {"lua_budget_exceeded", "tripline_lua_budget_exceeded_total", "", "",
     "Script calls stopped by the instruction budget."},
    {"lua_time_exceeded", "tripline_lua_time_exceeded_total", "", "",
     "Script calls stopped by max_call_ms."},
    {"lua_memory_exceeded", "tripline_lua_memory_exceeded_total", "", "",
     "Script calls stopped by the memory limit."},
    {"lua_verdicts", "tripline_lua_verdicts_total", "", "", "Verdicts scripts returned."},
    {"lua_disabled", "tripline_lua_disabled_total", "", "",
     "Times a worker turned its triggers off (too many errors)."},
    {"capture_sessions_started", "tripline_capture_sessions_started_total", "", "",
     "Capture sessions started."},
    {"capture_sessions_refused", "tripline_capture_sessions_refused_total", "", "",
     "Capture sessions refused (max_sessions)."},
    {"capture_packets", "tripline_capture_packets_total", "", "", "Packets captured."},
    {"capture_dropped", "tripline_capture_dropped_total", "", "",
     "Capture records dropped: the worker's ring was full."},
    {"capture_lost", "tripline_capture_lost_total", "", "",
     "Capture records lost: writing the file failed."},
    {"lua_shared_evicted", "tripline_lua_shared_evicted_total", "", "",
     "Shared store entries (tripline.incr/set) dropped before they expired: the store was full."},
    {"offload_requested", "tripline_offload_requested_total", "", "",
     "Flows handed to the kernel (conntrack mark set)."},
    {"offload_with_verdict", "tripline_offload_with_verdict_total", "", "",
     "Offloads whose deciding verdict carried the offload packet mark (the save rule copies it "
     "to the connection at once)."},
    {"offload_returned", "tripline_offload_returned_total", "", "",
     "Offloading verdicts' packets that came back to the queue: no save rule before the queue "
     "rule (a ruleset from an older contrib/); accepted with the mark for a save rule in "
     "postrouting."},
    {"offload_refused", "tripline_offload_refused_total", "", "",
     "Offload requests the kernel refused (no conntrack entry)."},
    {"offload_taken_back", "tripline_offload_taken_back_total", "", "",
     "Offloaded flows taken back into the queue (a recording started, or a reload changed the "
     "policy or the script)."},
    {"offload_ends", "tripline_offload_ends_total", "", "",
     "Ends of offloaded flows merged from conntrack destroy events."},
    {"offload_ends_stale", "tripline_offload_ends_stale_total", "", "",
     "Conntrack ends for flows that were no longer in the flow table."},
    {"offload_late_packets", "tripline_offload_late_packets_total", "", "",
     "Packets queued after their flow was offloaded, before the mark took effect."},
    {"offload_gone", "tripline_offload_gone_total", "", "",
     "Offloaded flows ended because their packets reached the queue again after 1 s without any "
     "(the kernel no longer carried the connection; the packet started a new flow)."},
    {"offload_requests_full", "tripline_offload_requests_full_total", "", "",
     "Offload requests not sent: the queue to the conntrack thread was full."},
    {"offload_ends_unknown", "tripline_offload_ends_unknown_total", "", "",
     "Destroy events of marked connections no worker offloaded (e.g. a previous run)."},
    {"offload_ends_full", "tripline_offload_ends_full_total", "", "",
     "Conntrack ends not delivered: a worker's inbox was full."},
    {"offload_events_lost", "tripline_offload_events_lost_total", "", "",
     "Conntrack events lost to netlink overruns (their flows end at the offload timeout)."},
    {"adopted", "tripline_adopted_total", "", "",
     "Connections conntrack had as established before the start, accepted as adopted."},
    {"flows_rejudged", "tripline_flows_rejudged_total", "", "",
     "Open flows judged again because a reload changed the policy or the script."},
};

// Counters the workers never count themselves (QueueAccounting sets them in
// a snapshot): exported per queue from the kernel's table instead.
constexpr std::string_view kNotPerWorker[] = {"nfq_uninspected", "nfq_queue_dropped",
                                              "nfq_user_dropped"};

const CounterMetric* find_counter_metric(std::string_view counter) {
  for (const CounterMetric& m : kCounterMetrics)
    if (m.counter == counter) return &m;
  return nullptr;
}

// Families in first-use order, by name.
class Families {
 public:
  MetricFamily& get(std::string_view name, MetricType type, std::string_view help) {
    for (MetricFamily& f : families_)
      if (f.name == name) return f;
    MetricFamily& f = families_.emplace_back();
    f.name = std::string(name);
    f.help = std::string(help);
    f.type = type;
    return f;
  }
  std::vector<MetricFamily> take() { return std::move(families_); }

 private:
  std::vector<MetricFamily> families_;
};

ClientMetric& add_metric(MetricFamily& f, std::vector<ClientMetric::Label> labels) {
  ClientMetric& m = f.metric.emplace_back();
  m.label = std::move(labels);
  return m;
}

void add_counter(Families& fams, std::string_view name, std::string_view help,
                 std::vector<ClientMetric::Label> labels, uint64_t value) {
  add_metric(fams.get(name, MetricType::Counter, help), std::move(labels)).counter.value =
      static_cast<double>(value);
}

void add_gauge(Families& fams, std::string_view name, std::string_view help,
               std::vector<ClientMetric::Label> labels, double value) {
  add_metric(fams.get(name, MetricType::Gauge, help), std::move(labels)).gauge.value = value;
}

void add_histogram(Families& fams, std::string_view name, std::string_view help,
                   std::vector<ClientMetric::Label> labels, const DurationHistogram& h) {
  ClientMetric& m = add_metric(fams.get(name, MetricType::Histogram, help), std::move(labels));
  uint64_t cumulative = 0;
  for (size_t i = 0; i < DurationHistogram::kBuckets; ++i) {
    cumulative += h.bucket(i);
    double bound = i < DurationHistogram::kBoundsNs.size()
                       ? static_cast<double>(DurationHistogram::kBoundsNs[i]) / 1e9
                       : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back({cumulative, bound});
  }
  // The count is the +Inf bucket, so the two always agree within a scrape.
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(h.sum_ns()) / 1e9;
}

class Collector final : public prometheus::Collectable {
 public:
  explicit Collector(MetricsSources sources) : sources_(std::move(sources)) {}

  std::vector<MetricFamily> Collect() const override {
    Families fams;
    for (size_t w = 0; w < sources_.workers.size(); ++w) collect_worker(fams, w);
    collect_queues(fams);
    if (sources_.dns_cache_entries)
      add_gauge(fams, "tripline_dns_cache_entries", "Entries in the shared DNS cache.", {},
                static_cast<double>(sources_.dns_cache_entries()));
    if (auto n = sources_.uninspected ? sources_.uninspected() : std::nullopt)
      add_counter(fams, "tripline_nfqueue_uninspected_packets_total",
                  "Packets the queue rule counted that no tripline worker saw (fail-open at a "
                  "full queue, or bypass while unbound).",
                  {}, *n);
    return fams.take();
  }

 private:
  void collect_worker(Families& fams, size_t w) const {
    const Counters& c = *sources_.workers[w];
    const std::string worker = std::to_string(w);
    auto each = [&](std::string_view counter, uint64_t value) {
      const CounterMetric* m = find_counter_metric(counter);
      if (!m) return;  // kNotPerWorker (a unit test checks nothing else is missing)
      std::vector<ClientMetric::Label> labels{{"worker", worker}};
      if (!m->label.empty()) labels.push_back({std::string(m->label), std::string(m->label_value)});
      add_counter(fams, m->family, m->help, std::move(labels), value);
    };
#define TRIPLINE_EACH(field, name) each(name, c.field.get());
    TRIPLINE_COUNTERS(TRIPLINE_EACH)
#undef TRIPLINE_EACH
    for (size_t i = 1; i < static_cast<size_t>(DecodeError::kCount); ++i) {
      add_counter(fams, "tripline_decode_error_reasons_total",
                  "Packets that did not decode, by reason.",
                  {{"worker", worker}, {"reason", to_string(static_cast<DecodeError>(i))}},
                  c.decode_error[i].get());
    }
    for (const auto& [name, counter] : c.named.items()) {
      // "rule.<name>": the rule names of the configuration (bounded, chosen by the operator).
      std::string_view rule = name;
      if (rule.starts_with("rule.")) rule.remove_prefix(5);
      add_counter(fams, "tripline_rule_matches_total", "Packets or answers a [[rule]] matched.",
                  {{"worker", worker}, {"rule", std::string(rule)}}, counter.get());
    }
    // Read the ends first: a flow ending between the two reads cannot make it negative.
    const uint64_t ended = c.flows_ended.get();
    const uint64_t created = c.flows_created.get();
    add_gauge(fams, "tripline_flows_active", "Flows in the worker's flow table.",
              {{"worker", worker}}, static_cast<double>(created >= ended ? created - ended : 0));
    add_histogram(fams, "tripline_verdict_latency_seconds",
                  "Time from receiving a packet from the kernel to sending its verdict.",
                  {{"worker", worker}}, c.verdict_latency);
    add_histogram(fams, "tripline_lua_call_duration_seconds",
                  "Time per call into a trigger script.", {{"worker", worker}}, c.lua_call_time);
  }

  void collect_queues(Families& fams) const {
    if (!sources_.queue_table) return;
    for (const QueueRow& row : sources_.queue_table()) {
      if (row.queue < sources_.first_queue ||
          row.queue >= uint32_t{sources_.first_queue} + sources_.queue_count)
        continue;
      const std::string queue = std::to_string(row.queue);
      add_gauge(fams, "tripline_nfqueue_waiting_packets",
                "Packets the kernel holds in the queue, waiting for a verdict.", {{"queue", queue}},
                static_cast<double>(row.waiting));
      add_counter(fams, "tripline_nfqueue_dropped_packets_total",
                  "Packets the kernel dropped since the queue was bound: queue_full (the queue "
                  "was full), socket_full (tripline's socket buffer was full).",
                  {{"queue", queue}, {"reason", "queue_full"}}, row.queue_dropped);
      add_counter(fams, "tripline_nfqueue_dropped_packets_total", "",
                  {{"queue", queue}, {"reason", "socket_full"}}, row.user_dropped);
      add_counter(fams, "tripline_nfqueue_queued_packets_total",
                  "Packets the kernel queued since the queue was bound (its id sequence).",
                  {{"queue", queue}}, row.id_sequence);
    }
  }

  MetricsSources sources_;
};

std::string serialize(const prometheus::Collectable& c) {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(c.Collect());
}

}  // namespace

std::string metrics_text(const MetricsSources& sources) { return serialize(Collector(sources)); }

// Every per-worker counter has an entry in kCounterMetrics (tested).
bool metrics_cover_counter(std::string_view counter) {
  for (std::string_view n : kNotPerWorker)
    if (n == counter) return true;
  return find_counter_metric(counter) != nullptr;
}

struct MetricsServer::Impl {
  std::shared_ptr<Collector> collector;
  std::unique_ptr<prometheus::Exposer> exposer;
};

MetricsServer::MetricsServer(const ListenAddress& address, MetricsSources sources)
    : impl_(std::make_unique<Impl>()) {
  const std::string where = address.ipv6 ? "[" + address.host + "]:" + std::to_string(address.port)
                                         : address.host + ":" + std::to_string(address.port);
  impl_->collector = std::make_shared<Collector>(std::move(sources));
  try {
    // One server thread: scrapes are rare and each takes well under a millisecond.
    impl_->exposer = std::make_unique<prometheus::Exposer>(where, 1);
  } catch (const std::exception& e) {
    throw MetricsError("[metrics] listen = \"" + where +
                       "\": cannot listen there (address in use, or not an address of this "
                       "host?): " +
                       e.what());
  }
  impl_->exposer->RegisterCollectable(impl_->collector);
}

MetricsServer::~MetricsServer() = default;

uint16_t MetricsServer::port() const {
  auto ports = impl_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : static_cast<uint16_t>(ports.front());
}

}  // namespace tripline
