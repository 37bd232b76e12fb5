// A reload that changes how open flows are judged (the rules, the lists they
// read, the script) judges them again with their next packet, taking
// offloaded ones back from the kernel first; a reload that changes nothing
// of that takes nothing back (engine/worker/README.md).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "config.h"
#include "offload_link.h"
#include "packet_craft.h"
#include "pipeline.h"
#include "worker.h"

namespace tripline {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

const std::string kBase = "[log]\nevents = \"\"\n[offload]\nadopt = false\n";
const std::string kDropServer =
    "[[rule]]\nname = \"deny-server\"\nmatch = { dst = [\"192.0.2.7\"] }\naction = \"drop\"\n";
const std::string kRejectServer =
    "[[rule]]\nname = \"deny-server\"\nmatch = { dst = [\"192.0.2.7\"] }\naction = \"reject\"\n";
const std::string kDropTelnet =
    "[[rule]]\nname = \"no-telnet\"\nmatch = { port = 23 }\naction = \"drop\"\n";

std::shared_ptr<const Config> cfg_of(const std::string& toml) {
  return std::make_shared<const Config>(Config::load_string(kBase + toml, "<test>"));
}

// One live worker of a pipeline, with an offload link the test plays the
// conntrack thread of.
struct Fixture {
  explicit Fixture(const std::string& toml) : pipeline(cfg_of(toml), Pipeline::Mode::Live) {
    worker = std::make_unique<Worker>(cfg_of(toml), 0, nullptr);
    pipeline.stage_factory()(*worker);
    worker->set_offload(&link);
  }
  void reload(const std::string& toml) {
    pipeline.reload(cfg_of(toml));
    worker->between_batches();  // what the source does after a batch
    ASSERT_EQ(worker->stage_generation(), pipeline.generation());
  }
  // One packet of the TCP flow 10.0.0.2:sport <-> server:443.
  Decision send(bool from_client, const char* server = "192.0.2.7", uint16_t sport = 40000) {
    const IpAddr c = ip("10.0.0.2"), s = ip(server);
    const uint8_t payload[1] = {0};
    auto pkt = from_client ? craft::tcp(c, sport, s, 443, 0x10, 1, 1, payload)
                           : craft::tcp(s, 443, c, sport, 0x10, 1, 1, payload);
    return worker->process(LinkType::Raw, pkt, now += 1'000'000);
  }
  // Both ways until the worker offloads the flow (its verdict carries the mark).
  void offload(uint16_t sport = 40000) {
    const size_t was = link.offloaded_now();
    for (int i = 0; i < 2; ++i) {
      ASSERT_EQ(send(true, "192.0.2.7", sport).verdict, Verdict::Accept);
      ASSERT_EQ(send(false, "192.0.2.7", sport).verdict, Verdict::Accept);
    }
    CtRequest r;
    ASSERT_FALSE(link.next_request(r));  // the verdict carries the mark: registered at once
    ASSERT_EQ(link.offloaded_now(), was + 1);
  }
  // The take-back requests the worker queued, applied.
  int taken_back() {
    int n = 0;
    CtRequest r;
    while (link.next_request(r)) {
      EXPECT_EQ(r.op, CtOp::TakeBack);
      link.applied(r, true, false);
      ++n;
    }
    return n;
  }
  const Counters& counters() { return worker->counters(); }

