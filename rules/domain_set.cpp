#include "domain_set.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "bounded_file.h"
#include "ip_address.h"
#include "log_escape.h"

namespace tripline {
namespace {

constexpr size_t kMaxName = 253;  // presentation length without the trailing dot
constexpr size_t kMaxLabels = 128;

uint64_t hash_name(std::string_view n) { return XXH3_64bits(n.data(), n.size()); }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

enum class NameCheck { Ok, Invalid, Localhost };

// Lowercases into buf (>= kMaxName bytes), drops one trailing dot, validates:
// 1..253 chars, labels of 1..63 chars from [a-z0-9_-], last label not all digits.
NameCheck normalise(std::string_view in, char* buf, size_t& len) {
  if (!in.empty() && in.back() == '.') in.remove_suffix(1);
  if (in.empty() || in.size() > kMaxName) return NameCheck::Invalid;
  size_t label = 0;
  bool all_digits = true;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = lower(in[i]);
    buf[i] = c;
    if (c == '.') {
      if (label == 0) return NameCheck::Invalid;
      label = 0;
      all_digits = true;
      continue;
    }
    bool digit = c >= '0' && c <= '9';
    if (!(digit || (c >= 'a' && c <= 'z') || c == '-' || c == '_')) return NameCheck::Invalid;
    all_digits &= digit;
    if (++label > 63) return NameCheck::Invalid;
  }
  len = in.size();
  std::string_view n(buf, len);
  static constexpr std::string_view kLocal[] = {
      "localhost",     "localhost.localdomain", "local",        "broadcasthost",
      "ip6-localhost", "ip6-loopback",          "ip6-localnet", "ip6-mcastprefix",
      "ip6-allnodes",  "ip6-allrouters",        "ip6-allhosts", "0.0.0.0"};
  if (std::find(std::begin(kLocal), std::end(kLocal), n) != std::end(kLocal))
    return NameCheck::Localhost;
  if (label == 0 || all_digits) return NameCheck::Invalid;
  return NameCheck::Ok;
}

void warn(DomainListReport& r, std::string_view source, size_t line, const char* why,
          std::string_view text) {
  if (r.warnings.size() >= DomainListReport::kMaxWarnings) {
    ++r.warnings_dropped;
    return;
  }
  if (text.size() > 80) text = text.substr(0, 80);
  std::string w(source);
  w += ':';
  w += std::to_string(line);
  w += ": ";
  w += why;
  w += ": ";
  append_escaped_for_log(w, text);  // the list's bytes: anything at all
  r.warnings.push_back(std::move(w));
}

}  // namespace

uint16_t DomainSet::label_index(std::string_view label) {
  for (size_t i = 0; i < labels_.size(); ++i)
    if (labels_[i] == label) return static_cast<uint16_t>(i);
  if (labels_.size() >= UINT16_MAX) throw DomainListError("too many domain lists");
  labels_.emplace_back(label);
  return static_cast<uint16_t>(labels_.size() - 1);
}

uint64_t DomainSet::fingerprint() const {
  // A sum of mixed entries: independent of the order the maps hold them in.
  auto mix = [this](uint64_t name, uint16_t label, uint64_t salt) {
    const std::string& l = labels_[label];
    uint64_t parts[2] = {name ^ salt, XXH3_64bits(l.data(), l.size())};
    return XXH3_64bits(parts, sizeof(parts));
  };
  uint64_t sum = static_cast<uint64_t>(kind_) + names_.size() * 31 + exceptions_.size();
  for (const auto& [name, label] : names_) sum += mix(name, label, 0);
  for (const auto& [name, label] : exceptions_) sum += mix(name, label, 0x9e3779b97f4a7c15ull);
  return sum;
}

bool DomainSet::insert_normalised(std::string_view name, uint16_t label, bool exception) {
  auto& map = exception && kind_ == DomainListKind::Block ? exceptions_ : names_;
  return map.try_emplace(hash_name(name), label).second;
}

bool DomainSet::add(std::string_view name, std::string_view label, bool exception) {
  char buf[kMaxName];
  size_t len = 0;
  if (normalise(name, buf, len) != NameCheck::Ok) return false;
  return insert_normalised(std::string_view(buf, len), label_index(label), exception);
}

void DomainSet::load_file(const std::string& path, std::string_view prefix,
                          DomainListReport& report) {
  BoundedFileRead file = read_regular_file(path, kMaxDomainListBytes);
  if (!file.ok) throw DomainListError(file.error);
  load_text(file.bytes, path, prefix, report);
}

