#include "flow_table.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace tripline {

// White-box access (declared a friend in FlowTable): storage capacities and
// the timeout-class lists.
struct FlowTablePeer {
  static size_t index_capacity(const FlowTable& t) { return t.index_.buckets(); }
  static size_t frags_capacity(const FlowTable& t) { return t.frags_.capacity(); }
  static const Flow* slots_data(const FlowTable& t) { return t.slots_.data(); }
  static size_t slots_capacity(const FlowTable& t) { return t.slots_.capacity(); }
  static size_t free_capacity(const FlowTable& t) { return t.free_.capacity(); }
  static size_t frags_size(const FlowTable& t) { return t.frags_.size(); }

  // Every live flow is on exactly one list, lists are ordered by last-seen
  // (when time never goes back), and the index holds exactly the live flows.
  static void check_lists(const FlowTable& t) {
    size_t linked = 0;
    for (int c = 0; c < FlowTable::kClasses; ++c) {
      uint32_t prev = 0;
      for (uint32_t s = t.head_[c]; s; s = t.links_[s].next) {
        const Flow& f = t.slots_[s];
        ASSERT_EQ(t.links_[s].prev, prev);
        ASSERT_EQ(f.tclass, c);
        ASSERT_NE(f.id, 0u);
        if (prev) {
          ASSERT_LE(t.slots_[prev].last, f.last);
        }
        ASSERT_EQ(t.find_slot(f.key), s);
        prev = s;
        ++linked;
      }
      ASSERT_EQ(t.tail_[c], prev);
    }
    ASSERT_EQ(linked, t.size());
    ASSERT_EQ(t.index_.size(), t.size());
    ASSERT_EQ(t.free_.size() + t.size(), t.slots_.size() - 1);
  }
};

namespace {

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;
constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1, kIcmp6 = 58, kGre = 47;
constexpr Timestamp kT0 = 1'767'225'600LL * kNsPerSec;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

Decoded packet(uint8_t proto, const char* src, uint16_t sport, const char* dst, uint16_t dport,
               uint8_t flags = 0, uint32_t len = 100) {
  Decoded d;
  d.src = ip(src);
  d.dst = ip(dst);
  d.ip_version = d.src.family;
  d.proto = proto;
  d.sport = sport;
  d.dport = dport;
  d.has_ports = proto == kTcp || proto == kUdp || proto == kIcmp || proto == kIcmp6;
  d.tcp_flags = flags;
  d.ip_len = len;
  return d;
}

Decoded tcp(const char* src, uint16_t sport, const char* dst, uint16_t dport, uint8_t flags,
            uint32_t len = 60) {
  return packet(kTcp, src, sport, dst, dport, flags, len);
}
Decoded udp(const char* src, uint16_t sport, const char* dst, uint16_t dport, uint32_t len = 100) {
  return packet(kUdp, src, sport, dst, dport, 0, len);
}

struct Ended {
  uint64_t id;
  FlowEndReason reason;
  FlowState state;
  Timestamp now;
  uint64_t pkts[2];
  uint64_t bytes[2];
};

class Recorder final : public FlowObserver {
 public:
  void on_flow_end(const Flow& f, FlowEndReason reason, Timestamp now) override {
    ends.push_back({f.id, reason, f.state, now, {f.pkts[0], f.pkts[1]}, {f.bytes[0], f.bytes[1]}});
  }
  std::vector<Ended> ends;
};

FlowConfig config(uint32_t capacity = 1024) {
  FlowConfig cfg;
  cfg.capacity = capacity;
  return cfg;
}

TEST(FlowTable, StateAndReasonNames) {
  EXPECT_STREQ(to_string(FlowState::New), "new");
  EXPECT_STREQ(to_string(FlowState::Established), "established");
  EXPECT_STREQ(to_string(FlowState::Closing), "closing");
  EXPECT_STREQ(to_string(FlowState::Closed), "closed");
  EXPECT_STREQ(to_string(FlowEndReason::Fin), "fin");
  EXPECT_STREQ(to_string(FlowEndReason::Rst), "rst");
  EXPECT_STREQ(to_string(FlowEndReason::Timeout), "timeout");
  EXPECT_STREQ(to_string(FlowEndReason::Evicted), "evicted");
  EXPECT_STREQ(to_string(FlowEndReason::Shutdown), "shutdown");
  EXPECT_STREQ(to_string(FlowEndReason::Rejected), "rejected");
  EXPECT_STREQ(to_string(FlowEndReason::Dropped), "dropped");
  EXPECT_LE(FlowTable::slot_bytes(), 256u);
}

TEST(FlowTable, DirectionsAndCounters) {
  Recorder rec;
  FlowTable t(config(), &rec);
  // The first sender has the higher address: the original direction is hi -> lo.
  auto a = t.track(udp("198.51.100.7", 5353, "10.0.0.1", 4000, 100), kT0);
  ASSERT_TRUE(a.flow);
  EXPECT_TRUE(a.created);
  EXPECT_EQ(a.dir, kToServer);
  EXPECT_EQ(a.flow->id, 1u);
  EXPECT_EQ(a.flow->state, FlowState::New);
  EXPECT_FALSE(a.flow->orig_is_lo);
  EXPECT_EQ(a.flow->src(), ip("198.51.100.7"));
  EXPECT_EQ(a.flow->dst(), ip("10.0.0.1"));
  EXPECT_EQ(a.flow->sport(), 5353);
  EXPECT_EQ(a.flow->dport(), 4000);
  EXPECT_EQ(a.flow->proto(), kUdp);

  auto b = t.track(udp("10.0.0.1", 4000, "198.51.100.7", 5353, 200), kT0 + seconds(1));
  EXPECT_EQ(b.flow, a.flow);
  EXPECT_FALSE(b.created);
  EXPECT_EQ(b.dir, kToClient);
  EXPECT_EQ(b.flow->state, FlowState::Established);

  auto c = t.track(udp("198.51.100.7", 5353, "10.0.0.1", 4000, 50), kT0 + seconds(2));
  EXPECT_EQ(c.flow, a.flow);
  EXPECT_EQ(c.dir, kToServer);
  const Flow& f = *a.flow;
  EXPECT_EQ(f.pkts[kToServer], 2u);
  EXPECT_EQ(f.pkts[kToClient], 1u);
  EXPECT_EQ(f.bytes[kToServer], 150u);
  EXPECT_EQ(f.bytes[kToClient], 200u);
  EXPECT_EQ(f.start, kT0);
  EXPECT_EQ(f.last, kT0 + seconds(2));
  EXPECT_EQ(t.size(), 1u);

  // Another port is another flow, with the next id.
  auto d = t.track(udp("10.0.0.1", 4001, "198.51.100.7", 5353), kT0 + seconds(3));
  EXPECT_TRUE(d.created);
  EXPECT_EQ(d.flow->id, 2u);
  EXPECT_TRUE(d.flow->orig_is_lo);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.stats().created, 2u);
  EXPECT_TRUE(rec.ends.empty());
}

