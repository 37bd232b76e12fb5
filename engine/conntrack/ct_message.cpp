#include "ct_message.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>

#include <cstring>
#include <memory>

namespace tripline {
namespace {

struct CtDeleter {
  void operator()(nf_conntrack* ct) const { nfct_destroy(ct); }
};
using CtPtr = std::unique_ptr<nf_conntrack, CtDeleter>;

bool supported(const CtTuple& t) {
  return (t.proto == IPPROTO_TCP || t.proto == IPPROTO_UDP) && t.src.family == t.dst.family &&
         (t.src.is_v4() || t.src.is_v6());
}

nlmsghdr* put_header(std::span<uint8_t> buf, uint8_t type, uint16_t flags, uint8_t family,
                     uint32_t seq) {
  std::memset(buf.data(), 0, buf.size());
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
  nlh->nlmsg_flags = flags;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = family == 6 ? AF_INET6 : AF_INET;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  return nlh;
}

// Sets the original tuple (and, with `reply`, its reverse as the reply tuple).
void set_tuple(nf_conntrack* ct, const CtTuple& t, bool reply) {
  if (t.src.is_v4()) {
    uint32_t s, d;
    std::memcpy(&s, t.src.bytes.data(), 4);
    std::memcpy(&d, t.dst.bytes.data(), 4);
    nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
    nfct_set_attr_u32(ct, ATTR_IPV4_SRC, s);
    nfct_set_attr_u32(ct, ATTR_IPV4_DST, d);
    if (reply) {
      nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, AF_INET);
      nfct_set_attr_u32(ct, ATTR_REPL_IPV4_SRC, d);
      nfct_set_attr_u32(ct, ATTR_REPL_IPV4_DST, s);
    }
  } else {
    nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET6);
    nfct_set_attr(ct, ATTR_IPV6_SRC, t.src.bytes.data());
    nfct_set_attr(ct, ATTR_IPV6_DST, t.dst.bytes.data());
    if (reply) {
      nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, AF_INET6);
      nfct_set_attr(ct, ATTR_REPL_IPV6_SRC, t.dst.bytes.data());
      nfct_set_attr(ct, ATTR_REPL_IPV6_DST, t.src.bytes.data());
    }
  }
  nfct_set_attr_u8(ct, ATTR_L4PROTO, t.proto);
  nfct_set_attr_u16(ct, ATTR_PORT_SRC, htons(t.sport));
  nfct_set_attr_u16(ct, ATTR_PORT_DST, htons(t.dport));
  if (reply) {
    nfct_set_attr_u8(ct, ATTR_REPL_L4PROTO, t.proto);
    nfct_set_attr_u16(ct, ATTR_REPL_PORT_SRC, htons(t.dport));
    nfct_set_attr_u16(ct, ATTR_REPL_PORT_DST, htons(t.sport));
  }
}

}  // namespace

CtTuple CtTuple::canonical() const {
  if (std::tie(src, sport) <= std::tie(dst, dport)) return *this;
  return reversed();
}

size_t build_mark_update(std::span<uint8_t> buf, const CtTuple& t, uint32_t mark, uint32_t mask,
                         uint32_t seq) {
  if (!supported(t) || buf.size() < kCtMessageBytes) return 0;
  nlmsghdr* nlh =
      put_header(buf, IPCTNL_MSG_CT_NEW, NLM_F_REQUEST | NLM_F_ACK, t.src.is_v4() ? 4 : 6, seq);
  CtPtr ct(nfct_new());
  if (!ct) return 0;
  set_tuple(ct.get(), t, false);
  nfct_set_attr_u32(ct.get(), ATTR_MARK, mark & mask);
  nfct_nlmsg_build(nlh, ct.get());
  mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(mask));
  return nlh->nlmsg_len;
}

size_t build_create(std::span<uint8_t> buf, const CtTuple& t, uint32_t mark, uint32_t timeout_s,
                    uint32_t seq) {
  if (!supported(t) || buf.size() < kCtMessageBytes) return 0;
  nlmsghdr* nlh =
      put_header(buf, IPCTNL_MSG_CT_NEW, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                 t.src.is_v4() ? 4 : 6, seq);
  CtPtr ct(nfct_new());
  if (!ct) return 0;
  set_tuple(ct.get(), t, true);
  nfct_set_attr_u32(ct.get(), ATTR_MARK, mark);
  nfct_set_attr_u32(ct.get(), ATTR_TIMEOUT, timeout_s);
  if (t.proto == IPPROTO_TCP) nfct_set_attr_u8(ct.get(), ATTR_TCP_STATE, TCP_CONNTRACK_SYN_SENT);
  nfct_nlmsg_build(nlh, ct.get());
  return nlh->nlmsg_len;
}

