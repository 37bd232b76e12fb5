// StageEnv: what a stage may use of its worker. A stage needs no Worker: here
// one is built by hand on an environment of the test's own.
#include "stage_env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "config.h"
#include "decode.h"
#include "dns_observer.h"
#include "dns_wire_builder.h"
#include "event_writer.h"
#include "packet_craft.h"

namespace tripline {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

class StageEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("stage_env_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string read_events() {
    std::ifstream in(dir_ / "events.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::filesystem::path dir_;
  Counters counters_;
};

TEST_F(StageEnvTest, EmitCountsWhatItHandsOn) {
  Decision def;
  def.verdict = Verdict::Drop;
  def.reason = "default";
  {
    EventWriter writer((dir_ / "events.json").string(), 16);
    StageEnv env(counters_, &writer, def, 3);
    EXPECT_TRUE(env.events_on());
    EXPECT_EQ(env.worker_index(), 3u);
    EXPECT_EQ(env.default_decision().verdict, Verdict::Drop);
    EXPECT_EQ(env.capture(), nullptr);
    env.emit("{\"event_type\":\"test\"}");
    env.emit("");  // the writer refuses an empty line: counted as dropped
    writer.flush();
    EXPECT_EQ(&env.counters(), &counters_);
  }
  EXPECT_EQ(counters_.events_written.get(), 1u);
  EXPECT_EQ(counters_.events_dropped.get(), 1u);
  EXPECT_EQ(read_events(), "{\"event_type\":\"test\"}\n");

  StageEnv quiet(counters_, nullptr, def, 0);
  EXPECT_FALSE(quiet.events_on());
  quiet.emit("{}");  // nowhere to go: neither written nor dropped
  EXPECT_EQ(counters_.events_written.get(), 1u);
  EXPECT_EQ(counters_.events_dropped.get(), 1u);
}

TEST_F(StageEnvTest, AStageRunsOnAnEnvironmentAlone) {
  auto cfg = Config::load_string("[dns]\nresolvers = [\"10.0.0.53\"]\n", "<test>");
  EventWriter writer((dir_ / "events.json").string(), 16);
  StageEnv env(counters_, &writer, Decision{}, 0);
  DnsObserver dns(cfg, DnsServices{}, env);

  std::vector<uint8_t> bytes =
      craft::udp(ip("10.0.0.2"), 33000, ip("10.0.0.53"), 53,
                 test::build_dns("www.example.test.", LDNS_RR_TYPE_A, {}, false, 5));
  Decoded pkt;
  ASSERT_EQ(decode(LinkType::Raw, bytes, pkt), DecodeError::None);
  Flow flow;
  flow.id = 9;
  PacketContext ctx{pkt, flow, true, kToServer, 1'767'225'600LL * kNsPerSec, 1, Decision{}};
  ASSERT_TRUE(dns.likes(ctx));
  EXPECT_EQ(dns.inspect(ctx), Next::Continue);
  writer.flush();
  EXPECT_EQ(counters_.dns_queries.get(), 1u);
  EXPECT_EQ(counters_.events_written.get(), 1u);
  std::string ev = read_events();
  // The flow's EVE id: the worker's hash of flow.id.
  EXPECT_NE(ev.find("\"flow_id\":" + std::to_string(EveBuilder(0).flow_id(9)) +
                    ",\"event_type\":\"dns\""),
            std::string::npos)
      << ev;
  EXPECT_NE(ev.find("\"dns\":{\"version\":3,\"type\":\"request\",\"id\":5,\"queries\":[{"
                    "\"rrname\":\"www.example.test\""),
            std::string::npos)
      << ev;
}

}  // namespace
}  // namespace tripline
