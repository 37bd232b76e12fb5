#include "verdict.h"

#include <mutex>
#include <set>
#include <string>

namespace tripline {

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::Accept:
      return "accept";
    case Verdict::Drop:
      return "drop";
    case Verdict::Reject:
      return "reject";
  }
  return "?";
}

std::optional<Verdict> parse_verdict(std::string_view text) {
  if (text == "accept") return Verdict::Accept;
  if (text == "drop") return Verdict::Drop;
  if (text == "reject") return Verdict::Reject;
  return std::nullopt;
}

std::string_view intern_reason(std::string_view reason) {
  static std::mutex mu;
  static std::set<std::string, std::less<>>* pool = new std::set<std::string, std::less<>>;
  std::lock_guard lock(mu);
  auto it = pool->find(reason);
  if (it == pool->end()) it = pool->emplace(reason).first;
  return *it;
}

}  // namespace tripline
