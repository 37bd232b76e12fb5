#include "traffic_gen.h"

#include <fmt/format.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <array>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "bench_rng.h"
#include "dns_wire.h"
#include "packet_craft.h"

namespace tripline::gen {
namespace {

using craft::Bytes;

// What an emitted packet adds to GenStats.
enum Tag : uint32_t {
  kDnsQuery = 1u << 0,
  kDnsResponse = 1u << 1,
  kDnsAddrs = 1u << 2,
  kDnsCname = 1u << 3,
  kDnsNx = 1u << 4,
  kDnsNodata = 1u << 5,
  kTcpFlow = 1u << 6,
  kUdpFlow = 1u << 7,
  kIcmpFlow = 1u << 8,
  kResolved = 1u << 9,
  kUnresolved = 1u << 10,
  kTcpFin = 1u << 11,
  kTcpRst = 1u << 12,
  kTcpUnanswered = 1u << 13,
  kFragment = 1u << 14,
  kMalformed = 1u << 15,
  kResolvedCross = 1u << 16,
};

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

struct Pending {
  Bytes ip;
  uint32_t tags = 0;
  // A DNS response: when emitted, client `learn_client` learns the addresses
  // of name `learn_name` for `learn_qtype` (not before: a later session of the
  // same client may only use an address once the answer is on the wire).
  int32_t learn_client = -1;
  uint32_t learn_name = 0;
  uint16_t learn_qtype = 0;
};
using Packets = std::vector<Pending>;

struct Session {
  Packets packets;
  size_t next = 0;
  bool done() const { return next >= packets.size(); }
};

struct Name {
  std::string text;
  std::vector<std::string> chain;  // CNAME targets, in order
  std::vector<IpAddr> a, aaaa;
  uint32_t ttl = 300;
};

struct Learned {
  IpAddr addr;
  IpAddr asker;  // the client address the answer went to
  Timestamp expires = 0;
};

struct Client {
  IpAddr v4;
  IpAddr v6;  // family 0: v4 only
  // Dual-stack: whether this client's stub resolver talks to fd00::53.
  bool dns_over_v6 = false;
  bool edns = false;
  uint16_t next_port = 32768;
  std::array<Learned, 8> learned{};
  uint8_t n_learned = 0;
  uint8_t learned_pos = 0;
};

// A prefix addresses are drawn from: `bits` leading bits of `base` are fixed.
struct Pool {
  const char* base;
  unsigned bits;
};

// Addresses that DNS answers contain.
constexpr Pool kAnswerV4[] = {{"93.184.0.0", 16},    {"151.101.0.0", 16}, {"104.16.0.0", 13},
                              {"142.250.0.0", 15},   {"52.84.0.0", 14},   {"13.32.0.0", 15},
                              {"185.199.108.0", 22}, {"31.13.64.0", 18}};
constexpr Pool kAnswerV6[] = {
    {"2606:4700::", 32}, {"2a00:1450::", 32}, {"2a03:2880::", 32}, {"2600:9000::", 28}};
// Addresses no answer ever contains ("literal" peers).
constexpr Pool kLiteralV4[] = {
    {"198.51.100.0", 24}, {"203.0.113.0", 24}, {"45.33.0.0", 16}, {"185.220.101.0", 24}};
constexpr Pool kLiteralV6[] = {{"2001:db8:bad::", 48}};

constexpr const char* kSyllables[16] = {"ka",  "lo",   "mi",  "ne",  "ra",  "to",  "vu",  "zen",
                                        "bar", "quix", "dor", "fel", "gan", "hup", "jor", "sil"};
constexpr const char* kHostPrefixes[] = {"www",  "api", "cdn",  "static", "img",    "login",
                                         "mail", "app", "edge", "m",      "assets", "push"};
constexpr const char* kTlds[] = {"com", "net", "org", "io", "de", "co.uk", "fr", "app"};
constexpr const char* kCdnZones[] = {"edgekey.net", "cloudfront.net", "fastly.net", "akamaized.net",
                                     "azureedge.net"};
constexpr uint32_t kTtls[] = {60, 120, 300, 600, 3600};

template <typename T, size_t N>
const T& pick(Rng& rng, const T (&arr)[N]) {
  return arr[rng.below(N)];
}

IpAddr from_pool(Rng& rng, const Pool& pool) {
  IpAddr a = *IpAddr::parse(pool.base);
  unsigned total = a.is_v4() ? 32 : 128;
  for (unsigned bit = pool.bits; bit < total; ++bit) {
    if (rng.next() & 1) a.bytes[bit / 8] |= static_cast<uint8_t>(0x80u >> (bit % 8));
  }
  // Avoid .0 and .255-looking v4 hosts: cosmetic, keeps tools quiet.
  if (a.is_v4() && (a.bytes[3] == 0 || a.bytes[3] == 255)) a.bytes[3] = 1;
  return a;
}

IpAddr parse_or_die(const char* text) { return *IpAddr::parse(text); }

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// IPv4 header checksum, after a malformation changed the header.
void fix_ipv4_header_checksum(Bytes& ip) {
  size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
  if (ihl < 20 || ihl > ip.size()) return;
  ip[10] = ip[11] = 0;
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < ihl; i += 2) sum += (static_cast<uint32_t>(ip[i]) << 8) | ip[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(&ip[10], static_cast<uint16_t>(~sum));
}

// Cuts an IP packet to `len` bytes and makes the IP length field agree, so
// only the upper layer is broken.
void cut_consistently(Bytes& ip, size_t len) {
  ip.resize(len);
  if ((ip[0] >> 4) == 4) {
    put16(&ip[2], static_cast<uint16_t>(len));
    fix_ipv4_header_checksum(ip);
  } else {
    put16(&ip[4], static_cast<uint16_t>(len - 40));
  }
}

class Generator {
 public:
  explicit Generator(const GenOptions& o) : opt_(o), rng_(o.seed) {
    if (opt_.concurrency == 0) opt_.concurrency = 1;
    if (opt_.clients == 0) opt_.clients = 1;
    if (opt_.names == 0) opt_.names = 1;
    if (opt_.rate == 0) opt_.rate = 1;
    resolver_v4_ = parse_or_die("10.0.0.53");
    resolver_v6_ = parse_or_die("fd00::53");
    payload_.resize(65536 + 2048);
    for (auto& b : payload_) b = static_cast<uint8_t>(rng_.next());
    make_clients();
    make_names();
    const SessionMix& m = opt_.mix;
    mix_ = {m.resolve_tcp, m.resolve_udp, m.cached_tcp, m.dns_only, m.literal_tcp,
            m.literal_udp, m.icmp_echo,   m.fragments,  m.malformed};
    for (uint32_t w : mix_) mix_total_ += w;
    if (mix_total_ == 0)
      throw std::invalid_argument("traffic generator: all session weights are 0");
  }

