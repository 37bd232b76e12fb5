#include "lua_triggers.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <lua.hpp>

#include "capture_recorder.h"
#include "config.h"
#include "duration_histogram.h"
#include "eve.h"
#include "lua_profile.h"
#include "lua_shared.h"

namespace tripline {
namespace {

constexpr const char* kEventMeta = "tripline.event";
constexpr const char* kDnsMeta = "tripline.dns";
// Errors logged per worker before only the counters carry them.
constexpr uint64_t kLoggedErrors = 10;
// Alerts one callback may raise.
constexpr size_t kMaxAlerts = 8;

// The object a callback receives: a handle that is valid during that call only.
struct EventRef {
  uint64_t seq;
};

enum Field : int {
  kFlowId = 1,
  kSrcIp,
  kSrcPort,
  kDestIp,
  kDestPort,
  kProto,
  kIpVersion,
  kDnsName,
  kState,
  kPktsToServer,
  kPktsToClient,
  kBytesToServer,
  kBytesToClient,
  kStart,
  kAge,
  kReason,
  kDir,
  kLen,
  kPayloadLen,
  kTcpFlags,
  kTime,
  kNew,
  kPolicyVerdict,
  kPolicyReason,
  kClientHost,
  kClientName,
};
constexpr std::pair<const char*, Field> kFields[] = {
    {"flow_id", kFlowId},
    {"src_ip", kSrcIp},
    {"src_port", kSrcPort},
    {"dest_ip", kDestIp},
    {"dest_port", kDestPort},
    {"proto", kProto},
    {"ip_version", kIpVersion},
    {"dns_name", kDnsName},
    {"state", kState},
    {"pkts_toserver", kPktsToServer},
    {"pkts_toclient", kPktsToClient},
    {"bytes_toserver", kBytesToServer},
    {"bytes_toclient", kBytesToClient},
    {"start", kStart},
    {"age", kAge},
    {"reason", kReason},
    {"dir", kDir},
    {"len", kLen},
    {"payload_len", kPayloadLen},
    {"tcp_flags", kTcpFlags},
    {"time", kTime},
    {"new", kNew},
    {"policy_verdict", kPolicyVerdict},
    {"policy_reason", kPolicyReason},
    {"client_host", kClientHost},
    {"client_name", kClientName},
};

// The fields of the object on_dns receives.
enum DnsField : int {
  kDnsFlowId = 1,
  kDnsClient,
  kDnsClientHost,
  kDnsResolver,
  kDnsResolverPort,
  kDnsId,
  kDnsProto,
  kDnsQname,
  kDnsQtype,
  kDnsRcode,
  kDnsAnswers,
  kDnsChain,
  kDnsAddresses,
  kDnsBlockedBy,
  kDnsTime,
};
constexpr std::pair<const char*, DnsField> kDnsFields[] = {
    {"flow_id", kDnsFlowId},
    {"client", kDnsClient},
    {"client_host", kDnsClientHost},
    {"resolver", kDnsResolver},
    {"resolver_port", kDnsResolverPort},
    {"id", kDnsId},
    {"proto", kDnsProto},
    {"qname", kDnsQname},
    {"qtype", kDnsQtype},
    {"rcode", kDnsRcode},
    {"answers", kDnsAnswers},
    {"chain", kDnsChain},
    {"addresses", kDnsAddresses},
    {"blocked_by", kDnsBlockedBy},
    {"time", kDnsTime},
};

// Record type mnemonics as the dns events print them; others as their number.
void push_rrtype(lua_State* L, uint16_t t) {
  const char* name = nullptr;
  switch (t) {
    case 1:
      name = "A";
      break;
    case 28:
      name = "AAAA";
      break;
    case 5:
      name = "CNAME";
      break;
    case 2:
      name = "NS";
      break;
    case 6:
      name = "SOA";
      break;
    case 12:
      name = "PTR";
      break;
    case 15:
      name = "MX";
      break;
    case 16:
      name = "TXT";
      break;
    case 33:
      name = "SRV";
      break;
    case 64:
      name = "SVCB";
      break;
    case 65:
      name = "HTTPS";
      break;
    case 255:
      name = "ANY";
      break;
    default:
      break;
  }
  if (name)
    lua_pushstring(L, name);
  else
    lua_pushfstring(L, "%d", int{t});
}

const char* rcode_name(uint8_t rcode) {
  static const char* const kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                       "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                       "NXRRSET", "NOTAUTH", "NOTZONE"};
  return rcode < std::size(kNames) ? kNames[rcode] : "UNKNOWN";
}

LuaTriggers* self_of(lua_State* L) { return *static_cast<LuaTriggers**>(lua_getextraspace(L)); }

// The call a module function runs in; raises a Lua error outside callbacks.
LuaTriggers::Call& active_call(lua_State* L, const char* fn) {
  LuaTriggers* self = self_of(L);
  if (!self || !self->call_state().active)
    luaL_error(L, "tripline.%s: only inside a trigger callback", fn);
  return self->call_state();
}

PacketContext& packet_of(lua_State* L, const char* fn) {
  LuaTriggers::Call& call = active_call(L, fn);
  if (!call.ctx) luaL_error(L, "tripline.%s: not in on_flow_end (there is no packet)", fn);
  return *call.ctx;
}

double to_seconds(Timestamp t) { return static_cast<double>(t) / 1e9; }

void push_addr(lua_State* L, const IpAddr& a) {
  char buf[64];
  size_t n = a.format(buf);
  lua_pushlstring(L, buf, n);
}

void push_mac_or_nil(lua_State* L, const MacAddr& m) {
  if (!m.known()) {
    lua_pushnil(L);
    return;
  }
  char buf[18];
  size_t n = m.format(buf);
  lua_pushlstring(L, buf, n);
}

void push_view(lua_State* L, std::string_view s) { lua_pushlstring(L, s.data(), s.size()); }

int event_index(lua_State* L) {
  auto* ref = static_cast<EventRef*>(luaL_checkudata(L, 1, kEventMeta));
  LuaTriggers* self = self_of(L);
  if (!self || !self->call_state().active || self->call_state().seq != ref->seq)
    return luaL_error(L, "a flow object is valid only inside the callback it was passed to");
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  int field = static_cast<int>(lua_tointeger(L, -1));
  lua_pop(L, 1);
  const LuaTriggers::Call& call = self->call_state();
  const Flow& f = *call.flow;
  const Decoded* pkt = call.ctx ? &call.ctx->pkt : nullptr;
  switch (field) {
    case kFlowId:
      lua_pushinteger(L, static_cast<lua_Integer>(f.id));
      break;
    case kSrcIp:
      push_addr(L, f.src());
      break;
    case kSrcPort:
      lua_pushinteger(L, f.sport());
      break;
    case kDestIp:
      push_addr(L, f.dst());
      break;
    case kDestPort:
      lua_pushinteger(L, f.dport());
      break;
    case kProto: {
      char num[4];
      lua_pushstring(L, proto_name(f.proto(), num));
      break;
    }
    case kIpVersion:
      lua_pushinteger(L, f.key.lo.is_v4() ? 4 : 6);
      break;
    case kDnsName:
      if (f.data.has_dns_name()) {
        std::string_view name = f.data.dns_name();
        lua_pushlstring(L, name.data(), name.size());
      } else {
        lua_pushnil(L);
      }
      break;
    case kClientName:  // from the DHCP leases ([clients] leases); nil when unnamed
      if (f.data.has_client_name()) {
        std::string_view name = f.data.client_name();
        lua_pushlstring(L, name.data(), name.size());
      } else {
        lua_pushnil(L);
      }
      break;
    case kState:
      lua_pushstring(L, to_string(f.state));
      break;
    case kPktsToServer:
      lua_pushinteger(L, static_cast<lua_Integer>(f.pkts[kToServer]));
      break;
    case kPktsToClient:
      lua_pushinteger(L, static_cast<lua_Integer>(f.pkts[kToClient]));
      break;
    case kBytesToServer:
      lua_pushinteger(L, static_cast<lua_Integer>(f.bytes[kToServer]));
      break;
    case kBytesToClient:
      lua_pushinteger(L, static_cast<lua_Integer>(f.bytes[kToClient]));
      break;
    case kStart:
      lua_pushnumber(L, to_seconds(f.start));
      break;
    case kAge:
      lua_pushnumber(L, to_seconds(call.now - f.start));
      break;
    case kReason:
      if (call.ctx)
        lua_pushnil(L);
      else
        lua_pushstring(L, to_string(call.reason));
      break;
    case kDir:
      if (call.ctx)
        lua_pushstring(L, call.ctx->dir == kToServer ? "toserver" : "toclient");
      else
        lua_pushnil(L);
      break;
    case kLen:
      if (pkt)
        lua_pushinteger(L, pkt->ip_len);
      else
        lua_pushnil(L);
      break;
    case kPayloadLen:
      if (pkt)
        lua_pushinteger(L, static_cast<lua_Integer>(pkt->payload.size()));
      else
        lua_pushnil(L);
      break;
    case kTcpFlags:
      if (pkt)
        lua_pushinteger(L, pkt->tcp_flags);
      else
        lua_pushnil(L);
      break;
    case kTime:
      lua_pushnumber(L, to_seconds(call.now));
      break;
    case kNew:
      lua_pushboolean(L, call.ctx && call.ctx->new_flow);
      break;
    case kPolicyVerdict:
      if (call.has_policy)
        push_view(L, to_string(call.policy.verdict));
      else
        lua_pushnil(L);
      break;
    case kPolicyReason:
      if (call.has_policy)
        push_view(L, call.policy.reason);
      else
        lua_pushnil(L);
      break;
    case kClientHost:
      push_mac_or_nil(L, f.data.client_host());
      break;
    default:
      lua_pushnil(L);
      break;
  }
  return 1;
}

int event_newindex(lua_State* L) {
  return luaL_error(L,
                    "flow objects are read-only (keep your own state in a table keyed by flow_id)");
}

int event_tostring(lua_State* L) {
  auto* ref = static_cast<EventRef*>(luaL_checkudata(L, 1, kEventMeta));
  LuaTriggers* self = self_of(L);
  if (!self || !self->call_state().active || self->call_state().seq != ref->seq) {
    lua_pushliteral(L, "flow (expired)");
    return 1;
  }
  const Flow& f = *self->call_state().flow;
  char num[4];
  std::string s = fmt::format("flow {} {} {}:{} -> {}:{}", f.id, proto_name(f.proto(), num),
                              f.src().to_string(), f.sport(), f.dst().to_string(), f.dport());
  lua_pushlstring(L, s.data(), s.size());
  return 1;
}

int dns_index(lua_State* L) {
  auto* ref = static_cast<EventRef*>(luaL_checkudata(L, 1, kDnsMeta));
  LuaTriggers* self = self_of(L);
  if (!self || !self->call_state().active || self->call_state().seq != ref->seq ||
      !self->call_state().dns)
    return luaL_error(L, "a dns object is valid only inside the callback it was passed to");
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  int field = static_cast<int>(lua_tointeger(L, -1));
  lua_pop(L, 1);
  const DnsAnswerInfo& d = *self->call_state().dns;
  switch (field) {
    case kDnsFlowId:
      lua_pushinteger(L, static_cast<lua_Integer>(d.ctx.flow.id));
      break;
    case kDnsClient:
      push_addr(L, d.client);
      break;
    case kDnsClientHost:
      push_mac_or_nil(L, d.client_host);
      break;
    case kDnsResolver:
      push_addr(L, d.resolver);
      break;
    case kDnsResolverPort:
      lua_pushinteger(L, d.resolver_port);
      break;
    case kDnsId:
      lua_pushinteger(L, d.id);
      break;
    case kDnsProto:
      lua_pushstring(L, d.proto == 6 ? "tcp" : "udp");
      break;
    case kDnsQname:
      push_view(L, d.qname);
      break;
    case kDnsQtype:
      push_rrtype(L, d.qtype);
      break;
    case kDnsRcode:
      lua_pushstring(L, rcode_name(d.rcode));
      break;
    case kDnsAnswers:
      lua_createtable(L, static_cast<int>(std::min<size_t>(d.answers.size(), 1 << 16)), 0);
      for (size_t i = 0; i < d.answers.size(); ++i) {
        const DnsAnswerFacts& a = d.answers[i];
        lua_createtable(L, 0, 4);
        push_view(L, a.rrname);
        lua_setfield(L, -2, "name");
        push_rrtype(L, a.rrtype);
        lua_setfield(L, -2, "type");
        lua_pushinteger(L, a.ttl);
        lua_setfield(L, -2, "ttl");
        if (a.addr.family != 0)
          push_addr(L, a.addr);
        else if (!a.target.empty())
          push_view(L, a.target);
        else
          lua_pushnil(L);
        lua_setfield(L, -2, "data");
        lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
      }
      break;
    case kDnsChain:
      lua_createtable(L, static_cast<int>(std::min<size_t>(d.chain.size(), 1 << 16)), 0);
      for (size_t i = 0; i < d.chain.size(); ++i) {
        push_view(L, d.chain[i]);
        lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
      }
      break;
    case kDnsAddresses:
      lua_createtable(L, static_cast<int>(std::min<size_t>(d.addrs.size(), 1 << 16)), 0);
      for (size_t i = 0; i < d.addrs.size(); ++i) {
        push_addr(L, d.addrs[i]);
        lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
      }
      break;
    case kDnsBlockedBy:
      if (d.blocked_by.empty())
        lua_pushnil(L);
      else
        push_view(L, d.blocked_by);
      break;
    case kDnsTime:
      lua_pushnumber(L, to_seconds(d.ctx.now));
      break;
    default:
      lua_pushnil(L);
      break;
  }
  return 1;
}

int dns_newindex(lua_State* L) { return luaL_error(L, "dns objects are read-only"); }

int dns_tostring(lua_State* L) {
  auto* ref = static_cast<EventRef*>(luaL_checkudata(L, 1, kDnsMeta));
  LuaTriggers* self = self_of(L);
  if (!self || !self->call_state().active || self->call_state().seq != ref->seq ||
      !self->call_state().dns) {
    lua_pushliteral(L, "dns answer (expired)");
    return 1;
  }
  const DnsAnswerInfo& d = *self->call_state().dns;
  std::string s = fmt::format("dns answer {} {} for {} from {}", d.id, d.qname,
                              d.client.to_string(), d.resolver.to_string());
  lua_pushlstring(L, s.data(), s.size());
  return 1;
}

int api_watch(lua_State* L) {
  packet_of(L, "watch").flow.watch |= kWatchLua;
  return 0;
}

int api_unwatch(lua_State* L) {
  packet_of(L, "unwatch").flow.watch &= static_cast<uint8_t>(~kWatchLua);
  return 0;
}

int api_now(lua_State* L) {
  lua_pushnumber(L, to_seconds(active_call(L, "now").now));
  return 1;
}

// tripline.payload([i [, j]]): the packet's payload, or bytes i..j of it
// (string.sub positions).
int api_payload(lua_State* L) {
  const auto& payload = packet_of(L, "payload").pkt.payload;
  auto len = static_cast<lua_Integer>(payload.size());
  lua_Integer i = luaL_optinteger(L, 1, 1);
  lua_Integer j = luaL_optinteger(L, 2, -1);
  if (i < 0)
    i = std::max<lua_Integer>(len + i + 1, 1);
  else if (i == 0)
    i = 1;
  if (j < 0)
    j = len + j + 1;
  else if (j > len)
    j = len;
  if (i > j) {
    lua_pushliteral(L, "");
  } else {
    lua_pushlstring(L, reinterpret_cast<const char*>(payload.data()) + (i - 1),
                    static_cast<size_t>(j - i + 1));
  }
  return 1;
}

std::string_view opt_string_field(lua_State* L, int table, const char* key, std::string_view def) {
  lua_getfield(L, table, key);
  std::string_view out = def;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option %s: expected a string", key);
    size_t n = 0;
    const char* s = lua_tolstring(L, -1, &n);
    out = std::string_view(s, n);  // stays valid: the table holds the string
  }
  lua_pop(L, 1);
  return out;
}

double opt_number_field(lua_State* L, int table, const char* key) {
  lua_getfield(L, table, key);
  double out = 0;
  if (!lua_isnil(L, -1)) {
    int ok = 0;
    out = lua_tonumberx(L, -1, &ok);
    if (!ok || !(out > 0)) luaL_error(L, "option %s: expected a positive number", key);
  }
  lua_pop(L, 1);
  return out;
}

// tripline.capture{scope = "flow"|"host"|"all", seconds = s, packets = n,
// bytes = n, label = "..."} -> session id, or nil and the reason.
int api_capture(lua_State* L) {
  PacketContext& ctx = packet_of(L, "capture");
  LuaTriggers* self = self_of(L);
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
  CaptureRequest req;
  if (lua_istable(L, 1)) {
    std::string_view scope = opt_string_field(L, 1, "scope", "flow");
    if (scope == "flow")
      req.scope = CaptureScope::Flow;
    else if (scope == "host")
      req.scope = CaptureScope::Host;
    else if (scope == "all")
      req.scope = CaptureScope::All;
    else
      return luaL_error(L, "option scope: expected \"flow\", \"host\" or \"all\"");
    req.duration = seconds(std::min(opt_number_field(L, 1, "seconds"), 86400.0 * 365));
    req.max_packets = static_cast<uint64_t>(std::min(opt_number_field(L, 1, "packets"), 1e15));
    req.max_bytes = static_cast<uint64_t>(std::min(opt_number_field(L, 1, "bytes"), 1e15));
    req.label = opt_string_field(L, 1, "label", "");
  }
  CaptureRecorder* rec = self->env().capture();
  if (!rec) {
    lua_pushnil(L);
    lua_pushliteral(L, "capture is not configured ([capture] dir)");
    return 2;
  }
  // The script by its file name (the folder differs between machines).
  std::string_view script = self->script_name();
  script = script.substr(script.rfind('/') + 1);        // npos + 1 == 0: no folder
  std::string trigger = fmt::format("lua {}", script);  // per trigger, not per packet
  req.trigger = trigger;
  uint64_t id = rec->start(req, ctx.pkt, ctx.flow, ctx.now);
  self->note_capture(id);
  if (id == 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "too many capture sessions");
    return 2;
  }
  lua_pushinteger(L, static_cast<lua_Integer>(id));
  return 1;
}

