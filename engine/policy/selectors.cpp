#include "selectors.h"

#include <fmt/format.h>

#include <algorithm>

namespace tripline {

FlowDirection FlowFacts::direction() const {
  bool src_in = inside_.contains(flow_->src());
  bool dst_in = inside_.contains(flow_->dst());
  if (src_in) return dst_in ? FlowDirection::Internal : FlowDirection::Outbound;
  return dst_in ? FlowDirection::Inbound : FlowDirection::External;
}

const ClientId& FlowFacts::client() {
  if (!identified_) {
    identified_ = true;
    client_ = hosts_ ? hosts_->identify(flow_->src(), meta_->src_mac, meta_->in_ifindex)
                     : ClientId::address(flow_->src());
  }
  return client_;
}

const DnsLookup& FlowFacts::dns() {
  if (!looked_up_) {
    looked_up_ = true;
    ++lookups_;
    if (cache_) {
      dns_ = cache_->lookup(client(), flow_->dst(), now_);
    } else {
      dns_.status = DnsLookupStatus::Unknown;
      dns_.in_grace = false;
      dns_.expiry = 0;
      dns_.name.len = 0;
    }
  }
  return dns_;
}

std::string cidr_text(const Cidr& c) {
  unsigned full = c.addr.is_v4() ? 32 : 128;
  return c.length == full ? c.addr.to_string() : c.to_string();
}

std::string proto_text(uint8_t proto) {
  switch (proto) {
    case 1:
      return "icmp";
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 47:
      return "gre";
    case 50:
      return "esp";
    case 58:
      return "icmpv6";
    case 132:
      return "sctp";
    default:
      return std::to_string(proto);
  }
}

namespace {

// `key value` for one value, `key [a, b]` for several.
std::string words(std::string_view key, const std::vector<std::string>& values) {
  if (values.size() == 1) return fmt::format("{} {}", key, values.front());
  return fmt::format("{} [{}]", key, fmt::join(values, ", "));
}

class AllSelector final : public Selector {
 public:
  bool matches(FlowFacts&) const override { return true; }
  std::string to_string() const override { return "all"; }
};

class AddressSelector final : public Selector {
 public:
  AddressSelector(CidrSet cidrs, bool src) : cidrs_(std::move(cidrs)), src_(src) {}
  bool matches(FlowFacts& f) const override {
    return cidrs_.contains(src_ ? f.flow().src() : f.flow().dst());
  }
  std::string to_string() const override {
    std::vector<std::string> v;
    for (const Cidr& c : cidrs_.prefixes()) v.push_back(cidr_text(c));
    return words(src_ ? "src" : "dst", v);
  }

 private:
  CidrSet cidrs_;
  bool src_;
};

class PortSelector final : public Selector {
 public:
  PortSelector(std::vector<PortRange> ports, bool src) : ports_(std::move(ports)), src_(src) {}
  bool matches(FlowFacts& f) const override {
    uint8_t proto = f.flow().proto();
    if (proto != 6 && proto != 17) return false;  // ICMP keeps type/code in the port fields
    uint16_t port = src_ ? f.flow().sport() : f.flow().dport();
    for (const PortRange& r : ports_)
      if (port >= r.lo && port <= r.hi) return true;
    return false;
  }
  std::string to_string() const override {
    std::vector<std::string> v;
    for (const PortRange& r : ports_)
      v.push_back(r.lo == r.hi ? std::to_string(r.lo) : fmt::format("{}-{}", r.lo, r.hi));
    return words(src_ ? "src_port" : "port", v);
  }

 private:
  std::vector<PortRange> ports_;
  bool src_;
};

class ProtoSelector final : public Selector {
 public:
  explicit ProtoSelector(std::vector<uint8_t> protos) : protos_(std::move(protos)) {}
  bool matches(FlowFacts& f) const override {
    return std::find(protos_.begin(), protos_.end(), f.flow().proto()) != protos_.end();
  }
  std::string to_string() const override {
    std::vector<std::string> v;
    for (uint8_t p : protos_) v.push_back(proto_text(p));
    return words("proto", v);
  }

 private:
  std::vector<uint8_t> protos_;
};

class DirectionSelector final : public Selector {
 public:
  explicit DirectionSelector(std::vector<FlowDirection> dirs) : dirs_(std::move(dirs)) {}
  bool matches(FlowFacts& f) const override {
    return std::find(dirs_.begin(), dirs_.end(), f.direction()) != dirs_.end();
  }
  std::string to_string() const override {
    std::vector<std::string> v;
    for (FlowDirection d : dirs_) v.emplace_back(tripline::to_string(d));
    return words("direction", v);
  }

 private:
  std::vector<FlowDirection> dirs_;
};

class ZoneSelector final : public Selector {
 public:
  ZoneSelector(std::vector<std::shared_ptr<const Zone>> zones, bool src)
      : zones_(std::move(zones)), src_(src) {}
  bool matches(FlowFacts& f) const override {
    const IpAddr& addr = src_ ? f.flow().src() : f.flow().dst();
    uint32_t ifindex = src_ ? f.meta().in_ifindex : f.meta().out_ifindex;
    for (const auto& z : zones_) {
      if (z->cidrs.contains(addr)) return true;
      if (ifindex != 0 &&
          std::find(z->ifindexes.begin(), z->ifindexes.end(), ifindex) != z->ifindexes.end())
        return true;
    }
    return false;
  }
  std::string to_string() const override {
    std::vector<std::string> v;
    for (const auto& z : zones_) v.push_back(z->name);
    return words(src_ ? "src_zone" : "dst_zone", v);
  }