  OffloadLink link{1};
  Pipeline pipeline;
  std::unique_ptr<Worker> worker;
  Timestamp now = 1'000'000'000;
};

// The case: an offloaded connection to a server the new deny rule
// names is taken back (its mark cleared by the conntrack thread, counted)
// and its next packet is judged again and dropped.
TEST(ReloadRejudge, OffloadedFlowIsTakenBackAndBlockedByTheNewRule) {
  Fixture f("");
  f.offload();
  f.reload(kDropServer);
  CtRequest r;
  ASSERT_TRUE(f.link.next_request(r));
  EXPECT_EQ(r.op, CtOp::TakeBack);
  EXPECT_EQ(r.tuple, (CtTuple{ip("10.0.0.2"), ip("192.0.2.7"), 40000, 443, 6}));
  EXPECT_EQ(f.counters().offload_taken_back.get(), 1u);
  EXPECT_EQ(f.counters().flows_rejudged.get(), 1u);
  f.link.applied(r, true, false);
  EXPECT_EQ(f.link.offloaded_now(), 0u);
  EXPECT_EQ(f.link.stats().taken_back, 1u);

  Decision d = f.send(false);  // the server's next packet, back in the queue
  EXPECT_EQ(d.verdict, Verdict::Drop);
  EXPECT_EQ(d.reason, "rule:deny-server");
  EXPECT_EQ(f.send(true).verdict, Verdict::Drop);
  // Ended by its drop, it goes back to the kernel as a dropped connection.
  ASSERT_TRUE(f.link.next_request(r));
  EXPECT_EQ(r.op, CtOp::Offload);
  EXPECT_TRUE(r.drop);
  EXPECT_EQ(f.counters().flows_rejudged.get(), 1u);  // judged once
}

// Every offloaded flow, however many: taking one back moves it to another
// of the flow table's lists while the worker walks them.
TEST(ReloadRejudge, EveryOffloadedFlowIsTakenBack) {
  Fixture f("");
  for (uint16_t p = 40000; p < 40005; ++p) f.offload(p);
  f.reload(kDropServer);
  EXPECT_EQ(f.taken_back(), 5);
  EXPECT_EQ(f.counters().offload_taken_back.get(), 5u);
  EXPECT_EQ(f.counters().flows_rejudged.get(), 5u);
  EXPECT_EQ(f.link.offloaded_now(), 0u);
  for (uint16_t p = 40000; p < 40005; ++p)
    EXPECT_EQ(f.send(true, "192.0.2.7", p).verdict, Verdict::Drop) << p;
}

// The same for a host recording: it takes back every offloaded connection
// of its host that this worker has, not just the first.
TEST(ReloadRejudge, AHostRecordingTakesBackEveryConnectionOfItsHost) {
  const std::string dir = ::testing::TempDir() + "rejudge_cap_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  Fixture f("[capture]\ndir = \"" + dir +
            "\"\n[[rule]]\nname = \"record-host\"\nmatch = { proto = \"udp\", port = 9999 }\n"
            "action = [\"capture\", \"accept\"]\ncapture = { scope = \"host\", seconds = 30 }\n");
  for (uint16_t p = 40000; p < 40004; ++p) f.offload(p);
  const uint8_t payload[1] = {0};
  f.worker->process(LinkType::Raw, craft::udp(ip("10.0.0.2"), 5000, ip("192.0.2.7"), 9999, payload),
                    f.now += 1'000'000);
  EXPECT_EQ(f.taken_back(), 4);
  EXPECT_EQ(f.counters().offload_taken_back.get(), 4u);
  EXPECT_EQ(f.counters().flows_rejudged.get(), 0u);  // recorded, not judged again
  f.worker.reset();
  f.pipeline.shutdown();
  std::filesystem::remove_all(dir);
}

// A flow still in the queue is judged again just the same; reject carries
// the reject mark.
TEST(ReloadRejudge, QueuedFlowIsBlockedByTheNewRule) {
  Fixture f("");
  EXPECT_EQ(f.send(true).verdict, Verdict::Accept);
  f.reload(kRejectServer);
  CtRequest r;
  EXPECT_FALSE(f.link.next_request(r));  // nothing to take back
  EXPECT_EQ(f.counters().flows_rejudged.get(), 1u);
  Decision d = f.send(false);
  EXPECT_EQ(d.verdict, Verdict::Reject);
  EXPECT_TRUE(d.has_mark);
  EXPECT_EQ(f.counters().verdict_reject.get(), 1u);
}

// The new policy still accepts it: it keeps its decision and goes back to
// the kernel with its next packet.
TEST(ReloadRejudge, AFlowTheNewPolicyAcceptsIsOffloadedAgain) {
  Fixture f("");
  f.offload();
  f.reload(kDropTelnet);
  CtRequest r;
  ASSERT_TRUE(f.link.next_request(r));
  EXPECT_EQ(r.op, CtOp::TakeBack);
  f.link.applied(r, true, false);
  EXPECT_EQ(f.link.offloaded_now(), 0u);
  Decision d = f.send(true);
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_EQ(d.reason, "default");
  EXPECT_TRUE(d.offload);  // its verdict carries the mark again
  EXPECT_EQ(f.link.offloaded_now(), 1u);
  EXPECT_FALSE(f.link.next_request(r));
}