// tripline.alert("signature") or tripline.alert{signature = "...",
// category = "...", severity = 1..255, signature_id = 1..2^32-1, rev = 1..2^32-1}
int api_alert(lua_State* L) {
  active_call(L, "alert");
  std::string_view sig;
  std::string_view cat = "trigger";
  lua_Integer severity = 3;
  lua_Integer sid = kSidTrigger;
  lua_Integer rev = 1;
  if (lua_type(L, 1) == LUA_TSTRING) {
    size_t n = 0;
    const char* s = lua_tolstring(L, 1, &n);
    sig = std::string_view(s, n);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    sig = opt_string_field(L, 1, "signature", "");
    cat = opt_string_field(L, 1, "category", cat);
    lua_getfield(L, 1, "severity");
    if (!lua_isnil(L, -1)) {
      int ok = 0;
      severity = lua_tointegerx(L, -1, &ok);
      if (!ok || severity < 1 || severity > 255) luaL_error(L, "option severity: expected 1..255");
    }
    lua_pop(L, 1);
    for (auto [key, out] : {std::pair{"signature_id", &sid}, std::pair{"rev", &rev}}) {
      lua_getfield(L, 1, key);
      if (!lua_isnil(L, -1)) {
        int ok = 0;
        *out = lua_tointegerx(L, -1, &ok);
        if (!ok || *out < 1 || *out > 0xffffffffLL)
          luaL_error(L, "option %s: expected 1..4294967295", key);
      }
      lua_pop(L, 1);
    }
  }
  if (sig.empty()) return luaL_error(L, "tripline.alert: a signature is required");
  sig = sig.substr(0, LuaSandbox::kMaxMessage);  // what a script writes to the log is bounded
  cat = cat.substr(0, LuaSandbox::kMaxMessage);
  if (!self_of(L)->add_alert(sig, cat, static_cast<int>(severity), static_cast<uint32_t>(sid),
                             static_cast<uint32_t>(rev)))
    return luaL_error(L, "tripline.alert: at most %d alerts per callback", int(kMaxAlerts));
  return 0;
}

