#include "shared_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "counters.h"
#include "packet_craft.h"
#include "pipeline.h"
#include "worker.h"

namespace tripline {
namespace {

constexpr Timestamp kT0 = 1767225600 * kNsPerSec;
using Kind = SharedValue::Kind;

SharedValue integer(int64_t i) {
  SharedValue v;
  v.kind = Kind::Int;
  v.i = i;
  return v;
}
SharedValue real(double d) {
  SharedValue v;
  v.kind = Kind::Float;
  v.d = d;
  return v;
}
SharedValue text(std::string s) {
  SharedValue v;
  v.kind = Kind::String;
  v.s = std::move(s);
  return v;
}

// incr returning the new integer (or -999 when it refused).
int64_t incr(SharedStore& s, std::string_view key, int64_t n, Timestamp ttl, Timestamp now,
             SharedStore::Effect* e = nullptr) {
  SharedStore::Effect local;
  SharedValue out;
  if (!s.incr(key, integer(n), ttl, now, &out, e ? e : &local)) return -999;
  EXPECT_EQ(out.kind, Kind::Int);
  return out.i;
}

Kind kind_of(SharedStore& s, std::string_view key, Timestamp now) {
  SharedValue out;
  s.get(key, now, &out);
  return out.kind;
}

TEST(SharedStore, IncrAddsAndKeepsTypes) {
  SharedStore s(64);
  EXPECT_EQ(incr(s, "a", 1, SharedStore::kNever, kT0), 1);
  EXPECT_EQ(incr(s, "a", 5, SharedStore::kNever, kT0), 6);
  EXPECT_EQ(incr(s, "a", -7, SharedStore::kNever, kT0), -1);
  SharedStore::Effect e;
  SharedValue out;
  ASSERT_TRUE(s.incr("a", real(0.5), SharedStore::kNever, kT0, &out, &e));
  EXPECT_EQ(out.kind, Kind::Float);
  EXPECT_DOUBLE_EQ(out.d, -0.5);
  ASSERT_TRUE(s.incr("f", real(2.25), SharedStore::kNever, kT0, &out, &e));
  EXPECT_EQ(out.kind, Kind::Float);
  EXPECT_DOUBLE_EQ(out.d, 2.25);
  // Integers wrap as Lua's do.
  SharedValue max = integer(INT64_MAX);
  s.set("w", max, SharedStore::kNever, kT0, &e);
  EXPECT_EQ(incr(s, "w", 1, SharedStore::kNever, kT0), INT64_MIN);
  // A string or a boolean is not a counter: refused, unchanged.
  s.set("s", text("x"), SharedStore::kNever, kT0, &e);
  EXPECT_EQ(incr(s, "s", 1, SharedStore::kNever, kT0), -999);
  s.get("s", kT0, &out);
  EXPECT_EQ(out.kind, Kind::String);
  EXPECT_EQ(out.s, "x");
  EXPECT_EQ(e.evicted, 0u);
}

TEST(SharedStore, CounterExpiresTtlAfterItsFirstIncrement) {
  SharedStore s(64);
  const Timestamp ttl = seconds(10);
  EXPECT_EQ(incr(s, "c", 1, ttl, kT0), 1);
  EXPECT_EQ(incr(s, "c", 1, ttl, kT0 + seconds(9.9)), 2);  // no refresh
  EXPECT_EQ(kind_of(s, "c", kT0 + seconds(9.9)), Kind::Int);
  EXPECT_EQ(kind_of(s, "c", kT0 + seconds(10)), Kind::None);
  // Starts over, expiring 10 s after this increment.
  EXPECT_EQ(incr(s, "c", 1, ttl, kT0 + seconds(10)), 1);
  EXPECT_EQ(incr(s, "c", 1, ttl, kT0 + seconds(19.9)), 2);
  EXPECT_EQ(incr(s, "c", 1, ttl, kT0 + seconds(20)), 1);
}

TEST(SharedStore, SetGetDel) {
  SharedStore s(64);
  SharedStore::Effect e;
  SharedValue b;
  b.kind = Kind::Bool;
  b.b = true;
  s.set("b", b, seconds(5), kT0, &e);
  s.set("n", real(1.5), SharedStore::kNever, kT0, &e);
  s.set("t", text(std::string(SharedStore::kMaxString, 'z')), seconds(5), kT0, &e);
  SharedValue out;
  s.get("b", kT0, &out);
  EXPECT_EQ(out.kind, Kind::Bool);
  EXPECT_TRUE(out.b);
  s.get("t", kT0 + seconds(4), &out);
  EXPECT_EQ(out.kind, Kind::String);
  EXPECT_EQ(out.s.size(), SharedStore::kMaxString);
  EXPECT_EQ(kind_of(s, "t", kT0 + seconds(5)), Kind::None);
  // set replaces value and expiry.
  s.set("b", integer(3), seconds(100), kT0, &e);
  s.get("b", kT0 + seconds(50), &out);
  EXPECT_EQ(out.kind, Kind::Int);
  EXPECT_EQ(out.i, 3);
  EXPECT_TRUE(s.del("b", kT0 + seconds(50)));
  EXPECT_FALSE(s.del("b", kT0 + seconds(50)));
  EXPECT_EQ(kind_of(s, "b", kT0 + seconds(50)), Kind::None);
  EXPECT_EQ(kind_of(s, "n", kT0 + seconds(1e6)), Kind::Float);  // no ttl: no expiry
  EXPECT_FALSE(s.del("missing", kT0));
  EXPECT_EQ(e.evicted, 0u);
}

TEST(SharedStore, FullStoreDropsTheSoonestExpiringFirst) {
  SharedStore s(3, 1);
  ASSERT_EQ(s.capacity(), 3u);
  SharedStore::Effect e;
  s.set("late", integer(1), seconds(30), kT0, &e);
  s.set("soon", integer(1), seconds(10), kT0, &e);
  s.set("never", integer(1), SharedStore::kNever, kT0, &e);
  EXPECT_EQ(e.evicted, 0u);
  s.set("d", integer(1), seconds(20), kT0, &e);  // full: "soon" goes
  EXPECT_EQ(e.evicted, 1u);
  EXPECT_EQ(kind_of(s, "soon", kT0), Kind::None);
  EXPECT_EQ(kind_of(s, "late", kT0), Kind::Int);
  s.set("e", integer(1), seconds(40), kT0, &e);  // then "d" (20 s)
  EXPECT_EQ(e.evicted, 2u);
  EXPECT_EQ(kind_of(s, "d", kT0), Kind::None);
  // A set that moves an entry's expiry moves its place in line.
  s.set("late", integer(2), SharedStore::kNever, kT0, &e);
  s.set("f", integer(1), seconds(50), kT0, &e);  // "e" (40 s) is now the soonest
  EXPECT_EQ(e.evicted, 3u);
  EXPECT_EQ(kind_of(s, "e", kT0), Kind::None);
  EXPECT_EQ(kind_of(s, "late", kT0), Kind::Int);
  EXPECT_EQ(kind_of(s, "never", kT0), Kind::Int);
  EXPECT_EQ(s.size(), 3u);
}

TEST(SharedStore, ExpiredEntriesMakeRoomUncounted) {
  SharedStore s(2, 1);
  SharedStore::Effect e;
  EXPECT_EQ(incr(s, "a", 1, seconds(1), kT0, &e), 1);
  EXPECT_EQ(incr(s, "b", 1, seconds(1), kT0, &e), 1);
  // Both expired: the new entries take their room without an eviction.
  EXPECT_EQ(incr(s, "c", 1, seconds(1), kT0 + seconds(2), &e), 1);
  EXPECT_EQ(incr(s, "d", 1, seconds(1), kT0 + seconds(2), &e), 1);
  EXPECT_EQ(e.evicted, 0u);
  EXPECT_LE(s.size(), 2u);
  // Keys come back with new values after their slots were reused.
  EXPECT_EQ(incr(s, "a", 1, seconds(1), kT0 + seconds(4), &e), 1);
  EXPECT_EQ(e.evicted, 0u);
}

TEST(SharedStore, BoundIsSplitOverShards) {
  SharedStore s(100);
  EXPECT_EQ(s.capacity(), 100u);
  SharedStore::Effect e;
  for (int i = 0; i < 1000; ++i) incr(s, "k" + std::to_string(i), 1, seconds(i + 1), kT0, &e);
  EXPECT_EQ(s.size(), 100u);
  EXPECT_EQ(e.evicted, 900u);
  SharedStore tiny(5);  // fewer entries than shards
  EXPECT_EQ(tiny.capacity(), 5u);
  for (int i = 0; i < 50; ++i) incr(tiny, "k" + std::to_string(i), 1, SharedStore::kNever, kT0);
  EXPECT_EQ(tiny.size(), 5u);
}

// Threads increment one shared key and keys of their own, and churn a small
// store with set/get/del and evictions (run under TSan: the tsan preset).
TEST(SharedStore, ThreadsShareCountersExactly) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 20000;
  SharedStore s(4096);
  SharedStore churn(64);
  std::atomic<uint64_t> evicted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string own = "own:" + std::to_string(t);
      SharedStore::Effect e;
      SharedValue out;
      std::string key;
      for (int i = 0; i < kCalls; ++i) {
        s.incr("all", integer(1), seconds(3600), kT0, &out, &e);
        s.incr(own, integer(2), seconds(3600), kT0, &out, &e);
        key = "c" + std::to_string((i * 7 + t) % 200);
        switch (i % 4) {
          case 0:
            churn.set(key, text(std::string(static_cast<size_t>(i % 100), 'x')),
                      seconds(i % 50 + 1), kT0 + seconds(i / 1000), &e);
            break;
          case 1:
            churn.get(key, kT0 + seconds(i / 1000), &out);
            break;
          case 2:
            churn.incr(key, integer(1), seconds(5), kT0 + seconds(i / 1000), &out, &e);
            break;
          default:
            churn.del(key, kT0 + seconds(i / 1000));
        }
      }
      evicted += e.evicted;
    });
  }
  for (auto& th : threads) th.join();
  SharedValue out;
  s.get("all", kT0, &out);
  EXPECT_EQ(out.i, int64_t{kThreads} * kCalls);
  for (int t = 0; t < kThreads; ++t) {
    s.get("own:" + std::to_string(t), kT0, &out);
    EXPECT_EQ(out.i, 2 * kCalls);
  }
  EXPECT_LE(churn.size(), 64u);
  EXPECT_GT(evicted.load(), 0u);  // 200 keys in 64 entries
}

