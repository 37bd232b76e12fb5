#include "cli.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>

#include "bench_command.h"
#include "capture_writer.h"
#include "config.h"
#include "ctl_command.h"
#include "event_writer.h"
#include "live_runtime.h"
#include "log_sink.h"
#include "offload_rules.h"
#include "pipeline.h"
#include "reject_rules.h"
#include "replay.h"
#include "startup_plan.h"

namespace tripline {
namespace {

std::shared_ptr<const Config> load_config(const std::string& path) {
  return std::make_shared<const Config>(path.empty() ? Config::defaults()
                                                     : Config::load_file(path));
}

int cmd_check(const std::string& config_path) {
  auto cfg = load_config(config_path);
  StartupPlan plan = plan_startup(*cfg);
  check_startup(*cfg, plan);
  Pipeline pipeline(cfg, Pipeline::Mode::Check);  // loads lists and scripts; starts nothing
  if (config_may_reject(*cfg))
    if (auto warning = check_reject_rules(*cfg)) spdlog::warn("{}", *warning);
  for (const std::string& w : offload_rules_warnings(cfg->offload)) spdlog::warn("{}", w);
  std::printf("%s: OK\n%s%s", cfg->source.c_str(), pipeline.describe().c_str(),
              plan.describe().c_str());
  return 0;
}

int cmd_replay(const std::string& config_path, const std::string& pcap,
               const std::string& verdicts_path, const std::string& events_path,
               const std::string& capture_dir, bool quiet) {
  auto base = load_config(config_path);
  std::shared_ptr<const Config> cfg = base;
  // Replay writes events only where asked (--events or a [log] events key).
  if (base->log.replay_events(events_path) != base->log.events || !capture_dir.empty()) {
    auto copy = std::make_shared<Config>(*base);
    copy->log.events = base->log.replay_events(events_path);
    if (!capture_dir.empty()) copy->capture.dir = capture_dir;
    cfg = copy;
  }
  Pipeline pipeline(cfg, Pipeline::Mode::Replay);
  auto events = open_events(*cfg);
  std::unique_ptr<FILE, int (*)(FILE*)> verdicts(nullptr, &std::fclose);
  if (!verdicts_path.empty()) {
    verdicts.reset(verdicts_path == "-" ? fdopen(dup(1), "w")
                                        : std::fopen(verdicts_path.c_str(), "w"));
    if (!verdicts) {
      spdlog::error("cannot write verdicts to {}: {}", verdicts_path, std::strerror(errno));
      return 1;
    }
  }
  ReplayOptions opts;
  opts.pcap_path = pcap;
  opts.verdicts = verdicts.get();
  opts.events = events.get();
  ReplayResult r = replay_pcap(cfg, opts, pipeline.stage_factory());
  if (events) events->flush();
  pipeline.shutdown();
  if (!quiet) print_capture_summary(pipeline);
  if (!quiet) {
    std::fprintf(stderr, "replay %s: %llu frames in %.3f s (%.0f packets/s)\n", pcap.c_str(),
                 static_cast<unsigned long long>(r.frames), r.seconds,
                 r.seconds > 0 ? static_cast<double>(r.frames) / r.seconds : 0.0);
    std::fputs(r.counters.to_text().c_str(), stderr);
  }
  if (r.truncated) {
    spdlog::warn("{}: file ends inside a record after frame {}: {}", pcap, r.frames, r.error);
  }
  return 0;
}

int cmd_run(const std::string& config_path) {
  auto cfg = load_config(config_path);
  StartupPlan plan = plan_startup(*cfg);
  check_startup(*cfg, plan);
  spdlog::info("memory: about {} MB at start ({} workers; `tripline check` lists it)",
               plan.total >> 20, cfg->queue.count);
  for (const std::string& w : offload_rules_warnings(cfg->offload)) spdlog::warn("{}", w);
  try {
    return run_live(cfg);
  } catch (const std::bad_alloc&) {
    spdlog::error(
        "out of memory while starting: the configuration needs about {} MB "
        "(`tripline check` lists it)",
        plan.total >> 20);
    return 1;
  }
}

}  // namespace

int run_cli(int argc, char** argv) {
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "tripline",
      std::make_shared<EscapingSink>(std::make_shared<spdlog::sinks::stderr_color_sink_mt>())));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{
      "tripline: NFQUEUE packet-inspection trigger engine.\n"
      "Judges packets the kernel queues (iptables -j NFQUEUE / nft queue), tracks flows,\n"
      "writes EVE-style JSON events, and runs the same pipeline over pcap files.",
      "tripline"};
  app.set_version_flag("--version", std::string("tripline ") + kVersion);
  app.require_subcommand(1);

  std::string config_path;
  auto* run = app.add_subcommand("run", "Judge live packets from NFQUEUE (needs CAP_NET_ADMIN)");
  run->add_option("-c,--config", config_path, "TOML config file (default: built-in defaults)")
      ->check(CLI::ExistingFile);

  std::string pcap, verdicts, events, capture_dir;
  bool quiet = false;
  auto* replay = app.add_subcommand("replay", "Run the same pipeline over a pcap/pcapng file");
  replay->add_option("pcap", pcap, "Capture file to read")->required()->check(CLI::ExistingFile);
  replay->add_option("-c,--config", config_path, "TOML config file (default: built-in defaults)")
      ->check(CLI::ExistingFile);
  replay->add_option("--verdicts", verdicts,
                     "Write one JSON line per frame: {\"frame\":N,\"verdict\":...,\"reason\":...} "
                     "(\"-\" = stdout)");
  replay->add_option("--events", events, "Write events (JSON lines) here; overrides [log] events");
  replay->add_option("--capture-dir", capture_dir,
                     "Write trigger-started captures here; overrides [capture] dir (and turns "
                     "capture on)");
  replay->add_flag("-q,--quiet", quiet, "Do not print the counter summary");

  BenchOptions bench_opts;
  auto* bench = add_bench_command(app, bench_opts);

  CtlOptions ctl_opts;
  auto* ctl = add_ctl_command(app, ctl_opts);

  auto* check = app.add_subcommand("check", "Validate the configuration; exit 0 if it is good");
  check->add_option("-c,--config", config_path, "TOML config file (default: built-in defaults)")
      ->check(CLI::ExistingFile);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*check) return cmd_check(config_path);
    if (*replay) return cmd_replay(config_path, pcap, verdicts, events, capture_dir, quiet);
    if (*run) return cmd_run(config_path);
    if (*bench) return run_bench(bench_opts);
    if (*ctl) return run_ctl(*ctl, ctl_opts);
  } catch (const ConfigError& e) {
    spdlog::error("config: {}", e.what());
    return 1;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 1;
}

}  // namespace tripline