const char* hook_name(int hook) {
  static const char* names[] = {"on_flow", "on_packet", "on_flow_end", "on_dns"};
  return names[hook];
}

constexpr int kDnsHook = 3;  // LuaTriggers::Hook::Dns
// What trampoline returns for on_dns: 0 nil (or "accept"), these for the others.
constexpr lua_Integer kDnsDrop = 1, kDnsBlock = 2;

// Runs inside the protected call: builds the event object, calls the hook and
// judges what it returned, so that no metamethod, allocation or error of the
// script's happens outside it. Arguments: hook ref, hook number. Returns 0
// for nil, else the verdict + 1.
int trampoline(lua_State* L) {
  LuaTriggers* self = self_of(L);
  auto ref = lua_tointeger(L, 1);
  int hook = static_cast<int>(lua_tointeger(L, 2));
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  auto* ev = static_cast<EventRef*>(lua_newuserdatauv(L, sizeof(EventRef), 0));
  ev->seq = self->call_state().seq;
  luaL_setmetatable(L, hook == kDnsHook ? kDnsMeta : kEventMeta);
  lua_call(L, 1, 1);
  int type = lua_type(L, -1);
  if (type == LUA_TNIL) {
    lua_pushinteger(L, 0);
    return 1;
  }
  std::string shown;
  if (type == LUA_TSTRING) {
    size_t n = 0;
    const char* s = lua_tolstring(L, -1, &n);
    std::string_view text(s, n);
    if (hook == kDnsHook) {
      if (text == "accept" || text == "drop" || text == "block") {
        lua_pushinteger(L, text == "drop" ? kDnsDrop : text == "block" ? kDnsBlock : 0);
        return 1;
      }
    } else if (auto v = parse_verdict(text)) {
      lua_pushinteger(L, static_cast<int>(*v) + 1);
      return 1;
    }
    shown = fmt::format("\"{}\"", std::string_view(s, std::min<size_t>(n, 40)));
  } else {
    // Named by type only: a __tostring or __name of the script's is not run.
    shown = fmt::format("a {} value", lua_typename(L, type));
  }
  std::string msg = fmt::format(
      "{} returned {}; expected {} or nil", hook_name(hook), shown,
      hook == kDnsHook ? "\"drop\", \"block\", \"accept\"" : "\"accept\", \"drop\", \"reject\"");
  lua_pushlstring(L, msg.data(), msg.size());
  return lua_error(L);
}