// A reload that changes nothing a flow is judged by (the event log, the
// egress chain, capture limits; the same rules again) takes nothing back.
TEST(ReloadRejudge, AReloadThatChangesNoPolicyTakesNothingBack) {
  Fixture f(kDropTelnet);
  f.offload();
  f.reload(kDropTelnet);  // logrotate's reload: the same file
  f.reload(kDropTelnet + "[capture]\nmax_files = 7\n");
  CtRequest r;
  EXPECT_FALSE(f.link.next_request(r));
  EXPECT_EQ(f.counters().offload_taken_back.get(), 0u);
  EXPECT_EQ(f.counters().flows_rejudged.get(), 0u);
  EXPECT_EQ(f.link.offloaded_now(), 1u);
}

// The DNS gate judges new connections only: a reload that changes the rules
// does not cut an open flow for want of a DNS answer (as adoption keeps
// established connections at a restart), while a new one is refused.
TEST(ReloadRejudge, TheDnsGateJudgesNewConnectionsOnly) {
  const std::string dns =
      "[dns]\nresolvers = [\"10.0.0.53\"]\nclient_identity = \"address\"\n"
      "[egress]\nmode = \"monitor\"\n";
  const std::string enforce =
      "[dns]\nresolvers = [\"10.0.0.53\"]\nclient_identity = \"address\"\n"
      "[egress]\nmode = \"enforce\"\naction = \"drop\"\n";
  Fixture f(dns);
  EXPECT_EQ(f.send(true, "198.51.100.9").verdict, Verdict::Accept);  // unresolved, monitored
  f.reload(enforce + kDropTelnet);
  EXPECT_EQ(f.counters().flows_rejudged.get(), 1u);
  EXPECT_EQ(f.send(true, "198.51.100.9").verdict, Verdict::Accept);
  // A new connection to the same address needs DNS.
  const uint8_t payload[1] = {0};
  Decision d = f.worker->process(
      LinkType::Raw,
      craft::tcp(ip("10.0.0.2"), 40001, ip("198.51.100.9"), 443, 0x02, 1, 0, payload),
      f.now += 1'000'000);
  EXPECT_EQ(d.verdict, Verdict::Drop);
  EXPECT_EQ(d.reason, "unresolved");
}

// A rule's domain_list file whose content changed is a changed policy, though
// the configuration names the same file.
TEST(ReloadRejudge, AChangedListFileIsAChangedPolicy) {
  std::string dir = ::testing::TempDir() + "rejudge_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string list = dir + "/bad.txt";
  std::ofstream(list) << "bad.example\n";
  const std::string toml =
      "[dns]\nresolvers = [\"10.0.0.53\"]\nclient_identity = \"address\"\n[[rule]]\nname = "
      "\"bad\"\n"
      "match = { domain_list = [\"" +
      list + "\"] }\naction = \"drop\"\n";
  Fixture f(toml);
  f.offload();
  f.reload(toml);  // the same content: nothing
  EXPECT_EQ(f.counters().offload_taken_back.get(), 0u);
  std::ofstream(list) << "bad.example\nworse.example\n";
  f.reload(toml);
  EXPECT_EQ(f.counters().offload_taken_back.get(), 1u);
  EXPECT_EQ(f.counters().flows_rejudged.get(), 1u);
  std::filesystem::remove_all(dir);
}

// A changed script judges the open flows too (f.new is false); a flow the
// script decided keeps the script's word while only the rules change.
TEST(ReloadRejudge, AChangedScriptJudgesOpenFlows) {
  std::string dir = ::testing::TempDir() + "rejudge_lua_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string script = dir + "/t.lua";
  std::ofstream(script) << "function on_flow(f) if f.dest_port == 443 then return \"accept\" end "
                           "end\n";
  const std::string lua = "[lua]\nscript = \"" + script + "\"\n";
  Fixture f(lua);
  f.offload();
  // The rules change, the script does not: the flow the script accepted stays.
  f.reload(lua + kDropServer);
  EXPECT_EQ(f.counters().flows_rejudged.get(), 0u);
  EXPECT_EQ(f.link.offloaded_now(), 1u);
  // The script changes: the new one judges the open flow, as not new.
  std::ofstream(script) << "function on_flow(f) if not f.new and f.dest_port == 443 then "
                           "return \"reject\" end end\n";
  f.reload(lua + kDropServer);
  EXPECT_EQ(f.counters().flows_rejudged.get(), 1u);
  EXPECT_EQ(f.counters().offload_taken_back.get(), 1u);
  Decision d = f.send(true);
  EXPECT_EQ(d.verdict, Verdict::Reject);
  EXPECT_EQ(d.reason, "lua");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tripline
