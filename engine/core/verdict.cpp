#include "verdict.h"

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

}  // namespace tripline