  GenStats run(const PacketSink& sink) {
    now_ = opt_.start;
    uint64_t mean_gap = std::max<uint64_t>(1, static_cast<uint64_t>(kNsPerSec) / opt_.rate);
    std::vector<Session> active(opt_.concurrency);
    for (auto& s : active) refill(s);
    Bytes frame;
    while (stats_.packets < opt_.packets) {
      Session& s = active[rng_.below(active.size())];
      Pending& p = s.packets[s.next++];
      now_ += static_cast<Timestamp>(rng_.below(2 * mean_gap + 1));
      account(p);
      if (opt_.link == LinkKind::Ethernet) {
        frame = craft::ethernet(p.ip);
        sink(now_, frame);
      } else {
        sink(now_, p.ip);
      }
      if (s.done()) refill(s);
    }
    return stats_;
  }

 private:
  enum Kind : uint8_t {
    kResolveTcp,
    kResolveUdp,
    kCachedTcp,
    kDnsOnly,
    kLiteralTcp,
    kLiteralUdp,
    kIcmpEcho,
    kFragments,
    kMalformedOne,
    kKinds
  };

  void make_clients() {
    clients_.resize(opt_.clients);
    for (uint32_t i = 0; i < opt_.clients; ++i) {
      Client& c = clients_[i];
      uint8_t v4[4] = {10, 0, static_cast<uint8_t>(1 + (i / 250) % 254),
                       static_cast<uint8_t>(1 + i % 250)};
      c.v4 = IpAddr::v4(v4);
      if (i % 4 == 0) {
        c.v6 = parse_or_die("fd00::c:0");
        c.v6.bytes[14] = static_cast<uint8_t>(i >> 8);
        c.v6.bytes[15] = static_cast<uint8_t>(i);
        c.dns_over_v6 = rng_.percent(50);
      }
      c.edns = rng_.percent(60);
      c.next_port = static_cast<uint16_t>(rng_.range(32768, 60999));
    }
  }

