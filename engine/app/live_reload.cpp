#include "live_reload.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string_view>
#include <thread>

#include "config_reload.h"
#include "event_writer.h"
#include "pipeline.h"
#include "worker.h"

namespace tripline {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The event log path can be opened for appending (a FIFO without a reader
// counts as yes: the writer waits for one).
std::string check_event_log(const std::string& path) {
  int fd =
      ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0640);
  if (fd < 0) return errno == ENXIO ? std::string() : std::strerror(errno);
  ::close(fd);
  return {};
}

LiveReloadResult refuse(std::string why) {
  LiveReloadResult r;
  r.message = "reload refused, nothing changed: " + why;
  spdlog::error("{}", r.message);
  return r;
}

}  // namespace

LiveReloadResult reload_live(std::shared_ptr<const Config>& running, LiveReloadTarget target,
                             std::chrono::milliseconds wait) {
  const std::string path = running->source;
  std::shared_ptr<const Config> effective;
  ReloadPlan plan;
  try {
    plan = plan_reload(*running, Config::load_file(path));
  } catch (const ConfigError& e) {
    return refuse(e.what());
  } catch (const std::exception& e) {
    return refuse(fmt::format("{}: {}", path, e.what()));
  }
  effective = std::make_shared<const Config>(plan.effective);
  const std::string& events_path = effective->log.events;
  const bool reopen = target.events && !events_path.empty() && events_path != "-";
  if (reopen) {
    if (std::string err = check_event_log(events_path); !err.empty())
      return refuse(fmt::format("{}: log.events: cannot open {}: {}",
                                effective->where("log.events"), events_path, err));
  }
  // Open flows the workers judge again when the policy or script changed.
  auto rejudged = [&target] {
    std::pair<uint64_t, uint64_t> n{0, 0};
    for (const auto& w : target.workers) {
      n.first += w->counters().flows_rejudged.get();
      n.second += w->counters().offload_taken_back.get();
    }
    return n;
  };
  const auto rejudged_before = rejudged();
  PipelineReload published;
  try {
    published = target.pipeline.reload(effective);
  } catch (const ConfigError& e) {
    return refuse(e.what());
  } catch (const std::exception& e) {
    return refuse(fmt::format("{}: {}", path, e.what()));
  }
  if (reopen) target.events->reopen(events_path);
  running = effective;

  // Every worker picks the new stages up between two batches.
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + wait;
  size_t behind = 0;
  for (;;) {
    behind = 0;
    for (const auto& w : target.workers)
      if (w->stage_generation() < published.generation) ++behind;
    if (behind == 0 || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started);
  const auto rejudged_after = rejudged();
  LiveReloadResult r;
  r.applied = true;
  r.rejudged = rejudged_after.first - rejudged_before.first;
  // Beyond the keys: new content at the same paths.
  r.changed = plan.changed;
  auto named = [&r](std::string_view key) {
    return std::find(r.changed.begin(), r.changed.end(), key) != r.changed.end();
  };
  if (published.script_changed && !named("lua.script")) r.changed.emplace_back("lua.script");
  if (published.policy_changed && !named("rules") && !named("zones"))
    r.changed.emplace_back("rule domain_list files");
  for (const auto& w : target.workers)
    r.max_pause_ns = std::max(r.max_pause_ns, w->last_update_ns());

  if (!plan.restart_keys.empty())
    spdlog::warn("reload: {} changed but need a restart; they keep their running values",
                 join(plan.restart_keys));
  r.message = fmt::format(
      "reload applied from {} (generation {}): {}; changed: {}{}{}; {} workers picked it up in "
      "{:.1f} ms, the longest worker pause {:.3f} ms",
      path, published.generation, published.summary,
      r.changed.empty() ? std::string("nothing") : join(r.changed),
      reopen ? fmt::format("; event log {} reopened", events_path) : std::string(),
      r.rejudged == 0 ? std::string()
                      : fmt::format("; {} open flows judged again ({} taken back from the kernel)",
                                    r.rejudged, rejudged_after.second - rejudged_before.second),
      target.workers.size() - behind, took.count(), static_cast<double>(r.max_pause_ns) / 1e6);
  if (behind > 0)
    r.message +=
        fmt::format(" ({} workers not yet: they pick it up after their current batch)", behind);
  spdlog::info("{}", r.message);
  return r;
}

void request_reload() { ::kill(::getpid(), SIGHUP); }

}  // namespace tripline
