#include "live_runtime.h"

#include <grp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "capture_writer.h"
#include "control_server.h"
#include "control_service.h"
#include "dns_cache.h"
#include "event_writer.h"
#include "live_reload.h"
#include "metrics_exporter.h"
#include "nfqueue_source.h"
#include "offload_link.h"
#include "pipeline.h"
#include "queue_accounting.h"
#include "stats_reporter.h"
#include "systemd_notify.h"
#include "worker.h"

namespace tripline {

std::unique_ptr<EventWriter> open_events(const Config& cfg) {
  if (cfg.log.events.empty()) return nullptr;
  return std::make_unique<EventWriter>(
      cfg.log.events, EventWriterOptions{.max_queued = cfg.log.queue_events,
                                         .max_queued_bytes = size_t{cfg.log.queue_mb} << 20});
}

void print_capture_summary(Pipeline& pipeline) {
  CaptureWriter* w = pipeline.capture_writer();
  if (!w) return;
  CaptureWriterStats st = w->stats();
  std::fprintf(stderr,
               "capture: %llu files opened (%llu deleted by max_files), %llu packets written, "
               "%llu records dropped, %llu write errors\n",
               static_cast<unsigned long long>(st.files_opened),
               static_cast<unsigned long long>(st.files_deleted),
               static_cast<unsigned long long>(st.records_written),
               static_cast<unsigned long long>(st.records_dropped),
               static_cast<unsigned long long>(st.write_errors));
}

namespace {

// How often the queue rule counter is compared with the packets queued.
constexpr std::chrono::seconds kAccountingInterval{5};
// How often systemd gets a STATUS line (and, with WatchdogSec=, the workers'
// progress is checked at least twice per watchdog period).
constexpr std::chrono::milliseconds kNotifyInterval{1000};
// Below this the idle workers' 100 ms ticks could look like a stall.
constexpr std::chrono::milliseconds kMinWatchdogCheck{250};

// The signals the daemon takes: TERM/INT stop it, USR1 prints the counters,
// HUP reloads the configuration (live_reload.h).
sigset_t daemon_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGUSR1, SIGHUP}) sigaddset(&signals, s);
  return signals;
}

// Takes signals while the main thread shuts down, so that none of them kills
// the process with its default action: a second TERM/INT is logged and
// shutdown goes on; a third exits at once (status 128 + signal) for an
// operator who would rather lose what is not yet written than wait.
class ShutdownSignals {
 public:
  ShutdownSignals(const sigset_t& signals, std::function<std::string()> counters)
      : signals_(signals), counters_(std::move(counters)), thread_([this] { run(); }) {}
  ~ShutdownSignals() {
    done_.store(true);
    thread_.join();
  }
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

 private:
  void run() {
    int stops = 1;  // the signal that started the shutdown
    const timespec tick{0, 100 * 1000 * 1000};
    while (!done_.load()) {
      int sig = sigtimedwait(&signals_, nullptr, &tick);
      if (sig < 0) continue;  // timeout or EINTR
      if (sig == SIGUSR1) {
        std::fprintf(stderr, "%s", counters_().c_str());
        continue;
      }
      if (sig == SIGHUP) {
        spdlog::info("SIGHUP during shutdown: ignored");
        continue;
      }
      if (++stops < 3) {
        spdlog::warn(
            "signal {} during shutdown: already stopping, shutdown goes on (a third stop "
            "signal exits at once, losing what is not yet written)",
            sig);
        continue;
      }
      spdlog::error("signal {} during shutdown, the third: exiting now", sig);
      std::fflush(stderr);
      _exit(128 + sig);
    }
  }

