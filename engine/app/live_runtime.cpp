#include "live_runtime.h"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "capture_writer.h"
#include "event_writer.h"
#include "nfqueue_source.h"
#include "pipeline.h"
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

int run_live(std::shared_ptr<const Config> cfg) {
  Pipeline pipeline(cfg, Pipeline::Mode::Live);
  auto events = open_events(*cfg);

  // Signals are taken by sigwait in this thread only; workers never see them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGUSR1, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::unique_ptr<NfqueueSource>> sources;
  for (unsigned i = 0; i < cfg->queue.count; ++i) {
    workers.push_back(std::make_unique<Worker>(cfg, i, events.get()));
    pipeline.stage_factory()(*workers.back());
  }
  // Bind every queue before starting any thread, so a bad queue fails cleanly.
  for (unsigned i = 0; i < cfg->queue.count; ++i) {
    sources.push_back(std::make_unique<NfqueueSource>(
        cfg->queue, static_cast<uint16_t>(cfg->queue.first + i), *workers[i]));
  }
  pipeline.start_housekeeping();
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (auto& source : sources) threads.emplace_back([&source, &stop] { source->run(stop); });
  spdlog::info("tripline {} running on queues {}..{} (default verdict {}, fail_open {})", kVersion,
               cfg->queue.first, cfg->queue.first + cfg->queue.count - 1,
               to_string(cfg->queue.default_verdict), cfg->queue.fail_open);

  auto snapshot = [&] {
    CounterSnapshot snap;
    for (auto& w : workers) snap.add(w->counters());
    return snap;
  };
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGUSR1) {
      std::fprintf(stderr, "%s", snapshot().to_text().c_str());
      continue;
    }
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: configuration reload is not supported yet; restart to apply changes");
      continue;
    }
    spdlog::info("signal {}: stopping", sig);
    break;
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  sources.clear();  // unbind every queue
  Timestamp now = wall_clock_now();
  for (auto& w : workers) w->shutdown(now);
  if (events) events->flush();
  pipeline.shutdown();
  std::fprintf(stderr, "%s", snapshot().to_text().c_str());
  print_capture_summary(pipeline);
  return 0;
}

}  // namespace tripline
