#include "counters.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

namespace tripline {

void CounterSnapshot::add(const Counters& c) {
#define TRIPLINE_ADD(field, name) field += c.field.get();
  TRIPLINE_COUNTERS(TRIPLINE_ADD)
#undef TRIPLINE_ADD
  for (size_t i = 0; i < std::size(decode_error); ++i) decode_error[i] += c.decode_error[i].get();
  c.named.for_each([&](const std::string& name, const Counter& counter) {
    auto it =
        std::find_if(named.begin(), named.end(), [&](const auto& n) { return n.first == name; });
    if (it == named.end())
      named.emplace_back(name, counter.get());
    else
      it->second += counter.get();
  });
}

std::string CounterSnapshot::to_text() const {
  std::string out;
#define TRIPLINE_TEXT(field, name) out += fmt::format("{:<24} {}\n", name, field);
  TRIPLINE_COUNTERS(TRIPLINE_TEXT)
#undef TRIPLINE_TEXT
  for (const auto& [name, value] : named) out += fmt::format("{:<24} {}\n", name, value);
  for (size_t i = 1; i < std::size(decode_error); ++i) {
    if (decode_error[i] == 0) continue;
    out += fmt::format("{:<24} {}\n",
                       fmt::format("decode_error.{}", to_string(static_cast<DecodeError>(i))),
                       decode_error[i]);
  }
  return out;
}

std::string CounterSnapshot::to_json() const {
  std::string out = "{";
#define TRIPLINE_JSON(field, name) out += fmt::format("\"{}\":{},", name, field);
  TRIPLINE_COUNTERS(TRIPLINE_JSON)
#undef TRIPLINE_JSON
  // Names are rule names ([A-Za-z0-9_.-]): nothing to escape.
  for (const auto& [name, value] : named) out += fmt::format("\"{}\":{},", name, value);
  out += "\"decode_error\":{";
  bool first = true;
  for (size_t i = 1; i < std::size(decode_error); ++i) {
    if (decode_error[i] == 0) continue;
    out += fmt::format("{}\"{}\":{}", first ? "" : ",", to_string(static_cast<DecodeError>(i)),
                       decode_error[i]);
    first = false;
  }
  out += "}}";
  return out;
}

std::string CounterSnapshot::stats_event(EveBuilder& eve, Timestamp now,
                                         uint64_t uptime_seconds) const {
  std::vector<std::pair<std::string_view, uint64_t>> items;
#define TRIPLINE_ITEM(field, name) items.emplace_back(name, field);
  TRIPLINE_COUNTERS(TRIPLINE_ITEM)
#undef TRIPLINE_ITEM
  for (const auto& [name, value] : named) items.emplace_back(name, value);
  std::vector<std::string> reasons;  // "decode_error.<reason>", kept alive for the views
  reasons.reserve(std::size(decode_error));
  for (size_t i = 1; i < std::size(decode_error); ++i) {
    if (decode_error[i] == 0) continue;
    reasons.push_back(fmt::format("decode_error.{}", to_string(static_cast<DecodeError>(i))));
    items.emplace_back(reasons.back(), decode_error[i]);
  }
  return eve.stats_event({.now = now, .uptime_seconds = uptime_seconds, .counters = items});
}

}  // namespace tripline
