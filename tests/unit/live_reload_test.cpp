// Reload without restart: what a new configuration may change (plan_reload),
// the hand-over of new stages to a running worker between two batches
// (StageReload: run under TSan too), and reload_live() end to end from files.
#include "live_reload.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config.h"
#include "config_reload.h"
#include "dns_cache.h"
#include "dns_wire_builder.h"
#include "packet_craft.h"
#include "pipeline.h"
#include "worker.h"

namespace tripline {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

Config load(const std::string& toml) { return Config::load_string(toml, "<test>"); }

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(ConfigReload, RestartKeysKeepTheirRunningValuesAndAreNamed) {
  Config running = load("[queue]\ncount = 2\n[flows]\ncapacity = 1000\n");
  Config loaded =
      load("[queue]\ncount = 4\n[flows]\ncapacity = 5000\n[egress]\nmode = \"monitor\"\n");
  ReloadPlan plan = plan_reload(running, loaded);
  EXPECT_EQ(plan.effective.queue.count, 2);
  EXPECT_EQ(plan.effective.flows.capacity, 1000u);
  EXPECT_TRUE(has(plan.restart_keys, "queue.count"));
  EXPECT_TRUE(has(plan.restart_keys, "flows.capacity"));
  EXPECT_EQ(plan.restart_keys.size(), 2u);
  // What may change does.
  EXPECT_EQ(plan.effective.egress.mode, EgressMode::Monitor);
  EXPECT_TRUE(has(plan.changed, "egress.mode"));
}

TEST(ConfigReload, ReloadableKeysApply) {
  Config running = load("[dns]\nmin_ttl = 60\n[lua]\nbudget = 1000\n[capture]\nmax_files = 3\n");
  Config loaded = load(
      "[dns]\nmin_ttl = 5\nmax_ttl = 600\n[lua]\nbudget = 2000\n[capture]\nmax_files = 9\n"
      "[egress]\nmode = \"enforce\"\naction = \"drop\"\nallow = [\"192.0.2.0/24\"]\n"
      "[log]\nevents = \"/tmp/elsewhere.json\"\n");
  ReloadPlan plan = plan_reload(running, loaded);
  EXPECT_TRUE(plan.restart_keys.empty()) << plan.restart_keys.front();
  EXPECT_EQ(plan.effective.dns.min_ttl, 5u);
  EXPECT_EQ(plan.effective.dns.max_ttl, 600u);
  EXPECT_EQ(plan.effective.lua.budget, 2000u);
  EXPECT_EQ(plan.effective.capture.max_files, 9u);
  EXPECT_EQ(plan.effective.egress.action, Verdict::Drop);  // the default is reject
  EXPECT_TRUE(plan.effective.egress.allow.contains(ip("192.0.2.7")));
  EXPECT_EQ(plan.effective.log.events, "/tmp/elsewhere.json");
  for (const char* k : {"dns.min_ttl", "dns.max_ttl", "lua.budget", "capture.max_files",
                        "egress.mode", "egress.action", "egress.allow", "log.events"})
    EXPECT_TRUE(has(plan.changed, k)) << k;
}

// Keys of the sections added beside reload (recording format, EVE DNS layout,
// shared store size, metrics listener, lease files, offload): each needs a
// restart, keeps its running value and is named.
TEST(ConfigReload, LaterSectionsNeedARestart) {
  Config running = load("");
  Config loaded = load(
      "[capture]\nformat = \"pcap\"\n[log]\ndns_version = 2\n[lua]\nshared_entries = 64\n"
      "[metrics]\nlisten = \"127.0.0.1:9999\"\n[clients]\nleases = [\"/nonexistent/leases\"]\n"
      "[offload]\nenabled = true\nafter_packets = 5\nadopt = false\n");
  ReloadPlan plan = plan_reload(running, loaded);
  for (const char* k :
       {"capture.format", "log.dns_version", "lua.shared_entries", "metrics.listen",
        "clients.leases", "offload.enabled", "offload.after_packets", "offload.adopt"})
    EXPECT_TRUE(has(plan.restart_keys, k)) << k;
  EXPECT_EQ(plan.effective.capture.format, running.capture.format);
  EXPECT_EQ(plan.effective.log.dns_version, running.log.dns_version);
  EXPECT_EQ(plan.effective.lua.shared_entries, running.lua.shared_entries);
  EXPECT_EQ(plan.effective.metrics.listen, running.metrics.listen);
  EXPECT_TRUE(plan.effective.clients.leases.empty());
  EXPECT_FALSE(plan.effective.offload.enabled);
  EXPECT_TRUE(plan.effective.offload.adopt);
}

// [[rule]]s and [zones] reload: a change to either is named ("rules",
// "zones"); the same rules and zones further down the file (other lines in
// their origins) are no change.
TEST(ConfigReload, RulesAndZonesAreNamedWhenTheyChange) {
  const std::string zone = "[zones.lan]\ncidrs = [\"192.168.1.0/24\"]\n";
  const std::string telnet = "[[rule]]\nname = \"telnet\"\nmatch = { port = 23 }\naction = ";
  const std::string ssh =
      "[[rule]]\nname = \"ssh\"\nmatch = { port = 22, src_zone = \"lan\" }\naction = ";
  const Config running = load(zone + telnet + "\"drop\"\n" + ssh + "\"accept\"\n");
  auto changed = [&](const std::string& toml) { return plan_reload(running, load(toml)).changed; };

  EXPECT_TRUE(
      changed("# a comment\n\n" + zone + telnet + "\"drop\"\n" + ssh + "\"accept\"\n").empty());
  std::vector<std::string> c = changed(zone + telnet + "\"reject\"\n" + ssh + "\"accept\"\n");
  EXPECT_TRUE(has(c, "rules"));
  EXPECT_FALSE(has(c, "zones"));
  EXPECT_TRUE(has(changed(zone + ssh + "\"accept\"\n" + telnet + "\"drop\"\n"), "rules"));  // order
  EXPECT_TRUE(has(changed(zone + ssh + "\"accept\"\n"), "rules"));  // one fewer
  c = changed("[zones.lan]\ncidrs = [\"192.168.2.0/24\"]\n" + telnet + "\"drop\"\n" + ssh +
              "\"accept\"\n");
  EXPECT_TRUE(has(c, "zones"));
  EXPECT_FALSE(has(c, "rules"));
  EXPECT_TRUE(
      has(changed(zone + "interfaces = [\"lo\"]\n" + telnet + "\"drop\"\n" + ssh + "\"accept\"\n"),
          "zones"));
  c = changed("");
  EXPECT_TRUE(has(c, "rules"));
  EXPECT_TRUE(has(c, "zones"));
}

TEST(ConfigReload, TurningTheEventLogOffNeedsARestart) {
  Config running = load("[log]\nevents = \"/tmp/a.json\"\n");
  ReloadPlan plan = plan_reload(running, load("[log]\nevents = \"\"\n"));
  EXPECT_EQ(plan.effective.log.events, "/tmp/a.json");
  EXPECT_TRUE(has(plan.restart_keys, "log.events"));
}

// A worker judging packets on its own thread while another thread publishes
// new rule sets: every packet gets a decision, the worker switches only
// between batches, and once it reports a generation its packets follow it.
TEST(StageReload, WorkerPicksUpNewRulesBetweenBatches) {
  const std::string drop_rule =
      "[[rule]]\nname = \"x\"\nmatch = { dst = [\"198.51.100.0/24\"] }\naction = \"drop\"\n";
  auto accept_cfg = std::make_shared<Config>(load("[log]\nevents = \"\"\n"));
  auto drop_cfg = std::make_shared<Config>(load("[log]\nevents = \"\"\n" + drop_rule));
  Pipeline pipeline(accept_cfg, Pipeline::Mode::Live);
  Worker worker(accept_cfg, 0, nullptr);
  pipeline.stage_factory()(worker);

  constexpr int kBatch = 16;
  constexpr int kRounds = 40;
  std::atomic<uint64_t> wanted{0};  // generation the main thread waits for
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> judged{0}, wrong{0};
  std::thread t([&] {
    uint16_t port = 1;
    const uint8_t payload[4] = {1, 2, 3, 4};
    Timestamp now = 1'000'000'000;
    while (!stop.load()) {
      worker.between_batches();
      // Odd generations run the drop rule (set by the main thread below).
      const bool dropping = worker.stage_generation() % 2 == 1;
      for (int i = 0; i < kBatch; ++i) {
        auto pkt = craft::udp(ip("10.0.0.1"), port++, ip("198.51.100.9"), 9, payload);
        Decision d = worker.process(LinkType::Raw, pkt, now += 1000);
        judged.fetch_add(1);
        if ((d.verdict == Verdict::Drop) != dropping) wrong.fetch_add(1);
      }
    }
  });
  for (int round = 1; round <= kRounds; ++round) {
    PipelineReload r = pipeline.reload(round % 2 == 1 ? drop_cfg : accept_cfg);
    ASSERT_EQ(r.generation, static_cast<uint64_t>(round));
    wanted.store(r.generation);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (worker.stage_generation() < r.generation &&
           std::chrono::steady_clock::now() < deadline) {
      CounterSnapshot snap;  // readers while the worker adds rule counters
      snap.add(worker.counters());
      std::this_thread::yield();
    }
    ASSERT_EQ(worker.stage_generation(), r.generation);
  }
  stop.store(true);
  t.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(worker.counters().packets.get(), judged.load());
  CounterSnapshot snap;
  snap.add(worker.counters());
  EXPECT_EQ(snap.verdict_accept + snap.verdict_drop, judged.load());
  // One rule counter across all reloads, counting every drop.
  ASSERT_EQ(snap.named.size(), 1u);
  EXPECT_EQ(snap.named[0].first, "rule.x");
  EXPECT_EQ(snap.named[0].second, snap.verdict_drop);
  EXPECT_GT(snap.verdict_drop, 0u);
  EXPECT_GT(snap.verdict_accept, 0u);
}

// A flow decided before a reload keeps its decision (and its reason, whose
// rules the reload freed) until it ends.
TEST(StageReload, FlowsKeepTheirDecisionAcrossAReload) {
  const std::string drop_rule =
      "[log]\nevents = \"\"\n[[rule]]\nname = \"gone\"\nmatch = { dst = [\"198.51.100.0/24\"] }\n"
      "action = \"drop\"\n";
  auto drop_cfg = std::make_shared<Config>(load(drop_rule));
  auto accept_cfg = std::make_shared<Config>(load("[log]\nevents = \"\"\n"));
  Pipeline pipeline(drop_cfg, Pipeline::Mode::Live);
  Worker worker(drop_cfg, 0, nullptr);
  pipeline.stage_factory()(worker);
  const uint8_t payload[1] = {0};
  auto old_flow = craft::udp(ip("10.0.0.1"), 1000, ip("198.51.100.9"), 9, payload);
  auto new_flow = craft::udp(ip("10.0.0.1"), 1001, ip("198.51.100.9"), 9, payload);
  EXPECT_EQ(worker.process(LinkType::Raw, old_flow, 1'000'000'000).verdict, Verdict::Drop);
  pipeline.reload(accept_cfg);
  worker.between_batches();
  Decision d = worker.process(LinkType::Raw, old_flow, 1'001'000'000);
  EXPECT_EQ(d.verdict, Verdict::Drop);
  EXPECT_EQ(d.reason, "rule:gone");
  EXPECT_EQ(worker.process(LinkType::Raw, new_flow, 1'002'000'000).verdict, Verdict::Accept);
}

// A query asked before a reload is still matched by its answer after it: the
// new DNS observer takes over the outstanding queries.
TEST(StageReload, OutstandingDnsQueriesSurviveAReload) {
  const std::string toml =
      "[log]\nevents = \"\"\n[dns]\nresolvers = [\"10.0.0.53\"]\nclient_identity = "
      "\"address\"\n[egress]\nmode = \"enforce\"\n";
  auto cfg = std::make_shared<Config>(load(toml));
  auto cfg2 = std::make_shared<Config>(load(toml + "allow = [\"192.0.2.0/24\"]\n"));
  Pipeline pipeline(cfg, Pipeline::Mode::Live);
  Worker worker(cfg, 0, nullptr);
  pipeline.stage_factory()(worker);
  auto cli = ip("10.0.0.10"), res = ip("10.0.0.53");
  Timestamp now = 1767225600 * kNsPerSec;
  worker.process(LinkType::Raw,
                 craft::udp(cli, 33000, res, 53,
                            test::build_dns("r.example.test.", LDNS_RR_TYPE_A, {}, false, 11)),
                 now);
  pipeline.reload(cfg2);
  worker.between_batches();
  ASSERT_EQ(worker.stage_generation(), 1u);
  Decision d = worker.process(
      LinkType::Raw,
      craft::udp(res, 53, cli, 33000,
                 test::build_dns("r.example.test.", LDNS_RR_TYPE_A,
                                 {"r.example.test. 300 IN A 203.0.113.9"}, true, 11)),
      now + kNsPerSec / 100);
  EXPECT_EQ(d.verdict, Verdict::Accept) << d.reason;
  EXPECT_EQ(worker.counters().dns_answers_unmatched.get(), 0u);
  EXPECT_EQ(pipeline.dns_cache()->lookup(cli, ip("203.0.113.9"), now + kNsPerSec).status,
            DnsLookupStatus::Open);
}

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "tripline-reload-XXXXXX").string();
    path_ = ::mkdtemp(t.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct LiveFixture {
  explicit LiveFixture(const std::string& config_path) {
    cfg = std::make_shared<const Config>(Config::load_file(config_path));
    pipeline = std::make_unique<Pipeline>(cfg, Pipeline::Mode::Live);
    workers.push_back(std::make_unique<Worker>(cfg, 0, nullptr));
    pipeline->stage_factory()(*workers.back());
  }
  LiveReloadResult reload() {
    LiveReloadResult r = reload_live(cfg, LiveReloadTarget{*pipeline, nullptr, workers},
                                     std::chrono::milliseconds(1));
    for (auto& w : workers) w->between_batches();  // what the source does after a batch
    return r;
  }
  Verdict judge(uint16_t dport) {
    const uint8_t payload[1] = {0};
    now += 1'000'000;
    return workers[0]
        ->process(LinkType::Raw,
                  craft::tcp(ip("10.0.0.1"), ++sport, ip("192.0.2.1"), dport, 0x02, 1, 0, payload),
                  now)
        .verdict;
  }
  // A packet of the flow from source port `flow_sport` (the same flow each time).
  Verdict judge_flow(uint16_t flow_sport, uint16_t dport) {
    const uint8_t payload[1] = {0};
    now += 1'000'000;
    return workers[0]
        ->process(
            LinkType::Raw,
            craft::tcp(ip("10.0.0.1"), flow_sport, ip("192.0.2.1"), dport, 0x10, 1, 0, payload),
            now)
        .verdict;
  }
  std::shared_ptr<const Config> cfg;
  std::unique_ptr<Pipeline> pipeline;
  std::vector<std::unique_ptr<Worker>> workers;
  uint16_t sport = 40000;
  Timestamp now = 1'000'000'000;
};

const char* kDropPort = R"(function on_flow(f)
  if f.dest_port == %d then return "drop" end
end
)";

std::string script_for(int port) {
  char buf[256];
  std::snprintf(buf, sizeof buf, kDropPort, port);
  return buf;
}

// The script is replaced in the worker; a script that does not load is
// refused (the message names file:line) and the running one stays; a file
// that does not parse changes nothing.
TEST(LiveReload, ScriptIsReplacedAndABrokenOneRefused) {
  TempDir dir;
  std::string script = dir.file("t.lua", script_for(23));
  std::string conf =
      dir.file("t.toml", "[log]\nevents = \"\"\n[lua]\nscript = \"" + script + "\"\n");
  LiveFixture f(conf);
  EXPECT_EQ(f.judge(23), Verdict::Drop);
  EXPECT_EQ(f.judge(24), Verdict::Accept);

  dir.file("t.lua", script_for(24));
  LiveReloadResult r = f.reload();
  EXPECT_TRUE(r.applied) << r.message;
  EXPECT_EQ(f.judge(23), Verdict::Accept);
  EXPECT_EQ(f.judge(24), Verdict::Drop);

  dir.file("t.lua", "function on_flow(f)\n  return (\nend\n");  // syntax error on line 3
  r = f.reload();
  EXPECT_FALSE(r.applied);
  EXPECT_NE(r.message.find("t.lua:3:"), std::string::npos) << r.message;
  EXPECT_EQ(f.judge(24), Verdict::Drop);  // the old script still runs

  dir.file("t.lua", "error('no')\n");  // top-level error
  r = f.reload();
  EXPECT_FALSE(r.applied);
  EXPECT_NE(r.message.find("t.lua:1:"), std::string::npos) << r.message;

  dir.file("t.lua", "local x = 1\n");  // no hook
  EXPECT_FALSE(f.reload().applied);
  EXPECT_EQ(f.judge(24), Verdict::Drop);

  dir.file("t.lua", script_for(25));
  dir.file("t.toml", "[log\nevents = \"\"\n");  // does not parse
  r = f.reload();
  EXPECT_FALSE(r.applied);
  EXPECT_NE(r.message.find("t.toml:1"), std::string::npos) << r.message;
  EXPECT_EQ(f.judge(24), Verdict::Drop);
  EXPECT_EQ(f.judge(25), Verdict::Accept);
}

// A reload that leaves the script as it was keeps its state (logrotate's
// reload); a changed script starts with empty globals.
TEST(LiveReload, UnchangedScriptKeepsItsGlobals) {
  TempDir dir;
  const std::string counting =
      "n = 0\nfunction on_flow(f)\n  n = n + 1\n  if n == 3 then return \"drop\" end\nend\n";
  std::string script = dir.file("c.lua", counting);
  std::string conf =
      dir.file("c.toml", "[log]\nevents = \"\"\n[lua]\nscript = \"" + script + "\"\n");
  LiveFixture f(conf);
  EXPECT_EQ(f.judge(80), Verdict::Accept);
  EXPECT_EQ(f.judge(80), Verdict::Accept);
  ASSERT_TRUE(f.reload().applied);
  EXPECT_EQ(f.judge(80), Verdict::Drop);  // n went on counting: 3
  dir.file("c.lua", "-- changed\n" + counting);
  ASSERT_TRUE(f.reload().applied);
  EXPECT_EQ(f.judge(80), Verdict::Accept);  // n starts again
  EXPECT_EQ(f.judge(80), Verdict::Accept);
  EXPECT_EQ(f.judge(80), Verdict::Drop);
}

// Restart-only keys keep their running values; the rest applies.
// A changed script knows nothing of the one before: flows the old script
// watched (tripline.watch) are not handed to the new script's on_packet.
TEST(LiveReload, ANewScriptDoesNotInheritWatches) {
  TempDir dir;
  std::string script =
      dir.file("w.lua", "function on_flow(f) tripline.watch() end\nfunction on_packet(f) end\n");
  std::string conf =
      dir.file("w.toml", "[log]\nevents = \"\"\n[lua]\nscript = \"" + script + "\"\n");
  LiveFixture f(conf);
  EXPECT_EQ(f.judge_flow(50000, 80), Verdict::Accept);  // watched by the old script
  EXPECT_EQ(f.judge_flow(50000, 80), Verdict::Accept);  // its on_packet passes
  dir.file("w.lua", "function on_flow(f) end\nfunction on_packet(f) return \"drop\" end\n");
  ASSERT_TRUE(f.reload().applied);
  EXPECT_EQ(f.judge_flow(50000, 80), Verdict::Accept);  // not watched by the new script
  EXPECT_EQ(f.judge_flow(50001, 80), Verdict::Accept);  // a new flow: its on_flow watches nothing
}

TEST(LiveReload, RestartKeysKeptEgressApplied) {
  TempDir dir;
  std::string conf = dir.file("t.toml", "[log]\nevents = \"\"\n[flows]\ncapacity = 100\n");
  LiveFixture f(conf);
  dir.file("t.toml",
           "[log]\nevents = \"\"\n[flows]\ncapacity = 200\n[[rule]]\nname = \"no-telnet\"\n"
           "match = { port = 23 }\naction = \"drop\"\n");
  LiveReloadResult r = f.reload();
  EXPECT_TRUE(r.applied) << r.message;
  EXPECT_EQ(f.cfg->flows.capacity, 100u);
  EXPECT_EQ(f.judge(23), Verdict::Drop);
  EXPECT_EQ(f.judge(22), Verdict::Accept);
}

// What a reload changed is named, also what only the files at the same paths
// tell (the script's code, a rule's domain_list file); a reload of the same
// files names nothing.
TEST(LiveReload, NamesWhatChanged) {
  TempDir dir;
  std::string script = dir.file("n.lua", script_for(23));
  std::string list = dir.file("bad.txt", "bad.example\n");
  const std::string head =
      "[log]\nevents = \"\"\n[dns]\nresolvers = [\"10.0.0.53\"]\n[lua]\nscript = \"" + script +
      "\"\n[[rule]]\nname = \"bad\"\nmatch = { domain_list = [\"" + list + "\"] }\naction = ";
  std::string conf = dir.file("n.toml", head + "\"drop\"\n");
  LiveFixture f(conf);
  LiveReloadResult r = f.reload();
  ASSERT_TRUE(r.applied) << r.message;
  EXPECT_TRUE(r.changed.empty()) << r.message;

  dir.file("n.toml", head + "\"reject\"\n");
  r = f.reload();
  EXPECT_EQ(r.changed, std::vector<std::string>{"rules"}) << r.message;

  dir.file("n.lua", script_for(24));
  r = f.reload();
  EXPECT_EQ(r.changed, std::vector<std::string>{"lua.script"}) << r.message;

  dir.file("bad.txt", "bad.example\nworse.example\n");
  r = f.reload();
  EXPECT_EQ(r.changed, std::vector<std::string>{"rule domain_list files"}) << r.message;

  r = f.reload();
  EXPECT_TRUE(r.changed.empty()) << r.message;
}

}  // namespace
}  // namespace tripline