  void make_names() {
    names_.resize(opt_.names);
    for (uint32_t i = 0; i < opt_.names; ++i) {
      Name& n = names_[i];
      // The core is i written in base 16 with syllables as digits: unique.
      std::string core;
      uint32_t v = i;
      int digits = 0;
      do {
        core.insert(0, kSyllables[v % 16]);
        v /= 16;
        ++digits;
      } while (v != 0 || digits < 2);
      n.text = fmt::format("{}.{}.{}", pick(rng_, kHostPrefixes), core, pick(rng_, kTlds));
      if (rng_.percent(30)) {
        const char* zone = pick(rng_, kCdnZones);
        n.chain.push_back(fmt::format("{}.{}", core, zone));
        if (rng_.percent(25)) n.chain.push_back(fmt::format("e{}.a.{}", rng_.below(10000), zone));
      }
      size_t n4 = 1 + (rng_.percent(40) ? rng_.below(4) : 0);
      const Pool& p4 = pick(rng_, kAnswerV4);
      for (size_t k = 0; k < n4; ++k) n.a.push_back(from_pool(rng_, p4));
      if (rng_.percent(60)) {
        const Pool& p6 = pick(rng_, kAnswerV6);
        size_t n6 = 1 + rng_.below(2);
        for (size_t k = 0; k < n6; ++k) n.aaaa.push_back(from_pool(rng_, p6));
      }
      n.ttl = pick(rng_, kTtls);
    }
    // Zipf popularity: name i is drawn with weight 1/(i+1).
    zipf_cdf_.resize(opt_.names);
    uint64_t total = 0;
    for (uint32_t i = 0; i < opt_.names; ++i) {
      total += (uint64_t{1} << 32) / (i + 1);
      zipf_cdf_[i] = total;
    }
  }

  uint32_t popular_name() {
    uint64_t x = rng_.below(zipf_cdf_.back());
    return static_cast<uint32_t>(std::upper_bound(zipf_cdf_.begin(), zipf_cdf_.end(), x) -
                                 zipf_cdf_.begin());
  }

  uint16_t take_port(Client& c) {
    uint16_t p = c.next_port;
    c.next_port = p >= 60999 ? 32768 : static_cast<uint16_t>(p + 1);
    return p;
  }

  // A random address this client was answered and whose TTL has not run out.
  const Learned* learned_address(const Client& c) {
    if (c.n_learned == 0) return nullptr;
    const Learned& l = c.learned[rng_.below(c.n_learned)];
    return l.expires > now_ ? &l : nullptr;
  }

  // How a flow from `c` to `dst`, an address answered to `asker`, counts: a
  // dual-stack client may ask over one family and connect over the other.
  static uint32_t resolved_tag(const Client& c, const IpAddr& dst, const IpAddr& asker) {
    const IpAddr& src = dst.is_v6() ? c.v6 : c.v4;
    return src == asker ? kResolved : kResolvedCross;
  }

  IpAddr literal_address(bool v6) {
    return v6 ? from_pool(rng_, pick(rng_, kLiteralV6)) : from_pool(rng_, pick(rng_, kLiteralV4));
  }

  craft::IpOptions ip_opts(uint8_t ttl) {
    craft::IpOptions o;
    o.ttl = ttl;
    o.ipv4_id = static_cast<uint16_t>(rng_.next());
    return o;
  }

  std::span<const uint8_t> payload(size_t len) {
    return {payload_.data() + rng_.below(payload_.size() - len + 1), len};
  }

  // Interleaves several flows of one session, keeping each flow's order.
  static void merge(Rng& rng, std::vector<Packets>& flows, Packets& out) {
    size_t left = 0;
    for (auto& f : flows) left += f.size();
    std::vector<size_t> pos(flows.size(), 0);
    while (left > 0) {
      size_t i = rng.below(flows.size());
      if (pos[i] == flows[i].size()) continue;
      out.push_back(std::move(flows[i][pos[i]++]));
      --left;
    }
  }

  void refill(Session& s) {
    s.packets.clear();
    s.next = 0;
    while (s.packets.empty()) build(s.packets);
  }

  Kind draw_kind() {
    uint64_t x = rng_.below(mix_total_);
    for (int k = 0; k < kKinds; ++k) {
      if (x < mix_[k]) return static_cast<Kind>(k);
      x -= mix_[k];
    }
    return kResolveTcp;
  }

  void build(Packets& out) {
    uint32_t ci = static_cast<uint32_t>(rng_.below(clients_.size()));
    Client& c = clients_[ci];
    switch (draw_kind()) {
      case kResolveTcp:
        resolve_then(ci, out, kResolveTcp);
        break;
      case kResolveUdp:
        resolve_then(ci, out, kResolveUdp);
        break;
      case kDnsOnly:
        resolve_then(ci, out, kDnsOnly);
        break;
      case kCachedTcp: {
        const Learned* l = learned_address(c);
        if (!l) return resolve_then(ci, out, kResolveTcp);
        IpAddr dst = l->addr;
        tcp_flow(c, dst, server_port(), {}, resolved_tag(c, dst, l->asker), out);
        break;
      }
      case kLiteralTcp: {
        bool v6 = c.v6.family != 0 && rng_.percent(30);
        tcp_flow(c, literal_address(v6), server_port(), {}, kUnresolved, out);
        break;
      }
      case kLiteralUdp: {
        bool v6 = c.v6.family != 0 && rng_.percent(30);
        literal_udp_flow(c, literal_address(v6), out);
        break;
      }
      case kIcmpEcho: {
        auto [dst, tag] = some_peer(c);
        icmp_echo(c, dst, tag, out);
        break;
      }
      case kFragments: {
        auto [dst, tag] = some_peer(c);
        fragmented_udp(c, dst, tag, out);
        break;
      }
      case kMalformedOne:
        malformed(c, out);
        break;
      case kKinds:
        break;
    }
  }

