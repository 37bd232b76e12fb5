// DNS messages as the DNS observer needs them: parse a wire message (ldns) into a
// plain struct, follow the CNAME chain from the question to the addresses it
// opens, reassemble DNS over TCP, and build the null/NXDOMAIN answers for blocked names.
#pragma once

#include <absl/functional/function_ref.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ip_address.h"

namespace tripline {

// RR types and classes the observer looks at (numeric values from RFC 1035/3596).
namespace dns_type {
constexpr uint16_t A = 1;
constexpr uint16_t NS = 2;
constexpr uint16_t CNAME = 5;
constexpr uint16_t SOA = 6;
constexpr uint16_t PTR = 12;
constexpr uint16_t MX = 15;
constexpr uint16_t TXT = 16;
constexpr uint16_t AAAA = 28;
constexpr uint16_t HTTPS = 65;
constexpr uint16_t ANY = 255;
}  // namespace dns_type
constexpr uint16_t kDnsClassIn = 1;
constexpr uint8_t kDnsRcodeNoError = 0;
constexpr uint8_t kDnsRcodeNxDomain = 3;

enum class DnsParseStatus : uint8_t {
  Ok,
  TooShort,    // fewer than 12 bytes: not even a header
  Oversize,    // more than 65535 bytes
  Malformed,   // ldns rejected the wire data (bad label, pointer, truncated RR, ...)
  NoQuestion,  // well-formed, but qdcount 0 (e.g. a header-only FORMERR): nothing to match
  BadRdata,    // an A/AAAA/CNAME answer with rdata of the wrong shape
};
const char* to_string(DnsParseStatus s);

struct DnsQuestion {
  std::string name;  // lowercased, no trailing dot; the root is "."
  uint16_t qtype = 0;
  uint16_t qclass = 0;
};

struct DnsAnswer {
  std::string owner;  // lowercased, no trailing dot
  uint16_t type = 0;
  uint16_t rclass = 0;
  uint32_t ttl = 0;
  IpAddr addr;         // A / AAAA; family 0 otherwise
  std::string target;  // CNAME target (lowercased, no trailing dot); empty otherwise
};

struct DnsMessage {
  uint16_t id = 0;
  bool qr = false;  // true: response
  uint8_t opcode = 0;
  uint8_t rcode = 0;  // the 4 header bits (no EDNS extension)
  bool tc = false;
  bool aa = false;
  bool rd = false;
  bool ra = false;
  uint16_t qdcount = 0;  // the header's section counts, as sent
  uint16_t ancount = 0;
  DnsQuestion question;                     // the first question
  std::vector<DnsQuestion> more_questions;  // the others, when qdcount > 1 (rare)
  std::vector<DnsAnswer> answers;           // every RR of the answer section, in wire order
  // clear() keeps the answers' strings here (with their buffers) for the next
  // parse to reuse: a message parsed into the same DnsMessage allocates no name
  // a previous one already had room for.
  std::vector<DnsAnswer> spare_answers;
  void clear();
  DnsAnswer& add_answer();  // a cleared answer at the end of `answers`, recycled when possible
  void recycle_answers();   // empties `answers` into `spare_answers` (at most 64 kept)
};

// Parses one DNS message (a UDP payload, or one TCP message without its 2-byte
// length) with ldns, RR by RR (ldns_wire2rr; see the .cpp for why not
// ldns_wire2pkt). All four sections are validated; authority and additional are
// not kept. Every RR must end exactly where its RDLENGTH says; an A/AAAA/CNAME
// (class IN) whose rdata is not exactly one address/name is BadRdata. On anything
// but Ok, `out` keeps the header fields (id, flags, rcode, counts), no question, no
// answers; NoQuestion is such a well-formed message without a question section. Every
// question is kept (`question`, then `more_questions`); names may point anywhere in
// the message, forward too (ldns follows them, bounded).
// Names are converted from ldns's uncompressed form to presentation text: ASCII
// lowercased, bytes outside [!-~] and the specials .;()\" escaped as \DDD / \c.
DnsParseStatus parse_dns_message(std::span<const uint8_t> wire, DnsMessage& out);

enum class DnsChainStatus : uint8_t {
  Ok,
  Loop,     // a CNAME pointed back at a name already on the chain; following stopped there
  TooLong,  // more than kMaxDnsChain names; following stopped at the bound
};
const char* to_string(DnsChainStatus s);
constexpr size_t kMaxDnsChain = 16;  // names on a chain, the qname included

struct ResolvedAddress {
  IpAddr addr;
  uint16_t type = 0;      // dns_type::A or AAAA
  uint32_t ttl = 0;       // min over the CNAMEs leading to it and its own A/AAAA TTL
  uint8_t chain_len = 0;  // its chain is names[0, chain_len): qname ... owner
};

struct ResolvedChain {
  DnsChainStatus status = DnsChainStatus::Ok;
  std::vector<std::string> names;  // qname first, then each CNAME target followed
  std::vector<ResolvedAddress> addrs;
  std::span<const std::string> chain_of(const ResolvedAddress& a) const {
    return std::span<const std::string>(names).first(a.chain_len);
  }
};

// Follows CNAMEs (class IN) from the question name through the answer section and
// collects every A/AAAA (class IN) owned by a name on that chain. Records owned by
// names off the chain are ignored (a poisoning trick). When a name has several
// CNAMEs (invalid), the first in wire order is followed. On Loop/TooLong the
// addresses found up to the stop are still returned. Looks at neither qr nor rcode.
ResolvedChain resolve_chain(const DnsMessage& msg);
void resolve_chain(const DnsMessage& msg, ResolvedChain& out);  // reuses out's buffers

// Reassembles DNS over TCP for one direction of one connection: in-order payload
// bytes go in, complete messages (without the 2-byte length) come out. Holds at
// most one partial message (<= 65537 bytes, grown only as needed). The first
// segment fed (or start()) fixes the sequence number. A gap (bytes missing) or a
// length prefix over the limit (or zero) discards the partial message, counts it,
// and resynchronises: the next segment's first byte is taken as a length prefix.
class DnsTcpStream {
 public:
  enum class Feed : uint8_t { Ok, Duplicate, Gap, Oversize };
  struct Stats {
    uint64_t messages = 0;
    uint64_t gaps = 0;
    uint64_t oversize = 0;
    uint64_t duplicates = 0;  // segments entirely before the expected sequence
  };