TEST(FlowTable, TcpHandshakeFinBothWaysAndStraggler) {
  Recorder rec;
  FlowConfig cfg = config();
  FlowTable t(cfg, &rec);
  const char* c = "10.0.0.1";
  const char* s = "192.0.2.80";
  Timestamp now = kT0;
  auto r = t.track(tcp(c, 40000, s, 80, kSyn), now);
  Flow* f = r.flow;
  EXPECT_TRUE(r.created);
  EXPECT_EQ(f->state, FlowState::New);
  r = t.track(tcp(s, 80, c, 40000, kSyn | kAck), now += seconds(0.01));
  EXPECT_EQ(r.dir, kToClient);
  EXPECT_EQ(f->state, FlowState::New);
  r = t.track(tcp(c, 40000, s, 80, kAck), now += seconds(0.01));
  EXPECT_EQ(f->state, FlowState::Established);
  t.track(tcp(c, 40000, s, 80, kPsh | kAck, 500), now += seconds(0.01));
  t.track(tcp(s, 80, c, 40000, kPsh | kAck, 1500), now += seconds(0.01));
  EXPECT_EQ(f->state, FlowState::Established);

  t.track(tcp(c, 40000, s, 80, kFin | kAck), now += seconds(0.01));
  EXPECT_EQ(f->state, FlowState::Closing);
  EXPECT_TRUE(rec.ends.empty());
  t.track(tcp(s, 80, c, 40000, kFin | kAck), now += seconds(0.01));
  EXPECT_EQ(f->state, FlowState::Closed);
  ASSERT_EQ(rec.ends.size(), 1u);
  EXPECT_EQ(rec.ends[0].id, f->id);
  EXPECT_EQ(rec.ends[0].reason, FlowEndReason::Fin);
  EXPECT_EQ(rec.ends[0].state, FlowState::Closed);
  EXPECT_EQ(rec.ends[0].pkts[kToServer], 4u);
  EXPECT_EQ(rec.ends[0].pkts[kToClient], 3u);
  EXPECT_EQ(rec.ends[0].bytes[kToServer], 60u * 3 + 500);
  EXPECT_EQ(rec.ends[0].bytes[kToClient], 60u * 2 + 1500);

  // The final ACK hits the lingering entry: no new flow, no second event.
  r = t.track(tcp(c, 40000, s, 80, kAck), now += seconds(0.01));
  EXPECT_EQ(r.flow, f);
  EXPECT_FALSE(r.created);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(rec.ends.size(), 1u);
  EXPECT_EQ(t.stats().created, 1u);

  // The linger ends silently after tcp_closed.
  t.expire(now + cfg.tcp_closed - 1);
  EXPECT_EQ(t.size(), 1u);
  t.expire(now + cfg.tcp_closed);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(rec.ends.size(), 1u);
  EXPECT_EQ(t.stats().ended, 1u);
  EXPECT_EQ(t.stats().timed_out, 0u);
}

TEST(FlowTable, MidstreamPickupEstablishesOnReverseAck) {
  FlowTable t(config(), nullptr);
  auto r = t.track(tcp("10.0.0.1", 40000, "192.0.2.80", 443, kPsh | kAck), kT0);
  Flow* f = r.flow;
  t.track(tcp("10.0.0.1", 40000, "192.0.2.80", 443, kAck), kT0 + 1);
  EXPECT_EQ(f->state, FlowState::New);  // only one side seen
  t.track(tcp("192.0.2.80", 443, "10.0.0.1", 40000, kAck), kT0 + 2);
  EXPECT_EQ(f->state, FlowState::Established);

  // A SYN answered by a SYN-ACK is not yet established.
  auto g = t.track(tcp("10.0.0.1", 40001, "192.0.2.80", 443, kSyn), kT0 + 3).flow;
  t.track(tcp("192.0.2.80", 443, "10.0.0.1", 40001, kSyn | kAck), kT0 + 4);
  EXPECT_EQ(g->state, FlowState::New);
  // Picked up at the SYN-ACK: the client's ACK (reverse direction) completes it.
  auto h = t.track(tcp("192.0.2.80", 443, "10.0.0.1", 40002, kSyn | kAck), kT0 + 5).flow;
  EXPECT_EQ(h->state, FlowState::New);
  t.track(tcp("10.0.0.1", 40002, "192.0.2.80", 443, kAck), kT0 + 6);
  EXPECT_EQ(h->state, FlowState::Established);
}

TEST(FlowTable, BlockedFlowEndsAtOnceAndAbsorbsItsRetransmissions) {
  Recorder rec;
  FlowConfig cfg = config();
  FlowTable t(cfg, &rec);
  auto f = t.track(tcp("10.0.0.1", 40000, "192.0.2.80", 80, kSyn), kT0).flow;
  t.end_blocked(*f, FlowEndReason::Dropped, kT0);
  EXPECT_EQ(f->state, FlowState::Closed);
  ASSERT_EQ(rec.ends.size(), 1u);
  EXPECT_EQ(rec.ends[0].reason, FlowEndReason::Dropped);
  FlowTablePeer::check_lists(t);
  // The SYN sent again (same ports, within tcp_new): the same entry, no new flow.
  auto r = t.track(tcp("10.0.0.1", 40000, "192.0.2.80", 80, kSyn), kT0 + kNsPerSec);
  EXPECT_FALSE(r.created);
  EXPECT_EQ(r.flow, f);
  t.end_blocked(*f, FlowEndReason::Dropped, kT0 + kNsPerSec);  // reported already: nothing
  EXPECT_EQ(rec.ends.size(), 1u);
  // It lingers as long as an unanswered SYN would (tcp_new), then goes silently.
  t.expire(kT0 + kNsPerSec + cfg.tcp_closed + 1);
  EXPECT_EQ(t.size(), 1u);
  t.expire(kT0 + kNsPerSec + cfg.tcp_new + 1);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(rec.ends.size(), 1u);

  // UDP, rejected: ends at once, later packets stay in it.
  auto u = t.track(udp("10.0.0.1", 5000, "192.0.2.53", 53), kT0 + 1).flow;
  t.end_blocked(*u, FlowEndReason::Rejected, kT0 + 1);
  EXPECT_EQ(t.track(udp("10.0.0.1", 5000, "192.0.2.53", 53), kT0 + 2).flow, u);
  ASSERT_EQ(rec.ends.size(), 2u);
  EXPECT_EQ(rec.ends[1].reason, FlowEndReason::Rejected);
  FlowTablePeer::check_lists(t);
  t.flush(kT0 + 3);
  EXPECT_EQ(rec.ends.size(), 2u);
}

