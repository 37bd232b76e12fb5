#include "lease_file.h"

#include <charconv>
#include <ctime>
#include <map>
#include <optional>

namespace tripline {
namespace {

std::string_view trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Calls fn(line, number) for every line (without its '\n').
template <typename Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  size_t number = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    ++number;
    if (!fn(line, number)) return;
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// Up to N whitespace-separated fields; returns how many there were (N + 1: more).
template <size_t N>
size_t split_fields(std::string_view line, std::string_view (&out)[N]) {
  size_t n = 0;
  while (true) {
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) return n;
    line.remove_prefix(b);
    size_t e = line.find_first_of(" \t\r");
    if (n == N) return N + 1;
    out[n++] = line.substr(0, e);
    if (e == std::string_view::npos) return n;
    line.remove_prefix(e);
  }
}

std::optional<int64_t> to_int(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// What the parsers collect: the last word per address.
class Leases {
 public:
  Leases(LeaseParse& out, int64_t now, size_t max) : out_(out), now_(now), max_(max) {}

  void malformed(size_t line) {
    if (out_.malformed++ == 0) out_.first_malformed = line;
  }
  // An active lease of addr until expiry (0: never) to mac, named name.
  void lease(const IpAddr& addr, const MacAddr& mac, std::string_view name, int64_t expiry) {
    if (expiry != 0 && expiry <= now_) return inactive(addr);
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty()) {  // leased without a name: nothing to name it by
      by_addr_.erase(addr);
      return;
    }
    if (!valid_lease_name(name)) {
      ++out_.invalid_names;
      by_addr_.erase(addr);
      return;
    }
    auto it = by_addr_.find(addr);
    if (it == by_addr_.end()) {
      if (by_addr_.size() >= max_) {
        ++out_.over_limit;
        return;
      }
      it = by_addr_.emplace(addr, Lease{.addr = addr, .mac = {}, .name = {}}).first;
    }
    it->second.mac = mac;
    it->second.name.assign(name);
  }
  // The address is not (or no longer) leased.
  void inactive(const IpAddr& addr) {
    ++out_.inactive;
    by_addr_.erase(addr);
  }
  void finish() {
    out_.leases.reserve(by_addr_.size());
    for (auto& [addr, l] : by_addr_) out_.leases.push_back(std::move(l));
  }

 private:
  LeaseParse& out_;
  int64_t now_;
  size_t max_;
  std::map<IpAddr, Lease> by_addr_;
};

// dnsmasq: "<expiry> <mac> <ipv4> <name|*> <client-id|*>"; after a
// "duid <server duid>" line, IPv6 leases "<expiry> <iaid> <ipv6> <name|*> <duid>".
void parse_dnsmasq(std::string_view text, Leases& leases) {
  for_each_line(text, [&](std::string_view line, size_t number) {
    std::string_view f[5];
    size_t n = split_fields(line, f);
    if (n == 0) return true;
    if (n == 2 && f[0] == "duid") return true;
    if (n < 4 || n > 5) {
      leases.malformed(number);
      return true;
    }
    auto expiry = to_int(f[0]);
    auto addr = IpAddr::parse(f[2]);
    if (!expiry || *expiry < 0 || !addr) {
      leases.malformed(number);
      return true;
    }
    // IPv4 leases give the link-layer address; "hwtype-" forms other than
    // Ethernet, and the IAID of IPv6 leases, leave it unknown.
    MacAddr mac = addr->is_v4() ? MacAddr::parse(f[1]).value_or(MacAddr{}) : MacAddr{};
    leases.lease(*addr, mac, f[3] == "*" ? std::string_view() : f[3], *expiry);
    return true;
  });
}

// "YYYY/MM/DD HH:MM:SS" (UTC) after a weekday, "never", or "epoch N".
std::optional<int64_t> isc_time(std::string_view a, std::string_view b, std::string_view c) {
  if (a == "never") return 0;
  if (a == "epoch") return to_int(b);
  struct tm tm {};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  std::string date(b), time(c);
  if (std::sscanf(date.c_str(), "%d/%d/%d", &y, &mo, &d) != 3) return std::nullopt;
  if (std::sscanf(time.c_str(), "%d:%d:%d", &h, &mi, &s) != 3) return std::nullopt;
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
      mi > 59 || s < 0 || s > 60)
    return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  int64_t t = timegm(&tm);
  return t <= 0 ? std::optional<int64_t>(1) : t;  // 1970-01-01 00:00:00 is long past, not "never"
}

