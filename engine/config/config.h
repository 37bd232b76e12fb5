// tripline's configuration: parsed once from TOML into an immutable object that
// workers share read-only. Errors name the file, line and key.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cidr_set.h"
#include "rule_config.h"
#include "timestamp.h"
#include "verdict.h"

namespace tripline {

// Where each key read from the file was: "section.key" -> line.
using KeyLines = std::map<std::string, uint32_t, std::less<>>;

// The least copy_range that holds the headers tripline parses: an IPv6 header
// (40) with an extension header and a TCP header with all its options (60).
inline constexpr uint32_t kMinCopyRange = 128;
// The least copy_range with DNS observation on: a DNS answer cut short opens
// nothing, and answers over UDP are commonly up to 4096 bytes (EDNS).
inline constexpr uint32_t kMinCopyRangeDns = 4096;
// Flows per worker at most ([flows] capacity).
inline constexpr uint32_t kMaxFlowCapacity = 1u << 24;

// Where the packet counter of the queue rule is read from (packets that
// crossed uninspected): "auto" tries the nft table inet tripline, then the
// iptables chain TRIPLINE (contrib/).
enum class RuleCounter : uint8_t { Auto, Iptables, Nft, Off };

struct QueueConfig {
  uint16_t first = 0;            // first NFQUEUE number
  uint16_t count = 1;            // queues first .. first+count-1, one worker each
  bool fail_open = true;         // NFQA_CFG_F_FAIL_OPEN: accept when the queue is full
  uint32_t copy_range = 0xffff;  // bytes of each packet copied to us (0 = all)
  bool gso = true;               // NFQA_CFG_F_GSO: take GSO packets unsegmented
  uint32_t max_len = 4096;       // kernel queue length (packets)
  uint32_t rcvbuf = 8u << 20;    // netlink socket receive buffer, bytes
  uint32_t batch = 64;           // datagrams per recvmmsg
  Verdict default_verdict = Verdict::Accept;
  RuleCounter rule_counter = RuleCounter::Auto;
};

struct NetworkConfig {
  CidrSet inside;  // the local side; defaults: RFC 1918, 100.64/10, fd00::/8, fe80::/10
};

struct FlowConfig {
  Timestamp tcp_new = seconds(30);  // handshake not complete
  Timestamp tcp_established = seconds(3600);
  Timestamp tcp_closing = seconds(120);  // FIN seen in one direction
  Timestamp tcp_closed = seconds(10);    // after FIN both ways or RST: linger for stragglers
  Timestamp udp = seconds(60);
  Timestamp icmp = seconds(30);
  Timestamp other = seconds(60);
  Timestamp offloaded =
      seconds(432000);        // [offload] timeout: an offloaded flow the kernel never ended
  uint32_t capacity = 65536;  // flows per worker; the stalest is evicted beyond
  uint32_t fragments = 4096;  // fragment-id entries per worker
};

inline constexpr const char* kDefaultEventsPath = "/var/log/tripline/eve.json";

struct LogConfig {
  std::string events = kDefaultEventsPath;  // JSON lines path; "" = none, "-" = stdout
  bool events_default = true;               // no [log] events key: `replay` then writes none
  uint32_t queue_events = 65536;  // writer queue bound (lines); overflow is counted and dropped
  uint32_t queue_mb = 64;         // writer queue bound (MiB of queued lines)
  uint32_t stats_interval = 0;    // seconds between EVE `stats` events; 0 = none

  // Suricata's layout of `dns` events: 3 (Suricata 8) or 2 (Suricata 6/7,
  // "type": "answer"; what fever and other older consumers read).
  uint8_t dns_version = 3;