TEST(FlowTable, RstClosesAndReportsOnce) {
  Recorder rec;
  FlowTable t(config(), &rec);
  auto f = t.track(tcp("10.0.0.1", 40000, "192.0.2.80", 80, kSyn), kT0).flow;
  t.track(tcp("192.0.2.80", 80, "10.0.0.1", 40000, kRst | kAck), kT0 + 1);
  EXPECT_EQ(f->state, FlowState::Closed);
  ASSERT_EQ(rec.ends.size(), 1u);
  EXPECT_EQ(rec.ends[0].reason, FlowEndReason::Rst);
  // Stragglers and further RSTs: same entry, no more events.
  auto r = t.track(tcp("10.0.0.1", 40000, "192.0.2.80", 80, kAck), kT0 + 2);
  EXPECT_EQ(r.flow, f);
  t.track(tcp("10.0.0.1", 40000, "192.0.2.80", 80, kRst), kT0 + 3);
  t.track(tcp("10.0.0.1", 40000, "192.0.2.80", 80, kFin | kAck), kT0 + 4);
  EXPECT_EQ(rec.ends.size(), 1u);
  t.flush(kT0 + 5);
  EXPECT_EQ(rec.ends.size(), 1u);
  EXPECT_EQ(t.size(), 0u);

  // RST in the middle of an established flow.
  auto g = t.track(tcp("10.0.0.2", 1, "192.0.2.80", 80, kSyn), kT0 + 6).flow;
  t.track(tcp("192.0.2.80", 80, "10.0.0.2", 1, kSyn | kAck), kT0 + 7);
  t.track(tcp("10.0.0.2", 1, "192.0.2.80", 80, kAck), kT0 + 8);
  EXPECT_EQ(g->state, FlowState::Established);
  t.track(tcp("10.0.0.2", 1, "192.0.2.80", 80, kRst), kT0 + 9);
  ASSERT_EQ(rec.ends.size(), 2u);
  EXPECT_EQ(rec.ends[1].reason, FlowEndReason::Rst);
  EXPECT_EQ(rec.ends[1].id, g->id);
}

TEST(FlowTable, SynAfterCloseStartsFreshFlow) {
  Recorder rec;
  FlowTable t(config(), &rec);
  const char* c = "10.0.0.1";
  const char* s = "192.0.2.80";
  auto first = t.track(tcp(c, 40000, s, 80, kSyn), kT0);
  uint64_t old_id = first.flow->id;
  t.track(tcp(s, 80, c, 40000, kRst | kAck), kT0 + 1);
  ASSERT_EQ(rec.ends.size(), 1u);
  // A SYN-ACK or ACK is a straggler; a bare SYN is a new connection.
  EXPECT_FALSE(t.track(tcp(c, 40000, s, 80, kAck), kT0 + 2).created);
  auto again = t.track(tcp(c, 40000, s, 80, kSyn), kT0 + 3);
  EXPECT_TRUE(again.created);
  EXPECT_GT(again.flow->id, old_id);
  EXPECT_EQ(again.flow->state, FlowState::New);
  EXPECT_EQ(again.flow->pkts[kToServer], 1u);
  EXPECT_EQ(again.flow->pkts[kToClient], 0u);
  EXPECT_EQ(again.flow->start, kT0 + 3);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(rec.ends.size(), 1u);
  // The server may reopen too: the direction follows the new first packet.
  t.track(tcp(s, 80, c, 40000, kRst), kT0 + 4);
  auto rev = t.track(tcp(s, 80, c, 40000, kSyn), kT0 + 5);
  EXPECT_TRUE(rev.created);
  EXPECT_EQ(rev.dir, kToServer);
  EXPECT_EQ(rev.flow->src(), ip(s));
  const uint64_t rev_id = rev.flow->id;
  t.flush(kT0 + 6);
  ASSERT_EQ(rec.ends.size(), 3u);
  EXPECT_EQ(rec.ends[2].reason, FlowEndReason::Shutdown);
  EXPECT_EQ(rec.ends[2].id, rev_id);
  EXPECT_EQ(t.stats().created, 3u);
}

// Data a stage attached to a flow lasts through the flow's end report and the
// stragglers of a closed TCP flow, and is gone when the slot holds a new flow.
TEST(FlowTable, FlowDataLastsUntilTheFlowIsFreed) {
  class NameAtEnd final : public FlowObserver {
   public:
    void on_flow_end(const Flow& f, FlowEndReason, Timestamp) override {
      names.emplace_back(f.data.dns_name());
    }
    std::vector<std::string> names;
  } rec;
  FlowTable t(config(), &rec);
  const char* c = "10.0.0.1";
  const char* s = "192.0.2.80";
  auto first = t.track(tcp(c, 40000, s, 80, kSyn), kT0);
  EXPECT_FALSE(first.flow->data.has_dns_name());
  EXPECT_EQ(first.flow->data.dns_name(), "");
  first.flow->data.set_dns_name("www.example.test");
  t.track(tcp(s, 80, c, 40000, kRst | kAck), kT0 + 1);
  ASSERT_EQ(rec.names.size(), 1u);
  EXPECT_EQ(rec.names[0], "www.example.test");
  auto straggler = t.track(tcp(c, 40000, s, 80, kAck), kT0 + 2);
  EXPECT_FALSE(straggler.created);
  EXPECT_EQ(straggler.flow->data.dns_name(), "www.example.test");
  // A new connection on the closed flow frees the old one and its data.
  auto again = t.track(tcp(c, 40000, s, 80, kSyn), kT0 + 3);
  ASSERT_TRUE(again.created);
  EXPECT_FALSE(again.flow->data.has_dns_name());
  again.flow->data.set_dns_name("a.example.test");
  again.flow->data.set_dns_name("b.example.test");  // replaces
  EXPECT_EQ(again.flow->data.dns_name(), "b.example.test");
  t.flush(kT0 + 4);
  ASSERT_EQ(rec.names.size(), 2u);
  EXPECT_EQ(rec.names[1], "b.example.test");
}

TEST(FlowTable, UdpExpiresAtItsTimeoutNotBefore) {
  Recorder rec;
  FlowConfig cfg = config();
  FlowTable t(cfg, &rec);
  auto f = t.track(udp("10.0.0.1", 1111, "192.0.2.50", 2222), kT0).flow;
  uint64_t id = f->id;
  t.expire(kT0 + cfg.udp - 1);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(rec.ends.empty());
  t.expire(kT0 + cfg.udp);
  EXPECT_EQ(t.size(), 0u);
  ASSERT_EQ(rec.ends.size(), 1u);
  EXPECT_EQ(rec.ends[0].id, id);
  EXPECT_EQ(rec.ends[0].reason, FlowEndReason::Timeout);
  EXPECT_EQ(t.stats().timed_out, 1u);
  // The same tuple later is a new flow.
  auto g = t.track(udp("10.0.0.1", 1111, "192.0.2.50", 2222), kT0 + cfg.udp + 1);
  EXPECT_TRUE(g.created);
  EXPECT_NE(g.flow->id, id);
}