  // A learned address when the client has one, otherwise a literal one.
  std::pair<IpAddr, uint32_t> some_peer(const Client& c) {
    if (rng_.percent(60)) {
      if (const Learned* l = learned_address(c))
        return {l->addr, resolved_tag(c, l->addr, l->asker)};
    }
    bool v6 = c.v6.family != 0 && rng_.percent(30);
    return {literal_address(v6), kUnresolved};
  }

  uint16_t server_port() {
    uint64_t x = rng_.below(100);
    if (x < 70) return 443;
    if (x < 90) return 80;
    static constexpr uint16_t kOther[] = {993, 22, 8443, 5223, 853, 25};
    return pick(rng_, kOther);
  }

  // One client's lookup of a name (A, or AAAA and A for a dual-stack client),
  // then what the session does with the answer.
  void resolve_then(uint32_t ci, Packets& out, Kind after) {
    Client& c = clients_[ci];
    bool dual = c.v6.family != 0;
    bool over_v6 = c.dns_over_v6;
    const IpAddr& src = over_v6 ? c.v6 : c.v4;
    const IpAddr& resolver = over_v6 ? resolver_v6_ : resolver_v4_;
    uint16_t sport = take_port(c);
    bool nx = rng_.percent(7);
    uint32_t ni = nx ? 0 : popular_name();
    std::string nx_name;
    if (nx) {
      static constexpr const char* kNxZones[] = {"lan", "home.arpa", "example.com",
                                                 "corp.internal"};
      for (uint64_t k = 0, len = rng_.range(6, 14); k < len; ++k)
        nx_name.push_back(static_cast<char>('a' + rng_.below(26)));
      nx_name = fmt::format("{}.{}", nx_name, pick(rng_, kNxZones));
    }
    const Name& name = names_[ni];
    std::string_view qname = nx ? std::string_view(nx_name) : std::string_view(name.text);

    uint16_t qtypes[2] = {kTypeA, kTypeAaaa};
    size_t nq = 1;
    if (dual) {
      qtypes[0] = kTypeAaaa;
      qtypes[1] = kTypeA;
      nq = 2;
    }
    uint16_t ids[2] = {static_cast<uint16_t>(rng_.next()), static_cast<uint16_t>(rng_.next())};
    for (size_t q = 0; q < nq; ++q) {
      Bytes msg = dns_query(ids[q], qname, qtypes[q], c.edns);
      out.push_back({craft::udp(src, sport, resolver, 53, msg, ip_opts(64)), kDnsQuery});
    }
    size_t first = nq == 2 && rng_.percent(50) ? 1 : 0;
    for (size_t k = 0; k < nq; ++k) {
      size_t q = (first + k) % nq;
      const std::vector<IpAddr>& addrs = qtypes[q] == kTypeA ? name.a : name.aaaa;
      DnsResponseSpec spec;
      spec.id = ids[q];
      spec.qname = qname;
      spec.qtype = qtypes[q];
      spec.edns = c.edns;
      spec.ttl = name.ttl;
      uint32_t tags = kDnsResponse;
      if (nx) {
        spec.rcode = kRcodeNxDomain;
        spec.soa = true;
        tags |= kDnsNx;
      } else {
        spec.cname_chain = name.chain;
        spec.addrs = addrs;
        spec.soa = addrs.empty();
        tags |= addrs.empty() ? kDnsNodata : kDnsAddrs;
        if (!name.chain.empty()) tags |= kDnsCname;
      }
      Pending p{craft::udp(resolver, 53, src, sport, dns_response(spec), ip_opts(64)), tags};
      if (!nx && !addrs.empty()) {
        p.learn_client = static_cast<int32_t>(ci);
        p.learn_name = ni;
        p.learn_qtype = qtypes[q];
      }
      out.push_back(std::move(p));
    }
    if (nx || after == kDnsOnly) return;

    // Happy eyeballs, roughly: v6 when there is an AAAA answer, mostly.
    const std::vector<IpAddr>* addrs = &name.a;
    if (dual && !name.aaaa.empty() && rng_.percent(70)) addrs = &name.aaaa;
    if (addrs->empty()) return;
    if (after == kResolveUdp) {
      const IpAddr& dst = (*addrs)[rng_.below(addrs->size())];
      udp_exchange(c, dst, resolved_tag(c, dst, src), out);
      return;
    }
    uint64_t x = rng_.below(100);
    size_t nflows = x < 50 ? 1 : x < 75 ? 2 : x < 90 ? 3 : 4;
    std::vector<Packets> flows(nflows);
    for (auto& f : flows) {
      const IpAddr& dst = (*addrs)[rng_.below(addrs->size())];
      tcp_flow(c, dst, server_port(), name.text, resolved_tag(c, dst, src), f);
    }
    merge(rng_, flows, out);
  }

