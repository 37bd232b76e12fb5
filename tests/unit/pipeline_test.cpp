#include "pipeline.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "config.h"
#include "name_rule_chain.h"

namespace tripline {
namespace {

std::string describe(const std::string& toml) {
  auto cfg = std::make_shared<Config>(Config::load_string(toml, "<test>"));
  Pipeline pipeline(cfg, Pipeline::Mode::Check);
  return pipeline.describe();
}

const std::string kLists = std::string(TRIPLINE_SOURCE_DIR) + "/tests/replay/dns-blocklist/";

// `tripline check` prints the DNS answer name chain after the flow rule chains.
TEST(PipelineDescribe, PrintsTheDnsNameChain) {
  std::string out = describe("[dns]\nresolvers = [\"10.0.0.53\"]\nblock_lists = [\"" + kLists +
                             "block.txt\"]\nallow_lists = [\"" + kLists +
                             "allow.txt\"]\nblock_mode = \"nxdomain\"\n");
  EXPECT_NE(out.find("dns rules     trusted answers; the first matching name rule decides; "
                     "counters rule.<name>\n"
                     "  chain dns ([dns] block_lists/allow_lists, on trusted answers):\n"
                     "     1. dns.allow: name in allowlist:allow.txt -> allow\n"
                     "     2. dns.block: name in blocklist:block.txt -> block (nxdomain)\n"),
            std::string::npos)
      << out;
  EXPECT_LT(out.find("rule chains"), out.find("dns rules"));
}

// `tripline check` shows where events go: the default when no key is given.
TEST(PipelineDescribe, ShowsTheEventLog) {
  EXPECT_NE(describe("").find("events        /var/log/tripline/eve.json (default; replay writes "
                              "none without --events)\n"),
            std::string::npos)
      << describe("");
  EXPECT_NE(describe("[log]\nevents = \"/srv/e.json\"\n").find("events        /srv/e.json\n"),
            std::string::npos);
  EXPECT_NE(describe("[log]\nevents = \"\"\n").find("events        (none)\n"), std::string::npos);
}

TEST(PipelineDescribe, BlockListsAloneGiveOnlyTheBlockRule) {
  auto cfg = std::make_shared<Config>(Config::load_string(
      "[dns]\nresolvers = [\"10.0.0.53\"]\nblock_lists = [\"" + kLists + "block.txt\"]\n",
      "<test>"));
  Pipeline pipeline(cfg, Pipeline::Mode::Check);
  ASSERT_NE(pipeline.dns_rules(), nullptr);
  ASSERT_EQ(pipeline.dns_rules()->rules().size(), 1u);
  EXPECT_EQ(pipeline.dns_rules()->rules()[0].name, "dns.block");
  EXPECT_NE(pipeline.describe().find("     1. dns.block: name in blocklist:block.txt -> block "
                                     "(null)\n"),
            std::string::npos);
}

TEST(PipelineDescribe, NoListsNoDnsChain) {
  EXPECT_NE(describe("[dns]\nresolvers = [\"10.0.0.53\"]\n")
                .find("dns rules     trusted answers; the first matching name rule decides; "
                      "counters rule.<name>\n  (none: no [dns] block_lists/allow_lists)\n"),
            std::string::npos);
  // Lists but no answers watched: said so rather than "no lists".
  std::string off = describe("[dns]\nblock_lists = [\"" + kLists + "block.txt\"]\n");
  EXPECT_NE(off.find("(none: no answers are watched"), std::string::npos) << off;
}

}  // namespace
}  // namespace tripline

namespace tripline {
namespace {

// `tripline check` says who clients are, and that routed ones fall back to addresses.
TEST(PipelineDescribe, SaysWhoClientsAre) {
  std::string host = describe("[dns]\nresolvers = [\"10.0.0.53\"]\n");
  EXPECT_NE(host.find("clients       by host"), std::string::npos) << host;
  EXPECT_NE(host.find("behind another router) is a client by its address"), std::string::npos);
  std::string addr =
      describe("[dns]\nresolvers = [\"10.0.0.53\"]\nclient_identity = \"address\"\n");
  EXPECT_NE(addr.find("clients       by address"), std::string::npos) << addr;
  std::string global = describe("[dns]\nresolvers = [\"10.0.0.53\"]\nscope = \"global\"\n");
  EXPECT_NE(global.find("clients       (none"), std::string::npos) << global;
}

}  // namespace
}  // namespace tripline