TEST(FlowTable, EstablishedTcpSurvivesUntilItsTimeout) {
  Recorder rec;
  FlowConfig cfg = config();
  FlowTable t(cfg, &rec);
  t.track(tcp("10.0.0.1", 40000, "192.0.2.80", 80, kSyn), kT0);
  t.track(tcp("192.0.2.80", 80, "10.0.0.1", 40000, kSyn | kAck), kT0);
  auto f = t.track(tcp("10.0.0.1", 40000, "192.0.2.80", 80, kAck), kT0).flow;
  ASSERT_EQ(f->state, FlowState::Established);
  t.expire(kT0 + cfg.tcp_new);
  t.expire(kT0 + cfg.udp);
  t.expire(kT0 + cfg.tcp_closing);
  t.expire(kT0 + cfg.tcp_established - 1);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(rec.ends.empty());
  t.expire(kT0 + cfg.tcp_established);
  EXPECT_EQ(t.size(), 0u);
  ASSERT_EQ(rec.ends.size(), 1u);
  EXPECT_EQ(rec.ends[0].reason, FlowEndReason::Timeout);
  EXPECT_EQ(rec.ends[0].state, FlowState::Established);
}

TEST(FlowTable, EachClassHasItsOwnTimeout) {
  Recorder rec;
  FlowConfig cfg = config();
  cfg.tcp_new = seconds(10);
  cfg.tcp_established = seconds(70);
  cfg.tcp_closing = seconds(20);
  cfg.tcp_closed = seconds(5);
  cfg.udp = seconds(40);
  cfg.icmp = seconds(30);
  cfg.other = seconds(50);
  FlowTable t(cfg, &rec);
  std::map<uint64_t, const char*> name;
  name[t.track(tcp("10.0.0.1", 1, "192.0.2.1", 80, kSyn), kT0).flow->id] = "tcp_new";
  {
    t.track(tcp("10.0.0.1", 2, "192.0.2.1", 80, kSyn), kT0);
    t.track(tcp("192.0.2.1", 80, "10.0.0.1", 2, kSyn | kAck), kT0);
    name[t.track(tcp("10.0.0.1", 2, "192.0.2.1", 80, kAck), kT0).flow->id] = "tcp_established";
  }
  {
    t.track(tcp("10.0.0.1", 3, "192.0.2.1", 80, kAck), kT0);
    t.track(tcp("192.0.2.1", 80, "10.0.0.1", 3, kAck), kT0);
    name[t.track(tcp("10.0.0.1", 3, "192.0.2.1", 80, kFin | kAck), kT0).flow->id] = "tcp_closing";
  }
  name[t.track(udp("10.0.0.1", 4, "192.0.2.1", 53), kT0).flow->id] = "udp";
  name[t.track(packet(kIcmp, "10.0.0.1", 8, "192.0.2.1", 0), kT0).flow->id] = "icmp";
  name[t.track(packet(kIcmp6, "fd00::1", 128, "2001:db8::1", 0), kT0).flow->id] = "icmp6";
  name[t.track(packet(kGre, "10.0.0.1", 0, "192.0.2.1", 0), kT0).flow->id] = "other";
  ASSERT_EQ(t.size(), 7u);

  auto ended_at = [&](Timestamp at) {
    std::set<std::string> out;
    size_t before = rec.ends.size();
    t.expire(at);
    for (size_t i = before; i < rec.ends.size(); ++i) {
      EXPECT_EQ(rec.ends[i].reason, FlowEndReason::Timeout);
      out.insert(name[rec.ends[i].id]);
    }
    return out;
  };
  using S = std::set<std::string>;
  EXPECT_EQ(ended_at(kT0 + seconds(9.9)), S{});
  EXPECT_EQ(ended_at(kT0 + seconds(10)), S{"tcp_new"});
  EXPECT_EQ(ended_at(kT0 + seconds(19.9)), S{});
  EXPECT_EQ(ended_at(kT0 + seconds(20)), S{"tcp_closing"});
  EXPECT_EQ(ended_at(kT0 + seconds(30)), (S{"icmp", "icmp6"}));
  EXPECT_EQ(ended_at(kT0 + seconds(40)), S{"udp"});
  EXPECT_EQ(ended_at(kT0 + seconds(50)), S{"other"});
  EXPECT_EQ(ended_at(kT0 + seconds(69.9)), S{});
  EXPECT_EQ(ended_at(kT0 + seconds(70)), S{"tcp_established"});
  EXPECT_EQ(t.size(), 0u);
}

TEST(FlowTable, ExpireSparesRecentlyRefreshedFlows) {
  Recorder rec;
  FlowConfig cfg = config();
  FlowTable t(cfg, &rec);
  auto a = t.track(udp("10.0.0.1", 1000, "192.0.2.1", 53), kT0).flow->id;
  auto b = t.track(udp("10.0.0.1", 1001, "192.0.2.1", 53), kT0 + seconds(1)).flow->id;
  auto c = t.track(udp("10.0.0.1", 1002, "192.0.2.1", 53), kT0 + seconds(2)).flow->id;
  // a was created first but refreshed last: it moves behind b and c.
  t.track(udp("192.0.2.1", 53, "10.0.0.1", 1000), kT0 + seconds(50));
  t.expire(kT0 + seconds(61));
  ASSERT_EQ(rec.ends.size(), 1u);
  EXPECT_EQ(rec.ends[0].id, b);
  t.expire(kT0 + seconds(62));
  ASSERT_EQ(rec.ends.size(), 2u);
  EXPECT_EQ(rec.ends[1].id, c);
  t.expire(kT0 + seconds(109));
  EXPECT_EQ(rec.ends.size(), 2u);
  t.expire(kT0 + seconds(110));
  ASSERT_EQ(rec.ends.size(), 3u);
  EXPECT_EQ(rec.ends[2].id, a);
  FlowTablePeer::check_lists(t);
}

