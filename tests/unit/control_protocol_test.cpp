// The control socket's request parser and line reader: what is refused, and why.
#include "control_protocol.h"

#include <gtest/gtest.h>

namespace tripline {
namespace {

ControlParse parse(std::string_view s) { return parse_control_request(s); }

TEST(ControlProtocol, AcceptsEachCommandWithItsArguments) {
  auto p = parse(R"({"v":1,"cmd":"flows","top":5,"host":"10.0.0.1"})");
  ASSERT_TRUE(p.request) << p.error;
  EXPECT_EQ(p.request->cmd, "flows");
  EXPECT_EQ(p.request->args["top"], 5);
  EXPECT_EQ(p.request->args["host"], "10.0.0.1");
  for (const char* ok : {R"({"v":1,"cmd":"status"})", R"({"v":1,"cmd":"reload"})",
                         R"({"v":1,"cmd":"dns.lookup","target":"example.com"})",
                         R"({"v":1,"cmd":"dns.flush"})", R"({"v":1,"cmd":"capture.list"})",
                         R"({"v":1,"cmd":"capture.start","host":"10.0.0.2","seconds":3})",
                         R"({"v":1,"cmd":"capture.stop","id":"1"})"}) {
    EXPECT_TRUE(parse(ok).request) << ok << ": " << parse(ok).error;
  }
}

TEST(ControlProtocol, RefusesBadRequestsWithAReason) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"not json", "not valid JSON"},
      {"[1,2]", "JSON object"},
      {R"({"cmd":"status"})", "protocol version"},
      {R"({"v":2,"cmd":"status"})", "not supported"},
      {R"({"v":"1","cmd":"status"})", "not supported"},
      {R"({"v":1})", "no \"cmd\""},
      {R"({"v":1,"cmd":"shutdown"})", "unknown command"},
      {R"({"v":1,"cmd":"status","extra":1})", "unknown argument"},
      {R"({"v":1,"cmd":"flows","top":"5"})", "must be a number"},
      {R"({"v":1,"cmd":"flows","top":-1})", "must be a number"},
      {R"({"v":1,"cmd":"flows","host":5})", "must be a string"},
      {R"({"v":1,"cmd":"dns.lookup"})", "missing argument"},
      {R"({"v":1,"cmd":"capture.stop"})", "missing argument"},
  };
  for (const auto& c : cases) {
    auto p = parse(c.text);
    EXPECT_FALSE(p.request) << c.text;
    EXPECT_NE(p.error.find(c.says), std::string::npos) << c.text << " -> " << p.error;
  }
  std::string huge =
      R"({"v":1,"cmd":"dns.lookup","target":")" + std::string(kMaxControlRequestBytes, 'a') + "\"}";
  EXPECT_FALSE(parse(huge).request);
}

TEST(ControlProtocol, ResponsesAreOneLineOfJson) {
  std::string ok = control_ok(nlohmann::json{{"a", "b\nc"}});
  EXPECT_EQ(ok.find('\n'), ok.size() - 1);
  auto j = nlohmann::json::parse(ok);
  EXPECT_EQ(j["v"], kControlProtocolVersion);
  EXPECT_TRUE(j["ok"]);
  std::string bad = control_error(std::string("bad \xff byte"));  // not UTF-8: replaced, no throw
  auto e = nlohmann::json::parse(bad);
  EXPECT_FALSE(e["ok"]);
  auto req = parse_control_request(control_request_line("status", nlohmann::json::object()));
  EXPECT_TRUE(req.request);
}

TEST(ControlProtocol, LineReaderStopsAtTheLimit) {
  ControlLineReader r(10);
  EXPECT_EQ(r.feed("12345"), ControlLineReader::State::NeedMore);
  EXPECT_EQ(r.feed("678\nrest"), ControlLineReader::State::Complete);
  EXPECT_EQ(r.line(), "12345678");

  ControlLineReader big(10);
  EXPECT_EQ(big.feed("123456"), ControlLineReader::State::NeedMore);
  EXPECT_EQ(big.feed("78901"), ControlLineReader::State::TooLarge);
  EXPECT_EQ(big.feed("\n"), ControlLineReader::State::TooLarge);  // stays refused
  EXPECT_TRUE(big.line().empty());                                // nothing kept

  ControlLineReader eof(10);
  eof.feed("{}");
  EXPECT_EQ(eof.finish(), ControlLineReader::State::Complete);
  EXPECT_EQ(eof.line(), "{}");
}

}  // namespace
}  // namespace tripline
