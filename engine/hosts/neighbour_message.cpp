#include "neighbour_message.h"

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

namespace tripline {

NeighbourUpdate parse_neighbour_message(std::span<const uint8_t> msg) {
  NeighbourUpdate u;
  nlmsghdr nh;
  if (msg.size() < sizeof nh) return u;
  std::memcpy(&nh, msg.data(), sizeof nh);
  if (nh.nlmsg_len < NLMSG_LENGTH(sizeof(ndmsg)) || nh.nlmsg_len > msg.size()) return u;
  if (nh.nlmsg_type != RTM_NEWNEIGH && nh.nlmsg_type != RTM_DELNEIGH) return u;
  ndmsg nd;
  std::memcpy(&nd, msg.data() + NLMSG_HDRLEN, sizeof nd);
  if (nd.ndm_family != AF_INET && nd.ndm_family != AF_INET6) return u;
  if (nd.ndm_flags & NTF_PROXY) return u;  // proxy entries answer for others

  const uint8_t* dst = nullptr;
  const uint8_t* lladdr = nullptr;
  size_t dst_len = 0, lladdr_len = 0;
  size_t pos = NLMSG_LENGTH(sizeof(ndmsg));
  pos = NLMSG_ALIGN(pos);
  while (pos + NLA_HDRLEN <= nh.nlmsg_len) {
    nlattr a;
    std::memcpy(&a, msg.data() + pos, sizeof a);
    if (a.nla_len < NLA_HDRLEN || a.nla_len > nh.nlmsg_len - pos) return u;  // malformed
    const uint8_t* payload = msg.data() + pos + NLA_HDRLEN;
    size_t len = a.nla_len - NLA_HDRLEN;
    switch (a.nla_type & NLA_TYPE_MASK) {
      case NDA_DST:
        dst = payload;
        dst_len = len;
        break;
      case NDA_LLADDR:
        lladdr = payload;
        lladdr_len = len;
        break;
      default:
        break;
    }
    pos += NLA_ALIGN(a.nla_len);
  }
  size_t want = nd.ndm_family == AF_INET ? 4 : 16;
  if (!dst || dst_len != want) return u;
  u.addr = nd.ndm_family == AF_INET ? IpAddr::v4(dst) : IpAddr::v6(dst);
  u.ifindex = nd.ndm_ifindex > 0 ? static_cast<uint32_t>(nd.ndm_ifindex) : 0;
  if (nh.nlmsg_type == RTM_DELNEIGH) {
    u.op = NeighbourUpdate::Op::Remove;
    return u;
  }
  constexpr uint16_t kUsable = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;
  if (nd.ndm_state & (NUD_FAILED | NUD_INCOMPLETE)) {
    u.op = NeighbourUpdate::Op::Remove;  // not (or no longer) reachable
    return u;
  }
  // NOARP/NONE entries (multicast, point-to-point) name no host: nothing to learn.
  if (!(nd.ndm_state & kUsable)) return u;
  if (!lladdr || lladdr_len != u.mac.bytes.size()) return u;  // not Ethernet-like
  std::memcpy(u.mac.bytes.data(), lladdr, u.mac.bytes.size());
  if (!u.mac.known()) return u;
  u.op = NeighbourUpdate::Op::Set;
  return u;
}

}  // namespace tripline