// Registers the `tripline` module and the event metatable (a protected call).
int register_module(lua_State* L) {
  luaL_newmetatable(L, kEventMeta);
  lua_createtable(L, 0, static_cast<int>(std::size(kFields)));
  for (const auto& [name, field] : kFields) {
    lua_pushinteger(L, field);
    lua_setfield(L, -2, name);
  }
  lua_pushcclosure(L, event_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, event_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, event_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "locked");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);

  luaL_newmetatable(L, kDnsMeta);
  lua_createtable(L, 0, static_cast<int>(std::size(kDnsFields)));
  for (const auto& [name, field] : kDnsFields) {
    lua_pushinteger(L, field);
    lua_setfield(L, -2, name);
  }
  lua_pushcclosure(L, dns_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, dns_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, dns_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "locked");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);

  const luaL_Reg api[] = {{"watch", api_watch}, {"unwatch", api_unwatch}, {"capture", api_capture},
                          {"alert", api_alert}, {"payload", api_payload}, {"now", api_now},
                          {nullptr, nullptr}};
  luaL_newlib(L, api);
  add_shared_functions(L);
  lua_pushliteral(L, "1");
  lua_setfield(L, -2, "API_VERSION");
  lua_setglobal(L, "tripline");
  return 0;
}

// The refs of the script's hooks.
struct Hooks {
  int on_flow = LUA_NOREF, on_packet = LUA_NOREF, on_flow_end = LUA_NOREF, on_dns = LUA_NOREF;
  const char* bad_name = nullptr;  // a hook name bound to something else
  int bad_type = LUA_TNIL;
};

