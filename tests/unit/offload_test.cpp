// Offload pieces: ctnetlink messages (built and read without a socket), the
// link workers and conntrack threads share, the offload rule, the worker's
// merge of the kernel's counts into flow events, [offload] keys and the
// fast-path rule check.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "config.h"
#include "ct_message.h"
#include "event_writer.h"
#include "offload_link.h"
#include "offload_rule.h"
#include "offload_rules.h"
#include "packet_craft.h"
#include "worker.h"

namespace tripline {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

CtTuple tuple() { return {ip("10.0.0.2"), ip("192.0.2.7"), 40000, 443, 6}; }

// CTA_MARK_MASK of a built message (host order), or 0 when absent.
uint32_t mark_mask_of(const uint8_t* msg) {
  auto* nlh = reinterpret_cast<const nlmsghdr*>(msg);
  uint32_t mask = 0;
  mnl_attr_parse(
      nlh, sizeof(nfgenmsg),
      [](const nlattr* a, void* data) {
        if (mnl_attr_get_type(a) == CTA_MARK_MASK)
          *static_cast<uint32_t*>(data) = ntohl(mnl_attr_get_u32(a));
        return MNL_CB_OK;
      },
      &mask);
  return mask;
}

TEST(CtMessage, MarkUpdateCarriesTupleMarkAndMask) {
  uint8_t buf[kCtMessageBytes];
  size_t len = build_mark_update(buf, tuple(), 0x10000000, 0x30000000, 7);
  ASSERT_GT(len, sizeof(nlmsghdr));
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf);
  EXPECT_EQ(nlh->nlmsg_type, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW);
  EXPECT_EQ(nlh->nlmsg_flags & NLM_F_CREATE, 0);  // an update: never makes an entry
  CtEntry e;
  ASSERT_TRUE(parse_ct_entry(nlh, e));
  EXPECT_EQ(e.end.tuple, tuple());
  EXPECT_EQ(e.end.mark, 0x10000000u);
  EXPECT_EQ(mark_mask_of(buf), 0x30000000u);
  // Take back: mark 0 under the mask (other mark bits stay).
  build_mark_update(buf, tuple(), 0, 0x30000000, 8);
  ASSERT_TRUE(parse_ct_entry(nlh, e));
  EXPECT_EQ(e.end.mark, 0u);
  EXPECT_EQ(mark_mask_of(buf), 0x30000000u);
}

TEST(CtMessage, CreateHasReplyTupleTimeoutAndState) {
  uint8_t buf[kCtMessageBytes];
  CtTuple t{ip("fd00::2"), ip("2001:db8::7"), 5353, 9999, 17};
  size_t len = build_create(buf, t, 0x20000000, 120, 1);
  ASSERT_GT(len, 0u);
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf);
  EXPECT_NE(nlh->nlmsg_flags & NLM_F_CREATE, 0);
  nf_conntrack* ct = nfct_new();
  ASSERT_EQ(nfct_nlmsg_parse(nlh, ct), 0);
  EXPECT_EQ(nfct_get_attr_u32(ct, ATTR_TIMEOUT), 120u);
  EXPECT_EQ(ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC)), 9999);
  EXPECT_EQ(ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_DST)), 5353);
  nfct_destroy(ct);
  CtEntry e;
  ASSERT_TRUE(parse_ct_entry(nlh, e));
  EXPECT_EQ(e.end.tuple, t);
  EXPECT_EQ(e.end.mark, 0x20000000u);
}

TEST(CtMessage, OnlyTcpAndUdp) {
  uint8_t buf[kCtMessageBytes];
  CtTuple t = tuple();
  t.proto = 1;
  EXPECT_EQ(build_mark_update(buf, t, 1, 1, 1), 0u);
  EXPECT_EQ(build_create(buf, t, 1, 1, 1), 0u);
}

// A destroy event as the kernel sends it: counters, timestamps, TCP state.
size_t destroy_event(uint8_t* buf, uint8_t tcp_state, bool counters) {
  std::memset(buf, 0, kCtMessageBytes);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_INET;
  nf_conntrack* ct = nfct_new();
  uint32_t s = inet_addr("10.0.0.2"), d = inet_addr("192.0.2.7");
  nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
  nfct_set_attr_u32(ct, ATTR_IPV4_SRC, s);
  nfct_set_attr_u32(ct, ATTR_IPV4_DST, d);
  nfct_set_attr_u8(ct, ATTR_L4PROTO, 6);
  nfct_set_attr_u16(ct, ATTR_PORT_SRC, htons(40000));
  nfct_set_attr_u16(ct, ATTR_PORT_DST, htons(443));
  nfct_set_attr_u8(ct, ATTR_TCP_STATE, tcp_state);
  nfct_set_attr_u32(ct, ATTR_MARK, 0x10000000);
  nfct_nlmsg_build(nlh, ct);
  if (counters) {  // the kernel's: nfct_nlmsg_build does not write counters
    auto put = [&](uint16_t type, uint64_t pkts, uint64_t bytes) {
      nlattr* nest = mnl_attr_nest_start(nlh, type);
      mnl_attr_put_u64(nlh, CTA_COUNTERS_PACKETS, htobe64(pkts));
      mnl_attr_put_u64(nlh, CTA_COUNTERS_BYTES, htobe64(bytes));
      mnl_attr_nest_end(nlh, nest);
    };
    put(CTA_COUNTERS_ORIG, 1000, 52000);
    put(CTA_COUNTERS_REPLY, 2000, 3000000);
  }
  nfct_destroy(ct);
  return nlh->nlmsg_len;
}

