#include "eve.h"

#include <cstdio>

namespace tripline {

const char* proto_name(uint8_t proto, char* buf) {
  switch (proto) {
    case 6:
      return "TCP";
    case 17:
      return "UDP";
    case 1:
      return "ICMP";
    case 58:
      return "IPv6-ICMP";
    default:
      std::snprintf(buf, 4, "%u", proto);
      return buf;
  }
}

void write_time(rapidjson::Writer<rapidjson::StringBuffer>& w, Timestamp t) {
  char buf[40];
  size_t n = format_iso8601(t, buf);
  w.String(buf, static_cast<rapidjson::SizeType>(n));
}

rapidjson::Writer<rapidjson::StringBuffer>& EveBuilder::begin(Timestamp ts, const char* event_type,
                                                              uint64_t flow_id, const IpAddr& src,
                                                              uint16_t sport, const IpAddr& dst,
                                                              uint16_t dport, uint8_t proto) {
  buf_.Clear();
  writer_.Reset(buf_);
  writer_.StartObject();
  writer_.Key("timestamp");
  write_time(writer_, ts);
  if (flow_id != 0) {
    writer_.Key("flow_id");
    writer_.Uint64(flow_id);
  }
  writer_.Key("event_type");
  writer_.String(event_type);
  char addr[64];
  writer_.Key("src_ip");
  writer_.String(addr, static_cast<rapidjson::SizeType>(src.format(addr)));
  bool ports = proto == 6 || proto == 17 || proto == 132;
  if (ports) {
    writer_.Key("src_port");
    writer_.Uint(sport);
  }
  writer_.Key("dest_ip");
  writer_.String(addr, static_cast<rapidjson::SizeType>(dst.format(addr)));
  if (ports) {
    writer_.Key("dest_port");
    writer_.Uint(dport);
  }
  char num[4];
  writer_.Key("proto");
  writer_.String(proto_name(proto, num));
  if (proto == 1 || proto == 58) {  // ports hold ICMP type/code of the first packet
    writer_.Key("icmp_type");
    writer_.Uint(sport);
    writer_.Key("icmp_code");
    writer_.Uint(dport);
  }
  return writer_;
}

rapidjson::Writer<rapidjson::StringBuffer>& EveBuilder::begin(Timestamp ts, const char* event_type,
                                                              const Flow& flow) {
  return begin(ts, event_type, flow.id, flow.src(), flow.sport(), flow.dst(), flow.dport(),
               flow.proto());
}

std::string EveBuilder::finish() {
  writer_.EndObject();
  return std::string(buf_.GetString(), buf_.GetSize());
}

std::string EveBuilder::flow_event(const Flow& flow, FlowEndReason reason, Timestamp now) {
  auto& w = begin(now, "flow", flow);
  w.Key("flow");
  w.StartObject();
  w.Key("pkts_toserver");
  w.Uint64(flow.pkts[kToServer]);
  w.Key("pkts_toclient");
  w.Uint64(flow.pkts[kToClient]);
  w.Key("bytes_toserver");
  w.Uint64(flow.bytes[kToServer]);
  w.Key("bytes_toclient");
  w.Uint64(flow.bytes[kToClient]);
  w.Key("start");
  write_time(w, flow.start);
  w.Key("end");
  write_time(w, flow.last);
  w.Key("age");
  w.Int64((flow.last - flow.start) / kNsPerSec);
  w.Key("state");
  w.String(to_string(flow.state));
  w.Key("reason");
  w.String(to_string(reason));
  if (flow.annotation) {  // the DNS name the flow was reached by
    const auto* name = static_cast<const std::string*>(flow.annotation);
    w.Key("dns_name");
    w.String(name->data(), static_cast<rapidjson::SizeType>(name->size()));
  }
  w.Key("action");
  auto verdict = to_string(flow.decision.verdict);
  w.String(verdict.data(), static_cast<rapidjson::SizeType>(verdict.size()));
  w.Key("verdict_reason");
  w.String(flow.decision.reason.data(),
           static_cast<rapidjson::SizeType>(flow.decision.reason.size()));
  w.EndObject();
  return finish();
}

}  // namespace tripline