void DomainSet::load_text(std::string_view text, std::string_view source, std::string_view prefix,
                          DomainListReport& report) {
  std::string file = std::filesystem::path(source).filename().string();
  if (file.empty()) file = std::string(source);
  std::string label = prefix.empty() ? file : std::string(prefix) + ":" + file;
  uint16_t li = label_index(label);
  names_.reserve(names_.size() + static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) +
                 1);

  char buf[kMaxName];
  size_t line_no = 0;
  auto add_name = [&](std::string_view name, bool exception, std::string_view line) {
    size_t len = 0;
    switch (normalise(name, buf, len)) {
      case NameCheck::Localhost:
        ++report.localhost;
        return;
      case NameCheck::Invalid:
        ++report.invalid;
        warn(report, source, line_no, "invalid name", line);
        return;
      case NameCheck::Ok:
        break;
    }
    if (!insert_normalised(std::string_view(buf, len), li, exception)) {
      ++report.duplicates;
    } else if (exception && kind_ == DomainListKind::Block) {
      ++report.exceptions;
    } else {
      ++report.added;
    }
  };

  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    ++report.lines;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    std::string_view line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == '!' || line[0] == '[') continue;

    if (line.starts_with("||") || line.starts_with("@@")) {
      std::string_view rule = line;
      bool exception = rule.starts_with("@@");
      if (exception) rule.remove_prefix(2);
      size_t caret = rule.find('^');
      std::string_view tail = caret == std::string_view::npos ? "" : rule.substr(caret + 1);
      if (!rule.starts_with("||") || caret == std::string_view::npos ||
          !(tail.empty() || tail == "|" || tail == "$important")) {
        ++report.unsupported;
        warn(report, source, line_no, "unsupported rule", line);
        continue;
      }
      add_name(rule.substr(2, caret - 2), exception, line);
      continue;
    }

    // hosts ("ADDR name...") or one name; '#' after a blank starts a comment.
    std::string_view body = line;
    for (size_t i = 1; i < body.size(); ++i) {
      if (body[i] == '#' && is_space(body[i - 1])) {
        body = trim(body.substr(0, i));
        break;
      }
    }
    if (body.find_first_of("^$|/#*") != std::string_view::npos) {
      // Adblock syntax beyond ||name^ (paths, cosmetic ##, options) or wildcards.
      ++report.unsupported;
      warn(report, source, line_no, "unsupported rule", line);
      continue;
    }
    std::string_view tokens[2];
    size_t ntok = 0;
    std::string_view rest = body;
    while (!rest.empty() && ntok < 2) {
      size_t end = 0;
      while (end < rest.size() && !is_space(rest[end])) ++end;
      tokens[ntok++] = rest.substr(0, end);
      rest = trim(rest.substr(end));
    }
    if (ntok == 0) continue;
    if (ntok == 1) {
      add_name(tokens[0], false, line);
      continue;
    }
    if (!IpAddr::parse(tokens[0])) {
      ++report.invalid;
      warn(report, source, line_no, "unrecognised line", line);
      continue;
    }
    std::string_view names = trim(body.substr(tokens[0].size()));
    while (!names.empty()) {
      size_t end = 0;
      while (end < names.size() && !is_space(names[end])) ++end;
      add_name(names.substr(0, end), false, line);
      names = trim(names.substr(end));
    }
  }
}

DomainMatch DomainSet::find(std::string_view name) const {
  if (names_.empty()) return {};
  if (name.size() >= 2 && name.back() == '.' && name[name.size() - 2] != '\\') {
    name.remove_suffix(1);
  } else if (name == ".") {
    return {};
  }
  if (name.empty()) return {};
  // Where each label starts; a backslash escapes the next character (\. is no dot).
  uint16_t starts[kMaxLabels];
  size_t n = 0;
  starts[n++] = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '\\') {
      ++i;
    } else if (name[i] == '.') {
      if (n == kMaxLabels || i + 1 > UINT16_MAX) return {};  // no such name comes off the wire
      starts[n++] = static_cast<uint16_t>(i + 1);
    }
  }
  // Only suffixes of at most kMaxName characters can be listed: lowercase that tail once.
  size_t first = 0;
  while (first < n && name.size() - starts[first] > kMaxName) ++first;
  if (first == n) return {};
  char buf[kMaxName];
  size_t base = starts[first];
  for (size_t i = base; i < name.size(); ++i) buf[i - base] = lower(name[i]);
  uint64_t hashes[kMaxLabels];
  for (size_t k = first; k < n; ++k)
    hashes[k] = hash_name(std::string_view(buf + (starts[k] - base), name.size() - starts[k]));

  for (size_t k = first; k < n; ++k) {  // longest (most specific) suffix first
    if (starts[k] == name.size()) continue;
    auto it = names_.find(hashes[k]);
    if (it == names_.end()) continue;
    if (!exceptions_.empty()) {
      for (size_t e = first; e < n; ++e)
        if (starts[e] != name.size() && exceptions_.contains(hashes[e])) return {};
    }
    return {&labels_[it->second], starts[k]};
  }
  return {};
}

std::optional<std::string_view> DomainSet::match(std::string_view name) const {
  DomainMatch m = find(name);
  if (!m) return std::nullopt;
  return std::string_view(*m.label);
}

std::unique_ptr<DomainSet> load_domain_lists(const std::vector<std::string>& files,
                                             std::string_view prefix, DomainListKind kind,
                                             DomainListReport* report) {
  auto set = std::make_unique<DomainSet>(kind);
  for (const std::string& f : files) {
    DomainListReport r;
    set->load_file(f, prefix, r);
    if (report == nullptr) {
      for (const auto& w : r.warnings) spdlog::warn("{}", w);
      spdlog::info(
          "{}: {} names added ({} exceptions, {} duplicates, {} invalid, {} unsupported{})", f,
          r.added, r.exceptions, r.duplicates, r.invalid, r.unsupported,
          r.warnings_dropped ? ", more warnings not shown" : "");
      continue;
    }
    report->lines += r.lines;
    report->added += r.added;
    report->exceptions += r.exceptions;
    report->duplicates += r.duplicates;
    report->localhost += r.localhost;
    report->invalid += r.invalid;
    report->unsupported += r.unsupported;
    report->warnings_dropped += r.warnings_dropped;
    for (auto& w : r.warnings) {
      if (report->warnings.size() < DomainListReport::kMaxWarnings) {
        report->warnings.push_back(std::move(w));
      } else {
        ++report->warnings_dropped;
      }
    }
  }
  return set;
}

std::unique_ptr<DomainSet> load_domain_lists(const std::vector<std::string>& files,
                                             std::string_view prefix, DomainListReport* report) {
  return load_domain_lists(
      files, prefix, prefix == "allowlist" ? DomainListKind::Allow : DomainListKind::Block, report);
}

}  // namespace tripline