  sigset_t signals_;
  std::function<std::string()> counters_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// The [metrics] endpoint over the workers' counters, the kernel's queue table,
// the DNS cache and the queue accounting; null when [metrics] listen is "".
std::unique_ptr<MetricsServer> start_metrics(const Config& cfg,
                                             const std::vector<std::unique_ptr<Worker>>& workers,
                                             Pipeline& pipeline,
                                             const QueueAccounting& accounting) {
  if (cfg.metrics.listen.empty()) return nullptr;
  auto address = parse_listen_address(cfg.metrics.listen);
  if (!address) throw MetricsError("[metrics] listen: bad address " + cfg.metrics.listen);
  MetricsSources sources;
  for (const auto& w : workers) sources.workers.push_back(&w->counters());
  sources.queue_table = [] { return read_queue_table(); };
  sources.first_queue = cfg.queue.first;
  sources.queue_count = static_cast<uint16_t>(cfg.queue.count);
  if (DnsCache* cache = pipeline.dns_cache())
    sources.dns_cache_entries = [cache] { return static_cast<uint64_t>(cache->size()); };
  sources.uninspected = [&accounting]() -> std::optional<uint64_t> {
    if (!accounting.has_rule_counter()) return std::nullopt;
    CounterSnapshot snap;
    accounting.add_to(snap);
    return snap.nfq_uninspected;
  };
  auto server = std::make_unique<MetricsServer>(*address, std::move(sources));
  spdlog::info("metrics: http://{}/metrics", cfg.metrics.listen);
  return server;
}

// The control socket ([control] socket), or null when off. The built-in
// default path is skipped with a warning when its folder is missing (systemd's
// RuntimeDirectory= makes it) or it cannot be made (another daemon answers
// there); a configured path must work.
struct ControlPlane {
  std::unique_ptr<ControlService> service;
  std::unique_ptr<ControlServer> server;
};
std::unique_ptr<ControlPlane> open_control(const std::shared_ptr<const Config>& cfg,
                                           ControlTargets targets) {
  const ControlConfig& c = cfg->control;
  if (c.socket.empty()) return nullptr;
  std::error_code ec;
  auto folder = std::filesystem::path(c.socket).parent_path();
  if (c.socket_default && !std::filesystem::is_directory(folder, ec)) {
    spdlog::warn(
        "no control socket: {} does not exist (systemd makes it with "
        "RuntimeDirectory=tripline; set [control] socket to choose a path, \"\" for none)",
        folder.string());
    return nullptr;
  }
  ControlServerOptions opts;
  opts.path = c.socket;
  opts.max_clients = c.max_clients;
  opts.timeout = std::chrono::milliseconds(c.timeout_ms);
  if (!c.group.empty()) {
    group* g = getgrnam(c.group.c_str());
    if (!g) throw ConfigError(cfg->where("control.group") + ": no group \"" + c.group + "\"");
    opts.group = g->gr_gid;
  }
  auto plane = std::make_unique<ControlPlane>();
  plane->service = std::make_unique<ControlService>(cfg, std::move(targets));
  ControlService* service = plane->service.get();
  opts.tick = [service] { service->sample(); };
  try {
    plane->server = std::make_unique<ControlServer>(
        opts, [service](const ControlRequest& r) { return service->handle(r); });
  } catch (const ControlError& e) {
    // The built-in default must not stop a daemon that was never told about
    // it (a test run beside an installed one); a configured path must work.
    if (c.socket_default) {
      spdlog::warn("no control socket: {}", e.what());
      return nullptr;
    }
    throw ConfigError(cfg->where("control.socket") + ": " + e.what());
  }
  spdlog::info("control socket {} (tripline ctl)", c.socket);
  return plane;
}

}  // namespace

