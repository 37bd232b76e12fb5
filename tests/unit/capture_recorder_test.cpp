#include "capture_recorder.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capture_test_util.h"
#include "counters.h"
#include "packet_craft.h"

namespace tripline {
namespace {

using capture_test::file_of;
using capture_test::read_pcap;
using capture_test::TempDir;

constexpr Timestamp kT0 = 1'767'225'600LL * kNsPerSec;
constexpr Timestamp kMs = 1'000'000;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

// One UDP endpoint pair; packets carry a 4-byte sequence number as payload
// (padded to `size`) so the tests can tell which packets a file holds.
struct Path {
  const char* src;
  uint16_t sport;
  const char* dst;
  uint16_t dport;
  Path reverse() const { return {dst, dport, src, sport}; }
};
const Path kA{"10.0.0.1", 1000, "93.184.216.34", 443};    // flow A, client 10.0.0.1
const Path kB{"10.0.0.1", 1001, "93.184.216.34", 443};    // same client, other flow
const Path kC{"10.0.0.2", 2000, "1.1.1.1", 53};           // other client
const Path kD{"8.8.8.8", 53, "10.0.0.1", 5353};           // inbound to 10.0.0.1
const Path kV6{"2001:db8::1", 1000, "2001:db8::2", 443};  // IPv6

craft::Bytes udp_packet(const Path& p, uint32_t seq, size_t size = 4) {
  std::vector<uint8_t> body(std::max<size_t>(size, 4), 0xab);
  std::memcpy(body.data(), &seq, 4);
  return craft::udp(ip(p.src), p.sport, ip(p.dst), p.dport, body);
}

// The sequence numbers in a capture file, in file order.
std::vector<uint32_t> seqs_of(const capture_test::PcapFile& f) {
  std::vector<uint32_t> out;
  for (const auto& r : f.records) {
    Decoded d;
    if (decode(LinkType::Raw, r.bytes, d) != DecodeError::None || d.payload.size() < 4) {
      out.push_back(~0u);
      continue;
    }
    uint32_t seq;
    std::memcpy(&seq, d.payload.data(), 4);
    out.push_back(seq);
  }
  return out;
}

class CaptureRecorderTest : public ::testing::Test {
 protected:
  void make(std::function<void(CaptureConfig&)> adjust = {}, CaptureWriterOptions opts = {}) {
    cfg_.dir = tmp_.path();
    cfg_.ring_bytes = 1u << 20;
    cfg_.pre_packets = 8;
    if (adjust) adjust(cfg_);
    writer_ = std::make_unique<CaptureWriter>(cfg_, 1, std::move(opts));
    rec_ = std::make_unique<CaptureRecorder>(*writer_, 0, cfg_, capture_counters(counters_));
  }
  void TearDown() override {
    rec_.reset();
    writer_.reset();
  }

  // Decodes and tracks one packet; when `trigger` is set, starts a capture
  // for it (before on_packet, as the pipeline does). Returns the session id
  // start() gave, or 0.
  uint64_t feed(const Path& p, uint32_t seq, std::optional<CaptureRequest> trigger = {},
                size_t size = 4) {
    craft::Bytes b = udp_packet(p, seq, size);
    Decoded d;
    EXPECT_EQ(decode(LinkType::Raw, b, d), DecodeError::None);
    auto r = flows_.track(d, now_);
    uint64_t id = 0;
    if (trigger) id = rec_->start(*trigger, d, *r.flow, now_);
    rec_->on_packet(d, r.flow, now_);
    now_ += kMs;
    return id;
  }

  // The sequence numbers in the file of `session` (after ending everything).
  std::vector<uint32_t> captured(uint64_t session) {
    writer_->flush();
    auto path = file_of(writer_->files(), 0, session);
    EXPECT_NE(path, "") << "no file for session " << session;
    auto f = read_pcap(path);
    EXPECT_TRUE(f.ok) << f.error;
    return seqs_of(f);
  }

  static CaptureRequest request(CaptureScope scope) {
    CaptureRequest r;
    r.scope = scope;
    r.label = "test";
    return r;
  }