// Looks the hooks up (a protected call; raw reads: a metatable the script put
// on _G is not run).
int find_hooks(lua_State* L) {
  auto* h = static_cast<Hooks*>(lua_touserdata(L, 1));
  lua_pushglobaltable(L);
  int g = lua_gettop(L);
  auto take = [&](const char* name, int* ref) {
    lua_pushstring(L, name);
    int type = lua_rawget(L, g);
    if (type == LUA_TFUNCTION) {
      *ref = luaL_ref(L, LUA_REGISTRYINDEX);
      return;
    }
    lua_pop(L, 1);
    if (type != LUA_TNIL && !h->bad_name) {
      h->bad_name = name;
      h->bad_type = type;
    }
  };
  take("on_flow", &h->on_flow);
  take("on_packet", &h->on_packet);
  take("on_flow_end", &h->on_flow_end);
  take("on_dns", &h->on_dns);
  return 0;
}

// Registers the module, loads the script and returns the refs of its hooks.
Hooks setup(LuaSandbox& sb, const LuaScript& script) {
  if (sb.protect(register_module, nullptr) != LuaCallResult::Ok)
    throw LuaError(
        fmt::format("{}: the Lua memory limit is too small: {}", script.path, sb.last_error()));
  sb.load(script.code, script.path);

  Hooks h;
  if (sb.protect(find_hooks, &h) != LuaCallResult::Ok)
    throw LuaError(fmt::format("{}: {}", script.path, sb.last_error()));
  if (h.bad_name)
    throw LuaError(fmt::format("{}: {} is a {}, expected a function", script.path, h.bad_name,
                               lua_typename(sb.state(), h.bad_type)));
  if (h.on_flow == LUA_NOREF && h.on_packet == LUA_NOREF && h.on_flow_end == LUA_NOREF &&
      h.on_dns == LUA_NOREF)
    throw LuaError(
        fmt::format("{}: defines none of on_flow, on_packet, on_flow_end, on_dns", script.path));
  if (h.on_packet != LUA_NOREF && h.on_flow == LUA_NOREF)
    spdlog::warn(
        "{}: on_packet is never called: only flows that on_flow watches "
        "(tripline.watch()) reach it",
        script.path);
  return h;
}

