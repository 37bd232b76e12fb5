#include "queue_accounting.h"

#include <gtest/gtest.h>

namespace tripline {
namespace {

TEST(QueueAccounting, ParsesTheQueueTable) {
  auto rows = parse_queue_table(
      "    0  12345     3 2 65535     7     9   1000  1\n"
      "    1  12346     0 2 65535     0     0     42  1\n"
      "garbage line\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].queue, 0u);
  EXPECT_EQ(rows[0].waiting, 3u);
  EXPECT_EQ(rows[0].queue_dropped, 7u);
  EXPECT_EQ(rows[0].user_dropped, 9u);
  EXPECT_EQ(rows[0].id_sequence, 1000u);
  EXPECT_EQ(rows[1].id_sequence, 42u);
}

// As `iptables -L TRIPLINE -v -x -n` prints it (iptables 1.8.9, nf_tables).
constexpr const char* kIptables = R"(Chain TRIPLINE (1 references)
    pkts      bytes target     prot opt in     out     source               destination
      11      660 REJECT     6    --  *      *       0.0.0.0/0            0.0.0.0/0            mark match 0x7470 reject-with tcp-reset
    1234    98765 NFQUEUE    0    --  *      *       0.0.0.0/0            0.0.0.0/0            NFQUEUE balance 0:1 bypass
      50     4000 NFQUEUE    0    --  *      *       0.0.0.0/0            0.0.0.0/0            NFQUEUE num 5
       7      500 NFQUEUE    0    --  *      *       0.0.0.0/0            0.0.0.0/0            NFQUEUE num 1 bypass
)";

TEST(QueueAccounting, SumsTheIptablesQueueRulesForOurQueues) {
  EXPECT_EQ(parse_iptables_counter(kIptables, 0, 1), 1234u + 7u);
  EXPECT_EQ(parse_iptables_counter(kIptables, 5, 5), 50u);
  EXPECT_EQ(parse_iptables_counter(kIptables, 1, 1), 1234u + 7u);  // balance 0:1 reaches 1
  EXPECT_EQ(parse_iptables_counter(kIptables, 7, 9), std::nullopt);
  EXPECT_EQ(parse_iptables_counter("Chain TRIPLINE (0 references)\n", 0, 1), std::nullopt);
}

TEST(QueueAccounting, ReadsTheNftQueueRuleCounter) {
  const char* text = R"(table inet tripline {
	chain forward {
		type filter hook forward priority filter; policy accept;
		meta mark 0x00007470 meta l4proto tcp reject with tcp reset
		counter packets 321 bytes 40000 queue flags bypass to 0-1
	}
})";
  EXPECT_EQ(parse_nft_counter(text), 321u);
  // A queue rule without a counter gives no figure.
  EXPECT_EQ(parse_nft_counter("table inet tripline {\n queue flags bypass to 0-1\n}\n"),
            std::nullopt);
}

}  // namespace
}  // namespace tripline
