#include "config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "bounded_file.h"
#include "config_reader.h"
#include "rule_config.h"

namespace tripline {
namespace {

using config_detail::relative_to;
using config_detail::TableReader;

void read_queue(TableReader& r, QueueConfig& q) {
  if (auto v = r.get<uint16_t>("first")) q.first = *v;
  if (auto v = r.get<uint16_t>("count")) q.count = *v;
  if (auto v = r.get<bool>("fail_open")) q.fail_open = *v;
  if (auto v = r.get<uint32_t>("copy_range")) {
    // 0 = the whole packet; below kMinCopyRange every packet would be cut
    // inside its headers and count as malformed.
    if (*v > 0xffff || (*v != 0 && *v < kMinCopyRange))
      r.fail(r.node("copy_range"), "copy_range",
             fmt::format("expected 0 (whole packets) or {}..65535 bytes: less cuts the IP and "
                         "TCP headers tripline reads, and every packet counts as malformed",
                         kMinCopyRange));
    q.copy_range = *v;
  }
  if (auto v = r.get<bool>("gso")) q.gso = *v;
  if (auto v = r.get<uint32_t>("max_len")) {
    if (*v == 0)
      r.fail(r.node("max_len"), "max_len",
             "must be > 0: a kernel queue of 0 packets hands tripline nothing (every packet "
             "would pass uninspected, or be dropped without fail_open)");
    q.max_len = *v;
  }
  if (auto v = r.get<uint32_t>("rcvbuf")) q.rcvbuf = *v;
  if (auto v = r.get<uint32_t>("batch")) q.batch = *v;
  if (auto v = r.get<std::string>("rule_counter")) {
    if (*v == "auto")
      q.rule_counter = RuleCounter::Auto;
    else if (*v == "iptables")
      q.rule_counter = RuleCounter::Iptables;
    else if (*v == "nft")
      q.rule_counter = RuleCounter::Nft;
    else if (*v == "off")
      q.rule_counter = RuleCounter::Off;
    else
      r.fail(r.node("rule_counter"), "rule_counter",
             "expected \"auto\", \"iptables\", \"nft\" or \"off\"");
  }
  if (auto v = r.get<std::string>("default_verdict")) {
    auto verdict = parse_verdict(*v);
    if (!verdict)
      r.fail(r.node("default_verdict"), "default_verdict",
             "expected \"accept\", \"drop\" or \"reject\"");
    q.default_verdict = *verdict;
  }
}

// "10.0.0.53", "10.0.0.53:5353", "fd00::53", "[fd00::53]:5353".
std::optional<ResolverAddr> parse_resolver(std::string_view text) {
  ResolverAddr r;
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    auto colon = text.find(':');
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto addr = IpAddr::parse(host);
  if (!addr) return std::nullopt;
  r.addr = *addr;
  if (!port.empty() || (text.size() && text.back() == ':')) {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value == 0 ||
        value > 65535)
      return std::nullopt;
    r.port = static_cast<uint16_t>(value);
  }
  return r;
}

}  // namespace

std::optional<ListenAddress> parse_listen_address(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = text.substr(0, colon), port = text.substr(colon + 1);
  ListenAddress out;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
    out.ipv6 = true;
  }
  auto ip = IpAddr::parse(host);
  if (!ip || ip->is_v6() != out.ipv6) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || port.empty() || value == 0 ||
      value > 65535)
    return std::nullopt;
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(value);
  return out;
}

namespace config_detail {

std::string relative_to(const std::string& config_file, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_absolute() || config_file.empty() || config_file.front() == '<') return path;
  return (std::filesystem::path(config_file).parent_path() / p).lexically_normal().string();
}

}  // namespace config_detail