TEST(FlowTable, EvictsStalestAtCapacity) {
  Recorder rec;
  FlowTable t(config(4), &rec);
  std::vector<uint64_t> id;
  for (uint16_t i = 0; i < 4; ++i) {
    id.push_back(t.track(udp("10.0.0.1", 1000 + i, "192.0.2.1", 53), kT0 + seconds(i)).flow->id);
  }
  // Refresh the oldest; the stalest is now the second one. Mixed classes: a
  // TCP flow is newer than all of them.
  t.track(udp("10.0.0.1", 1000, "192.0.2.1", 53), kT0 + seconds(10));
  auto r = t.track(tcp("10.0.0.1", 5000, "192.0.2.1", 80, kSyn), kT0 + seconds(11));
  EXPECT_TRUE(r.created);
  EXPECT_EQ(t.size(), 4u);
  ASSERT_EQ(rec.ends.size(), 1u);
  EXPECT_EQ(rec.ends[0].id, id[1]);
  EXPECT_EQ(rec.ends[0].reason, FlowEndReason::Evicted);
  EXPECT_EQ(t.stats().evicted, 1u);
  // Next: the third (udp, t0+2) is older than the tcp flow and the refreshed first.
  t.track(udp("10.0.0.9", 1, "192.0.2.1", 53), kT0 + seconds(12));
  ASSERT_EQ(rec.ends.size(), 2u);
  EXPECT_EQ(rec.ends[1].id, id[2]);
  FlowTablePeer::check_lists(t);
}

TEST(FlowTable, EvictionPrefersLingeringClosedFlows) {
  Recorder rec;
  FlowTable t(config(4), &rec);
  for (uint16_t i = 0; i < 3; ++i) t.track(udp("10.0.0.1", 1000 + i, "192.0.2.1", 53), kT0 + i);
  // The newest flow closes: it lingers, and goes before any older live flow.
  auto closed = t.track(tcp("10.0.0.1", 5000, "192.0.2.1", 80, kSyn), kT0 + seconds(5)).flow->id;
  t.track(tcp("192.0.2.1", 80, "10.0.0.1", 5000, kRst), kT0 + seconds(6));
  ASSERT_EQ(rec.ends.size(), 1u);
  EXPECT_EQ(rec.ends[0].id, closed);
  auto r = t.track(udp("10.0.0.2", 1, "192.0.2.1", 53), kT0 + seconds(7));
  EXPECT_TRUE(r.created);
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(rec.ends.size(), 1u);  // freed silently: its end was already reported
  EXPECT_EQ(t.stats().evicted, 0u);
  // The closed flow is gone: its tuple starts a new flow.
  EXPECT_TRUE(t.track(tcp("10.0.0.1", 5000, "192.0.2.1", 80, kAck), kT0 + seconds(8)).created);
  ASSERT_EQ(rec.ends.size(), 2u);
  EXPECT_EQ(rec.ends[1].reason, FlowEndReason::Evicted);
}

TEST(FlowTable, FlushReportsShutdownOncePerUnreportedFlow) {
  Recorder rec;
  FlowTable t(config(), &rec);
  auto u = t.track(udp("10.0.0.1", 1, "192.0.2.1", 53), kT0).flow->id;
  auto e = t.track(tcp("10.0.0.1", 2, "192.0.2.1", 80, kAck), kT0).flow->id;
  auto c = t.track(tcp("10.0.0.1", 3, "192.0.2.1", 80, kRst), kT0).flow->id;
  ASSERT_EQ(rec.ends.size(), 1u);
  EXPECT_EQ(rec.ends[0].id, c);
  t.flush(kT0 + seconds(1));
  EXPECT_EQ(t.size(), 0u);
  ASSERT_EQ(rec.ends.size(), 3u);
  std::set<uint64_t> shut;
  for (size_t i = 1; i < rec.ends.size(); ++i) {
    EXPECT_EQ(rec.ends[i].reason, FlowEndReason::Shutdown);
    EXPECT_EQ(rec.ends[i].now, kT0 + seconds(1));
    shut.insert(rec.ends[i].id);
  }
  EXPECT_EQ(shut, (std::set<uint64_t>{u, e}));
  t.flush(kT0 + seconds(2));
  EXPECT_EQ(rec.ends.size(), 3u);
  EXPECT_EQ(t.stats().ended, 3u);
  // The table works after a flush, and ids keep increasing.
  auto n = t.track(udp("10.0.0.1", 1, "192.0.2.1", 53), kT0 + seconds(3));
  EXPECT_TRUE(n.created);
  EXPECT_EQ(n.flow->id, 4u);
}

TEST(FlowTable, NullObserver) {
  FlowTable t(config(2), nullptr);
  t.track(tcp("10.0.0.1", 1, "192.0.2.1", 80, kSyn), kT0);
  t.track(tcp("192.0.2.1", 80, "10.0.0.1", 1, kRst), kT0);
  t.track(udp("10.0.0.1", 2, "192.0.2.1", 53), kT0);
  t.track(udp("10.0.0.1", 3, "192.0.2.1", 53), kT0);
  t.track(udp("10.0.0.1", 4, "192.0.2.1", 53), kT0);
  t.expire(kT0 + seconds(1000));
  t.track(udp("10.0.0.1", 5, "192.0.2.1", 53), kT0 + seconds(1000));
  t.flush(kT0 + seconds(1001));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.stats().created, 5u);
  EXPECT_EQ(t.stats().ended, 5u);
}

Decoded first_fragment(Decoded d, uint32_t frag_id) {
  d.is_fragment = true;
  d.more_fragments = true;
  d.frag_id = frag_id;
  return d;
}
Decoded later_fragment(uint8_t proto, const char* src, const char* dst, uint32_t frag_id,
                       uint32_t len = 500) {
  Decoded d = packet(proto, src, 0, dst, 0, 0, len);
  d.is_fragment = true;
  d.has_ports = false;
  d.frag_offset = 1480;
  d.frag_id = frag_id;
  return d;
}

TEST(FlowTable, FragmentsMatchTheirFlow) {
  Recorder rec;
  FlowTable t(config(), &rec);
  auto first = t.track(first_fragment(udp("10.0.0.1", 7000, "192.0.2.1", 7001, 1500), 4242), kT0);
  ASSERT_TRUE(first.flow);
  EXPECT_TRUE(first.created);
  auto later = t.track(later_fragment(kUdp, "10.0.0.1", "192.0.2.1", 4242, 300), kT0 + 1);
  EXPECT_EQ(later.flow, first.flow);
  EXPECT_FALSE(later.created);
  EXPECT_EQ(later.dir, kToServer);
  EXPECT_EQ(first.flow->pkts[kToServer], 2u);
  EXPECT_EQ(first.flow->bytes[kToServer], 1800u);
  EXPECT_EQ(first.flow->last, kT0 + 1);

  // A fragmented reply: its fragments map to the reverse direction.
  auto rf = t.track(first_fragment(udp("192.0.2.1", 7001, "10.0.0.1", 7000, 1500), 9), kT0 + 2);
  EXPECT_EQ(rf.flow, first.flow);
  EXPECT_EQ(rf.dir, kToClient);
  auto rl = t.track(later_fragment(kUdp, "192.0.2.1", "10.0.0.1", 9), kT0 + 3);
  EXPECT_EQ(rl.flow, first.flow);
  EXPECT_EQ(rl.dir, kToClient);
  EXPECT_EQ(first.flow->pkts[kToClient], 2u);
  EXPECT_EQ(first.flow->state, FlowState::Established);

  // IPv6 fragments (32-bit ids) and ICMP fragments work the same way.
  auto v6 =
      t.track(first_fragment(udp("fd00::12", 9000, "2001:db8::99", 9001), 0x80000077u), kT0 + 4);
  EXPECT_EQ(t.track(later_fragment(kUdp, "fd00::12", "2001:db8::99", 0x80000077u), kT0 + 5).flow,
            v6.flow);
  auto icmp = t.track(first_fragment(packet(kIcmp, "10.0.0.1", 8, "192.0.2.1", 0), 77), kT0 + 6);
  EXPECT_EQ(t.track(later_fragment(kIcmp, "10.0.0.1", "192.0.2.1", 77), kT0 + 7).flow, icmp.flow);
  EXPECT_EQ(t.stats().fragments_unmatched, 0u);
  EXPECT_EQ(t.size(), 3u);
}

