#include "log_escape.h"

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <memory>
#include <sstream>

#include "log_sink.h"

namespace tripline {
namespace {

TEST(LogEscape, PrintableTextIsKept) {
  EXPECT_EQ(escape_for_log("www.example.com: blocked"), "www.example.com: blocked");
  EXPECT_EQ(escape_for_log("bücher.example ☃"), "bücher.example ☃");  // valid UTF-8
  EXPECT_TRUE(log_safe("bücher.example"));
}

TEST(LogEscape, ControlsAndBadBytesAreEscaped) {
  EXPECT_EQ(escape_for_log("a\x1b[2Jb"), "a\\x1b[2Jb");
  EXPECT_EQ(escape_for_log("line\nforged"), "line\\nforged");
  EXPECT_EQ(escape_for_log("tab\there"), "tab\\there");
  EXPECT_EQ(escape_for_log(std::string_view("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(escape_for_log("back\\slash"), "back\\\\slash");
  EXPECT_EQ(escape_for_log("\x7f"), "\\x7f");
  EXPECT_EQ(escape_for_log("\xc2\x9b"), "\\xc2\\x9b");           // C1 CSI
  EXPECT_EQ(escape_for_log("\xff\xfe"), "\\xff\\xfe");           // not UTF-8
  EXPECT_EQ(escape_for_log("\xc3"), "\\xc3");                    // cut sequence
  EXPECT_EQ(escape_for_log("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_FALSE(log_safe("a\x1b"));
}

// Whatever a component logs (a name from a packet or a list, a script's
// print), the daemon's sink writes it escaped, on one line.
TEST(LogEscape, SinkEscapesEveryMessage) {
  std::ostringstream out;
  auto inner = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("t", std::make_shared<EscapingSink>(inner));
  logger.set_pattern("%v");
  logger.warn("blocked {}", "evil\x1b]0;owned\x07.example\nFAKE line");
  logger.info("plain {}", "name.example");
  EXPECT_EQ(out.str(),
            "blocked evil\\x1b]0;owned\\x07.example\\nFAKE line\n"
            "plain name.example\n");
}

}  // namespace
}  // namespace tripline