// ISC dhcpd: "lease <ipv4> { ... }" blocks, appended as leases change (the
// last block for an address wins). Other blocks (host, failover, the IPv6
// ia-na/ia-ta/ia-pd, which carry no host name) are skipped.
void parse_isc(std::string_view text, Leases& leases) {
  int depth = 0;  // brace depth
  bool in_lease = false, bad = false;
  size_t start_line = 0;
  IpAddr addr;
  MacAddr mac;
  std::string name;
  int64_t ends = 0;
  bool active = true;
  for_each_line(text, [&](std::string_view raw, size_t number) {
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') return true;
    if (line == "}") {
      if (depth == 0) {
        leases.malformed(number);
        return true;
      }
      if (--depth == 0 && in_lease) {
        in_lease = false;
        if (bad)
          leases.malformed(start_line);
        else if (!active)
          leases.inactive(addr);
        else
          leases.lease(addr, mac, name, ends);
      }
      return true;
    }
    if (line.back() == '{') {
      std::string_view f[3];
      if (depth == 0 && split_fields(line, f) == 3 && f[0] == "lease") {
        auto a = IpAddr::parse(f[1]);
        in_lease = true;
        bad = !a;
        start_line = number;
        addr = a.value_or(IpAddr{});
        mac = MacAddr{};
        name.clear();
        ends = 0;
        active = true;
      }
      ++depth;
      return true;
    }
    if (!in_lease || depth != 1) return true;  // inside a block we skip
    if (line.back() != ';') {
      bad = true;
      return true;
    }
    line.remove_suffix(1);
    std::string_view f[5];
    size_t n = split_fields(line, f);
    if (n >= 3 && f[0] == "hardware" && f[1] == "ethernet") {
      auto m = MacAddr::parse(f[2]);
      if (!m) bad = true;
      mac = m.value_or(MacAddr{});
    } else if (n >= 2 && f[0] == "client-hostname") {
      std::string_view v = trim(line.substr(line.find("client-hostname") + 15));
      if (v.size() < 2 || v.front() != '"' || v.back() != '"') {
        bad = true;
      } else {
        name.assign(v.substr(1, v.size() - 2));
      }
    } else if (n >= 3 && f[0] == "binding" && f[1] == "state") {
      active = f[2] == "active" || f[2] == "backup";
    } else if (n >= 2 && f[0] == "ends") {
      auto t = isc_time(f[1], n > 2 ? f[2] : "", n > 3 ? f[3] : "");
      if (!t) bad = true;
      ends = t.value_or(0);
    }
    return true;
  });
  if (in_lease) leases.malformed(start_line);  // cut short (a write in progress)
}