TEST(FlowTable, UnmatchedFragmentsNeverCreateFlows) {
  Recorder rec;
  FlowTable t(config(), &rec);
  // Unknown datagram.
  auto r = t.track(later_fragment(kUdp, "10.0.0.1", "192.0.2.1", 999), kT0);
  EXPECT_EQ(r.flow, nullptr);
  EXPECT_FALSE(r.created);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.stats().fragments_unmatched, 1u);

  auto f = t.track(first_fragment(udp("10.0.0.1", 7000, "192.0.2.1", 7001), 1), kT0).flow;
  // Known flow, other fragment id; other protocol; swapped addresses.
  EXPECT_EQ(t.track(later_fragment(kUdp, "10.0.0.1", "192.0.2.1", 2), kT0).flow, nullptr);
  EXPECT_EQ(t.track(later_fragment(kTcp, "10.0.0.1", "192.0.2.1", 1), kT0).flow, nullptr);
  EXPECT_EQ(t.track(later_fragment(kUdp, "192.0.2.1", "10.0.0.1", 1), kT0).flow, nullptr);
  EXPECT_EQ(t.stats().fragments_unmatched, 4u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(f->pkts[kToServer] + f->pkts[kToClient], 1u);

  // Fragment entries live 30 s of packet time.
  EXPECT_EQ(t.track(later_fragment(kUdp, "10.0.0.1", "192.0.2.1", 1), kT0 + seconds(29.9)).flow, f);
  EXPECT_EQ(t.track(later_fragment(kUdp, "10.0.0.1", "192.0.2.1", 1), kT0 + seconds(30)).flow,
            nullptr);
  EXPECT_EQ(t.stats().fragments_unmatched, 5u);
}

TEST(FlowTable, StaleFragmentEntryDoesNotReachAReusedSlot) {
  Recorder rec;
  FlowTable t(config(1), &rec);
  auto f = t.track(first_fragment(udp("10.0.0.1", 7000, "192.0.2.1", 7001), 5), kT0).flow;
  uint64_t old_id = f->id;
  // Capacity 1: the next flow evicts it and reuses its slot.
  auto g = t.track(udp("10.0.0.2", 1, "192.0.2.1", 53), kT0 + 1);
  EXPECT_EQ(g.flow, f);  // same storage
  EXPECT_NE(g.flow->id, old_id);
  auto r = t.track(later_fragment(kUdp, "10.0.0.1", "192.0.2.1", 5), kT0 + 2);
  EXPECT_EQ(r.flow, nullptr);
  EXPECT_EQ(t.stats().fragments_unmatched, 1u);
  EXPECT_EQ(g.flow->pkts[kToServer], 1u);
}

TEST(FlowTable, FragmentTableIsBounded) {
  FlowConfig cfg = config();
  cfg.fragments = 2;
  FlowTable t(cfg, nullptr);
  t.track(first_fragment(udp("10.0.0.1", 1, "192.0.2.1", 2), 1), kT0);
  t.track(first_fragment(udp("10.0.0.1", 1, "192.0.2.1", 2), 2), kT0 + seconds(1));
  auto full = t.track(first_fragment(udp("10.0.0.1", 1, "192.0.2.1", 2), 3), kT0 + seconds(2));
  ASSERT_TRUE(full.flow);  // tracked normally, just not remembered
  EXPECT_EQ(t.stats().fragments_table_full, 1u);
  EXPECT_EQ(t.track(later_fragment(kUdp, "10.0.0.1", "192.0.2.1", 3), kT0 + seconds(3)).flow,
            nullptr);
  EXPECT_EQ(t.track(later_fragment(kUdp, "10.0.0.1", "192.0.2.1", 2), kT0 + seconds(3)).flow,
            full.flow);
  // Once the oldest entry expires, it makes room.
  t.track(first_fragment(udp("10.0.0.1", 1, "192.0.2.1", 2), 4), kT0 + seconds(30));
  EXPECT_EQ(t.stats().fragments_table_full, 1u);
  EXPECT_EQ(t.track(later_fragment(kUdp, "10.0.0.1", "192.0.2.1", 4), kT0 + seconds(30.5)).flow,
            full.flow);
  EXPECT_EQ(t.track(later_fragment(kUdp, "10.0.0.1", "192.0.2.1", 2), kT0 + seconds(30.5)).flow,
            full.flow);
  EXPECT_EQ(FlowTablePeer::frags_size(t), 2u);
  t.flush(kT0 + seconds(32));
  EXPECT_EQ(FlowTablePeer::frags_size(t), 0u);
}

TEST(FlowTable, PortlessProtocolFragments) {
  FlowTable t(config(), nullptr);
  // GRE: the decoder reads no header, so an offset-0 fragment is the first one,
  // and later fragments find the flow by its addresses alone.
  Decoded first = packet(kGre, "10.0.0.1", 0, "192.0.2.1", 0);
  first.is_fragment = true;
  first.has_ports = false;
  first.frag_id = 3;
  auto r = t.track(first, kT0);
  ASSERT_TRUE(r.flow);
  EXPECT_TRUE(r.created);
  auto l = t.track(later_fragment(kGre, "10.0.0.1", "192.0.2.1", 3), kT0 + 1);
  EXPECT_EQ(l.flow, r.flow);
  auto other = t.track(later_fragment(kGre, "192.0.2.1", "10.0.0.1", 8), kT0 + 2);
  EXPECT_EQ(other.flow, r.flow);
  EXPECT_EQ(other.dir, kToClient);
  EXPECT_EQ(t.track(later_fragment(kGre, "10.0.0.7", "192.0.2.1", 3), kT0 + 3).flow, nullptr);
  EXPECT_EQ(t.size(), 1u);
}