// The Lua side: workers of one pipeline (one Lua state each) share the store.
class SharedStoreLua : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("shared_store_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    workers_.clear();
    pipeline_.reset();
    std::filesystem::remove_all(dir_);
  }
  void start(const std::string& code, int workers, const std::string& extra = "") {
    auto path = dir_ / "triggers.lua";
    std::ofstream(path) << code;
    std::string toml = "[lua]\nscript = \"" + path.string() + "\"\n" + extra;
    cfg_ = std::make_shared<Config>(Config::load_string(toml, "<test>"));
    pipeline_ = std::make_unique<Pipeline>(cfg_, Pipeline::Mode::Replay);
    for (int i = 0; i < workers; ++i) {
      workers_.push_back(std::make_unique<Worker>(cfg_, static_cast<unsigned>(i), nullptr));
      pipeline_->stage_factory()(*workers_.back());
    }
  }
  // A new flow from 10.0.0.2 to port `dport` through worker `w`, at now_.
  Decision syn(int w, uint16_t dport, uint16_t sport) {
    return workers_[static_cast<size_t>(w)]->process(
        LinkType::Raw,
        craft::tcp(*IpAddr::parse("10.0.0.2"), sport, *IpAddr::parse("198.51.100.7"), dport, 0x02,
                   1, 0, {}),
        now_);
  }
  std::filesystem::path dir_;
  std::shared_ptr<Config> cfg_;
  std::unique_ptr<Pipeline> pipeline_;
  std::vector<std::unique_ptr<Worker>> workers_;
  Timestamp now_ = kT0;
};