  explicit DnsTcpStream(size_t max_message = 65535) : max_message_(max_message) {}

  // Expects the next byte at seq (e.g. the SYN's seq + 1). Drops any partial message.
  void start(uint32_t seq);
  // Feeds one segment's payload starting at sequence number seq. Each complete
  // message is passed to on_message; the span is valid only during the call
  // (it points into `payload` or into the stream's own buffer).
  Feed feed(uint32_t seq, std::span<const uint8_t> payload,
            absl::FunctionRef<void(std::span<const uint8_t>)> on_message);
  // Forgets the partial message and the sequence number.
  void reset();

  const Stats& stats() const { return stats_; }
  size_t buffered() const { return buf_.size(); }

 private:
  void consume(std::span<const uint8_t> data,
               absl::FunctionRef<void(std::span<const uint8_t>)> on_message, Feed& result);

  size_t max_message_;
  bool synced_ = false;
  uint32_t next_seq_ = 0;
  std::vector<uint8_t> buf_;  // partial message, length prefix included
  Stats stats_;
};

enum class DnsRewriteStatus : uint8_t { Ok, BadMessage, NotResponse, BufferTooSmall, BuildFailed };
const char* to_string(DnsRewriteStatus s);

struct DnsRewriteResult {
  DnsRewriteStatus status = DnsRewriteStatus::BadMessage;
  size_t length = 0;  // bytes written to out on Ok
};

// For a blocked name: from the original response, builds one with the same id,
// opcode, AA/RD/RA/CD flags, question (its case kept) and EDNS (payload size,
// version, DO; options dropped), rcode NOERROR, no authority/additional, and a
// single answer "qname A 0.0.0.0" (qtype A) or "qname AAAA ::" (qtype AAAA) with
// the given TTL; other qtypes get no answer (NODATA). AD and TC are cleared.
// BufferTooSmall reports the needed size in `length`.
DnsRewriteResult rewrite_answer_null(std::span<const uint8_t> original, std::span<uint8_t> out,
                                     uint32_t ttl = 60);
// Same, but rcode NXDOMAIN and no answers.
DnsRewriteResult make_nxdomain(std::span<const uint8_t> original, std::span<uint8_t> out);

}  // namespace tripline
