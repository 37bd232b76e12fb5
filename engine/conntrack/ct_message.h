// ctnetlink messages, built and read without a socket: the mark update that
// offloads a connection (or takes it back), the entry that offloads a dropped
// flow conntrack never confirmed, the table dump, and conntrack entries
// (dump rows and destroy events) read into plain facts. Uses
// libnetfilter_conntrack's nfct_nlmsg_build/parse; CTA_MARK_MASK, which that
// library does not write, is appended by hand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ct_tuple.h"

struct nlmsghdr;

namespace tripline {

// One conntrack entry as a dump row or an event carries it.
struct CtEntry {
  CtEnd end;  // tuple, counters, timestamps, mark; kind from the TCP state
  bool has_tcp_state = false;
  uint8_t tcp_state = 0;  // TCP_CONNTRACK_*
  uint32_t status = 0;    // IPS_*
  bool destroy = false;   // an IPCTNL_MSG_CT_DELETE (destroy event)
};

// Room for any message built here.
inline constexpr size_t kCtMessageBytes = 512;

// IPCTNL_MSG_CT_NEW without NLM_F_CREATE: sets the bits of `mask` in the
// entry's mark to `mark` (the other bits stay), for the entry whose original
// or reply tuple is `t`. Returns the message length (0: not TCP/UDP).
size_t build_mark_update(std::span<uint8_t> buf, const CtTuple& t, uint32_t mark, uint32_t mask,
                         uint32_t seq);
// IPCTNL_MSG_CT_NEW with NLM_F_CREATE|NLM_F_EXCL: a new entry for `t` (reply
// tuple its reverse) with `mark`, expiring after `timeout_s` unless packets
// refresh it; TCP entries start in SYN_SENT. Returns the length (0: not TCP/UDP).
size_t build_create(std::span<uint8_t> buf, const CtTuple& t, uint32_t mark, uint32_t timeout_s,
                    uint32_t seq);
// IPCTNL_MSG_CT_GET with NLM_F_DUMP for one family (4 or 6).
size_t build_dump(std::span<uint8_t> buf, uint8_t family, uint32_t seq);

// Reads a conntrack message (a dump row or an event). False when it is not
// one, or not a TCP/UDP entry.
bool parse_ct_entry(const nlmsghdr* nlh, CtEntry& out);

// TCP ESTABLISHED, or a UDP entry that saw replies (IPS_ASSURED): a
// connection a restart must not cut.
bool is_established(const CtEntry& e);

}  // namespace tripline