TEST(FlowTable, Ipv6Flows) {
  Recorder rec;
  FlowTable t(config(), &rec);
  const char* c = "fd00::10";
  const char* s = "2001:db8::80";
  auto r = t.track(tcp(c, 41000, s, 80, kSyn, 80), kT0);
  Flow* f = r.flow;
  EXPECT_EQ(f->src(), ip(c));
  EXPECT_EQ(f->dst(), ip(s));
  t.track(tcp(s, 80, c, 41000, kSyn | kAck, 80), kT0 + 1);
  t.track(tcp(c, 41000, s, 80, kAck, 72), kT0 + 2);
  EXPECT_EQ(f->state, FlowState::Established);
  EXPECT_EQ(f->bytes[kToServer], 152u);
  EXPECT_EQ(f->bytes[kToClient], 80u);
  // An IPv4 flow with the same ports is a different flow.
  EXPECT_TRUE(t.track(tcp("10.0.0.1", 41000, "192.0.2.1", 80, kSyn), kT0 + 3).created);
  // IPv6 UDP, both directions.
  auto u = t.track(udp("fd00::11", 7777, "2001:db8::77", 7778), kT0 + 4);
  EXPECT_EQ(t.track(udp("2001:db8::77", 7778, "fd00::11", 7777), kT0 + 5).flow, u.flow);
  EXPECT_EQ(u.flow->state, FlowState::Established);
  t.track(tcp(c, 41000, s, 80, kFin | kAck), kT0 + 6);
  t.track(tcp(s, 80, c, 41000, kFin | kAck), kT0 + 7);
  ASSERT_EQ(rec.ends.size(), 1u);
  EXPECT_EQ(rec.ends[0].reason, FlowEndReason::Fin);
  EXPECT_EQ(t.size(), 3u);
}

TEST(FlowTable, IcmpEchoRequestAndReplyAreOneFlow) {
  Recorder rec;
  FlowConfig cfg = config();
  FlowTable t(cfg, &rec);
  auto req = t.track(packet(kIcmp, "192.168.1.12", 8, "198.51.100.9", 0), kT0);
  Flow* f = req.flow;
  EXPECT_EQ(f->state, FlowState::New);
  EXPECT_EQ(f->sport(), 8);  // ICMP type and code of the first packet
  EXPECT_EQ(f->dport(), 0);
  auto rep = t.track(packet(kIcmp, "198.51.100.9", 0, "192.168.1.12", 0), kT0 + 1);
  EXPECT_EQ(rep.flow, f);
  EXPECT_FALSE(rep.created);
  EXPECT_EQ(rep.dir, kToClient);
  EXPECT_EQ(f->state, FlowState::Established);
  EXPECT_EQ(t.track(packet(kIcmp, "192.168.1.12", 8, "198.51.100.9", 0), kT0 + 2).flow, f);
  EXPECT_EQ(f->pkts[kToServer], 2u);
  EXPECT_EQ(f->pkts[kToClient], 1u);

  // ICMPv6 echo.
  auto req6 = t.track(packet(kIcmp6, "fd00::13", 128, "2001:db8::1", 0), kT0 + 3);
  auto rep6 = t.track(packet(kIcmp6, "2001:db8::1", 129, "fd00::13", 0), kT0 + 4);
  EXPECT_EQ(rep6.flow, req6.flow);
  EXPECT_EQ(rep6.dir, kToClient);
  EXPECT_EQ(req6.flow->state, FlowState::Established);

  // A reply seen first is its own flow's first packet; the request then joins it.
  auto lone = t.track(packet(kIcmp, "198.51.100.20", 0, "192.168.1.20", 0), kT0 + 5);
  auto late = t.track(packet(kIcmp, "192.168.1.20", 8, "198.51.100.20", 0), kT0 + 6);
  EXPECT_EQ(late.flow, lone.flow);
  EXPECT_EQ(late.dir, kToClient);

  // Other ICMP types between the same hosts are other flows.
  EXPECT_TRUE(t.track(packet(kIcmp, "198.51.100.9", 3, "192.168.1.12", 1), kT0 + 7).created);
  EXPECT_EQ(t.size(), 4u);

  // ICMP uses the icmp timeout.
  t.expire(kT0 + 2 + cfg.icmp - 1);
  EXPECT_EQ(rec.ends.size(), 0u);
  t.expire(kT0 + 7 + cfg.icmp);
  EXPECT_EQ(rec.ends.size(), 4u);
  EXPECT_EQ(t.size(), 0u);
}

// The canonical key puts the address that IpAddr orders first on the lo
// side (the table compares addresses by words, not with IpAddr's operator),
// for both families.
TEST(FlowTable, KeyOrderFollowsIpAddrOrder) {
  FlowTable t(config(4096), nullptr);
  std::mt19937 rng(11);
  Timestamp now = kT0;
  for (int i = 0; i < 2000; ++i) {
    uint8_t a[16], b[16];
    for (auto& x : a) x = static_cast<uint8_t>(rng() % 3 == 0 ? 0x80 + rng() % 2 : rng());
    std::memcpy(b, a, 16);
    // Differ in one byte, or in two of one word the other way round (the
    // first difference decides, as in memcmp, not the word's value).
    const size_t k = rng() % 15;
    b[k] = static_cast<uint8_t>(rng());
    if (i % 3 == 0) b[k + 1] = static_cast<uint8_t>(b[k] < a[k] ? a[k + 1] + 1 : a[k + 1] - 1);
    const bool v6 = i % 2 == 0;
    Decoded d = udp("192.0.2.1", 1000, "192.0.2.2", 2000);
    d.src = v6 ? IpAddr::v6(a) : IpAddr::v4(a);
    d.dst = v6 ? IpAddr::v6(b) : IpAddr::v4(b);
    d.sport = static_cast<uint16_t>(rng());
    d.dport = static_cast<uint16_t>(rng());
    FlowTable::Result r = t.track(d, now += 1000);
    ASSERT_TRUE(r.created || d.src == d.dst);
    const Flow& f = *r.flow;
    const bool src_low = d.src < d.dst || (d.src == d.dst && d.sport <= d.dport);
    EXPECT_EQ(f.key.lo, src_low ? d.src : d.dst) << i;
    EXPECT_EQ(f.src(), d.src);
    EXPECT_EQ(f.sport(), d.sport);
    // The reply finds the same flow.
    Decoded reply = d;
    std::swap(reply.src, reply.dst);
    std::swap(reply.sport, reply.dport);
    FlowTable::Result back = t.track(reply, now += 1000);
    EXPECT_EQ(back.flow, r.flow);
    EXPECT_EQ(back.dir, kToClient);
  }
  FlowTablePeer::check_lists(t);
}

