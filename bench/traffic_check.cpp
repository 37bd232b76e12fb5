#include "traffic_check.h"

#include <fmt/format.h>
#include <pcap/pcap.h>

#include <memory>
#include <stdexcept>

// Last, and after stdbool.h: ldns/common.h otherwise defines bool, true and
// false as macros, which breaks the C++ headers included after it.
// clang-format off
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)
#include <ldns/ldns.h>
// clang-format on

namespace tripline::gen {
namespace {

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};

constexpr uint8_t kProtoUdp = 17;

}  // namespace

std::string CheckReport::summary() const {
  std::string kinds;
  for (size_t k = 1; k < errors_by_kind.size(); ++k) {
    if (errors_by_kind[k] == 0) continue;
    kinds += fmt::format("{}{}={}", kinds.empty() ? "" : " ",
                         to_string(static_cast<DecodeError>(k)), errors_by_kind[k]);
  }
  return fmt::format(
      "packets={} decode_errors={} ({}) fragments={} dns_messages={} dns_responses={} "
      "dns_parse_errors={}",
      packets, decode_errors, kinds, fragments, dns_messages, dns_responses, dns_parse_errors);
}

CheckReport check_pcap(const std::string& path) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, PcapCloser> pcap(
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf));
  if (!pcap) throw std::runtime_error(path + ": " + errbuf);
  auto link = link_type_from_dlt(pcap_datalink(pcap.get()));
  if (!link) throw std::runtime_error(path + ": unsupported link type");

  CheckReport r;
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  int rc;
  Decoded d;
  while ((rc = pcap_next_ex(pcap.get(), &hdr, &data)) == 1) {
    ++r.packets;
    if (DecodeError e = decode(*link, {data, hdr->caplen}, d); e != DecodeError::None) {
      ++r.decode_errors;
      ++r.errors_by_kind[static_cast<size_t>(e)];
      continue;
    }
    if (d.is_fragment) ++r.fragments;
    if (d.proto != kProtoUdp || d.is_fragment || (d.sport != 53 && d.dport != 53)) continue;
    ++r.dns_messages;
    ldns_pkt* pkt = nullptr;
    ldns_status st = ldns_wire2pkt(&pkt, d.payload.data(), d.payload.size());
    if (st != LDNS_STATUS_OK) {
      ++r.dns_parse_errors;
      if (r.first_problem.empty()) {
        r.first_problem = fmt::format("frame {}: DNS payload does not parse: {}", r.packets,
                                      ldns_get_errorstr_by_id(st));
      }
      continue;
    }
    if (ldns_pkt_qr(pkt)) ++r.dns_responses;
    ldns_pkt_free(pkt);
  }
  if (rc == PCAP_ERROR) throw std::runtime_error(path + ": " + pcap_geterr(pcap.get()));
  return r;
}

}  // namespace tripline::gen
