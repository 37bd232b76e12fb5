// The DNS observer stage: watches queries from clients to the configured
// resolvers and the resolvers' answers (UDP and TCP), and opens the answered
// addresses in the shared DNS cache before the answer itself is released.
// Only an answer that matches an outstanding query (transaction id, ports,
// addresses, every question's name and type) opens anything; a blocked name's
// answer is rewritten (null / NXDOMAIN) or dropped and opens nothing, in every
// [egress] mode. An answer that is unmatched (unsolicited, duplicate, late) or
// malformed opens nothing, and only `enforce` drops it: `monitor` passes it and
// says enforce would have dropped it, `off` only observes. A trusted answer
// is shown to the worker's DNS hook (a script's on_dns, stage/dns_answer_hook.h)
// before the cache is written; the hook may drop it or have it blocked.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "dns_message.h"
#include "eve_facts.h"
#include "fragment_reassembler.h"
#include "host_table.h"
#include "stage.h"
#include "stage_env.h"

namespace tripline {

class DnsAnswerHook;
class DnsCache;
class NameRuleChain;
enum class DnsHookAction : uint8_t;

// Shared, read-only (name rules) or internally synchronised (cache) services.
struct DnsServices {
  DnsCache* cache = nullptr;
  // The answer name policy (chain "dns": allow/block rules over the answer's
  // names, see dns_name_rules.h); null: no name is ever blocked.
  const NameRuleChain* names = nullptr;
  // Who a querying client is (host or address, see host_table.h); null: its address.
  const HostTable* hosts = nullptr;
};

class DnsObserver final : public Stage {
 public:
  DnsObserver(const Config& cfg, DnsServices services, StageEnv& env);
  ~DnsObserver() override;
  // Reload: takes over what the observer this one replaces was tracking
  // (outstanding queries, TCP streams, fragments), so an answer to a query
  // asked before the reload is still matched. Same worker thread.
  void adopt_state(DnsObserver& old);

  std::string_view name() const override { return "dns"; }
  bool likes(const PacketContext& ctx) const override;
  Next inspect(PacketContext& ctx) override;
  // Non-first fragments sent by a resolver (the flow's resolver side, or any
  // port of a resolver's address while the flow is not known yet).
  bool likes_fragment(const FragmentContext& ctx) const override;
  void inspect_fragment(FragmentContext& ctx) override;
  void on_flow_end(const Flow& flow, FlowEndReason reason, Timestamp now) override;

  // True when addr:port is a configured resolver.
  bool is_resolver(const IpAddr& addr, uint16_t port) const;

 private:
  // The question is part of the key: a client may have several queries out
  // with one id on one port (e.g. A and AAAA), each answered separately.
  struct QueryKey {
    IpAddr client, resolver;
    uint64_t qname_hash = 0;
    uint16_t client_port = 0, resolver_port = 0, id = 0, qtype = 0;
    uint8_t proto = 0;
    friend bool operator==(const QueryKey&, const QueryKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const QueryKey& k) {
      return H::combine(std::move(h), k.client, k.resolver, k.qname_hash, k.client_port,
                        k.resolver_port, k.id, k.qtype, k.proto);
    }
  };
  struct Query {
    Timestamp at = 0;
    // Kept after its answer (until a purge makes room) so that a second
    // answer is told apart as a duplicate.
    bool answered = false;
    ClientId client;  // who asked: the answer opens its addresses for this client
  };
  struct TcpStreams;

  // A fragment of a resolver's UDP datagram: held for reassembly; the one that
  // completes it carries the verdict of the whole answer (see dns_observer.cpp).
  void on_fragment(const Decoded& p, Flow* flow, Dir dir, Timestamp now, uint64_t frame,
                   Decision& decision);
  // Handles one complete DNS message seen in `ctx`'s packet.
  void on_message(PacketContext& ctx, std::span<const uint8_t> wire, bool from_resolver,
                  bool over_tcp);
  void on_query(PacketContext& ctx, bool over_tcp);
  void on_answer(PacketContext& ctx, std::span<const uint8_t> wire, bool over_tcp);
  // Runs the name rules over the answer's names (question and CNAME chain),
  // counts the matching rule; returns the list label ("blocklist:<file>")
  // when the answer is blocked, empty otherwise.
  std::string_view blocked_by(const ResolvedChain& chain);
  void block_answer(PacketContext& ctx, std::span<const uint8_t> wire, bool over_tcp,
                    std::string_view reason);
  // Drops an answer (a TCP one with its connection).
  void drop_answer(PacketContext& ctx, bool over_tcp, std::string_view reason);
  // Hands a trusted answer to the worker's DNS hook (a script's on_dns)
  // before anything is opened.
  DnsHookAction ask_hook(DnsAnswerHook& hook, PacketContext& ctx, const ClientId& client,
                         bool over_tcp, std::string_view blocked);
  // An answer enforce does not pass on (unmatched, malformed; `status` says
  // which): dropped in enforce, passed and reported as would-drop in monitor,
  // passed in off. Emits its event.
  void refuse_answer(PacketContext& ctx, bool over_tcp, std::string_view reason,
                     std::string_view status);
  // Whether a resolver's fragment that cannot be judged (bounds, invalid) may
  // be dropped: in enforce, or whenever a block list must see every answer.
  bool may_drop_unjudged() const;
  void emit_dns_event(const PacketContext& ctx, bool answer, std::string_view status,
                      bool would_drop = false);
  void purge_queries(Timestamp now);

  const Config& cfg_;
  DnsServices services_;
  StageEnv& env_;
  std::vector<Counter*> rule_counters_;  // rule.<name> of services_.names, by rule index
  bool has_block_rules_ = false;         // services_.names can block an answer
  absl::flat_hash_map<QueryKey, Query> queries_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<TcpStreams>> tcp_;  // by flow id
  DnsMessage msg_;                                                  // reused between messages
  ResolvedChain chain_;                                             // reused between answers
  std::vector<DnsAnswerFacts> answer_facts_;                        // reused between events
  std::vector<IpAddr> hook_addrs_;  // what an answer would open, for the DNS hook
  std::vector<uint8_t> rewrite_buf_;
  std::vector<uint8_t> packet_buf_;
  FragmentReassembler fragments_;
  uint64_t fragments_timed_out_ = 0;  // fragments_.stats().timed_out already counted
  bool reassembled_ = false;          // the message being judged came in fragments
  MacAddr client_host_;               // the host of the message being judged (events)
};

}  // namespace tripline