TEST(FlowTable, SteadyStateDoesNotGrowStorage) {
  constexpr uint32_t kCapacity = 1700;  // near a bucket-count boundary of the index
  FlowConfig cfg = config(kCapacity);
  cfg.fragments = 64;
  FlowTable t(cfg, nullptr);
  const size_t index_cap = FlowTablePeer::index_capacity(t);
  const size_t frags_cap = FlowTablePeer::frags_capacity(t);
  const Flow* slots = FlowTablePeer::slots_data(t);
  const size_t slots_cap = FlowTablePeer::slots_capacity(t);
  const size_t free_cap = FlowTablePeer::free_capacity(t);
  std::mt19937 rng(7);
  Timestamp now = kT0;
  for (uint32_t i = 0; i < kCapacity * 10; ++i) {
    uint8_t b[4] = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                    static_cast<uint8_t>(i)};
    Decoded d = udp("192.0.2.1", 53, "192.0.2.1", 53);
    d.src = IpAddr::v4(b);
    d.sport = static_cast<uint16_t>(rng());
    if (i % 3 == 0) d = first_fragment(d, i);
    now += seconds(0.001);
    auto r = t.track(d, now);
    ASSERT_TRUE(r.created);
    // Also churn: now and then most flows time out at once, leaving tombstones.
    if (i % 2500 == 0) t.expire(now - seconds(0.3) + cfg.udp);
  }
  EXPECT_EQ(t.size(), kCapacity);
  EXPECT_GT(t.stats().evicted, 0u);
  EXPECT_GT(t.stats().timed_out, 0u);
  EXPECT_GT(t.stats().fragments_table_full, 0u);
  EXPECT_EQ(FlowTablePeer::index_capacity(t), index_cap);
  EXPECT_EQ(FlowTablePeer::frags_capacity(t), frags_cap);
  EXPECT_EQ(FlowTablePeer::slots_data(t), slots);
  EXPECT_EQ(FlowTablePeer::slots_capacity(t), slots_cap);
  EXPECT_EQ(FlowTablePeer::free_capacity(t), free_cap);
  FlowTablePeer::check_lists(t);
}

// Random traffic over a small endpoint space with a tiny table: every created
// flow's end is reported exactly once, nothing else is reported, and a flow
// whose end was reported is only ever returned again as a lingering closed one.
TEST(FlowTable, EveryFlowEndsExactlyOnceUnderRandomTraffic) {
  class Checker final : public FlowObserver {
   public:
    void on_flow_end(const Flow& f, FlowEndReason reason, Timestamp) override {
      ++ends[f.id];
      if (reason == FlowEndReason::Fin || reason == FlowEndReason::Rst) {
        EXPECT_EQ(f.state, FlowState::Closed);
        EXPECT_EQ(f.proto(), kTcp);
      }
    }
    std::map<uint64_t, int> ends;
  } checker;

  FlowConfig cfg = config(16);
  cfg.fragments = 8;
  cfg.tcp_new = seconds(5);
  cfg.tcp_established = seconds(20);
  cfg.tcp_closing = seconds(8);
  cfg.tcp_closed = seconds(2);
  cfg.udp = seconds(6);
  cfg.icmp = seconds(4);
  cfg.other = seconds(7);
  FlowTable t(cfg, &checker);

  const char* v4[] = {"10.0.0.1", "10.0.0.2", "192.0.2.1"};
  const char* v6[] = {"fd00::1", "2001:db8::1"};
  const uint8_t protos[] = {kTcp, kTcp, kTcp, kUdp, kUdp, kIcmp, kIcmp6, kGre};
  const uint8_t flags[] = {kSyn, kSyn | kAck, kAck, kPsh | kAck, kFin | kAck, kRst, kRst | kAck, 0};
  std::mt19937_64 rng(20260101);
  auto pick = [&](auto& arr) { return arr[rng() % std::size(arr)]; };

  std::set<uint64_t> created;
  uint64_t last_id = 0;
  Timestamp now = kT0;
  for (int i = 0; i < 50000; ++i) {
    now += static_cast<Timestamp>(rng() % (kNsPerSec / 2));
    uint8_t proto = pick(protos);
    bool six = proto == kIcmp6 || (proto != kIcmp && rng() % 4 == 0);
    const char* src = six ? pick(v6) : pick(v4);
    const char* dst = six ? pick(v6) : pick(v4);
    uint16_t sport, dport;
    if (proto == kIcmp || proto == kIcmp6) {
      const uint16_t types4[] = {8, 0, 3};
      const uint16_t types6[] = {128, 129, 1};
      sport = proto == kIcmp ? pick(types4) : pick(types6);
      dport = 0;
    } else if (proto == kGre) {
      sport = dport = 0;
    } else {
      const uint16_t ports[] = {53, 80, 40000};
      sport = pick(ports);
      dport = pick(ports);
    }
    Decoded d = packet(proto, src, sport, dst, dport, proto == kTcp ? pick(flags) : 0,
                       static_cast<uint32_t>(40 + rng() % 1400));
    switch (rng() % 10) {
      case 0:
        d = first_fragment(d, static_cast<uint32_t>(rng() % 6));
        break;
      case 1:
        d = later_fragment(proto, src, dst, static_cast<uint32_t>(rng() % 6));
        break;
      default:
        break;
    }
    auto r = t.track(d, now);
    if (r.created) {
      ASSERT_TRUE(r.flow);
      ASSERT_GT(r.flow->id, last_id);
      last_id = r.flow->id;
      created.insert(r.flow->id);
      ASSERT_EQ(r.dir, kToServer);
    }
    if (r.flow) {
      ASSERT_TRUE(created.count(r.flow->id));
      if (checker.ends.count(r.flow->id)) {
        ASSERT_EQ(r.flow->state, FlowState::Closed);
        ASSERT_TRUE(r.flow->end_reported);
      }
      ASSERT_EQ(r.flow->last, now);
    } else {
      ASSERT_TRUE(d.is_fragment && !d.has_ports);
    }
    ASSERT_LE(t.size(), cfg.capacity);
    if (rng() % 50 == 0) t.expire(now);
    if (i % 997 == 0) {
      FlowTablePeer::check_lists(t);
      if (HasFatalFailure()) return;
    }
  }
  t.flush(now);
  EXPECT_EQ(t.size(), 0u);
  for (auto& [id, n] : checker.ends) {
    ASSERT_EQ(n, 1) << "flow " << id << " ended " << n << " times";
  }
  EXPECT_EQ(checker.ends.size(), created.size());
  for (uint64_t id : created) EXPECT_EQ(checker.ends.count(id), 1u) << "flow " << id;
  EXPECT_EQ(t.stats().created, created.size());
  EXPECT_EQ(t.stats().ended, created.size());
  EXPECT_GT(t.stats().evicted, 0u);
  EXPECT_GT(t.stats().timed_out, 0u);
  EXPECT_GT(t.stats().fragments_unmatched, 0u);
}

}  // namespace
}  // namespace tripline