LuaLimits limits_of(const Config& cfg) {
  return {.memory_bytes = size_t{cfg.lua.memory_mb} << 20,
          .budget = cfg.lua.budget,
          .max_call_ms = cfg.lua.max_call_ms};
}

}  // namespace

LuaScript load_lua_script(const Config& cfg) {
  LuaScript s;
  s.path = cfg.lua.script;
  std::ifstream in(s.path, std::ios::binary);
  if (!in) throw LuaError(fmt::format("{}: cannot read: {}", s.path, std::strerror(errno)));
  s.code.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  LuaSandbox probe(limits_of(cfg));
  setup(probe, s);  // throws with file:line on errors
  return s;
}

LuaTriggers::LuaTriggers(const Config& cfg, const LuaScript& script, StageEnv& env,
                         SharedStore* shared)
    : cfg_(cfg), env_(env), script_(script), shared_(shared) {
  build();
  alerts_.resize(kMaxAlerts);
  if (env.profile()) profiler_ = std::make_unique<LuaProfiler>(*env.profile(), *sandbox_);
}

void LuaTriggers::build() {
  auto sb = std::make_unique<LuaSandbox>(limits_of(cfg_));
  *static_cast<LuaTriggers**>(lua_getextraspace(sb->state())) = this;
  Hooks h = setup(*sb, script_);
  if (sandbox_) *static_cast<LuaTriggers**>(lua_getextraspace(sandbox_->state())) = nullptr;
  const bool profiling = profiler_ != nullptr;
  profiler_.reset();  // it refers to the state being replaced
  sandbox_ = std::move(sb);
  if (profiling) profiler_ = std::make_unique<LuaProfiler>(*env_.profile(), *sandbox_);
  on_flow_ = h.on_flow;
  on_packet_ = h.on_packet;
  on_flow_end_ = h.on_flow_end;
  on_dns_ = h.on_dns;
  // The DNS observer asks the hook only while a script defines on_dns.
  env_.set_dns_hook(on_dns_ != kNoRef ? this : nullptr);
}