size_t build_dump(std::span<uint8_t> buf, uint8_t family, uint32_t seq) {
  if (buf.size() < kCtMessageBytes) return 0;
  nlmsghdr* nlh =
      put_header(buf, IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, family == 6 ? 6 : 4, seq);
  return nlh->nlmsg_len;
}

bool parse_ct_entry(const nlmsghdr* nlh, CtEntry& out) {
  if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_CTNETLINK) return false;
  const uint8_t type = nlh->nlmsg_type & 0xff;
  if (type != IPCTNL_MSG_CT_NEW && type != IPCTNL_MSG_CT_DELETE) return false;
  CtPtr ct(nfct_new());
  if (!ct) return false;
  if (nfct_nlmsg_parse(nlh, ct.get()) < 0) return false;
  if (!nfct_attr_is_set(ct.get(), ATTR_L3PROTO) || !nfct_attr_is_set(ct.get(), ATTR_L4PROTO))
    return false;
  out = CtEntry{};
  out.destroy = type == IPCTNL_MSG_CT_DELETE;
  CtTuple& t = out.end.tuple;
  t.proto = nfct_get_attr_u8(ct.get(), ATTR_L4PROTO);
  if (t.proto != IPPROTO_TCP && t.proto != IPPROTO_UDP) return false;
  const uint8_t l3 = nfct_get_attr_u8(ct.get(), ATTR_L3PROTO);
  if (l3 == AF_INET) {
    uint32_t s = nfct_get_attr_u32(ct.get(), ATTR_IPV4_SRC);
    uint32_t d = nfct_get_attr_u32(ct.get(), ATTR_IPV4_DST);
    t.src = IpAddr::v4(reinterpret_cast<const uint8_t*>(&s));
    t.dst = IpAddr::v4(reinterpret_cast<const uint8_t*>(&d));
  } else if (l3 == AF_INET6) {
    t.src = IpAddr::v6(static_cast<const uint8_t*>(nfct_get_attr(ct.get(), ATTR_IPV6_SRC)));
    t.dst = IpAddr::v6(static_cast<const uint8_t*>(nfct_get_attr(ct.get(), ATTR_IPV6_DST)));
  } else {
    return false;
  }
  t.sport = ntohs(nfct_get_attr_u16(ct.get(), ATTR_PORT_SRC));
  t.dport = ntohs(nfct_get_attr_u16(ct.get(), ATTR_PORT_DST));
  CtEnd& e = out.end;
  if (nfct_attr_is_set(ct.get(), ATTR_MARK)) e.mark = nfct_get_attr_u32(ct.get(), ATTR_MARK);
  if (nfct_attr_is_set(ct.get(), ATTR_ORIG_COUNTER_PACKETS)) {
    e.has_counters = true;
    e.pkts[0] = nfct_get_attr_u64(ct.get(), ATTR_ORIG_COUNTER_PACKETS);
    e.pkts[1] = nfct_get_attr_u64(ct.get(), ATTR_REPL_COUNTER_PACKETS);
    e.bytes[0] = nfct_get_attr_u64(ct.get(), ATTR_ORIG_COUNTER_BYTES);
    e.bytes[1] = nfct_get_attr_u64(ct.get(), ATTR_REPL_COUNTER_BYTES);
  }
  if (nfct_attr_is_set(ct.get(), ATTR_TIMESTAMP_START))
    e.start = static_cast<Timestamp>(nfct_get_attr_u64(ct.get(), ATTR_TIMESTAMP_START));
  if (nfct_attr_is_set(ct.get(), ATTR_TIMESTAMP_STOP))
    e.stop = static_cast<Timestamp>(nfct_get_attr_u64(ct.get(), ATTR_TIMESTAMP_STOP));
  if (nfct_attr_is_set(ct.get(), ATTR_STATUS))
    out.status = nfct_get_attr_u32(ct.get(), ATTR_STATUS);
  if (t.proto == IPPROTO_TCP && nfct_attr_is_set(ct.get(), ATTR_TCP_STATE)) {
    out.has_tcp_state = true;
    out.tcp_state = nfct_get_attr_u8(ct.get(), ATTR_TCP_STATE);
  }
  e.kind = CtEndKind::Timeout;
  if (out.has_tcp_state) {
    switch (out.tcp_state) {
      case TCP_CONNTRACK_CLOSE:
        e.kind = CtEndKind::Rst;
        break;
      case TCP_CONNTRACK_FIN_WAIT:
      case TCP_CONNTRACK_CLOSE_WAIT:
      case TCP_CONNTRACK_LAST_ACK:
      case TCP_CONNTRACK_TIME_WAIT:
        e.kind = CtEndKind::Fin;
        break;
      default:
        break;
    }
  }
  return true;
}

bool is_established(const CtEntry& e) {
  if (e.end.tuple.proto == IPPROTO_TCP)
    return e.has_tcp_state && e.tcp_state == TCP_CONNTRACK_ESTABLISHED;
  return (e.status & IPS_ASSURED) != 0;
}

}  // namespace tripline