Config Config::defaults() {
  Config c;
  for (const char* net :
       {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fd00::/8", "fe80::/10"})
    c.network.inside.add(*Cidr::parse(net));
  return c;
}

Config Config::load_string(std::string_view text, const std::string& name) {
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    throw ConfigError(fmt::format("{}:{}: {}", name, e.source().begin.line, e.description()));
  }
  Config c = defaults();
  c.source = name;

  using SectionFn = std::function<void(TableReader&)>;
  const std::map<std::string, SectionFn, std::less<>> sections = {
      {"queue",
       [&](TableReader& r) {
         read_queue(r, c.queue);
         if (c.queue.count == 0 || c.queue.first + c.queue.count > 65536)
           r.fail(r.node("count"), "count", "queues first..first+count-1 must be 1..65535");
         if (c.queue.batch == 0 || c.queue.batch > 1024)
           r.fail(r.node("batch"), "batch", "expected 1..1024");
       }},
      {"network",
       [&](TableReader& r) {
         CidrSet inside;
         if (r.get_strings("inside", [&](const std::string& s, const toml::node& n) {
               auto cidr = Cidr::parse(s);
               if (!cidr) r.fail(n, "inside", fmt::format("\"{}\" is not a CIDR", s));
               inside.add(*cidr);
             }))
           c.network.inside = std::move(inside);
       }},
      {"flows",
       [&](TableReader& r) {
         auto& f = c.flows;
         if (auto v = r.get_seconds("tcp_new")) f.tcp_new = *v;
         if (auto v = r.get_seconds("tcp_established")) f.tcp_established = *v;
         if (auto v = r.get_seconds("tcp_closing")) f.tcp_closing = *v;
         if (auto v = r.get_seconds("tcp_closed")) f.tcp_closed = *v;
         if (auto v = r.get_seconds("udp")) f.udp = *v;
         if (auto v = r.get_seconds("icmp")) f.icmp = *v;
         if (auto v = r.get_seconds("other")) f.other = *v;
         if (auto v = r.get<uint32_t>("capacity")) {
           if (*v == 0 || *v > kMaxFlowCapacity)
             r.fail(r.node("capacity"), "capacity",
                    fmt::format("expected 1..{} flows per worker", kMaxFlowCapacity));
           f.capacity = *v;
         }
         if (auto v = r.get<uint32_t>("fragments")) f.fragments = *v;
       }},
      {"dns",
       [&](TableReader& r) {
         auto& d = c.dns;
         r.get_strings("resolvers", [&](const std::string& s, const toml::node& n) {
           auto res = parse_resolver(s);
           if (!res)
             r.fail(n, "resolvers",
                    fmt::format("\"{}\" is not an address, address:port or [v6]:port", s));
           d.resolvers.push_back(*res);
         });
         if (auto v = r.get<std::string>("scope")) {
           if (*v == "client")
             d.scope = DnsScope::Client;
           else if (*v == "global")
             d.scope = DnsScope::Global;
           else
             r.fail(r.node("scope"), "scope", "expected \"client\" or \"global\"");
         }
         if (auto v = r.get<std::string>("client_identity")) {
           if (*v == "host")
             d.client_identity = ClientIdentity::Host;
           else if (*v == "address")
             d.client_identity = ClientIdentity::Address;
           else
             r.fail(r.node("client_identity"), "client_identity",
                    "expected \"host\" or \"address\"");
         }
         if (auto v = r.get<uint32_t>("min_ttl")) d.min_ttl = *v;
         if (auto v = r.get<uint32_t>("max_ttl")) d.max_ttl = *v;
         if (d.min_ttl > d.max_ttl) r.fail(r.node("min_ttl"), "min_ttl", "is above max_ttl");
         if (auto v = r.get<uint32_t>("grace")) d.grace = *v;
         if (auto v = r.get<uint32_t>("max_entries")) d.max_entries = *v;
         if (auto v = r.get<uint32_t>("max_addrs_per_name")) d.max_addrs_per_name = *v;
         if (auto v = r.get<uint32_t>("max_outstanding")) d.max_outstanding = *v;
         if (auto v = r.get_seconds("query_timeout")) d.query_timeout = *v;
         if (auto v = r.get<std::string>("state_file")) d.state_file = relative_to(name, *v);
         if (auto v = r.get<uint32_t>("save_interval")) d.save_interval = *v;
         r.get_strings("block_lists", [&](const std::string& s, const toml::node&) {
           d.block_lists.push_back(relative_to(name, s));
         });
         r.get_strings("allow_lists", [&](const std::string& s, const toml::node&) {
           d.allow_lists.push_back(relative_to(name, s));
         });
         if (auto v = r.get<std::string>("block_mode")) {
           if (*v == "null")
             d.block_mode = BlockMode::Null;
           else if (*v == "nxdomain")
             d.block_mode = BlockMode::Nxdomain;
           else if (*v == "drop")
             d.block_mode = BlockMode::Drop;
           else
             r.fail(r.node("block_mode"), "block_mode",
                    "expected \"null\", \"nxdomain\" or \"drop\"");
         }
       }},
      {"egress",
       [&](TableReader& r) {
         auto& e = c.egress;
         if (auto v = r.get<std::string>("mode")) {
           if (*v == "off")
             e.mode = EgressMode::Off;
           else if (*v == "monitor")
             e.mode = EgressMode::Monitor;
           else if (*v == "enforce")
             e.mode = EgressMode::Enforce;
           else
             r.fail(r.node("mode"), "mode", "expected \"off\", \"monitor\" or \"enforce\"");
         }
         if (auto v = r.get<std::string>("action")) {
           if (*v == "drop")
             e.action = Verdict::Drop;
           else if (*v == "reject")
             e.action = Verdict::Reject;
           else
             r.fail(r.node("action"), "action", "expected \"drop\" or \"reject\"");
         }
         r.get_strings("allow", [&](const std::string& s, const toml::node& n) {
           auto cidr = Cidr::parse(s);
           if (!cidr) r.fail(n, "allow", fmt::format("\"{}\" is not a CIDR", s));
           e.allow.add(*cidr);
         });
         if (auto v = r.get<uint32_t>("reject_mark")) {
           if (*v == 0) r.fail(r.node("reject_mark"), "reject_mark", "must not be 0");
           e.reject_mark = *v;
         }
       }},
      {"clients",
       [&](TableReader& r) {
         r.get_strings("leases", [&](const std::string& s, const toml::node& n) {
           if (s.empty()) r.fail(n, "leases", "expected a file name");
           c.clients.leases.push_back(relative_to(name, s));
         });
         if (auto v = r.get<uint32_t>("reload_check_ms")) {
           if (*v < 100 || *v > 3'600'000)
             r.fail(r.node("reload_check_ms"), "reload_check_ms",
                    "expected 100..3600000 milliseconds");
           c.clients.reload_check_ms = *v;
         }
       }},
      {"lua",
       [&](TableReader& r) {
         auto& l = c.lua;
         if (auto v = r.get<std::string>("script")) {
           if (v->empty()) r.fail(r.node("script"), "script", "expected a file name");
           l.script = relative_to(name, *v);
         }
         if (auto v = r.get<uint32_t>("budget")) {
           if (*v < 100 || *v > 100'000'000)
             r.fail(r.node("budget"), "budget", "expected 100..100000000 instructions");
           l.budget = *v;
         }
         if (auto v = r.get<uint32_t>("max_call_ms")) {
           if (*v == 0 || *v > 10'000)
             r.fail(r.node("max_call_ms"), "max_call_ms", "expected 1..10000 milliseconds");
           l.max_call_ms = *v;
         }
         if (auto v = r.get<uint32_t>("memory_mb")) {
           if (*v == 0 || *v > 4096) r.fail(r.node("memory_mb"), "memory_mb", "expected 1..4096");
           l.memory_mb = *v;
         }
         if (auto v = r.get<uint32_t>("max_consecutive_errors")) {
           if (*v == 0)
             r.fail(r.node("max_consecutive_errors"), "max_consecutive_errors", "must be > 0");
           l.max_consecutive_errors = *v;
         }
         // The store shared by all workers (lua/API.md "Shared state").
         if (auto v = r.get<uint32_t>("shared_entries")) {
           if (*v < 16 || *v > 16'777'216)
             r.fail(r.node("shared_entries"), "shared_entries", "expected 16..16777216 entries");
           l.shared_entries = *v;
         }
       }},
      {"capture",
       [&](TableReader& r) {
         auto& k = c.capture;
         if (auto v = r.get<std::string>("format")) {
           if (*v == "pcapng")
             k.format = CaptureFormat::Pcapng;
           else if (*v == "pcap")
             k.format = CaptureFormat::Pcap;
           else
             r.fail(r.node("format"), "format", "expected \"pcapng\" or \"pcap\"");
         }
         if (auto v = r.get<std::string>("dir")) {
           if (v->empty()) r.fail(r.node("dir"), "dir", "expected a folder");
           k.dir = relative_to(name, *v);
         }
         if (auto v = r.get<uint32_t>("ring_mb")) {
           if (*v == 0 || *v > 1024) r.fail(r.node("ring_mb"), "ring_mb", "expected 1..1024");
           k.ring_bytes = *v << 20;
         }
         if (auto v = r.get<uint32_t>("snaplen")) {
           if (*v < 64 || *v > 262144) r.fail(r.node("snaplen"), "snaplen", "expected 64..262144");
           k.snaplen = *v;
         }
         if (auto v = r.get<uint32_t>("max_files")) {
           if (*v == 0) r.fail(r.node("max_files"), "max_files", "must be > 0");
           k.max_files = *v;
         }
         if (auto v = r.get<uint32_t>("max_sessions")) {
           if (*v == 0 || *v > 4096)
             r.fail(r.node("max_sessions"), "max_sessions", "expected 1..4096");
           k.max_sessions = *v;
         }
         if (auto v = r.get<uint32_t>("pre_packets")) {
           if (*v > 65536) r.fail(r.node("pre_packets"), "pre_packets", "expected 0..65536");
           k.pre_packets = *v;
         }
         if (auto v = r.get_seconds("seconds")) k.default_duration = *v;
         if (auto v = r.get<uint64_t>("packets")) {
           if (*v == 0) r.fail(r.node("packets"), "packets", "must be > 0");
           k.default_max_packets = *v;
         }
         if (auto v = r.get<uint32_t>("megabytes")) {
           if (*v == 0) r.fail(r.node("megabytes"), "megabytes", "must be > 0");
           k.default_max_bytes = uint64_t{*v} << 20;
         }
       }},
      {"metrics",
       [&](TableReader& r) {
         if (auto v = r.get<std::string>("listen")) {
           if (!v->empty() && !parse_listen_address(*v))
             r.fail(r.node("listen"), "listen",
                    "expected \"ADDRESS:PORT\" (\"127.0.0.1:9740\", \"[::1]:9740\"; port "
                    "1..65535) or \"\" for no metrics endpoint");
           c.metrics.listen = *v;
         }
       }},
      {"offload",
       [&](TableReader& r) {
         auto& o = c.offload;
         if (auto v = r.get<bool>("enabled")) o.enabled = *v;
         if (auto v = r.get<uint32_t>("after_packets")) {
           if (*v > 1'000'000)
             r.fail(r.node("after_packets"), "after_packets", "expected 0..1000000 packets");
           o.after_packets = *v;
         }
         if (auto v = r.get<uint32_t>("mark")) o.mark = *v;
         if (auto v = r.get<uint32_t>("drop_mark")) o.drop_mark = *v;
         if (auto v = r.get<uint32_t>("mask")) o.mask = *v;
         if (o.mask == 0) r.fail(r.node("mask"), "mask", "must not be 0");
         auto check_mark = [&](const char* key, uint32_t m) {
           if (m == 0) r.fail(r.node(key), key, "must not be 0 (0 is every unmarked connection)");
           if ((m & ~o.mask) != 0)
             r.fail(r.node(key), key,
                    fmt::format("0x{:x} has bits outside mask 0x{:x}", m, o.mask));
         };
         check_mark("mark", o.mark);
         check_mark("drop_mark", o.drop_mark);
         if (o.mark == o.drop_mark)
           r.fail(r.node("drop_mark"), "drop_mark", "must differ from mark");
         if (auto v = r.get_seconds("timeout")) {
           if (*v < seconds(60)) r.fail(r.node("timeout"), "timeout", "expected at least 60 s");
           c.flows.offloaded = *v;
         }
         if (auto v = r.get<bool>("adopt")) o.adopt = *v;
       }},
      {"control",
       [&](TableReader& r) {
         auto& k = c.control;
         if (auto v = r.get<std::string>("socket")) {
           k.socket = v->empty() ? std::string() : relative_to(name, *v);
           k.socket_default = false;
           if (k.socket.size() >= 108)  // sizeof(sockaddr_un::sun_path)
             r.fail(r.node("socket"), "socket", "path longer than 107 bytes");
         }
         if (auto v = r.get<std::string>("group")) k.group = *v;
         if (auto v = r.get<uint32_t>("max_clients")) {
           if (*v == 0 || *v > 1024)
             r.fail(r.node("max_clients"), "max_clients", "expected 1..1024");
           k.max_clients = *v;
         }
         if (auto v = r.get<uint32_t>("timeout_ms")) {
           if (*v < 10 || *v > 60'000)
             r.fail(r.node("timeout_ms"), "timeout_ms", "expected 10..60000 milliseconds");
           k.timeout_ms = *v;
         }
       }},
      {"log",
       [&](TableReader& r) {
         if (auto v = r.get<std::string>("events")) {
           c.log.events = *v;
           c.log.events_default = false;
         }
         if (auto v = r.get<uint32_t>("queue_events")) {
           if (*v == 0) r.fail(r.node("queue_events"), "queue_events", "must be > 0");
           c.log.queue_events = *v;
         }
         if (auto v = r.get<uint32_t>("queue_mb")) {
           if (*v == 0 || *v > 4096) r.fail(r.node("queue_mb"), "queue_mb", "expected 1..4096");
           c.log.queue_mb = *v;
         }
         if (auto v = r.get<uint32_t>("stats_interval")) c.log.stats_interval = *v;

         // Suricata's DNS event layout (issue 11: fever reads version 2).
         if (auto v = r.get<uint32_t>("dns_version")) {
           if (*v != 2 && *v != 3) r.fail(r.node("dns_version"), "dns_version", "expected 2 or 3");
           c.log.dns_version = static_cast<uint8_t>(*v);
         }
       }},
  };

  for (auto&& [key, node] : root) {
    if (key.str() == "rule") {
      config_detail::read_rules(node, key, name, c.rules);
      continue;
    }
    if (key.str() == "zones") {
      config_detail::read_zones(node, key, name, c.zones);
      continue;
    }
    auto it = sections.find(key.str());
    if (it == sections.end())
      throw ConfigError(
          fmt::format("{}:{}: [{}]: unknown section", name, key.source().begin.line, key.str()));
    const toml::table* table = node.as_table();
    if (!table)
      throw ConfigError(
          fmt::format("{}:{}: {}: expected a [section]", name, key.source().begin.line, key.str()));
    TableReader reader(*table, std::string(key.str()), name, &c.key_lines);
    it->second(reader);
    reader.finish();
  }
  config_detail::check_rule_references(c);
  // DNS observation reads whole answers: a copy range that cuts them opens nothing.
  bool dns_on = !c.dns.resolvers.empty() || c.egress.mode != EgressMode::Off;
  if (dns_on && c.queue.copy_range != 0 && c.queue.copy_range < kMinCopyRangeDns)
    throw ConfigError(fmt::format(
        "{}: {} is below {} bytes while DNS answers are observed ([dns] resolvers or [egress] "
        "mode): answers cut short open nothing; use 0 or 65535 (whole packets)",
        c.where("queue.copy_range"), c.queue.copy_range, kMinCopyRangeDns));
  return c;
}

std::string Config::where(std::string_view key) const {
  auto it = key_lines.find(key);
  if (it == key_lines.end()) return fmt::format("{}: {}", source, key);
  return fmt::format("{}:{}: {}", source, it->second, key);
}

Config Config::load_file(const std::string& path) {
  // A configuration is a few KB; a FIFO or /dev/zero given by mistake is refused.
  BoundedFileRead file = read_regular_file(path, size_t{16} << 20);
  if (!file.ok) throw ConfigError(file.error);
  return load_string(file.bytes, path);
}

}  // namespace tripline