int run_live(std::shared_ptr<const Config> cfg) {
  // Block the daemon's signals before any thread exists (capture writer,
  // event writer, housekeeping, workers): threads inherit the mask, so a
  // signal can only be taken by sigwait here or by ShutdownSignals, never
  // kill the process through a thread that does not block it.
  const sigset_t signals = daemon_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Pipeline pipeline(cfg, Pipeline::Mode::Live);
  auto events = open_events(*cfg);

  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < cfg->queue.count; ++i) {
    workers.push_back(std::make_unique<Worker>(cfg, i, events.get()));
    pipeline.stage_factory()(*workers.back());
  }
  QueueAccounting accounting(cfg->queue, [&] {
    uint64_t n = 0;
    for (auto& w : workers) n += w->counters().nfq_lost_ids.get();
    return n;
  });
  auto snapshot = [&] {
    CounterSnapshot snap;
    for (auto& w : workers) snap.add(w->counters());
    accounting.add_to(snap);
    if (const OffloadLink* link = pipeline.offload_link()) {  // the conntrack threads' counts
      OffloadLinkStats st = link->stats();
      snap.offload_requests_full += st.requests_full;
      snap.offload_ends_unknown += st.ends_unknown;
      snap.offload_ends_full += st.ends_full;
      snap.offload_events_lost += st.events_lost;
    }
    return snap;
  };

  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<NfqueueSource>> sources;
  std::vector<std::thread> threads;
  sources.reserve(cfg->queue.count);
  threads.reserve(cfg->queue.count);
  // Every packet the started workers took gets its verdict, the queues are
  // unbound, flows end, events and the DNS state are written.
  std::unique_ptr<StatsReporter> stats;
  auto finish = [&] {
    if (stats) stats->stop();
    stop.store(true);
    for (auto& t : threads) t.join();  // each source drains and unbinds its queue
    // The last reading: unbound queues left /proc; each source kept its row.
    accounting.stop();
    std::vector<std::optional<QueueRow>> final_rows;
    for (auto& source : sources) final_rows.push_back(source->final_row());
    accounting.poll(final_rows);
    sources.clear();
    Timestamp now = wall_clock_now();
    for (auto& w : workers) w->shutdown(now);
    if (events) events->flush();
    pipeline.shutdown();
  };

  pipeline.start_housekeeping();
  pipeline.start_offload();
  // The rule counter's starting value is read before the first bind: packets
  // bypassed while the queues are being bound count as uninspected.
  accounting.start(kAccountingInterval);
  // Each worker starts as soon as its queue is bound: with many queues the
  // first ones are read while the last are still being bound. A queue that
  // cannot be bound stops the ones already running, cleanly.
  std::unique_ptr<MetricsServer> metrics;
  try {
    // The /metrics endpoint, before any queue is bound: a port in use stops
    // the start here, with the queues untouched.
    metrics = start_metrics(*cfg, workers, pipeline, accounting);
    for (unsigned i = 0; i < cfg->queue.count; ++i) {
      sources.push_back(std::make_unique<NfqueueSource>(
          cfg->queue, static_cast<uint16_t>(cfg->queue.first + i), *workers[i]));
      threads.emplace_back([source = sources.back().get(), &stop] { source->run(stop); });
    }
  } catch (...) {
    finish();
    throw;
  }
  // The control socket: served by its own thread; it reads counters (atomic)
  // and asks workers through their mailboxes, never touching their tables.
  std::unique_ptr<ControlPlane> control;
  std::atomic<ControlServer*> control_server{nullptr};
  try {
    ControlTargets targets;
    targets.version = kVersion;
    for (auto& w : workers) targets.workers.push_back(w.get());
    targets.dns = pipeline.dns_cache();
    targets.counters = snapshot;
    // SIGHUP is the one way into a reload: `ctl reload` raises it here.
    targets.reload = [] { kill(getpid(), SIGHUP); };
    targets.extra_status = [&control_server] {
      nlohmann::json j = nlohmann::json::object();
      ControlServer* server = control_server.load();
      if (!server) return j;
      const ControlServerStats& st = server->stats();
      j["control"] = {
          {"connections", st.connections.load()},   {"refused_peer", st.refused_peer.load()},
          {"refused_busy", st.refused_busy.load()}, {"bad_requests", st.bad_requests.load()},
          {"too_large", st.too_large.load()},       {"timeouts", st.timeouts.load()}};
      return j;
    };
    control = open_control(cfg, std::move(targets));
    if (control) control_server.store(control->server.get());
  } catch (...) {
    finish();
    throw;
  }
  spdlog::info("tripline {} running on queues {}..{} (default verdict {}, fail_open {})", kVersion,
               cfg->queue.first, cfg->queue.first + cfg->queue.count - 1,
               to_string(cfg->queue.default_verdict), cfg->queue.fail_open);

  stats = std::make_unique<StatsReporter>(cfg->log.stats_interval, events.get(),
                                          snapshot);  // EVE stats events
  SystemdNotifier notifier;
  ProgressWatch watch(workers.size());
  std::vector<uint64_t> progress(workers.size());
  auto read_progress = [&] {
    for (size_t i = 0; i < workers.size(); ++i) progress[i] = workers[i]->progress();
    return std::span<const uint64_t>(progress);
  };
  // Every queue is bound and its worker running: systemd may start what
  // depends on tripline.
  notifier.ready(packet_rate_status(0, 0, snapshot().packets, cfg->queue.first, cfg->queue.count));
  watch.stalled(read_progress());
  if (notifier.watchdog().count() > 0) notifier.watchdog_ping();
  using Clock = std::chrono::steady_clock;
  auto period = std::chrono::duration_cast<std::chrono::milliseconds>(kNotifyInterval);
  if (notifier.watchdog().count() > 0) {
    period = std::min(
        period, std::max(kMinWatchdogCheck, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                notifier.watchdog() / 2)));
  }
  auto next = Clock::now() + period;
  // What SIGHUP last applied (restart-only keys stay as in cfg).
  std::shared_ptr<const Config> running = cfg;
  auto last_status = Clock::now();
  uint64_t last_packets = 0;
  bool was_stalled = false;
  for (;;) {
    int sig = 0;
    if (!notifier.enabled()) {
      if (sigwait(&signals, &sig) != 0) continue;
    } else {
      auto left = std::max(Clock::duration::zero(), next - Clock::now());
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      const timespec wait{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      sig = sigtimedwait(&signals, nullptr, &wait);
      if (sig < 0) {
        if (Clock::now() < next) continue;  // EINTR
        next += period;
        // The watchdog is fed only when every worker moved since the last check.
        std::vector<size_t> stuck = watch.stalled(read_progress());
        if (stuck.empty()) {
          notifier.watchdog_ping();
          if (was_stalled) spdlog::info("every worker makes progress again: watchdog fed");
          was_stalled = false;
        } else if (!was_stalled) {
          was_stalled = true;
          spdlog::warn("worker {} made no progress for {} ms: the systemd watchdog is not fed",
                       stuck.front(), period.count());
        }
        auto now = Clock::now();
        if (now - last_status >= kNotifyInterval) {
          uint64_t packets = snapshot().packets;
          double secs = std::chrono::duration<double>(now - last_status).count();
          notifier.status(packet_rate_status(packets - last_packets, secs, packets,
                                             cfg->queue.first, cfg->queue.count));
          last_status = now;
          last_packets = packets;
        }
        continue;
      }
    }
    if (sig == SIGUSR1) {
      std::fprintf(stderr, "%s", snapshot().to_text().c_str());
      continue;
    }
    if (sig == SIGHUP) {
      notifier.reloading();
      reload_live(running, LiveReloadTarget{pipeline, events.get(), workers});
      notifier.ready(
          packet_rate_status(0, 0, snapshot().packets, cfg->queue.first, cfg->queue.count));
      continue;
    }
    spdlog::info("signal {}: stopping", sig);
    break;
  }
  notifier.stopping();
  if (control) {
    const ControlServerStats& st = control->server->stats();
    if (st.refused_peer.load() > 0)
      spdlog::info("control socket: {} connections refused (not root, our user or the group)",
                   st.refused_peer.load());
  }
  control.reset();  // no more questions to the workers; the socket file goes
  ShutdownSignals late(signals, [&] { return snapshot().to_text(); });
  finish();
  std::fprintf(stderr, "%s", snapshot().to_text().c_str());
  print_capture_summary(pipeline);
  return 0;
}

}  // namespace tripline
