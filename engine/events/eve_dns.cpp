// The EVE `dns` event in Suricata's version 3 layout (Suricata 8: "version":
// 3, "type" request/response, "queries" and "answers" arrays; endpoints as the
// packet went, so an answer's src_ip is the responder), or on request
// ([log] dns_version = 2) in version 2's (Suricata 6/7: "type" query/answer,
// the question's rrname/rrtype in `dns` itself): a query, or an answer with its
// records; what tripline made of an answer is `tripline.dns_status`.
#include <cstdio>
#include <iterator>

#include "eve.h"
#include "eve_json.h"

namespace tripline {
namespace {

// Mnemonics of the record types events name (RFC 1035, 3596, 9460); others
// print as their number.
const char* rrtype_name(uint16_t t, char* buf /* >= 8 bytes */) {
  switch (t) {
    case 1:
      return "A";
    case 28:
      return "AAAA";
    case 5:
      return "CNAME";
    case 2:
      return "NS";
    case 6:
      return "SOA";
    case 12:
      return "PTR";
    case 15:
      return "MX";
    case 16:
      return "TXT";
    case 65:
      return "HTTPS";
    case 255:
      return "ANY";
    default:
      std::snprintf(buf, 8, "%u", t);
      return buf;
  }
}

const char* rcode_name(uint8_t rcode) {
  static const char* const kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                       "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                       "NXRRSET", "NOTAUTH", "NOTZONE"};
  return rcode < std::size(kNames) ? kNames[rcode] : "UNKNOWN";
}

}  // namespace

std::string EveBuilder::dns_event(const DnsEventFacts& f) {
  auto& w = json_->begin(f.now, "dns", flow_id(f.flow_id), f.src, f.sport, f.dst, f.dport, f.proto);
  char num[8];
  w.Key("dns");
  w.StartObject();
  const bool v2 = dns_version_ == 2;
  if (v2) {
    // Suricata's schema requires `version` on every dns event (Suricata 7's
    // query logger wrote none; consumers of version 2 ignore it there).
    w.Key("version");
    w.Uint(2);
    w.Key("type");
    w.String(f.answer ? "answer" : "query");
    w.Key("id");
    w.Uint(f.id);
    if (!f.rrname.empty()) {
      w.Key("rrname");
      write_string(w, f.rrname);
      w.Key("rrtype");
      w.String(rrtype_name(f.rrtype, num));
    }
    if (f.answer) {
      w.Key("qr");
      w.Bool(true);
      w.Key("rcode");
      w.String(rcode_name(f.rcode));
    } else {
      w.Key("tx_id");
      w.Uint(0);
    }
  } else {
    w.Key("version");
    w.Uint(3);
    w.Key("type");
    w.String(f.answer ? "response" : "request");
    w.Key("id");
    w.Uint(f.id);
    if (f.answer) {
      w.Key("qr");
      w.Bool(true);
      w.Key("rcode");
      w.String(rcode_name(f.rcode));
    }
  }
  if (!v2 && !f.rrname.empty()) {
    w.Key("queries");
    w.StartArray();
    w.StartObject();
    w.Key("rrname");
    write_string(w, f.rrname);
    w.Key("rrtype");
    w.String(rrtype_name(f.rrtype, num));
    w.EndObject();
    w.EndArray();
  }
  if (f.answer) {
    if (!f.answers.empty()) {
      w.Key("answers");
      w.StartArray();
      for (const DnsAnswerFacts& a : f.answers) {
        w.StartObject();
        w.Key("rrname");
        write_string(w, a.rrname);
        w.Key("rrtype");
        w.String(rrtype_name(a.rrtype, num));
        w.Key("ttl");
        w.Uint(a.ttl);
        if (a.addr.family) {
          char addr[64];
          w.Key("rdata");
          w.String(addr, static_cast<rapidjson::SizeType>(a.addr.format(addr)));
        } else if (!a.target.empty()) {
          w.Key("rdata");
          write_string(w, a.target);
        }
        w.EndObject();
      }
      w.EndArray();
    }
  }
  w.EndObject();
  if (f.answer || f.client_host.known()) {
    w.Key("tripline");
    w.StartObject();
    if (f.answer) {
      w.Key("dns_status");
      write_string(w, f.status);
    }
    if (f.would_drop) {
      w.Key("would_drop");
      w.Bool(true);
    }
    write_client_host(w, f.client_host);
    w.EndObject();
  }
  return json_->finish();
}

}  // namespace tripline
