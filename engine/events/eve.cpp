// The EVE header every event carries and the flow event.
#include "eve.h"

#include <xxhash.h>

#include <cstdio>
#include <random>

#include "community_id.h"
#include "eve_json.h"

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

void write_time(JsonWriter& w, Timestamp t) {
  char buf[40];
  size_t n = format_iso8601(t, buf);
  w.String(buf, static_cast<rapidjson::SizeType>(n));
}

JsonWriter& EveJson::begin(Timestamp ts, const char* event_type, uint64_t flow_id,
                           const IpAddr& src, uint16_t sport, const IpAddr& dst, uint16_t dport,
                           uint8_t proto) {
  buf.Clear();
  w.Reset(buf);
  w.StartObject();
  w.Key("timestamp");
  write_time(w, ts);
  if (flow_id != 0) {
    w.Key("flow_id");
    w.Uint64(flow_id);
  }
  w.Key("event_type");
  w.String(event_type);
  char addr[64];
  w.Key("src_ip");
  w.String(addr, static_cast<rapidjson::SizeType>(src.format(addr)));
  bool ports = proto == 6 || proto == 17 || proto == 132;
  if (ports) {
    w.Key("src_port");
    w.Uint(sport);
  }
  w.Key("dest_ip");
  w.String(addr, static_cast<rapidjson::SizeType>(dst.format(addr)));
  if (ports) {
    w.Key("dest_port");
    w.Uint(dport);
  }
  char num[4];
  w.Key("proto");
  w.String(proto_name(proto, num));
  if (proto == 1 || proto == 58) {  // ports hold ICMP type/code of the first packet
    w.Key("icmp_type");
    w.Uint(sport);
    w.Key("icmp_code");
    w.Uint(dport);
  }
  char cid[kCommunityIdLen];
  if (size_t n = community_id_v1(src, sport, dst, dport, proto, cid)) {
    w.Key("community_id");
    w.String(cid, static_cast<rapidjson::SizeType>(n));
  }
  return w;
}

JsonWriter& EveJson::begin(Timestamp ts, const char* event_type, uint64_t flow_id,
                           const Flow& flow) {
  return begin(ts, event_type, flow_id, flow.src(), flow.sport(), flow.dst(), flow.dport(),
               flow.proto());
}

JsonWriter& EveJson::begin(Timestamp ts, const char* event_type) {
  buf.Clear();
  w.Reset(buf);
  w.StartObject();
  w.Key("timestamp");
  write_time(w, ts);
  w.Key("event_type");
  w.String(event_type);
  return w;
}

uint64_t eve_run_seed() {
  static const uint64_t seed = [] {
    std::random_device rd;  // getrandom(2)
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  return seed;
}

std::string EveJson::finish() {
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

EveBuilder::EveBuilder(unsigned worker, uint64_t run_seed)
    : json_(std::make_unique<EveJson>()), worker_(worker), run_seed_(run_seed) {}
EveBuilder::~EveBuilder() = default;

uint64_t EveBuilder::flow_id(uint64_t local_id) const {
  if (local_id == 0) return 0;
  // The seed goes into the input, not XXH3's seed argument: for inputs of up
  // to 16 bytes XXH3 only XORs its seed in, so ids of neighbouring seeds and
  // workers would collide (eve_test checks).
  const uint64_t in[3] = {run_seed_, worker_, local_id};
  // 63 bits: consumers that read JSON integers as int64 (Elasticsearch, Go)
  // see a positive number, as with Suricata's ids.
  uint64_t id = XXH3_64bits(in, sizeof in) & 0x7fffffffffffffffULL;
  return id != 0 ? id : 1;
}

std::string EveBuilder::flow_event(const Flow& flow, FlowEndReason reason, Timestamp now,
                                   const FlowBypass* bypass) {
  auto& w = json_->begin(now, "flow", flow_id(flow.id), flow);
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
  w.Key("action");
  write_string(w, to_string(flow.decision.verdict));
  if (flow.offload == FlowOffload::Offloaded) {  // as Suricata writes its capture bypass
    w.Key("bypass");
    w.String("capture");
    if (bypass) {
      w.Key("bypassed");
      w.StartObject();
      w.Key("pkts_toserver");
      w.Uint64(bypass->pkts[kToServer]);
      w.Key("pkts_toclient");
      w.Uint64(bypass->pkts[kToClient]);
      w.Key("bytes_toserver");
      w.Uint64(bypass->bytes[kToServer]);
      w.Key("bytes_toclient");
      w.Uint64(bypass->bytes[kToClient]);
      w.EndObject();
    }
  }
  w.EndObject();
  w.Key("tripline");
  w.StartObject();
  w.Key("verdict_reason");
  write_string(w, flow.decision.reason);
  if (flow.data.has_dns_name()) {  // the DNS name the flow was reached by
    w.Key("dns_name");
    write_string(w, flow.data.dns_name());
  }
  write_client_host(w, flow.data.client_host());
  write_client_name(w, flow);
  w.EndObject();
  return json_->finish();
}

}  // namespace tripline