LuaTriggers::~LuaTriggers() {
  if (env_.dns_hook() == this) env_.set_dns_hook(nullptr);
  *static_cast<LuaTriggers**>(lua_getextraspace(sandbox_->state())) = nullptr;
}

bool LuaTriggers::likes(const PacketContext& ctx) const {
  if (disabled_) return false;
  return ((ctx.new_flow || (ctx.rejudge && judges_open_flows_)) && on_flow_ != kNoRef) ||
         (on_packet_ != kNoRef && (ctx.flow.watch & kWatchLua));
}

bool LuaTriggers::add_alert(std::string_view signature, std::string_view category, int severity,
                            uint32_t signature_id, uint32_t rev) {
  if (n_alerts_ >= alerts_.size()) return false;
  PendingAlert& a = alerts_[n_alerts_++];
  a.signature.assign(signature);
  a.category.assign(category);
  a.severity = severity;
  a.signature_id = signature_id;
  a.rev = rev;
  return true;
}

bool LuaTriggers::run(Hook hook, int fn_ref, int64_t* code) {
  lua_State* L = sandbox_->state();
  ++call_.seq;
  call_.active = true;
  n_alerts_ = 0;
  capture_id_ = 0;
  env_.counters().lua_calls.add();
  lua_pushcfunction(L, trampoline);
  lua_pushinteger(L, fn_ref);
  lua_pushinteger(L, static_cast<int>(hook));
  // `tripline bench` profiles on_flow, on_packet and on_flow_end by hook;
  // on_dns time shows in the dns stage's.
  LuaProfiler* profiler = hook == Hook::Dns ? nullptr : profiler_.get();
  uint64_t started = profiler ? profiler->begin() : 0;
  const uint64_t call_start = monotonic_ns();
  LuaCallResult r = sandbox_->call(2, 1);
  env_.counters().lua_call_time.observe(monotonic_ns() - call_start);
  if (profiler) profiler->end(static_cast<int>(hook), call_.flow, started);
  call_.active = false;
  call_.dns = nullptr;
  call_.has_policy = false;
  *code = 0;
  if (r == LuaCallResult::Ok) {
    *code = lua_tointeger(L, -1);
    lua_pop(L, 1);
    consecutive_errors_ = 0;
    return true;
  }
  n_alerts_ = 0;
  if (r == LuaCallResult::Budget) env_.counters().lua_budget_exceeded.add();
  if (r == LuaCallResult::Time) env_.counters().lua_time_exceeded.add();
  if (r == LuaCallResult::Memory) env_.counters().lua_memory_exceeded.add();
  fail(hook);
  if (sandbox_->broken()) rebuild();
  return false;
}

void LuaTriggers::rebuild() {
  // After a panic the state may be inconsistent: start a fresh one from the
  // same script (its globals start empty).
  try {
    build();
    spdlog::error("worker {}: lua: the Lua state was rebuilt after a panic", env_.worker_index());
  } catch (const LuaError& e) {
    disabled_ = true;
    env_.counters().lua_disabled.add();
    spdlog::error(
        "worker {}: lua: cannot rebuild the Lua state after a panic ({}); triggers "
        "are off in this worker until restart",
        env_.worker_index(), e.what());
  }
}