  TempDir tmp_;
  CaptureConfig cfg_;
  Counters counters_;
  FlowTable flows_{FlowConfig{}, nullptr};
  std::unique_ptr<CaptureWriter> writer_;
  std::unique_ptr<CaptureRecorder> rec_;
  Timestamp now_ = kT0;
};

using V = std::vector<uint32_t>;

TEST_F(CaptureRecorderTest, FlowScopeTakesThatFlowBothWaysWithItsPreTriggerPackets) {
  make();
  feed(kA, 1);
  feed(kB, 2);
  feed(kA.reverse(), 3);
  feed(kC, 4);
  uint64_t id = feed(kA, 5, request(CaptureScope::Flow));
  ASSERT_NE(id, 0u);
  EXPECT_EQ(rec_->active(), 1u);
  feed(kA, 6);
  feed(kB, 7);
  feed(kA.reverse(), 8);
  feed(kC, 9);
  feed(kD, 10);
  rec_->shutdown();
  EXPECT_EQ(rec_->active(), 0u);
  EXPECT_EQ(captured(id), (V{1, 3, 5, 6, 8}));
  EXPECT_EQ(counters_.capture_sessions_started.get(), 1u);
  EXPECT_EQ(counters_.capture_packets.get(), 5u);
  EXPECT_EQ(counters_.capture_dropped.get(), 0u);
  EXPECT_EQ(writer_->files().size(), 1u);
}

TEST_F(CaptureRecorderTest, PreTriggerPacketsKeepTheirTimestampsAndBytes) {
  make();
  Timestamp t1 = now_;
  feed(kA, 1, {}, 300);
  Timestamp t2 = now_;
  uint64_t id = feed(kA, 2, request(CaptureScope::Flow));
  rec_->shutdown();
  writer_->flush();
  auto f = read_pcap(file_of(writer_->files(), 0, id));
  ASSERT_TRUE(f.ok) << f.error;
  ASSERT_EQ(f.records.size(), 2u);
  EXPECT_EQ(f.records[0].ts, t1);
  EXPECT_EQ(f.records[1].ts, t2);
  EXPECT_EQ(f.records[0].bytes, udp_packet(kA, 1, 300));
  EXPECT_EQ(f.records[1].bytes, udp_packet(kA, 2));
}

TEST_F(CaptureRecorderTest, PreTriggerRingKeepsOnlyTheLastPackets) {
  make([](CaptureConfig& c) { c.pre_packets = 2; });
  feed(kA, 1);
  feed(kA, 2);
  feed(kA, 3);
  uint64_t id = feed(kA, 4, request(CaptureScope::Flow));
  rec_->shutdown();
  EXPECT_EQ(captured(id), (V{2, 3, 4}));
}

TEST_F(CaptureRecorderTest, NoPreTriggerPacketsWhenDisabled) {
  make([](CaptureConfig& c) { c.pre_packets = 0; });
  feed(kA, 1);
  uint64_t id = feed(kA, 2, request(CaptureScope::Flow));
  feed(kA, 3);
  rec_->shutdown();
  EXPECT_EQ(captured(id), (V{2, 3}));
}

// A pre-trigger slot holds 2048 bytes: a longer packet is kept truncated with
// its original length; live packets are cut only at snaplen.
TEST_F(CaptureRecorderTest, LongPreTriggerPacketIsTruncatedToTheSlot) {
  make();
  feed(kA, 1, {}, 3000);
  uint64_t id = feed(kA, 2, request(CaptureScope::Flow), 3000);
  rec_->shutdown();
  writer_->flush();
  auto f = read_pcap(file_of(writer_->files(), 0, id));
  ASSERT_TRUE(f.ok) << f.error;
  ASSERT_EQ(f.records.size(), 2u);
  size_t full = udp_packet(kA, 1, 3000).size();
  EXPECT_EQ(f.records[0].caplen, CaptureRecorder::kPreSlotBytes);
  EXPECT_EQ(f.records[0].len, full);
  EXPECT_EQ(f.records[1].caplen, full);
  EXPECT_EQ(f.records[1].len, full);
}

TEST_F(CaptureRecorderTest, HostScopeTakesEverythingToAndFromTheClient) {
  make();
  feed(kB, 1);
  feed(kC, 2);
  feed(kD, 3);
  uint64_t id = feed(kA, 4, request(CaptureScope::Host));
  ASSERT_NE(id, 0u);
  feed(kA.reverse(), 5);
  feed(kB, 6);
  feed(kC, 7);
  feed(kC.reverse(), 8);
  feed(kD, 9);
  feed(kD.reverse(), 10);
  rec_->shutdown();
  EXPECT_EQ(captured(id), (V{1, 3, 4, 5, 6, 9, 10}));
}

TEST_F(CaptureRecorderTest, AllScopeTakesEverything) {
  make([](CaptureConfig& c) { c.pre_packets = 3; });
  feed(kA, 1);
  feed(kB, 2);
  feed(kC, 3);
  feed(kD, 4);
  uint64_t id = feed(kV6, 5, request(CaptureScope::All));
  feed(kV6.reverse(), 6);
  feed(kC, 7);
  rec_->shutdown();
  EXPECT_EQ(captured(id), (V{2, 3, 4, 5, 6, 7}));
}

TEST_F(CaptureRecorderTest, DurationEndsTheSession) {
  make();
  CaptureRequest req = request(CaptureScope::Flow);
  req.duration = 3 * kMs;  // feed() advances 1 ms a packet
  uint64_t id = feed(kA, 1, req);
  feed(kA, 2);
  feed(kA, 3);
  EXPECT_EQ(rec_->active(), 1u);
  feed(kA, 4);  // at trigger + 3 ms: too late
  EXPECT_EQ(rec_->active(), 0u);
  feed(kA, 5);
  EXPECT_EQ(captured(id), (V{1, 2, 3}));
}

TEST_F(CaptureRecorderTest, TickEndsASessionWithoutTraffic) {
  make();
  CaptureRequest req = request(CaptureScope::Host);
  req.duration = 10 * kMs;
  uint64_t id = feed(kA, 1, req);
  rec_->tick(now_ + 5 * kMs);
  EXPECT_EQ(rec_->active(), 1u);
  rec_->tick(now_ + 20 * kMs);
  EXPECT_EQ(rec_->active(), 0u);
  // The file is closed: a later packet of that host is not in it.
  feed(kA, 2);
  EXPECT_EQ(captured(id), (V{1}));
}

TEST_F(CaptureRecorderTest, FlowEndEndsItsFlowSessionsAfterALinger) {
  make();
  uint64_t flow_id = feed(kA, 1, request(CaptureScope::Flow));
  uint64_t host_id = feed(kB, 2, request(CaptureScope::Host));  // covers kB's client, not a flow
  EXPECT_NE(flow_id, host_id);
  Decoded d;
  craft::Bytes b = udp_packet(kA, 0);
  ASSERT_EQ(decode(LinkType::Raw, b, d), DecodeError::None);
  Flow* a = flows_.track(d, now_).flow;  // the flow of kA (counted once more, not captured)
  rec_->on_flow_end(*a, now_);
  EXPECT_EQ(rec_->active(), 2u);  // stragglers within the linger still count
  feed(kA.reverse(), 3);
  now_ += CaptureRecorder::kFlowEndLinger;
  feed(kA, 4);                    // past the linger: the flow session is over
  EXPECT_EQ(rec_->active(), 1u);  // the host session goes on
  EXPECT_EQ(captured(flow_id), (V{1, 3}));
}

TEST_F(CaptureRecorderTest, PacketLimitEndsTheSession) {
  make();
  feed(kA, 1);
  CaptureRequest req = request(CaptureScope::Flow);
  req.max_packets = 3;  // the pre-trigger packet counts
  uint64_t id = feed(kA, 2, req);
  EXPECT_EQ(rec_->active(), 1u);
  feed(kA, 3);
  EXPECT_EQ(rec_->active(), 0u);
  feed(kA, 4);
  EXPECT_EQ(captured(id), (V{1, 2, 3}));
  EXPECT_EQ(counters_.capture_packets.get(), 3u);
}

TEST_F(CaptureRecorderTest, ByteLimitEndsTheSessionBeforeItIsExceeded) {
  make();
  size_t each = udp_packet(kA, 1, 100).size();
  CaptureRequest req = request(CaptureScope::Flow);
  req.max_bytes = each * 5 / 2;
  uint64_t id = feed(kA, 1, req, 100);
  feed(kA, 2, {}, 100);
  EXPECT_EQ(rec_->active(), 1u);
  feed(kA, 3, {}, 100);  // would exceed: ends the session unwritten
  EXPECT_EQ(rec_->active(), 0u);
  EXPECT_EQ(captured(id), (V{1, 2}));
}

TEST_F(CaptureRecorderTest, ConfigDefaultsApplyWhenTheRequestLeavesThemZero) {
  make([](CaptureConfig& c) { c.default_max_packets = 2; });
  uint64_t id = feed(kA, 1, request(CaptureScope::Flow));
  feed(kA, 2);
  feed(kA, 3);
  EXPECT_EQ(rec_->active(), 0u);
  EXPECT_EQ(captured(id), (V{1, 2}));
}

TEST_F(CaptureRecorderTest, MaxSessionsRefusesAndCounts) {
  make([](CaptureConfig& c) { c.max_sessions = 2; });
  CaptureRequest req = request(CaptureScope::Flow);
  req.duration = 5 * kMs;
  uint64_t a = feed(kA, 1, req);
  uint64_t c = feed(kC, 2, req);
  uint64_t b = feed(kB, 3, req);
  EXPECT_NE(a, 0u);
  EXPECT_NE(c, 0u);
  EXPECT_NE(a, c);
  EXPECT_EQ(b, 0u);
  EXPECT_EQ(rec_->active(), 2u);
  EXPECT_EQ(counters_.capture_sessions_started.get(), 2u);
  EXPECT_EQ(counters_.capture_sessions_refused.get(), 1u);
  // Once one ends, a new session fits.
  rec_->tick(now_ + 10 * kMs);
  now_ += 10 * kMs;
  uint64_t b2 = feed(kB, 4, req);
  EXPECT_NE(b2, 0u);
  EXPECT_NE(b2, a);
  EXPECT_NE(b2, c);
  EXPECT_EQ(counters_.capture_sessions_started.get(), 3u);
}

TEST_F(CaptureRecorderTest, RepeatedRequestsReturnTheSessionThatCoversThem) {
  make();
  uint64_t a = feed(kA, 1, request(CaptureScope::Flow));
  uint64_t a2 = feed(kA.reverse(), 2, request(CaptureScope::Flow));
  EXPECT_EQ(a, a2);
  uint64_t h = feed(kB, 3, request(CaptureScope::Host));
  EXPECT_NE(h, a);
  EXPECT_EQ(feed(kB, 4, request(CaptureScope::Host)), h);
  EXPECT_EQ(feed(kD, 5, request(CaptureScope::Flow)), h);  // 10.0.0.1 is being captured
  EXPECT_NE(feed(kC, 6, request(CaptureScope::Flow)), h);
  EXPECT_EQ(counters_.capture_sessions_started.get(), 3u);
  rec_->shutdown();
  writer_->flush();
  EXPECT_EQ(writer_->files().size(), 3u);
  EXPECT_EQ(captured(a), (V{1, 2}));
}

// With the writer stalled, the ring fills: packets are dropped and counted,
// never waited for; the close that did not fit is retried later.
TEST_F(CaptureRecorderTest, FullRingDropsPacketsAndRetriesTheClose) {
  CaptureWriterOptions opts;
  opts.start_paused = true;
  make(
      [](CaptureConfig& c) {
        c.ring_bytes = 4096;
        c.snaplen = 1500;
        c.pre_packets = 0;
      },
      opts);
  CaptureRequest req = request(CaptureScope::Flow);
  req.duration = 100 * kMs;
  uint64_t id = feed(kA, 1, req, 1000);
  for (uint32_t i = 2; i <= 10; ++i) feed(kA, i, {}, 1000);
  EXPECT_GT(counters_.capture_dropped.get(), 0u);
  EXPECT_EQ(counters_.capture_packets.get() + counters_.capture_dropped.get(), 10u);
  uint64_t kept = counters_.capture_packets.get();
  rec_->tick(now_ + 200 * kMs);  // ends it; the close does not fit yet
  EXPECT_EQ(rec_->active(), 0u);
  writer_->resume();
  writer_->flush();
  rec_->tick(now_ + 300 * kMs);  // retries the close
  writer_->flush();
  EXPECT_EQ(captured(id).size(), kept);
  // The session is closed: the writer knows no open session.
  EXPECT_TRUE(writer_->write(0, id, now_, udp_packet(kA, 99)));
  uint64_t dropped = writer_->stats().records_dropped;
  writer_->flush();
  EXPECT_EQ(writer_->stats().records_dropped, dropped + 1);
}

TEST_F(CaptureRecorderTest, IdleRecorderSendsNothing) {
  make([](CaptureConfig& c) { c.pre_packets = 0; });
  for (uint32_t i = 0; i < 100; ++i) feed(kA, i);
  writer_->flush();
  EXPECT_TRUE(writer_->files().empty());
  EXPECT_EQ(writer_->stats().records_written, 0u);
  EXPECT_EQ(counters_.capture_packets.get(), 0u);
}

}  // namespace
}  // namespace tripline

