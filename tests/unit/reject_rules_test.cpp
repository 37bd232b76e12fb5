#include "reject_rules.h"

#include <gtest/gtest.h>

namespace tripline {
namespace {

// `nft list ruleset` after contrib/nftables/tripline-nft.sh up on this kernel
// (no nft queue: it falls back to iptables-nft, tables ip/ip6 filter).
constexpr const char* kIptablesNft =
    R"(# Warning: table ip filter is managed by iptables-nft, do not touch!
table ip filter {
	chain TRIPLINE {
		meta l4proto tcp meta mark 0x00007470 counter packets 0 bytes 0 reject with tcp reset
		meta mark 0x00007470 counter packets 0 bytes 0 reject with icmp type admin-prohibited
		counter packets 0 bytes 0 queue num 0-1 bypass
	}
}
# Warning: table ip6 filter is managed by iptables-nft, do not touch!
table ip6 filter {
	chain TRIPLINE {
		meta l4proto tcp meta mark 0x00007470 counter packets 0 bytes 0 reject with tcp reset
		meta mark 0x00007470 counter packets 0 bytes 0 reject with icmpv6 type admin-prohibited
		counter packets 0 bytes 0 queue num 0-1 bypass
	}
}
)";

// contrib/nftables/tripline.nft as nft lists it.
constexpr const char* kInet = R"(table inet tripline {
	chain forward {
		type filter hook forward priority filter; policy accept;
		meta mark 0x00007470 meta l4proto tcp reject with tcp reset
		meta mark 0x00007470 reject with icmpx admin-prohibited
		counter packets 12 bytes 3456 queue flags bypass to 0-1
	}
}
)";

TEST(RejectRules, Nft) {
  RejectRules r = parse_nft_reject_rules(kIptablesNft, 0x7470);
  EXPECT_TRUE(r.v4);
  EXPECT_TRUE(r.v6);
  r = parse_nft_reject_rules(kInet, 0x7470);
  EXPECT_TRUE(r.v4);
  EXPECT_TRUE(r.v6);
  r = parse_nft_reject_rules(kInet, 0x1234);  // another mark
  EXPECT_FALSE(r.v4);
  EXPECT_FALSE(r.v6);
  // Only the queue rule: nothing carries rejects out.
  r = parse_nft_reject_rules(
      "table inet tripline {\n chain forward {\n  counter queue flags bypass to 0-1\n }\n}\n",
      0x7470);
  EXPECT_FALSE(r.v4 || r.v6);
  // A mark rule that accepts is not a reject rule; IPv4 only.
  r = parse_nft_reject_rules(
      "table ip t {\n chain c {\n  meta mark 0x00007470 accept\n  meta mark 29808 drop\n"
      "  meta mark 29808 reject\n }\n}\n",
      0x7470);
  EXPECT_TRUE(r.v4);
  EXPECT_FALSE(r.v6);
}

TEST(RejectRules, Iptables) {
  constexpr const char* kS =
      "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N TRIPLINE\n-A FORWARD -j TRIPLINE\n"
      "-A TRIPLINE -p tcp -m mark --mark 0x7470 -j REJECT --reject-with tcp-reset\n"
      "-A TRIPLINE -m mark --mark 0x7470 -j REJECT --reject-with icmp-admin-prohibited\n"
      "-A TRIPLINE -j NFQUEUE --queue-balance 0:1 --queue-bypass\n";
  EXPECT_TRUE(parse_iptables_reject_rule(kS, 0x7470));
  EXPECT_FALSE(parse_iptables_reject_rule(kS, 0x7471));
  EXPECT_TRUE(
      parse_iptables_reject_rule("-A X -m mark --mark 0x7470/0xffffffff -j REJECT\n", 0x7470));
  EXPECT_FALSE(parse_iptables_reject_rule("-A X -m mark --mark 0x7470/0xff -j REJECT\n", 0x7470));
  EXPECT_FALSE(parse_iptables_reject_rule("-A X -m mark --mark 0x7470 -j DROP\n", 0x7470));
  EXPECT_FALSE(parse_iptables_reject_rule("-A TRIPLINE -j NFQUEUE --queue-num 0\n", 0x7470));
}

TEST(RejectRules, WhenTheConfigMayReject) {
  Config c = Config::defaults();
  EXPECT_FALSE(config_may_reject(c));  // egress off
  c.egress.mode = EgressMode::Monitor;
  EXPECT_FALSE(config_may_reject(c));
  c.egress.mode = EgressMode::Enforce;
  EXPECT_EQ(c.egress.action, Verdict::Reject);  // the default
  EXPECT_TRUE(config_may_reject(c));
  c.egress.action = Verdict::Drop;
  EXPECT_FALSE(config_may_reject(c));
  RuleConfig r;
  r.verb = RuleVerb::Reject;
  r.monitor = true;
  c.rules.push_back(r);
  EXPECT_FALSE(config_may_reject(c));
  c.rules.back().monitor = false;
  EXPECT_TRUE(config_may_reject(c));
}

}  // namespace
}  // namespace tripline