 private:
  std::vector<std::shared_ptr<const Zone>> zones_;
  bool src_;
};

class DomainSelector final : public Selector {
 public:
  DomainSelector(std::shared_ptr<const DomainSet> set, std::string words)
      : set_(std::move(set)), words_(std::move(words)) {}
  bool matches(FlowFacts& f) const override {
    const DnsLookup& d = f.dns();
    if (d.status == DnsLookupStatus::Unknown || d.name.len == 0) return false;
    return static_cast<bool>(set_->find(d.name.view()));
  }
  std::string to_string() const override { return words_; }
  bool uses_dns() const override { return true; }

 private:
  std::shared_ptr<const DomainSet> set_;
  std::string words_;
};

class ResolvedSelector final : public Selector {
 public:
  explicit ResolvedSelector(ResolvedBy by) : by_(by) {}
  bool matches(FlowFacts& f) const override {
    DnsLookupStatus s = f.dns().status;
    if (s == DnsLookupStatus::Open) return true;
    return by_ == ResolvedBy::Anyone && s == DnsLookupStatus::OtherClient;
  }
  std::string to_string() const override {
    return by_ == ResolvedBy::Client ? "resolved client" : "resolved anyone";
  }
  bool uses_dns() const override { return true; }

 private:
  ResolvedBy by_;
};

// Children that need the DNS lookup run last, so a cheaper one can decide
// first (selectors have no side effects: the order changes no result).
std::vector<SelectorPtr> dns_last(std::vector<SelectorPtr> v) {
  std::stable_partition(v.begin(), v.end(), [](const SelectorPtr& s) { return !s->uses_dns(); });
  return v;
}

std::string joined(const std::vector<SelectorPtr>& parts, std::string_view op) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += fmt::format(" {} ", op);
    out += p->composite() ? "(" + p->to_string() + ")" : p->to_string();
  }
  return out;
}

class AndSelector final : public Selector {
 public:
  explicit AndSelector(std::vector<SelectorPtr> all) : all_(dns_last(std::move(all))) {}
  bool matches(FlowFacts& f) const override {
    for (const auto& s : all_)
      if (!s->matches(f)) return false;
    return true;
  }
  std::string to_string() const override { return joined(all_, "and"); }
  bool uses_dns() const override {
    return std::any_of(all_.begin(), all_.end(), [](const auto& s) { return s->uses_dns(); });
  }
  bool composite() const override { return true; }

 private:
  std::vector<SelectorPtr> all_;
};

class OrSelector final : public Selector {
 public:
  explicit OrSelector(std::vector<SelectorPtr> any) : any_(dns_last(std::move(any))) {}
  bool matches(FlowFacts& f) const override {
    for (const auto& s : any_)
      if (s->matches(f)) return true;
    return false;
  }
  std::string to_string() const override { return joined(any_, "or"); }
  bool uses_dns() const override {
    return std::any_of(any_.begin(), any_.end(), [](const auto& s) { return s->uses_dns(); });
  }
  bool composite() const override { return true; }

 private:
  std::vector<SelectorPtr> any_;
};

class NotSelector final : public Selector {
 public:
  explicit NotSelector(SelectorPtr inner) : inner_(std::move(inner)) {}
  bool matches(FlowFacts& f) const override { return !inner_->matches(f); }
  std::string to_string() const override {
    return inner_->composite() ? "not (" + inner_->to_string() + ")" : "not " + inner_->to_string();
  }
  bool uses_dns() const override { return inner_->uses_dns(); }

 private:
  SelectorPtr inner_;
};

}  // namespace

SelectorPtr select_all() { return std::make_unique<AllSelector>(); }
SelectorPtr select_src(CidrSet cidrs) {
  return std::make_unique<AddressSelector>(std::move(cidrs), true);
}
SelectorPtr select_dst(CidrSet cidrs) {
  return std::make_unique<AddressSelector>(std::move(cidrs), false);
}
SelectorPtr select_port(std::vector<PortRange> ports) {
  return std::make_unique<PortSelector>(std::move(ports), false);
}
SelectorPtr select_src_port(std::vector<PortRange> ports) {
  return std::make_unique<PortSelector>(std::move(ports), true);
}
SelectorPtr select_proto(std::vector<uint8_t> protos) {
  return std::make_unique<ProtoSelector>(std::move(protos));
}
SelectorPtr select_direction(std::vector<FlowDirection> directions) {
  return std::make_unique<DirectionSelector>(std::move(directions));
}
SelectorPtr select_src_zone(std::vector<std::shared_ptr<const Zone>> zones) {
  return std::make_unique<ZoneSelector>(std::move(zones), true);
}
SelectorPtr select_dst_zone(std::vector<std::shared_ptr<const Zone>> zones) {
  return std::make_unique<ZoneSelector>(std::move(zones), false);
}
SelectorPtr select_domain(std::shared_ptr<const DomainSet> set, std::string words) {
  return std::make_unique<DomainSelector>(std::move(set), std::move(words));
}
SelectorPtr select_resolved(ResolvedBy by) { return std::make_unique<ResolvedSelector>(by); }
SelectorPtr select_and(std::vector<SelectorPtr> all) {
  return std::make_unique<AndSelector>(std::move(all));
}
SelectorPtr select_or(std::vector<SelectorPtr> any) {
  return std::make_unique<OrSelector>(std::move(any));
}
SelectorPtr select_not(SelectorPtr inner) {
  return std::make_unique<NotSelector>(std::move(inner));
}

}  // namespace tripline