// Kea memfile CSV: a header naming the columns, then one row per change
// (the last row for an address wins). Commas inside values are "&#x2c".
void parse_kea(std::string_view text, Leases& leases) {
  constexpr size_t kMaxColumns = 64;
  int col_addr = -1, col_hw = -1, col_name = -1, col_expire = -1, col_valid = -1, col_state = -1;
  size_t columns = 0;
  std::string name;
  for_each_line(text, [&](std::string_view raw, size_t number) {
    std::string_view line = trim(raw);
    if (line.empty()) return true;
    std::string_view v[kMaxColumns];
    size_t n = 0;
    bool too_many = false;
    for (size_t pos = 0;;) {
      size_t comma = line.find(',', pos);
      if (n == kMaxColumns) {
        too_many = true;
        break;
      }
      v[n++] =
          line.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
    if (columns == 0) {  // the header
      if (too_many || v[0] != "address") {
        leases.malformed(number);
        return false;
      }
      columns = n;
      for (size_t i = 0; i < n; ++i) {
        int c = static_cast<int>(i);
        if (v[i] == "address") col_addr = c;
        if (v[i] == "hwaddr") col_hw = c;
        if (v[i] == "hostname") col_name = c;
        if (v[i] == "expire") col_expire = c;
        if (v[i] == "valid_lifetime") col_valid = c;
        if (v[i] == "state") col_state = c;
      }
      if (col_name < 0 || col_expire < 0) {
        leases.malformed(number);
        return false;
      }
      return true;
    }
    if (too_many || n < columns) {  // newer Kea versions may append columns
      leases.malformed(number);
      return true;
    }
    auto addr = IpAddr::parse(v[col_addr]);
    auto expire = to_int(v[col_expire]);
    std::optional<int64_t> valid = col_valid >= 0 ? to_int(v[col_valid]) : 1;
    std::optional<int64_t> state =
        col_state >= 0 && !v[col_state].empty() ? to_int(v[col_state]) : 0;
    std::optional<MacAddr> mac;
    if (col_hw >= 0) mac = v[col_hw].empty() ? MacAddr{} : MacAddr::parse(v[col_hw]);
    if (!addr || !expire || !valid || !state || (col_hw >= 0 && !mac)) {
      leases.malformed(number);
      return true;
    }
    if (*valid == 0 || *state != 0) {  // released, declined or reclaimed
      leases.inactive(*addr);
      return true;
    }
    name.clear();
    std::string_view h = v[col_name];
    for (size_t p; (p = h.find("&#x2c")) != std::string_view::npos;) {
      name.append(h.substr(0, p)).push_back(',');
      h.remove_prefix(p + 5);
    }
    name.append(h);
    // A lifetime of 0xffffffff is infinite.
    int64_t expiry = *valid == 0xffffffffLL ? 0 : *expire;
    leases.lease(*addr, mac.value_or(MacAddr{}), name, expiry);
    return true;
  });
}

LeaseFormat detect(std::string_view text) {
  LeaseFormat f = LeaseFormat::Dnsmasq;  // an empty file: dnsmasq's, before the first lease
  for_each_line(text, [&](std::string_view raw, size_t) {
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') return true;
    std::string_view w[1];
    split_fields(line, w);
    if (line.starts_with("address,"))
      f = LeaseFormat::Kea;
    else if (w[0] == "lease" || w[0] == "authoring-byte-order" || w[0] == "server-duid" ||
             w[0] == "failover" || w[0] == "host" || w[0] == "ia-na" || w[0] == "ia-ta" ||
             w[0] == "ia-pd")
      f = LeaseFormat::IscDhcpd;
    else if (w[0] == "duid" || to_int(w[0]))
      f = LeaseFormat::Dnsmasq;
    else
      f = LeaseFormat::Unknown;
    return false;
  });
  return f;
}

}  // namespace

const char* to_string(LeaseFormat f) {
  switch (f) {
    case LeaseFormat::Dnsmasq:
      return "dnsmasq";
    case LeaseFormat::IscDhcpd:
      return "isc-dhcpd";
    case LeaseFormat::Kea:
      return "kea";
    case LeaseFormat::Unknown:
      break;
  }
  return "unknown";
}

bool valid_lease_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

LeaseParse parse_leases(std::string_view text, int64_t now, size_t max_leases) {
  LeaseParse out;
  out.format = detect(text);
  Leases leases(out, now, max_leases);
  switch (out.format) {
    case LeaseFormat::Dnsmasq:
      parse_dnsmasq(text, leases);
      break;
    case LeaseFormat::IscDhcpd:
      parse_isc(text, leases);
      break;
    case LeaseFormat::Kea:
      parse_kea(text, leases);
      break;
    case LeaseFormat::Unknown:
      out.malformed = 1;
      out.first_malformed = 1;
      break;
  }
  leases.finish();
  return out;
}

}  // namespace tripline