TEST(CtMessage, DestroyEventGivesCountersAndEndKind) {
  uint8_t buf[kCtMessageBytes];
  destroy_event(buf, TCP_CONNTRACK_TIME_WAIT, true);
  CtEntry e;
  ASSERT_TRUE(parse_ct_entry(reinterpret_cast<nlmsghdr*>(buf), e));
  EXPECT_TRUE(e.destroy);
  EXPECT_EQ(e.end.tuple, tuple());
  EXPECT_TRUE(e.end.has_counters);
  EXPECT_EQ(e.end.pkts[0], 1000u);
  EXPECT_EQ(e.end.pkts[1], 2000u);
  EXPECT_EQ(e.end.bytes[1], 3000000u);
  EXPECT_EQ(e.end.kind, CtEndKind::Fin);
  destroy_event(buf, TCP_CONNTRACK_CLOSE, false);
  ASSERT_TRUE(parse_ct_entry(reinterpret_cast<nlmsghdr*>(buf), e));
  EXPECT_FALSE(e.end.has_counters);
  EXPECT_EQ(e.end.kind, CtEndKind::Rst);
  destroy_event(buf, TCP_CONNTRACK_ESTABLISHED, false);
  ASSERT_TRUE(parse_ct_entry(reinterpret_cast<nlmsghdr*>(buf), e));
  EXPECT_EQ(e.end.kind, CtEndKind::Timeout);
  EXPECT_TRUE(is_established(e));
}

TEST(CtTuple, CanonicalIsTheSameBothWays) {
  EXPECT_EQ(tuple().canonical(), tuple().reversed().canonical());
  EXPECT_EQ(tuple().canonical().src, ip("10.0.0.2"));
}

TEST(OffloadLink, RoutesEndsToTheWorkerThatOffloaded) {
  OffloadLink link(2);
  CtRequest r{tuple(), CtOp::Offload, false, 1};
  ASSERT_TRUE(link.request(r));
  CtRequest got;
  ASSERT_TRUE(link.next_request(got));
  link.will_offload(got);
  link.applied(got, true, false);
  EXPECT_EQ(link.offloaded_now(), 1u);
  CtEnd end;
  end.tuple = tuple().reversed();  // conntrack may name it from the other side
  EXPECT_TRUE(link.deliver_end(end));
  CtEnd out;
  EXPECT_FALSE(link.next_end(0, out));
  ASSERT_TRUE(link.next_end(1, out));
  EXPECT_EQ(out.tuple, tuple().reversed());
  EXPECT_FALSE(link.deliver_end(end));  // once only; then it is unknown
  OffloadLinkStats st = link.stats();
  EXPECT_EQ(st.offloaded, 1u);
  EXPECT_EQ(st.ends, 1u);
  EXPECT_EQ(st.ends_unknown, 1u);
}

TEST(OffloadLink, RefusalGoesBackToTheWorker) {
  OffloadLink link(1);
  CtRequest r{tuple(), CtOp::Offload, false, 0};
  link.will_offload(r);
  link.applied(r, false, false);
  CtEnd out;
  ASSERT_TRUE(link.next_end(0, out));
  EXPECT_EQ(out.kind, CtEndKind::Refused);
  EXPECT_EQ(link.offloaded_now(), 0u);
  EXPECT_EQ(link.stats().refused, 1u);
}

TEST(OffloadLink, FullQueueIsCountedNotWaitedFor) {
  OffloadLink link(1, 2, 1);
  CtRequest r{tuple(), CtOp::Offload, false, 0};
  EXPECT_TRUE(link.request(r));
  EXPECT_TRUE(link.request(r));
  EXPECT_FALSE(link.request(r));
  EXPECT_EQ(link.stats().requests_full, 1u);
}

// An offload whose verdict carries the mark is registered by request() itself,
// on the worker, before that verdict can mark the connection: its destroy
// event finds its owner, and the control thread is neither sent nor woken
// for it. The owner table is bounded; what does not fit is refused, counted.
TEST(OffloadLink, InVerdictOffloadsRegisterWithoutTheControlThread) {
  OffloadLink link(2, 1 << 16, 1 << 16, 2);
  CtRequest r{tuple(), CtOp::Offload, false, 1, true};
  ASSERT_TRUE(link.request(r));
  CtRequest got;
  EXPECT_FALSE(link.next_request(got));
  EXPECT_EQ(link.offloaded_now(), 1u);
  CtEnd end;
  end.tuple = tuple().reversed();
  EXPECT_TRUE(link.deliver_end(end));
  CtEnd out;
  ASSERT_TRUE(link.next_end(1, out));

  // Full: two registered, the third refused by request() (the worker keeps
  // the flow) and by will_offload() (the control thread's path).
  CtRequest a{{ip("10.0.0.2"), ip("192.0.2.7"), 1001, 443, 6}, CtOp::Offload, false, 0, true};
  CtRequest b{{ip("10.0.0.2"), ip("192.0.2.7"), 1002, 443, 6}, CtOp::Offload, false, 0, true};
  CtRequest c{{ip("10.0.0.2"), ip("192.0.2.7"), 1003, 443, 6}, CtOp::Offload, false, 0, true};
  ASSERT_TRUE(link.request(a));
  ASSERT_TRUE(link.request(b));
  EXPECT_FALSE(link.request(c));
  EXPECT_EQ(link.stats().requests_full, 1u);
  c.in_verdict = false;
  EXPECT_FALSE(link.will_offload(c));
  EXPECT_TRUE(link.will_offload(a));  // already registered: still fits
  EXPECT_EQ(link.offloaded_now(), 2u);
}

