#include "dns_observer.h"

#include <xxhash.h>

#include "dns_answer_hook.h"
#include "dns_cache.h"
#include "name_rule_chain.h"
#include "packet_craft.h"

namespace tripline {
namespace {

constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;

uint64_t name_hash(std::string_view name) { return XXH3_64bits(name.data(), name.size()); }

// The questions part of a query's key: the first name's hash, folded with
// every further question (name and type) when there are several.
uint64_t questions_hash(const DnsMessage& m) {
  uint64_t h = name_hash(m.question.name);
  for (const DnsQuestion& q : m.more_questions)
    h = XXH3_64bits_withSeed(q.name.data(), q.name.size(), h ^ q.qtype);
  return h;
}

// The capture kept only the start of this UDP datagram (a replay's snaplen, a
// live copy range): its UDP length runs past the captured bytes (decode
// believes such a length only when the IP packet was cut).
bool cut_by_capture(const Decoded& p) {
  constexpr size_t kUdpHeader = 8;
  return p.proto == kUdp && !p.is_fragment && p.l4.size() >= kUdpHeader &&
         (size_t{p.l4[4]} << 8 | p.l4[5]) > p.l4.size();
}

}  // namespace

// One reassembler per direction of a DNS-over-TCP connection.
struct DnsObserver::TcpStreams {
  DnsTcpStream dir[2];
};

DnsObserver::DnsObserver(const Config& cfg, DnsServices services, StageEnv& env)
    : cfg_(cfg), services_(services), env_(env) {
  queries_.reserve(cfg_.dns.max_outstanding);
  rewrite_buf_.resize(65535);
  if (services_.names) {
    for (const NameRule& rule : services_.names->rules()) {
      rule_counters_.push_back(&env.counters().named.add("rule." + rule.name));
      has_block_rules_ |= rule.action == NameAction::Block;
    }
  }
}

DnsObserver::~DnsObserver() = default;

void DnsObserver::adopt_state(DnsObserver& old) {
  queries_ = std::move(old.queries_);
  tcp_ = std::move(old.tcp_);
  fragments_ = std::move(old.fragments_);
  fragments_timed_out_ = old.fragments_timed_out_;
}

bool DnsObserver::is_resolver(const IpAddr& addr, uint16_t port) const {
  for (const auto& r : cfg_.dns.resolvers)
    if (r.port == port && r.addr == addr) return true;
  return false;
}

bool DnsObserver::likes(const PacketContext& ctx) const {
  const Decoded& p = ctx.pkt;
  if ((p.proto != kUdp && p.proto != kTcp) || !p.has_ports) return false;
  return p.sport == 53 || p.dport == 53 || is_resolver(p.src, p.sport) ||
         is_resolver(p.dst, p.dport);
}

Next DnsObserver::inspect(PacketContext& ctx) {
  const Decoded& p = ctx.pkt;
  bool from_resolver = is_resolver(p.src, p.sport);
  if (p.proto == kUdp) {
    if (p.is_fragment && from_resolver) {
      on_fragment(p, &ctx.flow, ctx.dir, ctx.now, ctx.frame, ctx.decision);
    } else if (!p.payload.empty()) {
      on_message(ctx, p.payload, from_resolver, false);
    }
    return Next::Continue;
  }
  // DNS over TCP: reassemble each direction; judge when a message completes.
  auto& streams = tcp_[ctx.flow.id];
  if (!streams) streams = std::make_unique<TcpStreams>();
  DnsTcpStream& stream = streams->dir[ctx.dir];
  if (p.tcp_flags & 0x02) {  // SYN: data starts at seq + 1
    stream.start(p.tcp_seq + 1);
    return Next::Continue;
  }
  if (p.payload.empty()) return Next::Continue;
  auto fed = stream.feed(p.tcp_seq, p.payload, [&](std::span<const uint8_t> wire) {
    env_.counters().dns_tcp_messages.add();
    on_message(ctx, wire, from_resolver, true);
  });
  if (fed == DnsTcpStream::Feed::Gap || fed == DnsTcpStream::Feed::Oversize)
    env_.counters().dns_tcp_resyncs.add();
  return Next::Continue;
}

bool DnsObserver::likes_fragment(const FragmentContext& ctx) const {
  const Decoded& p = ctx.pkt;
  if (p.proto != kUdp) return false;
  if (!ctx.flow) {
    for (const auto& r : cfg_.dns.resolvers)
      if (r.addr == p.src) return true;
    return false;
  }
  const FlowKey& k = ctx.flow->key;
  return k.proto == kUdp && ((p.src == k.lo && is_resolver(k.lo, k.lo_port)) ||
                             (p.src == k.hi && is_resolver(k.hi, k.hi_port)));
}

void DnsObserver::inspect_fragment(FragmentContext& ctx) {
  on_fragment(ctx.pkt, ctx.flow, ctx.dir, ctx.now, ctx.frame, ctx.decision);
}

// Every fragment but the one that completes the datagram passes with its usual
// decision: the client cannot have the datagram without the completing one.
// That one is held until the reassembled answer is judged like an unfragmented
// one (trust, cache insert, block lists), and is dropped when the answer must
// not reach the client. Fragments the bounds cannot hold are dropped, and so
// is every fragment of a key abandoned or rejected recently, so no datagram
// completes at the client unjudged.
void DnsObserver::on_fragment(const Decoded& p, Flow* flow, Dir dir, Timestamp now, uint64_t frame,
                              Decision& decision) {
  auto& c = env_.counters();
  c.dns_fragments.add();
  const FragmentKey key{p.src, p.dst, p.frag_id, p.proto};
  auto r = fragments_.add(key, p.frag_offset, p.more_fragments, p.frag_data, now);
  if (uint64_t t = fragments_.stats().timed_out; t != fragments_timed_out_) {
    c.dns_fragments_timed_out.add(t - fragments_timed_out_);
    fragments_timed_out_ = t;
  }
  auto drop = [&](const char* reason) {
    if (!may_drop_unjudged()) {
      if (cfg_.egress.mode == EgressMode::Monitor) c.dns_would_drop.add();
      return;
    }
    c.dns_fragments_dropped.add();
    decision.verdict = Verdict::Drop;
    decision.has_mark = false;
    decision.reason = reason;
  };
  switch (r) {
    case FragmentReassembler::Result::Incomplete:
    case FragmentReassembler::Result::Duplicate:
      return;
    case FragmentReassembler::Result::Full:
      c.dns_fragments_table_full.add();
      drop("dns-fragments-full");
      return;
    case FragmentReassembler::Result::Closed:  // abandoned or rejected recently
      drop("dns-fragment-closed");
      return;
    case FragmentReassembler::Result::Invalid:  // oversize, overlapping, inconsistent
      drop("dns-fragment-invalid");
      return;
    case FragmentReassembler::Result::Complete:
      break;
  }
  c.dns_reassembled.add();
  std::span<const uint8_t> dgram = fragments_.datagram();
  constexpr size_t kUdpHeader = 8;
  size_t udp_len = dgram.size() >= kUdpHeader ? (size_t{dgram[4]} << 8 | dgram[5]) : 0;
  Decoded whole = p;
  whole.is_fragment = false;
  whole.more_fragments = false;
  whole.frag_offset = 0;
  whole.frag_data = {};
  if (udp_len >= kUdpHeader && udp_len <= dgram.size()) {
    whole.sport = static_cast<uint16_t>(dgram[0] << 8 | dgram[1]);
    whole.dport = static_cast<uint16_t>(dgram[2] << 8 | dgram[3]);
    whole.has_ports = true;
    whole.l4 = dgram.first(udp_len);
    whole.payload = whole.l4.subspan(kUdpHeader);
  }
  // Only a resolver's first fragment starts a datagram that completes here, so
  // anything but its UDP header up front (broken length, IPv6 extension
  // headers after the Fragment header) cannot be judged: not passed on.
  if (!whole.has_ports || !is_resolver(whole.src, whole.sport)) {
    c.dns_parse_errors.add();
    fragments_.close(key, now);
    drop("dns-malformed");
    return;
  }
  Flow none;  // the flow was forgotten meanwhile (table bounds): judged without it
  PacketContext ctx{whole, flow ? *flow : none, false, dir, now, frame, decision};
  reassembled_ = true;
  on_message(ctx, whole.payload, true, false);
  reassembled_ = false;
  decision = ctx.decision;
  if (decision.verdict != Verdict::Accept) fragments_.close(key, now);
}

void DnsObserver::on_flow_end(const Flow& flow, FlowEndReason, Timestamp) { tcp_.erase(flow.id); }

void DnsObserver::on_message(PacketContext& ctx, std::span<const uint8_t> wire, bool from_resolver,
                             bool over_tcp) {
  auto& c = env_.counters();
  client_host_ = MacAddr{};
  DnsParseStatus st = parse_dns_message(wire, msg_);
  if (!over_tcp && !reassembled_ && cut_by_capture(ctx.pkt)) {
    // Only the start of the message was captured: not the sender's fault, and
    // nothing to judge. It opens nothing and passes, in every mode.
    c.dns_truncated_by_capture.add();
    if (from_resolver && env_.events_on()) emit_dns_event(ctx, true, "truncated-by-capture");
    return;
  }
  if (st != DnsParseStatus::Ok && st != DnsParseStatus::NoQuestion) {
    c.dns_parse_errors.add();
    if (!from_resolver) return;
    // A broken answer opens nothing. Enforce does not pass it on either,
    // unless its header says it cannot open anything whatever the client makes
    // of the rest (an error rcode, no answer records).
    bool header = wire.size() >= 12;
    if (!header || (msg_.rcode == kDnsRcodeNoError && msg_.ancount > 0))
      refuse_answer(ctx, over_tcp, "dns-malformed", "malformed");
    else if (env_.events_on())
      emit_dns_event(ctx, true, "malformed");
    return;
  }
  if (!msg_.qr) {
    if (!from_resolver) on_query(ctx, over_tcp);
    return;
  }
  c.dns_answers.add();
  if (!from_resolver) {
    // Answers from anyone else open nothing (the flow itself is judged by
    // the egress policy like any other).
    c.dns_answers_untrusted.add();
    if (env_.events_on()) emit_dns_event(ctx, true, "untrusted");
    return;
  }
  on_answer(ctx, wire, over_tcp);
}

void DnsObserver::on_query(PacketContext& ctx, bool over_tcp) {
  const Decoded& p = ctx.pkt;
  env_.counters().dns_queries.add();
  if (!is_resolver(p.dst, p.dport)) return;  // only queries to our resolvers are remembered
  if (msg_.qdcount == 0) return;             // no question: no answer can match it
  QueryKey key{
      p.src,   p.dst,   questions_hash(msg_), p.sport,
      p.dport, msg_.id, msg_.question.qtype,  static_cast<uint8_t>(over_tcp ? kTcp : kUdp)};
  if (queries_.size() >= cfg_.dns.max_outstanding && !queries_.contains(key)) {
    purge_queries(ctx.now);
    if (queries_.size() >= cfg_.dns.max_outstanding) {
      env_.counters().dns_outstanding_full.add();
      return;
    }
  }
  ClientId client = services_.hosts
                        ? services_.hosts->identify(p.src, ctx.meta.src_mac, ctx.meta.in_ifindex)
                        : ClientId::address(p.src);
  if (client.is_host()) client_host_ = client.mac;
  queries_[key] = Query{ctx.now, false, client};
  if (env_.events_on()) emit_dns_event(ctx, false, "query");
}

// Answered queries go too: they are kept only to tell duplicates apart.
void DnsObserver::purge_queries(Timestamp now) {
  absl::erase_if(queries_, [&](const auto& kv) {
    return kv.second.answered || now - kv.second.at > cfg_.dns.query_timeout;
  });
}

bool DnsObserver::may_drop_unjudged() const {
  return cfg_.egress.mode == EgressMode::Enforce || has_block_rules_;
}

void DnsObserver::refuse_answer(PacketContext& ctx, bool over_tcp, std::string_view reason,
                                std::string_view status) {
  bool would_drop = false;
  if (cfg_.egress.mode == EgressMode::Enforce) {
    Decision d = ctx.decision;
    d.verdict = Verdict::Drop;
    d.has_mark = false;
    d.reason = reason;
    if (over_tcp)
      ctx.decide_flow(d);
    else
      ctx.decide_packet(d);
  } else if (cfg_.egress.mode == EgressMode::Monitor) {
    env_.counters().dns_would_drop.add();
    would_drop = true;
  }
  if (env_.events_on()) emit_dns_event(ctx, true, status, would_drop);
}

std::string_view DnsObserver::blocked_by(const ResolvedChain& chain) {
  if (!services_.names) return {};
  NameVerdict v = services_.names->evaluate(chain.names);
  if (!v.rule) return {};
  rule_counters_[v.rule->index]->add();
  return v.blocked() ? v.label : std::string_view{};
}

void DnsObserver::on_answer(PacketContext& ctx, std::span<const uint8_t> wire, bool over_tcp) {
  const Decoded& p = ctx.pkt;
  auto& c = env_.counters();
  if (msg_.qdcount == 0) {
    if (msg_.ancount == 0) {
      // A header-only answer (a FORMERR to a query the resolver could not
      // read, a bare SERVFAIL): well-formed, opens nothing, and has nothing to
      // be matched on. Passed in every mode.
      c.dns_answers_no_question.add();
      if (env_.events_on()) emit_dns_event(ctx, true, "no-question");
      return;
    }
    c.dns_answers_unmatched.add();  // records without a question match no query
    refuse_answer(ctx, over_tcp, "dns-unmatched", "unmatched");
    return;
  }
  QueryKey key{
      p.dst,   p.src,   questions_hash(msg_), p.dport,
      p.sport, msg_.id, msg_.question.qtype,  static_cast<uint8_t>(over_tcp ? kTcp : kUdp)};
  auto it = queries_.find(key);
  bool known = it != queries_.end();
  if (!known || it->second.answered || ctx.now - it->second.at > cfg_.dns.query_timeout) {
    // Forged, duplicate, late or for a query we never saw: opens nothing, and
    // enforce does not pass it on (a genuine resolver's client will retry).
    c.dns_answers_unmatched.add();
    if (known && it->second.answered)
      c.dns_answers_duplicate.add();
    else if (known)
      c.dns_answers_late.add();
    refuse_answer(ctx, over_tcp, "dns-unmatched", "unmatched");
    return;
  }
  it->second.answered = true;
  const ClientId client = it->second.client;
  if (client.is_host()) client_host_ = client.mac;
  c.dns_answers_trusted.add();
  resolve_chain(msg_, chain_);
  std::string_view blocked = blocked_by(chain_);
  if (DnsAnswerHook* hook = env_.dns_hook()) {
    switch (ask_hook(*hook, ctx, client, over_tcp, blocked)) {
      case DnsHookAction::Pass:
        break;
      case DnsHookAction::Drop:
        drop_answer(ctx, over_tcp, "lua");
        if (env_.events_on()) emit_dns_event(ctx, true, "lua-drop");
        return;
      case DnsHookAction::Block:
        c.dns_blocked.add();
        block_answer(ctx, wire, over_tcp, "lua");
        if (env_.events_on()) emit_dns_event(ctx, true, "lua-block");
        return;
      case DnsHookAction::Error:
        // The script failed: the answer gets the default verdict; one that
        // is not passed on opens nothing.
        if (env_.default_decision().verdict != Verdict::Accept) {
          drop_answer(ctx, over_tcp, "lua-error");
          if (env_.events_on()) emit_dns_event(ctx, true, "lua-error");
          return;
        }
        break;
    }
  }
  if (!blocked.empty()) {
    c.dns_blocked.add();
    block_answer(ctx, wire, over_tcp, blocked);
    if (env_.events_on()) emit_dns_event(ctx, true, blocked);
    return;
  }
  if (services_.cache && msg_.rcode == kDnsRcodeNoError) {
    // The cache is written before this packet's verdict is returned, so the
    // client cannot connect before its address is open.
    for (const ResolvedAddress& a : chain_.addrs) {
      services_.cache->insert(client, a.addr, chain_.chain_of(a), a.ttl, ctx.now);
      c.dns_addresses_opened.add();
    }
  }
  if (env_.events_on()) emit_dns_event(ctx, true, "trusted");
}

DnsHookAction DnsObserver::ask_hook(DnsAnswerHook& hook, PacketContext& ctx, const ClientId& client,
                                    bool over_tcp, std::string_view blocked) {
  const Decoded& p = ctx.pkt;
  answer_facts_.clear();
  for (const DnsAnswer& a : msg_.answers)
    answer_facts_.push_back({a.owner, a.type, a.ttl, a.addr, a.target});
  hook_addrs_.clear();
  if (blocked.empty() && msg_.rcode == kDnsRcodeNoError)
    for (const ResolvedAddress& a : chain_.addrs) hook_addrs_.push_back(a.addr);
  DnsAnswerInfo info{.ctx = ctx,
                     .client = p.dst,
                     .client_host = client.is_host() ? client.mac : MacAddr{},
                     .resolver = p.src,
                     .resolver_port = p.sport,
                     .id = msg_.id,
                     .proto = over_tcp ? kTcp : kUdp,
                     .qname = msg_.question.name,
                     .qtype = msg_.question.qtype,
                     .rcode = msg_.rcode,
                     .answers = answer_facts_,
                     .chain = chain_.names,
                     .addrs = hook_addrs_,
                     .blocked_by = blocked};
  return hook.on_dns_answer(info);
}

void DnsObserver::drop_answer(PacketContext& ctx, bool over_tcp, std::string_view reason) {
  Decision d = ctx.decision;
  d.verdict = Verdict::Drop;
  d.has_mark = false;
  d.reason = reason;
  if (over_tcp)
    ctx.decide_flow(d);
  else
    ctx.decide_packet(d);
}

void DnsObserver::block_answer(PacketContext& ctx, std::span<const uint8_t> wire, bool over_tcp,
                               std::string_view reason) {
  Decision d = ctx.decision;
  d.reason = reason;
  d.has_mark = false;
  if (over_tcp || reassembled_ || cfg_.dns.block_mode == BlockMode::Drop) {
    // A TCP stream cannot be rewritten in place: drop the whole connection
    // so a retransmitted answer cannot slip through either. Nor can a
    // fragmented datagram: its completing fragment is dropped.
    d.verdict = Verdict::Drop;
    if (over_tcp) {
      // The flow keeps the reason: it must outlive a reload that frees the lists.
      d.reason = intern_reason(reason);
      ctx.decide_flow(d);
    } else {
      ctx.decide_packet(d);
    }
    return;
  }
  DnsRewriteResult r = cfg_.dns.block_mode == BlockMode::Nxdomain
                           ? make_nxdomain(wire, rewrite_buf_)
                           : rewrite_answer_null(wire, rewrite_buf_);
  if (r.status != DnsRewriteStatus::Ok) {
    d.verdict = Verdict::Drop;
    ctx.decide_packet(d);
    return;
  }
  const Decoded& p = ctx.pkt;
  craft::IpOptions opt;
  opt.ttl = p.ttl;
  packet_buf_ = craft::udp(p.src, p.sport, p.dst, p.dport,
                           std::span<const uint8_t>(rewrite_buf_.data(), r.length), opt);
  d.verdict = Verdict::Accept;
  d.replacement = packet_buf_;
  env_.counters().dns_rewritten.add();
  ctx.decide_packet(d);
}

void DnsObserver::emit_dns_event(const PacketContext& ctx, bool answer, std::string_view status,
                                 bool would_drop) {
  const Decoded& p = ctx.pkt;
  DnsEventFacts facts{.now = ctx.now,
                      .flow_id = ctx.flow.id,
                      .src = p.src,
                      .dst = p.dst,
                      .sport = p.sport,
                      .dport = p.dport,
                      .proto = p.proto,
                      .answer = answer,
                      .id = msg_.id,
                      .rrname = msg_.question.name,
                      .rrtype = msg_.question.qtype,
                      .client_host = client_host_};
  if (answer) {
    facts.rcode = msg_.rcode;
    facts.status = status;
    facts.would_drop = would_drop;
    answer_facts_.clear();
    for (const DnsAnswer& a : msg_.answers)
      answer_facts_.push_back({a.owner, a.type, a.ttl, a.addr, a.target});
    facts.answers = answer_facts_;
  }
  env_.emit(env_.eve().dns_event(facts));
}

}  // namespace tripline
