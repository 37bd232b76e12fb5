#include "neighbour_message.h"

#include <gtest/gtest.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

namespace tripline {
namespace {

// An rtnetlink neighbour message as the kernel writes it.
struct Msg {
  std::vector<uint8_t> b;
  Msg(uint16_t type, uint8_t family, uint16_t state, int ifindex = 3, uint8_t flags = 0) {
    b.resize(NLMSG_LENGTH(sizeof(ndmsg)));
    ndmsg nd{};
    nd.ndm_family = family;
    nd.ndm_ifindex = ifindex;
    nd.ndm_state = state;
    nd.ndm_flags = flags;
    std::memcpy(b.data() + NLMSG_HDRLEN, &nd, sizeof nd);
    set_header(type);
  }
  void set_header(uint16_t type) {
    nlmsghdr h{};
    std::memcpy(&h, b.data(), sizeof h);
    if (type) h.nlmsg_type = type;
    h.nlmsg_len = static_cast<uint32_t>(b.size());
    std::memcpy(b.data(), &h, sizeof h);
  }
  Msg& attr(uint16_t type, std::vector<uint8_t> payload) {
    b.resize(NLMSG_ALIGN(b.size()));
    nlattr a{static_cast<uint16_t>(NLA_HDRLEN + payload.size()), type};
    size_t at = b.size();
    b.resize(at + NLA_ALIGN(a.nla_len));
    std::memcpy(b.data() + at, &a, sizeof a);
    std::memcpy(b.data() + at + NLA_HDRLEN, payload.data(), payload.size());
    set_header(0);
    return *this;
  }
};

const std::vector<uint8_t> kV4 = {10, 0, 0, 10};
const std::vector<uint8_t> kV6 = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
const std::vector<uint8_t> kMac = {2, 0, 0, 0, 0x0a, 1};

TEST(NeighbourMessage, ReachableEntrySetsTheHost) {
  Msg m(RTM_NEWNEIGH, AF_INET, NUD_REACHABLE);
  m.attr(NDA_DST, kV4).attr(NDA_LLADDR, kMac);
  NeighbourUpdate u = parse_neighbour_message(m.b);
  EXPECT_EQ(u.op, NeighbourUpdate::Op::Set);
  EXPECT_EQ(u.addr, *IpAddr::parse("10.0.0.10"));
  EXPECT_EQ(u.mac.to_string(), "02:00:00:00:0a:01");
  EXPECT_EQ(u.ifindex, 3u);

  Msg s(RTM_NEWNEIGH, AF_INET6, NUD_STALE);
  s.attr(NDA_LLADDR, kMac).attr(NDA_CACHEINFO, std::vector<uint8_t>(16)).attr(NDA_DST, kV6);
  u = parse_neighbour_message(s.b);
  EXPECT_EQ(u.op, NeighbourUpdate::Op::Set);
  EXPECT_EQ(u.addr, *IpAddr::parse("fd00::10"));
}

TEST(NeighbourMessage, DeletedOrFailedEntriesAreRemoved) {
  Msg d(RTM_DELNEIGH, AF_INET6, NUD_STALE);
  d.attr(NDA_DST, kV6).attr(NDA_LLADDR, kMac);
  EXPECT_EQ(parse_neighbour_message(d.b).op, NeighbourUpdate::Op::Remove);
  Msg f(RTM_NEWNEIGH, AF_INET, NUD_FAILED);
  f.attr(NDA_DST, kV4);
  NeighbourUpdate u = parse_neighbour_message(f.b);
  EXPECT_EQ(u.op, NeighbourUpdate::Op::Remove);
  EXPECT_EQ(u.addr, *IpAddr::parse("10.0.0.10"));
  Msg i(RTM_NEWNEIGH, AF_INET, NUD_INCOMPLETE);
  i.attr(NDA_DST, kV4);
  EXPECT_EQ(parse_neighbour_message(i.b).op, NeighbourUpdate::Op::Remove);
}

TEST(NeighbourMessage, NothingToLearnIsIgnored) {
  // NOARP (multicast), proxy entries, other families, no link-layer address,
  // a link-layer address that is not Ethernet's, other message types.
  Msg noarp(RTM_NEWNEIGH, AF_INET, NUD_NOARP);
  noarp.attr(NDA_DST, kV4).attr(NDA_LLADDR, kMac);
  Msg proxy(RTM_NEWNEIGH, AF_INET6, NUD_REACHABLE, 3, NTF_PROXY);
  proxy.attr(NDA_DST, kV6);
  Msg bridge(RTM_NEWNEIGH, AF_BRIDGE, NUD_REACHABLE);
  bridge.attr(NDA_LLADDR, kMac);
  Msg nolink(RTM_NEWNEIGH, AF_INET, NUD_REACHABLE);
  nolink.attr(NDA_DST, kV4);
  Msg longlink(RTM_NEWNEIGH, AF_INET, NUD_REACHABLE);
  longlink.attr(NDA_DST, kV4).attr(NDA_LLADDR, std::vector<uint8_t>(20, 1));
  Msg wrongdst(RTM_NEWNEIGH, AF_INET, NUD_REACHABLE);
  wrongdst.attr(NDA_DST, kV6).attr(NDA_LLADDR, kMac);
  Msg route(RTM_NEWROUTE, AF_INET, NUD_REACHABLE);
  route.attr(NDA_DST, kV4).attr(NDA_LLADDR, kMac);
  for (const Msg* m : {&noarp, &proxy, &bridge, &nolink, &longlink, &wrongdst, &route})
    EXPECT_EQ(parse_neighbour_message(m->b).op, NeighbourUpdate::Op::Ignore);
}

TEST(NeighbourMessage, MalformedMessagesAreIgnoredWithoutOverreading) {
  Msg m(RTM_NEWNEIGH, AF_INET, NUD_REACHABLE);
  m.attr(NDA_DST, kV4).attr(NDA_LLADDR, kMac);
  // Every truncation: the header's length no longer fits.
  for (size_t n = 0; n < m.b.size(); ++n) {
    std::vector<uint8_t> cut(m.b.begin(), m.b.begin() + n);
    EXPECT_EQ(parse_neighbour_message(cut).op, NeighbourUpdate::Op::Ignore) << n;
  }
  // An attribute whose length runs past the message.
  Msg bad = m;
  size_t first_attr = NLMSG_ALIGN(NLMSG_LENGTH(sizeof(ndmsg)));
  uint16_t huge = 200;
  std::memcpy(bad.b.data() + first_attr, &huge, sizeof huge);
  EXPECT_EQ(parse_neighbour_message(bad.b).op, NeighbourUpdate::Op::Ignore);
}

}  // namespace
}  // namespace tripline
