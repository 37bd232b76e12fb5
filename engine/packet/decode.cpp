#include "decode.h"

namespace tripline {
namespace {

constexpr uint8_t kProtoHopByHop = 0;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoRouting = 43;
constexpr uint8_t kProtoFragment = 44;
constexpr uint8_t kProtoAh = 51;
constexpr uint8_t kProtoIcmpV6 = 58;
constexpr uint8_t kProtoDstOpts = 60;

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;      // 802.1Q
constexpr uint16_t kEtherQinQ = 0x88a8;      // 802.1ad
constexpr uint16_t kEtherQinQ9100 = 0x9100;  // pre-standard stacked VLAN

constexpr size_t kEthernetLen = 14;
constexpr size_t kVlanTagLen = 4;
constexpr size_t kSllLen = 16;
constexpr size_t kSll2Len = 20;
constexpr size_t kNullLen = 4;
constexpr size_t kIpv4MinHeader = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kTcpMinHeader = 20;
constexpr size_t kUdpHeader = 8;
constexpr size_t kIcmpHeader = 4;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// What the link layer says the network layer is.
enum class Net : uint8_t { ByVersion, V4, V6, Other };

Net net_from_ethertype(uint16_t type) {
  if (type == kEtherIpv4) return Net::V4;
  if (type == kEtherIpv6) return Net::V6;
  return Net::Other;
}

// BSD loopback address families: AF_INET is 2 everywhere; AF_INET6 is 24
// (OpenBSD, NetBSD), 28 (FreeBSD), 30 (macOS) or 10 (Linux).
Net net_from_af(uint32_t af) {
  if (af == 2) return Net::V4;
  if (af == 10 || af == 24 || af == 28 || af == 30) return Net::V6;
  return Net::Other;
}

uint32_t byteswap32(uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

// Strips the link header; on success `ip` is what follows it.
DecodeError decode_link(LinkType link, std::span<const uint8_t> bytes, Net& net,
                        std::span<const uint8_t>& ip) {
  switch (link) {
    case LinkType::Raw:
      if (bytes.empty()) return DecodeError::LinkTruncated;
      net = Net::ByVersion;
      ip = bytes;
      return DecodeError::None;
    case LinkType::Ethernet: {
      if (bytes.size() < kEthernetLen) return DecodeError::LinkTruncated;
      size_t at = 12;
      uint16_t type = be16(&bytes[at]);
      while (type == kEtherVlan || type == kEtherQinQ || type == kEtherQinQ9100) {
        at += kVlanTagLen;
        if (bytes.size() < at + 2) return DecodeError::LinkTruncated;
        type = be16(&bytes[at]);
      }
      net = net_from_ethertype(type);
      ip = bytes.subspan(at + 2);
      return DecodeError::None;
    }
    case LinkType::LinuxSll:
      if (bytes.size() < kSllLen) return DecodeError::LinkTruncated;
      net = net_from_ethertype(be16(&bytes[14]));
      ip = bytes.subspan(kSllLen);
      return DecodeError::None;
    case LinkType::LinuxSll2:
      if (bytes.size() < kSll2Len) return DecodeError::LinkTruncated;
      net = net_from_ethertype(be16(&bytes[0]));
      ip = bytes.subspan(kSll2Len);
      return DecodeError::None;
    case LinkType::Null: {
      if (bytes.size() < kNullLen) return DecodeError::LinkTruncated;
      // DLT_NULL is in the writer's byte order, DLT_LOOP in network order:
      // the valid values are small, so at most one order matches.
      uint32_t be = be32(&bytes[0]);
      net = net_from_af(be);
      if (net == Net::Other) net = net_from_af(byteswap32(be));
      ip = bytes.subspan(kNullLen);
      return DecodeError::None;
    }
  }
  return DecodeError::LinkUnsupported;
}

// Decodes the upper-layer header at the start of l4. `ip_complete` is false
// when the capture cut the IP packet short (snaplen), in which case lengths
// that run past the captured bytes are believed.
DecodeError decode_l4(std::span<const uint8_t> l4, bool ip_complete, Decoded& out) {
  out.l4 = l4;
  switch (out.proto) {
    case kProtoTcp: {
      if (l4.size() < kTcpMinHeader) return DecodeError::TcpTruncated;
      size_t hl = static_cast<size_t>(l4[12] >> 4) * 4;
      if (hl < kTcpMinHeader) return DecodeError::TcpBadHeaderLength;
      if (hl > l4.size()) {
        // The options run past the IP packet, or past what was captured of it
        // (which includes a first fragment too small for the header).
        return ip_complete && !out.more_fragments ? DecodeError::TcpBadHeaderLength
                                                  : DecodeError::TcpTruncated;
      }
      out.sport = be16(&l4[0]);
      out.dport = be16(&l4[2]);
      out.tcp_seq = be32(&l4[4]);
      out.tcp_ack = be32(&l4[8]);
      out.tcp_flags = l4[13];
      out.payload = l4.subspan(hl);
      out.has_ports = true;
      return DecodeError::None;
    }
    case kProtoUdp: {
      if (l4.size() < kUdpHeader) return DecodeError::UdpTruncated;
      size_t len = be16(&l4[4]);
      if (len < kUdpHeader) return DecodeError::UdpBadLength;
      // A first fragment holds only the start of the datagram; a truncated
      // capture only the start of the packet.
      if (len > l4.size() && ip_complete && !out.more_fragments) return DecodeError::UdpBadLength;
      if (len < l4.size()) {
        out.l4 = l4.first(len);  // bytes after the datagram are not part of it
      }
      out.sport = be16(&l4[0]);
      out.dport = be16(&l4[2]);
      out.payload = out.l4.subspan(kUdpHeader);
      out.has_ports = true;
      return DecodeError::None;
    }
    default:
      break;
  }
  if ((out.proto == kProtoIcmp && out.ip_version == 4) ||
      (out.proto == kProtoIcmpV6 && out.ip_version == 6)) {
    if (l4.size() < kIcmpHeader) return DecodeError::IcmpTruncated;
    out.sport = l4[0];
    out.dport = l4[1];
    out.payload = l4.subspan(kIcmpHeader);
    out.has_ports = true;
    return DecodeError::None;
  }
  return DecodeError::None;  // another protocol: no ports, no error
}

DecodeError decode_ipv4(std::span<const uint8_t> b, Decoded& out) {
  if (b.size() < kIpv4MinHeader) return DecodeError::Ipv4Truncated;
  size_t hl = static_cast<size_t>(b[0] & 0x0f) * 4;
  if (hl < kIpv4MinHeader) return DecodeError::Ipv4BadHeaderLength;
  size_t total = be16(&b[2]);
  if (total < hl) return DecodeError::Ipv4BadTotalLength;
  bool complete = total <= b.size();
  if (hl > b.size()) return DecodeError::Ipv4Truncated;  // options cut by the capture

  size_t end = complete ? total : b.size();
  out.ip_version = 4;
  out.ip = b.first(end);
  out.ip_len = static_cast<uint32_t>(total);
  out.ttl = b[8];
  out.proto = b[9];
  out.src = IpAddr::v4(&b[12]);
  out.dst = IpAddr::v4(&b[16]);
  uint16_t frag = be16(&b[6]);
  out.frag_id = be16(&b[4]);
  out.more_fragments = (frag & 0x2000) != 0;
  out.frag_offset = static_cast<uint16_t>((frag & 0x1fff) * 8);
  out.is_fragment = out.more_fragments || out.frag_offset != 0;
  std::span<const uint8_t> rest = out.ip.subspan(hl);
  if (out.is_fragment) out.frag_data = rest;
  if (out.frag_offset != 0) {
    out.payload = rest;  // a later piece of the upper-layer message, no header
    return DecodeError::None;
  }
  return decode_l4(rest, complete, out);
}

DecodeError decode_ipv6(std::span<const uint8_t> b, Decoded& out) {
  if (b.size() < kIpv6Header) return DecodeError::Ipv6Truncated;
  size_t plen = be16(&b[4]);
  // Payload length 0 is a jumbogram (RFC 2675) or a lie: take what there is.
  size_t total = plen == 0 ? b.size() : kIpv6Header + plen;
  bool complete = total <= b.size();
  size_t end = complete ? total : b.size();
  out.ip_version = 6;
  out.ip = b.first(end);
  out.ip_len = static_cast<uint32_t>(total);
  out.ttl = b[7];
  out.src = IpAddr::v6(&b[8]);
  out.dst = IpAddr::v6(&b[24]);

  uint8_t nh = b[6];
  size_t at = kIpv6Header;
  for (;;) {
    size_t len;
    switch (nh) {
      case kProtoHopByHop:
      case kProtoRouting:
      case kProtoDstOpts:
        if (at + 2 > end) return DecodeError::Ipv6ExtTruncated;
        len = (static_cast<size_t>(b[at + 1]) + 1) * 8;
        break;
      case kProtoAh:  // length in 4-byte units, minus 2
        if (at + 2 > end) return DecodeError::Ipv6ExtTruncated;
        len = (static_cast<size_t>(b[at + 1]) + 2) * 4;
        break;
      case kProtoFragment:
        len = 8;
        break;
      default:  // upper layer, ESP (50) or no next header (59): stop here
        out.proto = nh;
        return decode_l4(out.ip.subspan(at), complete, out);
    }
    if (at + len > end) return DecodeError::Ipv6ExtTruncated;
    if (nh == kProtoFragment) {
      uint16_t frag = be16(&b[at + 2]);
      out.frag_offset = static_cast<uint16_t>(frag & 0xfff8);
      out.more_fragments = (frag & 1) != 0;
      out.frag_id = be32(&b[at + 4]);
      out.is_fragment = out.more_fragments || out.frag_offset != 0;
      if (out.is_fragment) out.frag_data = out.ip.subspan(at + len);
      if (out.frag_offset != 0) {
        out.proto = b[at];
        out.payload = out.ip.subspan(at + len);
        return DecodeError::None;
      }
    }
    nh = b[at];
    at += len;
  }
}

}  // namespace

std::optional<LinkType> link_type_from_dlt(int dlt) {
  switch (dlt) {
    case 12:   // DLT_RAW
    case 14:   // DLT_RAW on OpenBSD
    case 101:  // LINKTYPE_RAW
    case 228:  // DLT_IPV4
    case 229:  // DLT_IPV6
      return LinkType::Raw;
    case 1:  // DLT_EN10MB
      return LinkType::Ethernet;
    case 113:  // DLT_LINUX_SLL
      return LinkType::LinuxSll;
    case 276:  // DLT_LINUX_SLL2
      return LinkType::LinuxSll2;
    case 0:    // DLT_NULL
    case 108:  // DLT_LOOP
      return LinkType::Null;
    default:
      return std::nullopt;
  }
}

const char* to_string(DecodeError e) {
  switch (e) {
    case DecodeError::None:
      return "none";
    case DecodeError::LinkTruncated:
      return "link_truncated";
    case DecodeError::LinkUnsupported:
      return "link_unsupported";
    case DecodeError::NotIp:
      return "not_ip";
    case DecodeError::Ipv4Truncated:
      return "ipv4_truncated";
    case DecodeError::Ipv4BadHeaderLength:
      return "ipv4_bad_header_length";
    case DecodeError::Ipv4BadTotalLength:
      return "ipv4_bad_total_length";
    case DecodeError::Ipv6Truncated:
      return "ipv6_truncated";
    case DecodeError::Ipv6ExtTruncated:
      return "ipv6_ext_truncated";
    case DecodeError::BadIpVersion:
      return "bad_ip_version";
    case DecodeError::TcpTruncated:
      return "tcp_truncated";
    case DecodeError::TcpBadHeaderLength:
      return "tcp_bad_header_length";
    case DecodeError::UdpTruncated:
      return "udp_truncated";
    case DecodeError::UdpBadLength:
      return "udp_bad_length";
    case DecodeError::IcmpTruncated:
      return "icmp_truncated";
    case DecodeError::kCount:
      break;
  }
  return "unknown";
}

DecodeError decode(LinkType link, std::span<const uint8_t> bytes, Decoded& out) {
  out = Decoded{};
  Net net = Net::Other;
  std::span<const uint8_t> ip;
  DecodeError err = decode_link(link, bytes, net, ip);
  if (err != DecodeError::None) return err;
  if (net == Net::Other) return DecodeError::NotIp;
  if (ip.empty()) return net == Net::V6 ? DecodeError::Ipv6Truncated : DecodeError::Ipv4Truncated;
  uint8_t version = ip[0] >> 4;
  if (net == Net::V4 && version != 4) return DecodeError::BadIpVersion;
  if (net == Net::V6 && version != 6) return DecodeError::BadIpVersion;
  if (version == 4)
    err = decode_ipv4(ip, out);
  else if (version == 6)
    err = decode_ipv6(ip, out);
  else
    err = DecodeError::BadIpVersion;
  if (err != DecodeError::None) out = Decoded{};
  return err;
}

}  // namespace tripline