  // A TCP connection: handshake, 1-3 request/response rounds, FIN or RST; or
  // a SYN nobody answers, or one refused with RST.
  void tcp_flow(Client& c, const IpAddr& dst, uint16_t dport, std::string_view host,
                uint32_t flow_tag, Packets& out) {
    const IpAddr& src = dst.is_v6() ? c.v6 : c.v4;
    uint16_t sport = take_port(c);
    uint32_t cs = static_cast<uint32_t>(rng_.next());  // client sequence
    uint32_t ss = static_cast<uint32_t>(rng_.next());  // server sequence
    uint8_t server_ttl = static_cast<uint8_t>(rng_.range(40, 120));
    size_t mss = dst.is_v4() ? 1460 : 1440;
    auto to_server = [&](uint8_t flags, size_t len, uint32_t tags = 0) {
      out.push_back({craft::tcp(src, sport, dst, dport, flags, cs, flags & kAck ? ss : 0,
                                payload(len), ip_opts(64)),
                     tags});
      cs += static_cast<uint32_t>(len) + ((flags & (kSyn | kFin)) ? 1 : 0);
    };
    auto to_client = [&](uint8_t flags, size_t len, uint32_t tags = 0) {
      out.push_back(
          {craft::tcp(dst, dport, src, sport, flags, ss, cs, payload(len), ip_opts(server_ttl)),
           tags});
      ss += static_cast<uint32_t>(len) + ((flags & (kSyn | kFin)) ? 1 : 0);
    };

    uint64_t outcome = rng_.below(100);
    if (outcome < 4) {  // unanswered: the SYN and two retransmissions
      for (int k = 0; k < 3; ++k) {
        out.push_back({craft::tcp(src, sport, dst, dport, kSyn, cs, 0, {}, ip_opts(64)),
                       k == 0 ? (kTcpFlow | flow_tag | kTcpUnanswered) : 0u});
      }
      return;
    }
    to_server(kSyn, 0, kTcpFlow | flow_tag);
    if (outcome < 7) {  // refused
      out.push_back(
          {craft::tcp(dst, dport, src, sport, kRst | kAck, 0, cs, {}, ip_opts(server_ttl)),
           kTcpRst});
      return;
    }
    to_client(kSyn | kAck, 0);
    to_server(kAck, 0);
    uint64_t r = rng_.below(100);
    int rounds = r < 60 ? 1 : r < 85 ? 2 : 3;
    for (int round = 0; round < rounds; ++round) {
      if (dport == 80 && !host.empty()) {
        std::string req = fmt::format(
            "GET /{} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tripline-gen\r\nAccept: */*\r\n\r\n",
            rng_.below(100000), host);
        out.push_back(
            {craft::tcp(src, sport, dst, dport, kPsh | kAck, cs, ss,
                        {reinterpret_cast<const uint8_t*>(req.data()), req.size()}, ip_opts(64)),
             0});
        cs += static_cast<uint32_t>(req.size());
      } else {
        to_server(kPsh | kAck, rng_.range(60, 1200));
      }
      uint64_t resp = rng_.log_range(100, 200'000);
      size_t segs = std::min<uint64_t>((resp + mss - 1) / mss, 150);
      for (size_t k = 0; k < segs; ++k) {
        bool last = k + 1 == segs;
        size_t len = last ? std::max<size_t>(1, resp - (segs - 1) * mss) : mss;
        to_client(last ? (kPsh | kAck) : kAck, std::min(len, mss));
        if (k % 2 == 1 || last) to_server(kAck, 0);
      }
    }
    if (rng_.percent(6)) {  // aborted
      if (rng_.percent(50)) {
        to_server(kRst | kAck, 0, kTcpRst);
      } else {
        to_client(kRst | kAck, 0, kTcpRst);
      }
      return;
    }
    if (rng_.percent(60)) {  // client closes first
      to_server(kFin | kAck, 0);
      to_client(kFin | kAck, 0);
      to_server(kAck, 0, kTcpFin);
    } else {
      to_client(kFin | kAck, 0);
      to_server(kFin | kAck, 0);
      to_client(kAck, 0, kTcpFin);
    }
  }

  // UDP to a resolved address: QUIC-like on 443, or one NTP exchange.
  void udp_exchange(Client& c, const IpAddr& dst, uint32_t flow_tag, Packets& out) {
    const IpAddr& src = dst.is_v6() ? c.v6 : c.v4;
    uint16_t sport = take_port(c);
    uint8_t server_ttl = static_cast<uint8_t>(rng_.range(40, 120));
    if (rng_.percent(20)) {
      out.push_back(
          {craft::udp(src, sport, dst, 123, payload(48), ip_opts(64)), kUdpFlow | flow_tag});
      out.push_back({craft::udp(dst, 123, src, sport, payload(48), ip_opts(server_ttl)), 0});
      return;
    }
    out.push_back({craft::udp(src, sport, dst, 443, payload(rng_.range(1250, 1350)), ip_opts(64)),
                   kUdpFlow | flow_tag});
    uint64_t n = rng_.log_range(3, 200);
    for (uint64_t k = 0; k < n; ++k) {
      size_t len = rng_.percent(50) ? rng_.range(1200, 1350) : rng_.range(30, 200);
      if (rng_.percent(60)) {
        out.push_back({craft::udp(dst, 443, src, sport, payload(len), ip_opts(server_ttl)), 0});
      } else {
        out.push_back({craft::udp(src, sport, dst, 443, payload(len), ip_opts(64)), 0});
      }
    }
  }

  // UDP to a literal address (VPN, STUN, P2P-like); sometimes never answered.
  void literal_udp_flow(Client& c, const IpAddr& dst, Packets& out) {
    static constexpr uint16_t kPorts[] = {51820, 1194, 3478, 6881, 4500, 27015};
    const IpAddr& src = dst.is_v6() ? c.v6 : c.v4;
    uint16_t sport = take_port(c);
    uint16_t dport =
        rng_.percent(70) ? pick(rng_, kPorts) : static_cast<uint16_t>(rng_.range(1024, 65535));
    bool answered = rng_.percent(60);
    uint64_t n = rng_.log_range(1, 40);
    for (uint64_t k = 0; k < n; ++k) {
      size_t len = rng_.range(20, 1200);
      if (k > 0 && answered && rng_.percent(50)) {
        out.push_back({craft::udp(dst, dport, src, sport, payload(len), ip_opts(55)), 0});
      } else {
        out.push_back({craft::udp(src, sport, dst, dport, payload(len), ip_opts(64)),
                       k == 0 ? (kUdpFlow | kUnresolved) : 0u});
      }
    }
  }

  void icmp_echo(Client& c, const IpAddr& dst, uint32_t flow_tag, Packets& out) {
    const IpAddr& src = dst.is_v6() ? c.v6 : c.v4;
    uint8_t req = dst.is_v4() ? 8 : 128, rep = dst.is_v4() ? 0 : 129;
    uint16_t id = static_cast<uint16_t>(rng_.next());
    bool answered = rng_.percent(90);
    uint64_t n = rng_.range(1, 4);
    uint8_t body[60];
    for (uint64_t seq = 1; seq <= n; ++seq) {
      put16(body, id);
      put16(body + 2, static_cast<uint16_t>(seq));
      std::copy_n(payload(56).data(), 56, body + 4);
      out.push_back({craft::icmp(src, dst, req, 0, body, ip_opts(64)),
                     seq == 1 ? (kIcmpFlow | flow_tag) : 0u});
      if (answered) out.push_back({craft::icmp(dst, src, rep, 0, body, ip_opts(57)), 0});
    }
  }

  // A UDP datagram larger than the path MTU, as IP fragments (sometimes
  // arriving last-first), and sometimes a small reply.
  void fragmented_udp(Client& c, const IpAddr& dst, uint32_t flow_tag, Packets& out) {
    const IpAddr& src = dst.is_v6() ? c.v6 : c.v4;
    uint16_t sport = take_port(c);
    uint16_t dport = flow_tag == kUnresolved ? 4500 : 443;
    Bytes whole = craft::udp(src, sport, dst, dport, payload(rng_.range(1600, 8000)), ip_opts(64));
    uint32_t id =
        dst.is_v4() ? static_cast<uint32_t>(rng_.below(65536)) : static_cast<uint32_t>(rng_.next());
    std::vector<Bytes> frags = craft::fragment(whole, dst.is_v4() ? 1480 : 1232, id);
    if (rng_.percent(20)) std::reverse(frags.begin(), frags.end());
    for (size_t k = 0; k < frags.size(); ++k) {
      out.push_back({std::move(frags[k]), kFragment | (k == 0 ? (kUdpFlow | flow_tag) : 0u)});
    }
    if (rng_.percent(50)) {
      out.push_back(
          {craft::udp(dst, dport, src, sport, payload(rng_.range(60, 200)), ip_opts(50)), 0});
    }
  }

  // One packet that decoding must reject, each kind of damage in turn.
  void malformed(Client& c, Packets& out) {
    IpAddr v4dst = literal_address(false);
    bool v6 = c.v6.family != 0 && rng_.percent(40);
    IpAddr v6dst = literal_address(true);
    uint16_t sport = take_port(c);
    Bytes ip;
    switch (rng_.below(9)) {
      case 0:  // IPv4 header cut short
        ip = craft::tcp(c.v4, sport, v4dst, 443, kSyn, 1, 0, {}, ip_opts(64));
        ip.resize(rng_.range(1, 19));
        break;
      case 1:  // IHL below 5
        ip = craft::udp(c.v4, sport, v4dst, 53, payload(40), ip_opts(64));
        ip[0] = static_cast<uint8_t>(0x40 | rng_.range(0, 4));
        break;
      case 2:  // total length shorter than the header
        ip = craft::udp(c.v4, sport, v4dst, 5353, payload(40), ip_opts(64));
        put16(&ip[2], static_cast<uint16_t>(rng_.range(0, 19)));
        fix_ipv4_header_checksum(ip);
        break;
      case 3:  // IPv6 header cut short
        ip = craft::udp(v6 ? c.v6 : parse_or_die("fd00::bad"), sport, v6dst, 443, payload(40),
                        ip_opts(64));
        ip.resize(rng_.range(1, 39));
        break;
      case 4: {  // not IP version 4 or 6
        static constexpr uint8_t kVersions[] = {0, 1, 2, 3, 5, 7, 8, 15};
        ip = craft::udp(c.v4, sport, v4dst, 443, payload(100), ip_opts(64));
        ip[0] = static_cast<uint8_t>((pick(rng_, kVersions) << 4) | (ip[0] & 0x0f));
        break;
      }
      case 5:  // TCP header cut short (the IP layer agrees)
        if (v6) {
          ip = craft::tcp(c.v6, sport, v6dst, 443, kAck, 1, 1, payload(100), ip_opts(64));
          cut_consistently(ip, 40 + rng_.range(0, 19));
        } else {
          ip = craft::tcp(c.v4, sport, v4dst, 443, kAck, 1, 1, payload(100), ip_opts(64));
          cut_consistently(ip, 20 + rng_.range(0, 19));
        }
        break;
      case 6:  // TCP data offset below 5
        ip = craft::tcp(c.v4, sport, v4dst, 80, kAck, 1, 1, payload(20), ip_opts(64));
        ip[20 + 12] = static_cast<uint8_t>(rng_.range(0, 4) << 4);
        break;
      case 7:  // UDP length field below 8 or beyond the IP payload
        ip = craft::udp(c.v4, sport, v4dst, 3478, payload(64), ip_opts(64));
        put16(&ip[20 + 4], static_cast<uint16_t>(rng_.percent(50) ? rng_.range(0, 7)
                                                                  : 8 + 64 + rng_.range(1, 100)));
        break;
      default: {  // ICMP header cut short
        uint8_t body[8] = {};
        ip = craft::icmp(c.v4, v4dst, 8, 0, body, ip_opts(64));
        cut_consistently(ip, 20 + rng_.range(1, 3));
        break;
      }
    }
    out.push_back({std::move(ip), kMalformed});
  }

  void learn(const Pending& p) {
    Client& c = clients_[p.learn_client];
    const Name& n = names_[p.learn_name];
    const auto& addrs = p.learn_qtype == kTypeA ? n.a : n.aaaa;
    const IpAddr& asker = c.dns_over_v6 ? c.v6 : c.v4;
    for (const IpAddr& a : addrs) {
      c.learned[c.learned_pos] = {a, asker, now_ + static_cast<Timestamp>(n.ttl) * kNsPerSec};
      c.learned_pos = static_cast<uint8_t>((c.learned_pos + 1) % c.learned.size());
      if (c.n_learned < c.learned.size()) ++c.n_learned;
    }
  }

  void account(const Pending& p) {
    GenStats& s = stats_;
    if (s.packets == 0) s.first_ts = now_;
    s.last_ts = now_;
    ++s.packets;
    s.bytes += p.ip.size() + (opt_.link == LinkKind::Ethernet ? 14 : 0);
    uint8_t version = p.ip.empty() ? 0 : p.ip[0] >> 4;
    if (version == 4) ++s.ipv4_packets;
    if (version == 6) ++s.ipv6_packets;
    uint32_t t = p.tags;
    if (t == 0) return;
    s.dns_queries += (t & kDnsQuery) != 0;
    s.dns_responses += (t & kDnsResponse) != 0;
    s.dns_with_addresses += (t & kDnsAddrs) != 0;
    s.dns_cname += (t & kDnsCname) != 0;
    s.dns_nxdomain += (t & kDnsNx) != 0;
    s.dns_nodata += (t & kDnsNodata) != 0;
    s.tcp_flows += (t & kTcpFlow) != 0;
    s.udp_flows += (t & kUdpFlow) != 0;
    s.icmp_flows += (t & kIcmpFlow) != 0;
    s.resolved_flows += (t & kResolved) != 0;
    s.resolved_cross_family_flows += (t & kResolvedCross) != 0;
    s.unresolved_flows += (t & kUnresolved) != 0;
    s.tcp_fin += (t & kTcpFin) != 0;
    s.tcp_rst += (t & kTcpRst) != 0;
    s.tcp_unanswered += (t & kTcpUnanswered) != 0;
    s.fragments += (t & kFragment) != 0;
    s.malformed += (t & kMalformed) != 0;
    if (p.learn_client >= 0) learn(p);
  }

  GenOptions opt_;
  Rng rng_;
  Timestamp now_ = 0;
  IpAddr resolver_v4_, resolver_v6_;
  std::vector<uint8_t> payload_;
  std::vector<Client> clients_;
  std::vector<Name> names_;
  std::vector<uint64_t> zipf_cdf_;
  std::array<uint32_t, kKinds> mix_{};
  uint64_t mix_total_ = 0;
  GenStats stats_;
};

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};
struct DumperCloser {
  void operator()(pcap_dumper_t* d) const { pcap_dump_close(d); }
};

}  // namespace

std::string GenStats::summary() const {
  return fmt::format(
      "packets={} bytes={} ipv4={} ipv6={} dns_queries={} dns_responses={} "
      "dns_with_addresses={} dns_cname={} dns_nxdomain={} dns_nodata={} tcp_flows={} "
      "udp_flows={} icmp_flows={} resolved_flows={} resolved_cross_family_flows={} "
      "unresolved_flows={} tcp_fin={} tcp_rst={} "
      "tcp_unanswered={} fragments={} malformed={} seconds={:.3f}",
      packets, bytes, ipv4_packets, ipv6_packets, dns_queries, dns_responses, dns_with_addresses,
      dns_cname, dns_nxdomain, dns_nodata, tcp_flows, udp_flows, icmp_flows, resolved_flows,
      resolved_cross_family_flows, unresolved_flows, tcp_fin, tcp_rst, tcp_unanswered, fragments,
      malformed, static_cast<double>(last_ts - first_ts) / 1e9);
}

GenStats generate(const GenOptions& opts, const PacketSink& sink) {
  Generator g(opts);
  return g.run(sink);
}

GenStats generate_pcap(const GenOptions& opts, const std::string& path) {
  int dlt = opts.link == LinkKind::Ethernet ? DLT_EN10MB : DLT_RAW;
  std::unique_ptr<pcap_t, PcapCloser> pcap(
      pcap_open_dead_with_tstamp_precision(dlt, 65535, PCAP_TSTAMP_PRECISION_NANO));
  if (!pcap) throw std::runtime_error("pcap_open_dead failed");
  std::unique_ptr<pcap_dumper_t, DumperCloser> dumper(pcap_dump_open(pcap.get(), path.c_str()));
  if (!dumper) throw std::runtime_error(path + ": " + pcap_geterr(pcap.get()));
  auto* user = reinterpret_cast<u_char*>(dumper.get());
  GenStats stats = generate(opts, [user](Timestamp ts, std::span<const uint8_t> frame) {
    pcap_pkthdr hdr{};
    hdr.ts.tv_sec = static_cast<time_t>(ts / kNsPerSec);
    hdr.ts.tv_usec = static_cast<suseconds_t>(ts % kNsPerSec);  // nanoseconds here
    hdr.caplen = hdr.len = static_cast<bpf_u_int32>(frame.size());
    pcap_dump(user, &hdr, frame.data());
  });
  if (pcap_dump_flush(dumper.get()) != 0 || std::ferror(pcap_dump_file(dumper.get()))) {
    throw std::runtime_error(path + ": write failed");
  }
  return stats;
}

}  // namespace tripline::gen