void LuaTriggers::fail(Hook hook) {
  env_.counters().lua_errors.add();
  if (logged_errors_++ < kLoggedErrors)
    spdlog::warn("worker {}: lua: {}: {}", env_.worker_index(), hook_name(static_cast<int>(hook)),
                 sandbox_->last_error());
  if (++consecutive_errors_ >= cfg_.lua.max_consecutive_errors && !disabled_) {
    disabled_ = true;
    env_.counters().lua_disabled.add();
    spdlog::error(
        "worker {}: lua: {} failed {} times in a row; triggers are off in this "
        "worker until restart (last error: {})",
        env_.worker_index(), cfg_.lua.script, consecutive_errors_, sandbox_->last_error());
  }
}

const std::string& LuaTriggers::script_name() const { return cfg_.lua.script; }

void LuaTriggers::emit_alerts(const Flow& flow, Timestamp now, bool blocked) {
  if (!env_.events_on()) return;
  std::string_view capture_file;
  if (capture_id_ != 0 && env_.capture()) capture_file = env_.capture()->file_of(capture_id_);
  for (size_t i = 0; i < n_alerts_; ++i) {
    const PendingAlert& a = alerts_[i];
    if (i == 0 && capture_id_ != 0 && env_.capture())  // for the trigger packet's comment
      env_.capture()->set_signature(capture_id_, a.signature);
    env_.emit(env_.eve().alert_event({.now = now,
                                      .flow = flow,
                                      .blocked = blocked,
                                      .signature_id = a.signature_id,
                                      .rev = a.rev,
                                      .signature = a.signature,
                                      .category = a.category,
                                      .severity = a.severity,
                                      .capture_file = capture_file}));
  }
  n_alerts_ = 0;
}

Next LuaTriggers::inspect(PacketContext& ctx) {
  call_.ctx = &ctx;
  call_.flow = &ctx.flow;
  call_.now = ctx.now;
  auto decide = [&](Verdict v) {
    env_.counters().lua_verdicts.add();
    Decision d;
    d.verdict = v;
    d.reason = "lua";
    if (v == Verdict::Reject) {
      d.mark = cfg_.egress.reject_mark;
      d.has_mark = true;
    }
    ctx.decide_flow(d);
  };
  auto error = [&] {
    // This packet only: the flow keeps what the stages before decided for it.
    Decision d = env_.default_decision();
    d.reason = "lua-error";
    ctx.decide_packet(d);
    return Next::Stop;
  };
  int64_t code = 0;
  if ((ctx.new_flow || (ctx.rejudge && judges_open_flows_)) && on_flow_ != kNoRef) {
    // What the configuration decided (the policy, or the default): the script
    // sees it and has the last word.
    call_.policy = ctx.decision;
    call_.has_policy = true;
    if (!run(Hook::Flow, on_flow_, &code)) return error();
    if (code > 0) decide(static_cast<Verdict>(code - 1));
    emit_alerts(ctx.flow, ctx.now, ctx.decision.verdict != Verdict::Accept);
    if (code > 0 && ctx.decision.verdict != Verdict::Accept) return Next::Stop;
  }
  if (on_packet_ != kNoRef && (ctx.flow.watch & kWatchLua) && !disabled_) {
    if (!run(Hook::Packet, on_packet_, &code)) return error();
    if (code > 0) decide(static_cast<Verdict>(code - 1));
    emit_alerts(ctx.flow, ctx.now, code > 0 && ctx.decision.verdict != Verdict::Accept);
    if (code > 0 && ctx.decision.verdict != Verdict::Accept) return Next::Stop;
  }
  return Next::Continue;
}

void LuaTriggers::on_flow_end(const Flow& flow, FlowEndReason reason, Timestamp now) {
  if (on_flow_end_ == kNoRef || disabled_) return;
  call_.ctx = nullptr;
  call_.flow = &flow;
  call_.reason = reason;
  call_.now = now;
  int64_t code = 0;
  if (run(Hook::FlowEnd, on_flow_end_, &code)) emit_alerts(flow, now, false);
}

DnsHookAction LuaTriggers::on_dns_answer(const DnsAnswerInfo& answer) {
  if (on_dns_ == kNoRef || disabled_) return DnsHookAction::Pass;
  call_.ctx = &answer.ctx;
  call_.flow = &answer.ctx.flow;
  call_.now = answer.ctx.now;
  call_.dns = &answer;
  int64_t code = 0;
  if (!run(Hook::Dns, on_dns_, &code)) return DnsHookAction::Error;
  DnsHookAction action = code == kDnsDrop    ? DnsHookAction::Drop
                         : code == kDnsBlock ? DnsHookAction::Block
                                             : DnsHookAction::Pass;
  if (action != DnsHookAction::Pass) env_.counters().lua_verdicts.add();
  emit_alerts(answer.ctx.flow, answer.ctx.now, action != DnsHookAction::Pass);
  return action;
}

}  // namespace tripline