uint64_t get(const Counter& c) { return c.get(); }

TEST_F(SharedStoreLua, CountersAreSharedAcrossWorkers) {
  // Per-worker globals would count 2 per worker and never drop.
  start(R"(
function on_flow(f)
  if tripline.incr("flows:" .. f.src_ip, 1, 10) > 3 then return "drop" end
end)",
        2);
  ASSERT_NE(pipeline_->shared_store(), nullptr);
  EXPECT_EQ(syn(0, 80, 40000).verdict, Verdict::Accept);
  EXPECT_EQ(syn(1, 80, 40001).verdict, Verdict::Accept);
  EXPECT_EQ(syn(0, 80, 40002).verdict, Verdict::Accept);
  EXPECT_EQ(syn(1, 80, 40003).verdict, Verdict::Drop);  // the 4th flow of the client
  EXPECT_EQ(syn(0, 80, 40004).verdict, Verdict::Drop);
  // Expiry follows packet time: 10 s after the first increment it starts over.
  now_ += seconds(10);
  EXPECT_EQ(syn(1, 80, 40005).verdict, Verdict::Accept);
  EXPECT_EQ(get(workers_[0]->counters().lua_errors) + get(workers_[1]->counters().lua_errors), 0u);
}

TEST_F(SharedStoreLua, GetSetDelRoundTripValues) {
  start(R"(
function on_flow(f)
  if f.dest_port == 1 then
    tripline.set("i", 42); tripline.set("x", 1.5); tripline.set("b", false)
    tripline.set("s", string.rep("y", 1024), 5)
    return "accept"
  end
  local ok = tripline.get("i") == 42 and math.type(tripline.get("i")) == "integer"
    and tripline.get("x") == 1.5 and tripline.get("b") == false
    and tripline.get("s") == string.rep("y", 1024) and tripline.get("none") == nil
    and tripline.del("i") == true and tripline.del("i") == false and tripline.get("i") == nil
  tripline.set("x", nil)  -- nil deletes
  ok = ok and tripline.get("x") == nil and tripline.incr("n") == 1 and tripline.incr("n", 2.5) == 3.5
  if ok then return "accept" end
  return "drop"
end)",
        2);
  EXPECT_EQ(syn(0, 1, 40000).verdict, Verdict::Accept);
  Decision d = syn(1, 2, 40001);  // the other worker reads what the first wrote
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_EQ(d.reason, "lua");
  now_ += seconds(5);  // "s" expired
  EXPECT_EQ(syn(1, 2, 40002).verdict, Verdict::Drop);
}