namespace tripline {
namespace {

size_t count_of(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

// pcapng: the section comment says why the file exists; the trigger packet's
// comment names the trigger, the signature (set after start, as a script's
// alert is) and its verdict; packets not accepted say their verdict, also
// from the pre-trigger ring; accepted packets carry no comment.
TEST_F(CaptureRecorderTest, CommentsNameTheTriggerAndVerdictsNotAccept) {
  make();
  auto feed_with = [&](const Path& p, uint32_t seq, const Decision& d,
                       std::optional<CaptureRequest> trigger = {}) {
    craft::Bytes b = udp_packet(p, seq);
    Decoded pkt;
    EXPECT_EQ(decode(LinkType::Raw, b, pkt), DecodeError::None);
    auto r = flows_.track(pkt, now_);
    uint64_t id = 0;
    if (trigger) id = rec_->start(*trigger, pkt, *r.flow, now_);
    if (id) rec_->set_signature(id, "a signature");
    rec_->on_packet(pkt, r.flow, now_, &d);
    now_ += kMs;
    return id;
  };
  Decision accept, drop;
  drop.verdict = Verdict::Drop;
  drop.reason = "rule:x";
  feed_with(kA, 1, drop);    // pre-trigger, dropped
  feed_with(kA, 2, accept);  // pre-trigger, accepted
  CaptureRequest req = request(CaptureScope::Flow);
  req.trigger = "rule x";
  uint64_t id = feed_with(kA, 3, drop, req);
  ASSERT_NE(id, 0u);
  feed_with(kA, 4, accept);
  feed_with(kA.reverse(), 5, drop);
  rec_->shutdown();
  EXPECT_EQ(captured(id), (std::vector<uint32_t>{1, 2, 3, 4, 5}));
  std::ifstream in(file_of(writer_->files(), 0, id), std::ios::binary);
  std::string bytes{std::istreambuf_iterator<char>(in), {}};
  EXPECT_EQ(count_of(bytes,
                     "trigger: rule x\nlabel: test\nscope: flow 10.0.0.1:1000 -> "
                     "93.184.216.34:443 udp\nlimits: 60 s, 10000 packets, 10485760 bytes"),
            1u);
  EXPECT_EQ(count_of(bytes,
                     "trigger packet: rule x; label: test; signature: a signature; "
                     "verdict: drop; reason: rule:x"),
            1u);
  // Packets 1 and 5 (dropped); the trigger packet's comment is the one above.
  EXPECT_EQ(count_of(bytes, "verdict: drop; reason: rule:x"), 3u);
  EXPECT_EQ(count_of(bytes, "verdict: accept"), 0u);
}

}  // namespace
}  // namespace tripline