  // Where `replay` writes events: `cli_events` (--events) if given, else an
  // explicit [log] events, else nowhere: the built-in default is the live
  // daemon's log, and a test run must not append to it.
  std::string replay_events(const std::string& cli_events) const {
    if (!cli_events.empty()) return cli_events;
    return events_default ? std::string() : events;
  }
};

// A resolver tripline trusts: answers from it may open addresses.
struct ResolverAddr {
  IpAddr addr;
  uint16_t port = 53;
  friend bool operator==(const ResolverAddr&, const ResolverAddr&) = default;
};

enum class DnsScope : uint8_t { Client, Global };
// Who "the client" is in client scope: a host (its IPv4 and IPv6 addresses,
// by link-layer address where the gateway sees one) or each address alone.
enum class ClientIdentity : uint8_t { Host, Address };
enum class BlockMode : uint8_t { Null, Nxdomain, Drop };

struct DnsConfig {
  std::vector<ResolverAddr> resolvers;  // "10.0.0.53", "10.0.0.53:5353", "[fd00::53]:53"
  DnsScope scope = DnsScope::Client;    // client: only the client that resolved may connect
  ClientIdentity client_identity = ClientIdentity::Host;
  uint32_t min_ttl = 60;  // clamp of answer TTLs, seconds
  uint32_t max_ttl = 86400;
  uint32_t grace = 30;            // seconds an expired address stays open
  uint32_t max_entries = 262144;  // cache bound; the soonest-expiring go first
  uint32_t max_addrs_per_name = 64;
  uint32_t max_outstanding = 4096;  // unanswered queries remembered per worker
  Timestamp query_timeout = seconds(10);
  std::string state_file;                // cache survives restarts here ("" = not saved)
  uint32_t save_interval = 60;           // seconds between periodic saves
  std::vector<std::string> block_lists;  // files: hosts, one name per line, ||name^
  std::vector<std::string> allow_lists;
  BlockMode block_mode = BlockMode::Null;
};

enum class EgressMode : uint8_t { Off, Monitor, Enforce };

struct EgressConfig {
  EgressMode mode = EgressMode::Off;
  Verdict action = Verdict::Reject;  // Reject (fail fast) or Drop for blocked new outbound flows
  CidrSet allow;                     // always open
  uint32_t reject_mark = 0x7470;     // packet mark the contrib rules turn into REJECT
};

// The file format of recordings: pcapng (comments, names, interfaces) or classic pcap.
enum class CaptureFormat : uint8_t { Pcapng, Pcap };

// Conditional capture: trigger-started pcap recordings (engine/capture/capture_writer.h).
struct CaptureConfig {
  CaptureFormat format = CaptureFormat::Pcapng;  // [capture] format = "pcapng" | "pcap"
  std::string dir;                 // where files go; created if missing; "" = no capture
  uint32_t ring_bytes = 4u << 20;  // per-worker ring, rounded down to a power of two
  uint32_t snaplen = 65535;        // bytes kept per packet
  uint32_t max_files = 100;        // like tcpdump -W: beyond it the oldest closed file is deleted
  uint32_t max_sessions = 16;      // active sessions per worker
  uint32_t pre_packets = 32;       // packets kept per worker before a trigger (0 = none)
  Timestamp default_duration = seconds(60);
  uint64_t default_max_packets = 10000;
  uint64_t default_max_bytes = 10u << 20;
};

// Trigger scripts (lua/API.md). Each worker runs its own sandboxed copy.
struct LuaConfig {
  std::string script;                     // path; "" = no triggers
  uint32_t budget = 20000;                // VM instructions per call (about 0.1 ms)
  uint32_t max_call_ms = 50;              // wall clock per call; a watchdog interrupts overruns
  uint32_t memory_mb = 32;                // per worker
  uint32_t max_consecutive_errors = 100;  // then the worker stops calling the script
  // The store shared by all workers (tripline.incr/get/set/del): its bound.
  uint32_t shared_entries = 65536;
};

// The Prometheus endpoint (app/metrics_exporter.h).
struct MetricsConfig {
  std::string listen = "127.0.0.1:9740";  // "ADDRESS:PORT", "[IPV6]:PORT"; "" = off
};
// An address and port to listen on, as [metrics] listen writes it: an IPv4
// address or an IPv6 address in brackets, a colon and a port 1..65535.
struct ListenAddress {
  std::string host;  // the address without brackets
  bool ipv6 = false;
  uint16_t port = 0;
};
std::optional<ListenAddress> parse_listen_address(std::string_view text);

// Client names ([clients]): DHCP lease files read for host names.
struct ClientsConfig {
  std::vector<std::string> leases;  // dnsmasq, ISC dhcpd or Kea lease files
  uint32_t reload_check_ms = 2000;  // how often the files are checked for changes
};

// Offload: decided flows are handed to the kernel by a conntrack mark
// (engine/conntrack/README.md); the contrib rules accept or drop marked
// connections before the queue rule.
struct OffloadConfig {
  bool enabled = false;             // needs the fast-path rules (contrib/) and ctnetlink
  uint32_t after_packets = 2;       // packets seen each way (a drop: from the client) first
  uint32_t mark = 0x10000000;       // conntrack mark of offloaded accepted connections
  uint32_t drop_mark = 0x20000000;  // ... of offloaded dropped connections
  uint32_t mask = 0x30000000;       // the conntrack mark bits tripline owns
  bool adopt = true;                // accept connections conntrack had before the start ("adopted")
};

// [control]: the control socket `tripline ctl` talks to.
inline constexpr const char* kDefaultControlSocket = "/run/tripline/control.sock";
struct ControlConfig {
  std::string socket = kDefaultControlSocket;  // "" = no control socket
  bool socket_default = true;  // no [control] socket key: a missing folder turns it off (warning)
  std::string group;           // may connect besides root and the daemon's user ("" = none)
  uint32_t max_clients = 16;   // connections served at once; more are refused
  uint32_t timeout_ms = 2000;  // a connection must send its request and take its answer in this
};

struct Config {
  QueueConfig queue;
  NetworkConfig network;
  FlowConfig flows;
  LogConfig log;
  DnsConfig dns;
  EgressConfig egress;
  LuaConfig lua;
  CaptureConfig capture;
  MetricsConfig metrics;
  ClientsConfig clients;
  OffloadConfig offload;
  ControlConfig control;
  std::vector<ZoneConfig> zones;  // [zones.NAME], by name
  std::vector<RuleConfig> rules;  // [[rule]], in file order; run before the egress chain
  std::string source = "<built-in defaults>";  // file it came from
  KeyLines key_lines;                          // where each key set in the file was

  // "file:line: key" for a key set in the file, "file: key" otherwise: the
  // start of an error message about that key's value.
  std::string where(std::string_view key) const;

  static Config defaults();
  // Parses a TOML file; throws ConfigError.
  static Config load_file(const std::string& path);
  // Parses TOML text; `name` is used in error messages.
  static Config load_string(std::string_view text, const std::string& name);
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;  // message: "file:line: key: what"
};

}  // namespace tripline
