#include "log_escape.h"

#include <cstdint>

namespace tripline {
namespace {

// Length of the valid, printable UTF-8 sequence at text[i] (2..4 bytes), or
// 0 when it is invalid, overlong, a surrogate or a C1 control (U+0080..U+009F).
size_t utf8_printable(std::string_view text, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(text[i + k]); };
  uint8_t c = b(0);
  size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  if (len == 0 || c > 0xf4 || i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k)
    if ((b(k) & 0xc0) != 0x80) return 0;
  if (len == 2 && c == 0xc2 && b(1) < 0xa0) return 0;   // C1 controls
  if (len == 3 && c == 0xe0 && b(1) < 0xa0) return 0;   // overlong
  if (len == 3 && c == 0xed && b(1) >= 0xa0) return 0;  // surrogates
  if (len == 4 && c == 0xf0 && b(1) < 0x90) return 0;   // overlong
  if (len == 4 && c == 0xf4 && b(1) >= 0x90) return 0;  // beyond U+10FFFF
  return len;
}

}  // namespace

void append_escaped_for_log(std::string& out, std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<uint8_t>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (size_t len = utf8_printable(text, i)) {
        out.append(text.substr(i, len));
        i += len;
        continue;
      }
    }
    out.push_back('\\');
    switch (c) {
      case '\\':
        out.push_back('\\');
        break;
      case '\n':
        out.push_back('n');
        break;
      case '\t':
        out.push_back('t');
        break;
      default:
        out.push_back('x');
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
    ++i;
  }
}

std::string escape_for_log(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_escaped_for_log(out, text);
  return out;
}

bool log_safe(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<uint8_t>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      ++i;
      continue;
    }
    size_t len = c >= 0x80 ? utf8_printable(text, i) : 0;
    if (len == 0) return false;
    i += len;
  }
  return true;
}

}  // namespace tripline