// The control thread sleeps while no request comes (an idle daemon polls
// nothing) and no request is missed: each one wakes it (TSan too).
TEST(OffloadLink, TheControlThreadSleepsUntilARequestComes) {
  OffloadLink link(1, 1 << 16, 1 << 16);
  std::atomic<bool> stop{false};
  std::atomic<int> taken{0}, waits{0};
  std::thread control([&] {
    CtRequest r;
    while (!stop.load()) {
      if (link.next_request(r)) {
        taken.fetch_add(1);
        continue;
      }
      waits.fetch_add(1);
      link.wait_for_request(stop);
    }
  });
  constexpr int kRequests = 300;
  for (int i = 0; i < kRequests; ++i) {
    CtRequest r{{ip("10.0.0.2"), ip("192.0.2.7"), static_cast<uint16_t>(1000 + i), 443, 6}};
    ASSERT_TRUE(link.request(r));
    if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (taken.load() < kRequests && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(taken.load(), kRequests);  // a lost wake-up leaves requests queued
  const int before = waits.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LE(waits.load() - before, 2);  // asleep: polling every ms would wake ~100 times
  stop.store(true);
  link.wake();
  control.join();  // ends: a stop wakes it
}

// Workers, the control thread and the event thread at once (TSan: tsan preset).
TEST(OffloadLink, ThreadsShareItWithoutRaces) {
  constexpr unsigned kWorkers = 2;
  constexpr int kFlows = 2000;
  OffloadLink link(kWorkers, 1 << 20, 1 << 20);
  std::atomic<bool> done{false};
  std::atomic<int> applied{0};
  std::thread control([&] {
    CtRequest r;
    // Half the requests are in-verdict offloads, which the workers register
    // themselves (beside the control thread and the event thread).
    while (applied.load() < static_cast<int>(kWorkers) * kFlows / 2) {
      if (!link.next_request(r)) {
        std::this_thread::yield();
        continue;
      }
      link.will_offload(r);
      link.applied(r, true, false);
      applied.fetch_add(1);
    }
  });
  std::thread events([&] {
    // Ends for every flow, delivered while workers still ask for more.
    for (unsigned w = 0; w < kWorkers; ++w)
      for (int i = 0; i < kFlows; ++i) {
        CtEnd e;
        e.tuple = {ip("10.0.0.2"), ip("192.0.2.7"), static_cast<uint16_t>(1000 + i),
                   static_cast<uint16_t>(w), 17};
        while (!link.deliver_end(e) && !done.load()) std::this_thread::yield();
      }
  });
  std::vector<std::thread> workers;
  std::atomic<int> ends{0};
  for (unsigned w = 0; w < kWorkers; ++w)
    workers.emplace_back([&, w] {
      for (int i = 0; i < kFlows; ++i) {
        CtRequest r{{ip("10.0.0.2"), ip("192.0.2.7"), static_cast<uint16_t>(1000 + i),
                     static_cast<uint16_t>(w), 17},
                    CtOp::Offload,
                    false,
                    static_cast<uint16_t>(w),
                    i % 2 == 1};
        ASSERT_TRUE(link.request(r));
      }
      CtEnd e;
      for (int spins = 0; ends.load() < static_cast<int>(kWorkers) * kFlows && spins < 10'000'000;
           ++spins) {
        if (link.next_end(w, e)) {
          EXPECT_EQ(e.tuple.dport, w);  // only this worker's flows come here
          ends.fetch_add(1);
        }
      }
    });
  for (auto& t : workers) t.join();
  done.store(true);
  control.join();
  events.join();
  EXPECT_EQ(ends.load(), static_cast<int>(kWorkers) * kFlows);
  EXPECT_EQ(link.offloaded_now(), 0u);
}

Flow decided_flow(Verdict v, uint64_t to_server, uint64_t to_client) {
  Flow f;
  f.key = {ip("10.0.0.2"), ip("192.0.2.7"), 40000, 443, 6};
  f.decided = true;
  f.decision.verdict = v;
  f.pkts[kToServer] = to_server;
  f.pkts[kToClient] = to_client;
  return f;
}

TEST(OffloadRule, DecidedAfterPacketsEachWay) {
  OffloadConfig cfg;  // after_packets 2
  EXPECT_FALSE(should_offload(decided_flow(Verdict::Accept, 2, 1), cfg, false));
  EXPECT_TRUE(should_offload(decided_flow(Verdict::Accept, 2, 2), cfg, false));
  // A drop counts the client's packets only: the server never answers.
  EXPECT_TRUE(should_offload(decided_flow(Verdict::Drop, 2, 0), cfg, false));
  EXPECT_FALSE(should_offload(decided_flow(Verdict::Reject, 9, 9), cfg, false));
}

// A flow its drop verdict ended at once (flow event "dropped", state closed)
// still goes to the kernel; an accepted flow that closed does not.
TEST(OffloadRule, AFlowEndedByItsDropStillOffloads) {
  OffloadConfig cfg;
  Flow f = decided_flow(Verdict::Drop, 2, 0);
  f.state = FlowState::Closed;
  f.end_reported = true;
  f.ended_blocked = true;
  EXPECT_TRUE(should_offload(f, cfg, false));
  Flow g = decided_flow(Verdict::Accept, 2, 2);
  g.state = FlowState::Closed;
  g.end_reported = true;
  EXPECT_FALSE(should_offload(g, cfg, false));
}

// A connection that began to close (a FIN seen) keeps its last packets here:
// a connect-and-close would otherwise be offloaded on its FIN. A half-closed
// connection that goes on carrying data is offloaded once it has shown it.
TEST(OffloadRule, NotWhileClosingUnlessItGoesOnCarryingData) {
  OffloadConfig cfg;
  Flow f = decided_flow(Verdict::Accept, 2, 2);
  f.state = FlowState::Closing;
  EXPECT_FALSE(should_offload(f, cfg, false));
  f.state = FlowState::Established;
  EXPECT_TRUE(should_offload(f, cfg, false));
  Flow half = decided_flow(Verdict::Accept, 3, kClosingOffloadPackets - 4);
  half.state = FlowState::Closing;
  EXPECT_FALSE(should_offload(half, cfg, false));
  half.pkts[kToClient] += 1;  // kClosingOffloadPackets in all
  EXPECT_TRUE(should_offload(half, cfg, false));
}

TEST(OffloadRule, NothingMayNeedItsPackets) {
  OffloadConfig cfg;
  Flow f = decided_flow(Verdict::Accept, 5, 5);
  EXPECT_FALSE(should_offload(f, cfg, true));  // recorded
  f.watch = kWatchLua;
  EXPECT_FALSE(should_offload(f, cfg, false));
  f = decided_flow(Verdict::Accept, 5, 5);
  f.key.hi_port = 53;  // DNS
  EXPECT_FALSE(should_offload(f, cfg, false));
  f = decided_flow(Verdict::Accept, 5, 5);
  f.decided = false;
  EXPECT_FALSE(should_offload(f, cfg, false));
  f = decided_flow(Verdict::Accept, 5, 5);
  f.offload = FlowOffload::Refused;
  EXPECT_FALSE(should_offload(f, cfg, false));
  f = decided_flow(Verdict::Accept, 5, 5);
  f.key.proto = 1;
  EXPECT_FALSE(should_offload(f, cfg, false));
  f = decided_flow(Verdict::Accept, 5, 5);
  f.decision.has_mark = true;
  EXPECT_FALSE(should_offload(f, cfg, false));
}

// Only a plain accept hands the flow over in its verdict; drops go through
// ctnetlink only.
TEST(OffloadRule, InTheVerdictOnlyForAPlainAccept) {
  Flow f = decided_flow(Verdict::Accept, 2, 2);
  Decision d;
  EXPECT_TRUE(offload_in_verdict(f, d));
  Decision marked;
  marked.has_mark = true;
  EXPECT_FALSE(offload_in_verdict(f, marked));
  const uint8_t bytes[1] = {0};
  Decision rewritten;
  rewritten.replacement = bytes;
  EXPECT_FALSE(offload_in_verdict(f, rewritten));
  Decision dropped;
  dropped.verdict = Verdict::Drop;  // this packet only; the flow stays accepted
  EXPECT_FALSE(offload_in_verdict(f, dropped));
  EXPECT_FALSE(offload_in_verdict(decided_flow(Verdict::Drop, 2, 0), dropped));
  // after_packets = 0: the first packet's (the save rule marks the entry the
  // kernel confirms after it).
  EXPECT_TRUE(offload_in_verdict(decided_flow(Verdict::Accept, 1, 0), d));
  EXPECT_TRUE(offload_in_verdict(decided_flow(Verdict::Accept, 1, 1), d));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A worker with offload on and a link of its own, the client and server
// addresses its tests use, and a clock.
struct OffloadingWorker {
  std::shared_ptr<Config> cfg = [] {
    auto c = std::make_shared<Config>(Config::defaults());
    c->offload.enabled = true;
    return c;
  }();
  OffloadLink link{1};
  Worker worker{cfg, 0, nullptr};
  const IpAddr c = ip("10.0.0.2"), s = ip("192.0.2.7");
  Timestamp t = seconds(1'700'000'000);
  OffloadingWorker() { worker.set_offload(&link); }
  // A packet of the tests' connection (client port 40000) after 1 us more.
  Decision tcp(bool from_client, uint8_t flags) {
    return process(from_client ? craft::tcp(c, 40000, s, 443, flags, 1, 1, {})
                               : craft::tcp(s, 443, c, 40000, flags, 1, 1, {}));
  }
  Decision udp(bool from_client) {
    return process(from_client ? craft::udp(c, 40000, s, 4500, {})
                               : craft::udp(s, 4500, c, 40000, {}));
  }

 private:
  Decision process(std::span<const uint8_t> pkt) {
    t += 1000;
    return worker.process(LinkType::Raw, pkt, t);
  }
};

// A worker asks for offload after two packets each way, ignores its later
// packets' absence, and writes the kernel's counts into the flow event.
TEST(OffloadWorker, MergesTheKernelCountsIntoTheFlowEvent) {
  auto cfg = std::make_shared<Config>(Config::defaults());
  cfg->offload.enabled = true;
  std::string path = ::testing::TempDir() + "offload_worker_" + std::to_string(getpid()) + ".json";
  std::filesystem::remove(path);
  auto events = std::make_unique<EventWriter>(path, EventWriterOptions{});
  OffloadLink link(1);
  auto owned = std::make_unique<Worker>(cfg, 0, events.get());  // goes before the writer
  Worker& worker = *owned;
  worker.set_offload(&link);
  const IpAddr c = ip("10.0.0.2"), s = ip("192.0.2.7");
  Timestamp t = seconds(1'700'000'000);
  auto send = [&](bool from_client, uint8_t flags) {
    auto pkt = from_client ? craft::tcp(c, 40000, s, 443, flags, 1, 1, {})
                           : craft::tcp(s, 443, c, 40000, flags, 1, 1, {});
    t += 1000;
    return worker.process(LinkType::Raw, pkt, t);
  };
  send(true, 0x02);
  send(false, 0x12);
  send(true, 0x10);
  CtRequest r;
  EXPECT_FALSE(link.next_request(r));  // one packet from the server so far
  EXPECT_EQ(link.offloaded_now(), 0u);
  EXPECT_TRUE(send(false, 0x10).offload);  // registered by the worker; the verdict marks it
  EXPECT_FALSE(link.next_request(r));
  EXPECT_EQ(link.offloaded_now(), 1u);
  EXPECT_EQ(worker.counters().offload_requested.get(), 1u);
  r.tuple = CtTuple{c, s, 40000, 443, 6};

  // The kernel ends it: 1000 packets from the client, 2000 back.
  CtEnd end;
  end.tuple = r.tuple;
  end.kind = CtEndKind::Fin;
  end.has_counters = true;
  end.pkts[0] = 1000;
  end.pkts[1] = 2000;
  end.bytes[0] = 52000;
  end.bytes[1] = 3000000;
  end.stop = t + seconds(30);
  ASSERT_TRUE(link.deliver_end(end));
  worker.tick(t + seconds(31));
  EXPECT_EQ(worker.counters().offload_ends.get(), 1u);
  EXPECT_EQ(worker.flows().size(), 0u);
  owned.reset();
  events->flush();
  events.reset();
  std::string out = read_file(path);
  EXPECT_NE(out.find("\"pkts_toserver\":1000,\"pkts_toclient\":2000,\"bytes_toserver\":52000,"
                     "\"bytes_toclient\":3000000"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"reason\":\"fin\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"bypass\":\"capture\",\"bypassed\":{\"pkts_toserver\":998,"
                     "\"pkts_toclient\":1998,"),
            std::string::npos)
      << out;
  std::filesystem::remove(path);
}

// A UDP flow is offloaded; the kernel's entry later times out and a new
// connection takes the same ports before the end event arrives. Its packets
// reach the queue after more than a second without any: the old flow ends
// (timeout) and the new connection is a new flow, judged and offloaded again,
// not the old one's late packets for good. The old entry's end, arriving
// last, is stale and leaves the new flow alone.
TEST(OffloadWorker, ANewConnectionOnAGoneOffloadedFlowStartsAFlow) {
  OffloadingWorker w;
  OffloadLink& link = w.link;
  Worker& worker = w.worker;
  const IpAddr c = w.c, s = w.s;
  Timestamp& t = w.t;
  for (int i = 0; i < 2; ++i) {
    w.udp(true);
    w.udp(false);
  }
  ASSERT_EQ(link.offloaded_now(), 1u);  // registered by the worker (in the verdict)
  CtRequest r{{c, s, 40000, 4500, 17}, CtOp::Offload, false, 0, true};
  const Timestamp offloaded_at = t;
  const uint64_t first_id = worker.flows().find(FlowKey{c, s, 40000, 4500, 17})->id;
  w.udp(true);  // queued before the mark took effect: late, same flow
  EXPECT_EQ(worker.counters().offload_late_packets.get(), 1u);
  EXPECT_EQ(worker.counters().offload_gone.get(), 0u);

  t += seconds(40);  // the kernel carried it, then its entry timed out
  w.udp(true);       // a new connection on the same ports
  EXPECT_EQ(worker.counters().offload_gone.get(), 1u);
  EXPECT_EQ(link.offloaded_now(), 0u);  // the old flow ended here: the link forgot it
  EXPECT_EQ(worker.counters().offload_late_packets.get(), 1u);
  EXPECT_EQ(worker.counters().flows_created.get(), 2u);
  const Flow* now_flow = worker.flows().find(FlowKey{c, s, 40000, 4500, 17});
  ASSERT_NE(now_flow, nullptr);
  EXPECT_NE(now_flow->id, first_id);
  w.udp(false);
  w.udp(true);
  EXPECT_TRUE(w.udp(false).offload);  // offloaded again: the same tuple, registered anew
  EXPECT_FALSE(link.next_request(r));
  EXPECT_EQ(link.offloaded_now(), 1u);
  EXPECT_EQ(worker.counters().offload_requested.get(), 2u);

  CtEnd old_end;  // the first connection's end, late
  old_end.tuple = r.tuple;
  old_end.kind = CtEndKind::Timeout;
  old_end.stop = offloaded_at + seconds(30);
  ASSERT_TRUE(link.deliver_end(old_end));
  worker.tick(t);
  EXPECT_EQ(worker.counters().offload_ends_stale.get(), 1u);
  EXPECT_EQ(worker.counters().offload_ends.get(), 0u);
  EXPECT_EQ(worker.flows().size(), 1u);  // the new connection's flow stays
}

// An offloaded flow that ends here without its destroy event (the event was
// lost, or the entry outlives [offload] timeout) leaves the link's owner
// table: lost events cannot fill it. An event that still comes is unknown.
TEST(OffloadWorker, AFlowEndedWithoutItsEventIsForgotten) {
  OffloadingWorker w;
  for (int i = 0; i < 2; ++i) {
    w.udp(true);
    w.udp(false);
  }
  ASSERT_EQ(w.link.offloaded_now(), 1u);
  w.worker.tick(w.t + w.cfg->flows.offloaded + seconds(2));
  EXPECT_EQ(w.worker.flows().size(), 0u);
  EXPECT_EQ(w.link.offloaded_now(), 0u);
  CtEnd late;
  late.tuple = CtTuple{w.c, w.s, 40000, 4500, 17};
  EXPECT_FALSE(w.link.deliver_end(late));
  EXPECT_EQ(w.link.stats().ends_unknown, 1u);
}

// The packet whose verdict offloads an accepted flow says so (Decision::offload:
// the source puts the offload mark on it); the packets before and after it do
// not, nor does a dropped flow's (a dropped packet reaches no save rule).
TEST(OffloadWorker, TheDecidingVerdictCarriesTheOffload) {
  OffloadingWorker w;
  OffloadLink& link = w.link;
  Worker& worker = w.worker;
  const IpAddr c = w.c, s = w.s;
  Timestamp& t = w.t;
  EXPECT_FALSE(w.tcp(true, 0x02).offload);
  EXPECT_FALSE(w.tcp(false, 0x12).offload);
  EXPECT_FALSE(w.tcp(true, 0x10).offload);
  Decision deciding = w.tcp(false, 0x10);
  EXPECT_TRUE(deciding.offload);
  EXPECT_EQ(deciding.verdict, Verdict::Accept);
  EXPECT_FALSE(deciding.has_mark);  // the source makes the mark from the packet's own
  // Registered for its destroy event at once, on the worker: nothing queued
  // for the control thread (no ctnetlink update, no wake-up).
  CtRequest r;
  EXPECT_FALSE(link.next_request(r));
  EXPECT_EQ(link.offloaded_now(), 1u);
  EXPECT_EQ(worker.counters().offload_with_verdict.get(), 1u);
  // Late: queued before that verdict, or no save rule copied the mark. The
  // first kOffloadRemarks verdicts carry it again (for the same save rule),
  // without a new offload; then ctnetlink marks the connection, once.
  for (uint8_t i = 0; i < kOffloadRemarks; ++i) {
    EXPECT_TRUE(w.tcp(i % 2 == 0, 0x10).offload);
    EXPECT_FALSE(link.next_request(r));
  }
  EXPECT_EQ(worker.counters().offload_late_packets.get(), kOffloadRemarks);
  EXPECT_EQ(worker.counters().offload_with_verdict.get(), 1u);
  EXPECT_FALSE(w.tcp(true, 0x10).offload);
  EXPECT_EQ(worker.counters().offload_late_packets.get(), kOffloadRemarks + 1u);
  ASSERT_TRUE(link.next_request(r));
  EXPECT_EQ(r.op, CtOp::Offload);
  EXPECT_FALSE(r.in_verdict);
  EXPECT_FALSE(r.drop);
  EXPECT_FALSE(w.tcp(false, 0x10).offload);
  EXPECT_EQ(worker.counters().offload_late_packets.get(), kOffloadRemarks + 2u);
  EXPECT_FALSE(link.next_request(r));
  EXPECT_EQ(worker.counters().offload_requested.get(), 1u);

  // A full owner table: nothing offloaded, so nothing in the verdict either.
  OffloadLink full(1, 1, 1, 1);
  Worker w2(w.cfg, 0, nullptr);
  w2.set_offload(&full);
  CtRequest filler{{ip("10.9.9.9"), s, 1, 2, 17}, CtOp::Offload, false, 0, true};
  ASSERT_TRUE(full.request(filler));
  EXPECT_EQ(full.offloaded_now(), 1u);
  bool any = false;
  for (int i = 0; i < 3; ++i) {
    auto a = craft::udp(c, 5000, s, 6000, {});
    auto b = craft::udp(s, 6000, c, 5000, {});
    any |= w2.process(LinkType::Raw, a, t += 1000).offload;
    any |= w2.process(LinkType::Raw, b, t += 1000).offload;
  }
  EXPECT_FALSE(any);
  EXPECT_EQ(w2.counters().offload_requested.get(), 0u);
  EXPECT_EQ(full.stats().requests_full, 3u);  // asked again at each later packet

  // A dropped flow goes to the kernel through ctnetlink only.
  auto drop_cfg = std::make_shared<Config>(*w.cfg);
  drop_cfg->queue.default_verdict = Verdict::Drop;
  OffloadLink drop_link(1);
  Worker w3(drop_cfg, 0, nullptr);
  w3.set_offload(&drop_link);
  for (int i = 0; i < 3; ++i) {
    auto a = craft::udp(c, 5001, s, 6001, {});
    EXPECT_FALSE(w3.process(LinkType::Raw, a, t += 1000).offload);
  }
  ASSERT_TRUE(drop_link.next_request(r));
  EXPECT_TRUE(r.drop);
  EXPECT_FALSE(r.in_verdict);
  EXPECT_FALSE(drop_link.next_request(r));  // its later packets ask nothing more
}

TEST(OffloadWorker, RefusedFlowsStayAndAreNotAskedAgain) {
  OffloadingWorker w;
  OffloadLink& link = w.link;
  Worker& worker = w.worker;
  const IpAddr c = w.c, s = w.s;
  Timestamp& t = w.t;
  for (int i = 0; i < 4; ++i) {
    auto a = craft::udp(c, 5000, s, 6000, {});
    auto b = craft::udp(s, 6000, c, 5000, {});
    worker.process(LinkType::Raw, a, t += 1000);
    worker.process(LinkType::Raw, b, t += 1000);
    if (i == 1) {
      ASSERT_EQ(link.offloaded_now(), 1u);
      // The kernel refuses a ctnetlink mark of the flow (no conntrack entry).
      CtRequest r{{c, s, 5000, 6000, 17}, CtOp::Offload, false, 0};
      link.applied(r, false, false);
      worker.tick(t);
    }
  }
  CtRequest r;
  EXPECT_FALSE(link.next_request(r));
  EXPECT_EQ(worker.counters().offload_refused.get(), 1u);
  EXPECT_EQ(worker.flows().size(), 1u);
}

TEST(OffloadConfig, KeysAreValidated) {
  auto load = [](const std::string& t) { return Config::load_string(t, "<t>"); };
  Config c = load(
      "[offload]\nenabled = true\nafter_packets = 3\nmark = 0x100\nmask = 0x300\n"
      "drop_mark = 0x200\ntimeout = 600\nadopt = false\n");
  EXPECT_TRUE(c.offload.enabled);
  EXPECT_EQ(c.offload.after_packets, 3u);
  EXPECT_EQ(c.offload.mark, 0x100u);
  EXPECT_EQ(c.flows.offloaded, seconds(600));
  EXPECT_FALSE(c.offload.adopt);
  EXPECT_FALSE(Config::defaults().offload.enabled);
  EXPECT_THROW(load("[offload]\nmask = 0\n"), ConfigError);
  EXPECT_THROW(load("[offload]\nmark = 0x40000000\n"), ConfigError);  // outside the mask
  EXPECT_THROW(load("[offload]\nmark = 0\n"), ConfigError);
  EXPECT_THROW(load("[offload]\ndrop_mark = 0x10000000\n"), ConfigError);  // same as mark
  try {
    load("\n[offload]\nmark = 0x40000000\n");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("<t>:3: offload.mark"), std::string::npos) << e.what();
  }
}

TEST(OffloadRules, IptablesAcceptMustComeBeforeTheQueueRule) {
  const std::string good =
      "-P FORWARD ACCEPT\n-N TRIPLINE\n-A FORWARD -j TRIPLINE\n"
      "-A TRIPLINE -m connmark --mark 0x10000000/0x30000000 -j ACCEPT\n"
      "-A TRIPLINE -j NFQUEUE --queue-num 0 --queue-bypass\n";
  EXPECT_TRUE(iptables_has_offload_accept(good, 0x10000000, 0x30000000));
  EXPECT_FALSE(iptables_has_offload_accept(good, 0x1, 0x3));
  const std::string after =
      "-A TRIPLINE -j NFQUEUE --queue-num 0 --queue-bypass\n"
      "-A TRIPLINE -m connmark --mark 0x10000000/0x30000000 -j ACCEPT\n";
  EXPECT_FALSE(iptables_has_offload_accept(after, 0x10000000, 0x30000000));
  EXPECT_FALSE(iptables_has_offload_accept("-A TRIPLINE -j NFQUEUE --queue-num 0\n", 0x10000000,
                                           0x30000000));
}

TEST(OffloadRules, NftAcceptMustComeBeforeTheQueue) {
  const std::string good =
      "table inet tripline {\n\tchain forward {\n\t\ttype filter hook forward priority filter; "
      "policy accept;\n\t\tct mark & 0x30000000 == 0x10000000 accept\n"
      "\t\tcounter packets 0 bytes 0 queue flags bypass to 0\n\t}\n}\n";
  EXPECT_TRUE(nft_has_offload_accept(good, 0x10000000, 0x30000000));
  EXPECT_FALSE(nft_has_offload_accept(
      "table inet t {\n\tchain forward {\n\t\tcounter queue flags bypass to 0\n\t}\n}\n",
      0x10000000, 0x30000000));
}

// The save rule as contrib/iptables loads it: in the queue rule's chain,
// before it, with the configured mark and mask, and followed by an accept of
// the packets it saved (the offloading verdict repeats them through it).
TEST(OffloadRules, IptablesSaveRuleMustComeBeforeTheQueueRule) {
  const std::string save =
      "-A TRIPLINE -m mark --mark 0x10000000/0x30000000 -j CONNMARK --save-mark --nfmask "
      "0x30000000 --ctmask 0x30000000\n";
  const std::string accept = "-A TRIPLINE -m mark --mark 0x10000000/0x30000000 -j ACCEPT\n";
  const std::string queue = "-A TRIPLINE -j NFQUEUE --queue-num 0 --queue-bypass\n";
  const std::string head = "-P FORWARD ACCEPT\n-N TRIPLINE\n-A FORWARD -j TRIPLINE\n";
  EXPECT_TRUE(iptables_has_offload_save(head + save + accept + queue, 0x10000000, 0x30000000));
  EXPECT_FALSE(iptables_has_offload_save(head + save + accept + queue, 0x100, 0x300));
  // After the queue rule: an accepted packet never gets there.
  EXPECT_FALSE(iptables_has_offload_save(head + queue + save + accept, 0x10000000, 0x30000000));
  // Saved but not accepted: it would be queued again. Accepted before it is saved: never saved.
  EXPECT_FALSE(iptables_has_offload_save(head + save + queue, 0x10000000, 0x30000000));
  EXPECT_FALSE(iptables_has_offload_save(head + accept + save + queue, 0x10000000, 0x30000000));
  // In another chain than the queue rule's.
  EXPECT_FALSE(iptables_has_offload_save(
      "-A OTHER -m mark --mark 0x10000000/0x30000000 -j CONNMARK --save-mark --nfmask "
      "0x30000000 --ctmask 0x30000000\n-A OTHER -m mark --mark 0x10000000/0x30000000 -j "
      "ACCEPT\n" +
          queue,
      0x10000000, 0x30000000));
  // Saving the whole mark (no masks) is not the rule: it would clear other users' bits.
  EXPECT_FALSE(iptables_has_offload_save(
      head + "-A TRIPLINE -m mark --mark 0x10000000/0x30000000 -j CONNMARK --save-mark\n" + accept +
          queue,
      0x10000000, 0x30000000));
  EXPECT_FALSE(iptables_has_offload_save("", 0x10000000, 0x30000000));
}

// As `nft list ruleset` prints contrib/nftables/tripline.nft's forward chain
// (nft folds the constants: & 0xcfffffff | 0x10000000 comes back as 0xdfffffff).
TEST(OffloadRules, NftSaveRuleMustComeBeforeTheQueue) {
  const std::string head =
      "table inet tripline {\n\tchain forward {\n\t\ttype filter hook forward priority "
      "filter; policy accept;\n\t\tct mark & 0x30000000 == 0x10000000 accept\n";
  const std::string save =
      "\t\tmeta mark & 0x30000000 == 0x10000000 ct mark set ct mark & 0xdfffffff | 0x10000000 "
      "accept\n";
  const std::string queue = "\t\tcounter packets 0 bytes 0 queue flags bypass to 0\n";
  const std::string tail = "\t}\n}\n";
  EXPECT_TRUE(nft_has_offload_save(head + save + queue + tail, 0x10000000, 0x30000000));
  EXPECT_FALSE(nft_has_offload_save(head + save + queue + tail, 0x100, 0x300));
  EXPECT_FALSE(nft_has_offload_save(head + queue + save + tail, 0x10000000, 0x30000000));
  // Saved, then accepted by a rule of its own: the same.
  const std::string save_only =
      "\t\tmeta mark & 0x30000000 == 0x10000000 ct mark set ct mark & 0xdfffffff | 0x10000000\n";
  const std::string accept = "\t\tmeta mark & 0x30000000 == 0x10000000 accept\n";
  EXPECT_TRUE(
      nft_has_offload_save(head + save_only + accept + queue + tail, 0x10000000, 0x30000000));
  EXPECT_FALSE(nft_has_offload_save(head + save_only + queue + tail, 0x10000000, 0x30000000));
  // In a postrouting chain (an older contrib/): not before the queue.
  const std::string postrouting =
      "table inet t {\n\tchain forward {\n\t\ttype filter hook forward priority filter; "
      "policy accept;\n" +
      queue + "\t}\n\tchain postrouting {\n\t\ttype filter hook postrouting priority filter;\n" +
      save + tail;
  EXPECT_FALSE(nft_has_offload_save(postrouting, 0x10000000, 0x30000000));
  EXPECT_FALSE(nft_has_offload_save("", 0x10000000, 0x30000000));
}

}  // namespace
}  // namespace tripline