TEST_F(SharedStoreLua, BadArgumentsRaiseErrors) {
  // Each call must fail (pcall false) for the flow to be accepted.
  start(R"(
local bad = {
  function() tripline.incr(1) end,
  function() tripline.incr("") end,
  function() tripline.incr(string.rep("k", 257)) end,
  function() tripline.incr("k", "1") end,
  function() tripline.incr("k", 1, 0) end,
  function() tripline.incr("k", 1, -5) end,
  function() tripline.incr("k", 1, "10") end,
  function() tripline.set("k", {}) end,
  function() tripline.set("k", print) end,
  function() tripline.set("k", string.rep("v", 1025)) end,
  function() tripline.set("str", "s"); tripline.incr("str") end,
  function() tripline.get(nil) end,
  function() tripline.del({}) end,
}
function on_flow(f)
  for i, fn in ipairs(bad) do
    local ok, err = pcall(fn)
    if ok or type(err) ~= "string" or not err:find("tripline%.") then return "drop" end
  end
  return "accept"
end)",
        1);
  EXPECT_EQ(syn(0, 80, 40000).verdict, Verdict::Accept);
}

TEST_F(SharedStoreLua, OnlyInsideCallbacks) {
  EXPECT_THROW(start("tripline.incr('x')\nfunction on_flow(f) end", 1), ConfigError);
}

TEST_F(SharedStoreLua, EvictionsAreCounted) {
  start(R"(
function on_flow(f) tripline.set("k" .. f.src_port, true, 60) end)",
        2, "shared_entries = 16\n");
  EXPECT_EQ(pipeline_->shared_store()->capacity(), 16u);
  for (int i = 0; i < 40; ++i) syn(i % 2, 80, static_cast<uint16_t>(40000 + i));
  // 40 keys that do not expire: every one beyond what the shards hold is an
  // eviction, counted by the worker whose call made it.
  uint64_t evicted = get(workers_[0]->counters().lua_shared_evicted) +
                     get(workers_[1]->counters().lua_shared_evicted);
  EXPECT_GE(evicted, 24u);
  EXPECT_GT(get(workers_[0]->counters().lua_shared_evicted), 0u);
  EXPECT_GT(get(workers_[1]->counters().lua_shared_evicted), 0u);
  EXPECT_EQ(evicted + pipeline_->shared_store()->size(), 40u);
}

}  // namespace
}  // namespace tripline
