#include "dns_message.h"

#include <ldns/ldns.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

namespace tripline {
namespace {

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;
struct RrDeleter {
  void operator()(ldns_rr* r) const { ldns_rr_free(r); }
};
using RrPtr = std::unique_ptr<ldns_rr, RrDeleter>;

uint16_t read16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Where the name at `pos` ends: after its root label or after its first
// compression pointer; 0 when a label runs past `max` or has a length ldns
// rejects (64..191). Only frames the record: ldns reads the name itself.
size_t name_end(const uint8_t* data, size_t max, size_t pos) {
  while (pos < max) {
    uint8_t len = data[pos];
    if (len == 0) return pos + 1;
    if ((len & 0xc0) == 0xc0) return pos + 2 <= max ? pos + 2 : 0;
    if (len > 63) return 0;
    pos += 1 + size_t{len};
  }
  return 0;
}

// Walks every RR of the four sections with ldns_wire2rr, calling
// f(section, RrPtr& rr, bool exact) for each (f may take the rr; returning false
// stops the walk). Not ldns_wire2pkt: it leaks an RR for every TSIG after the
// first (remote memory exhaustion). Each non-question RR is framed by its own
// RDLENGTH, as clients frame it: `exact` says whether ldns consumed exactly that
// many rdata bytes (it silently leaves trailing bytes, which would misalign the
// next RR); rdata that ran past its RDLENGTH is malformed.
template <typename F>
bool walk_rrs(std::span<const uint8_t> wire, F&& f) {
  const uint8_t* data = wire.data();
  size_t max = wire.size();
  if (max < LDNS_HEADER_SIZE) return false;
  const uint16_t counts[4] = {read16(data + 4), read16(data + 6), read16(data + 8),
                              read16(data + 10)};
  static constexpr ldns_pkt_section kSections[4] = {
      LDNS_SECTION_QUESTION, LDNS_SECTION_ANSWER, LDNS_SECTION_AUTHORITY, LDNS_SECTION_ADDITIONAL};
  size_t pos = LDNS_HEADER_SIZE;
  for (int s = 0; s < 4; ++s) {
    for (uint32_t i = 0; i < counts[s]; ++i) {
      size_t end = 0;
      if (s > 0) {
        size_t after_owner = name_end(data, max, pos);
        if (after_owner == 0 || after_owner + 10 > max) return false;
        end = after_owner + 10 + read16(data + after_owner + 8);
        if (end > max) return false;
      }
      ldns_rr* raw = nullptr;
      if (ldns_wire2rr(&raw, data, max, &pos, kSections[s]) != LDNS_STATUS_OK) {
        if (raw != nullptr) ldns_rr_free(raw);
        return false;
      }
      RrPtr rr(raw);
      bool exact = true;
      if (s > 0) {
        if (pos > end) return false;
        exact = pos == end;
        pos = end;
      }
      if (!f(s, rr, exact)) return true;
    }
  }
  return true;
}

// Appends the presentation form of an uncompressed wire dname (as ldns hands it
// out after decompression): lowercase, no trailing dot, "." for the root.
// Returns false if the rdf is not a well-formed dname.
bool append_name(std::string& out, const ldns_rdf* rdf) {
  if (rdf == nullptr) return false;
  const uint8_t* d = ldns_rdf_data(rdf);
  size_t n = ldns_rdf_size(rdf);
  if (d == nullptr || n == 0 || n > LDNS_MAX_DOMAINLEN) return false;
  // Written here first, appended once: at most 4 characters a byte (\DDD).
  char text[4 * LDNS_MAX_DOMAINLEN];
  size_t t = 0;
  size_t pos = 0;
  bool first = true;
  while (pos < n) {
    uint8_t len = d[pos++];
    if (len == 0) {
      if (first) text[t++] = '.';
      out.append(text, t);
      return true;
    }
    if (len > 63 || pos + len > n) return false;
    if (!first) text[t++] = '.';
    first = false;
    for (size_t i = 0; i < len; ++i) {
      uint8_t c = d[pos + i];
      if (c >= 'A' && c <= 'Z') {
        text[t++] = static_cast<char>(c - 'A' + 'a');
      } else if (c == '.' || c == ';' || c == '(' || c == ')' || c == '\\') {
        text[t++] = '\\';
        text[t++] = static_cast<char>(c);
      } else if (c <= 0x20 || c >= 0x7f) {
        text[t++] = '\\';
        text[t++] = static_cast<char>('0' + c / 100);
        text[t++] = static_cast<char>('0' + c / 10 % 10);
        text[t++] = static_cast<char>('0' + c % 10);
      } else {
        text[t++] = static_cast<char>(c);
      }
    }
    pos += len;
  }
  return false;  // no terminating root label
}

void read_header(std::span<const uint8_t> wire, DnsMessage& out) {
  out.id = static_cast<uint16_t>(wire[0] << 8 | wire[1]);
  out.qr = wire[2] & 0x80;
  out.opcode = (wire[2] >> 3) & 0x0f;
  out.aa = wire[2] & 0x04;
  out.tc = wire[2] & 0x02;
  out.rd = wire[2] & 0x01;
  out.ra = wire[3] & 0x80;
  out.rcode = wire[3] & 0x0f;
  out.qdcount = read16(wire.data() + 4);
  out.ancount = read16(wire.data() + 6);
}

bool extract_rdata(const ldns_rr* rr, bool exact, DnsAnswer& a) {
  if (a.rclass != kDnsClassIn) return true;  // other classes: rdata not interpreted
  if (a.type != dns_type::A && a.type != dns_type::AAAA && a.type != dns_type::CNAME) return true;
  if (!exact || ldns_rr_rd_count(rr) != 1) return false;
  const ldns_rdf* rdf = ldns_rr_rdf(rr, 0);
  if (rdf == nullptr) return false;
  if (a.type == dns_type::A) {
    if (ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_A || ldns_rdf_size(rdf) != 4) return false;
    a.addr = IpAddr::v4(ldns_rdf_data(rdf));
  } else if (a.type == dns_type::AAAA) {
    if (ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_AAAA || ldns_rdf_size(rdf) != 16) return false;
    a.addr = IpAddr::v6(ldns_rdf_data(rdf));
  } else {
    if (ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME) return false;
    if (!append_name(a.target, rdf)) return false;
  }
  return true;
}

}  // namespace

const char* to_string(DnsParseStatus s) {
  switch (s) {
    case DnsParseStatus::Ok:
      return "ok";
    case DnsParseStatus::TooShort:
      return "too-short";
    case DnsParseStatus::Oversize:
      return "oversize";
    case DnsParseStatus::Malformed:
      return "malformed";
    case DnsParseStatus::NoQuestion:
      return "no-question";
    case DnsParseStatus::BadRdata:
      return "bad-rdata";
  }
  return "?";
}

const char* to_string(DnsChainStatus s) {
  switch (s) {
    case DnsChainStatus::Ok:
      return "ok";
    case DnsChainStatus::Loop:
      return "loop";
    case DnsChainStatus::TooLong:
      return "too-long";
  }
  return "?";
}

const char* to_string(DnsRewriteStatus s) {
  switch (s) {
    case DnsRewriteStatus::Ok:
      return "ok";
    case DnsRewriteStatus::BadMessage:
      return "bad-message";
    case DnsRewriteStatus::NotResponse:
      return "not-response";
    case DnsRewriteStatus::BufferTooSmall:
      return "buffer-too-small";
    case DnsRewriteStatus::BuildFailed:
      return "build-failed";
  }
  return "?";
}

void DnsMessage::clear() {
  id = 0;
  qr = false;
  opcode = rcode = 0;
  tc = aa = rd = ra = false;
  qdcount = ancount = 0;
  question.name.clear();
  question.qtype = question.qclass = 0;
  more_questions.clear();
  recycle_answers();
}

void DnsMessage::recycle_answers() {
  constexpr size_t kMaxSpare = 64;  // a huge answer's records are not all kept
  for (DnsAnswer& a : answers) {
    if (spare_answers.size() >= kMaxSpare) break;
    spare_answers.push_back(std::move(a));
  }
  answers.clear();
}

DnsAnswer& DnsMessage::add_answer() {
  if (spare_answers.empty()) return answers.emplace_back();
  DnsAnswer& a = answers.emplace_back(std::move(spare_answers.back()));
  spare_answers.pop_back();
  a.owner.clear();
  a.target.clear();
  a.type = a.rclass = 0;
  a.ttl = 0;
  a.addr = IpAddr{};
  return a;
}

DnsParseStatus parse_dns_message(std::span<const uint8_t> wire, DnsMessage& out) {
  out.clear();
  if (wire.size() < LDNS_HEADER_SIZE) return DnsParseStatus::TooShort;
  if (wire.size() > 65535) return DnsParseStatus::Oversize;
  read_header(wire, out);
  DnsParseStatus status = DnsParseStatus::Ok;
  bool first_question = true;
  bool ok = walk_rrs(wire, [&](int section, RrPtr& rr, bool exact) {
    if (section == 0) {
      DnsQuestion& q = first_question ? out.question : out.more_questions.emplace_back();
      first_question = false;
      if (!append_name(q.name, ldns_rr_owner(rr.get()))) {
        status = DnsParseStatus::Malformed;
        return false;
      }
      q.qtype = static_cast<uint16_t>(ldns_rr_get_type(rr.get()));
      q.qclass = static_cast<uint16_t>(ldns_rr_get_class(rr.get()));
      return true;
    }
    if (section != 1) return true;  // authority/additional: validated, not kept
    DnsAnswer& a = out.add_answer();
    a.type = static_cast<uint16_t>(ldns_rr_get_type(rr.get()));
    a.rclass = static_cast<uint16_t>(ldns_rr_get_class(rr.get()));
    a.ttl = ldns_rr_ttl(rr.get());
    if (!append_name(a.owner, ldns_rr_owner(rr.get()))) {
      status = DnsParseStatus::Malformed;
      return false;
    }
    if (!extract_rdata(rr.get(), exact, a)) {
      status = DnsParseStatus::BadRdata;
      return false;
    }
    return true;
  });
  if (!ok) status = DnsParseStatus::Malformed;
  if (status == DnsParseStatus::Ok && out.qdcount == 0) status = DnsParseStatus::NoQuestion;
  if (status != DnsParseStatus::Ok) {
    out.question = DnsQuestion{};
    out.more_questions.clear();
    out.recycle_answers();
  }
  return status;
}

void resolve_chain(const DnsMessage& msg, ResolvedChain& out) {
  out.status = DnsChainStatus::Ok;
  out.addrs.clear();
  // The names are assigned over the previous chain's strings (their buffers
  // reused); `n` of them are this chain's, the rest go at the end.
  size_t n = 0;
  auto push = [&](const std::string& name) {
    if (n < out.names.size())
      out.names[n].assign(name);
    else
      out.names.push_back(name);
    ++n;
  };
  auto finish = [&] { out.names.resize(n); };
  if (msg.question.name.empty()) return finish();
  push(msg.question.name);
  uint32_t chain_ttl = std::numeric_limits<uint32_t>::max();
  for (;;) {
    const std::string& current = out.names[n - 1];
    auto depth = static_cast<uint8_t>(n);
    const DnsAnswer* cname = nullptr;
    for (const DnsAnswer& a : msg.answers) {
      if (a.rclass != kDnsClassIn || a.owner != current) continue;
      if (a.type == dns_type::A || a.type == dns_type::AAAA) {
        out.addrs.push_back({a.addr, a.type, std::min(chain_ttl, a.ttl), depth});
      } else if (a.type == dns_type::CNAME && cname == nullptr) {
        cname = &a;
      }
    }
    if (cname == nullptr) return finish();
    if (std::find(out.names.begin(), out.names.begin() + static_cast<ptrdiff_t>(n),
                  cname->target) != out.names.begin() + static_cast<ptrdiff_t>(n)) {
      out.status = DnsChainStatus::Loop;
      return finish();
    }
    if (n >= kMaxDnsChain) {
      out.status = DnsChainStatus::TooLong;
      return finish();
    }
    chain_ttl = std::min(chain_ttl, cname->ttl);
    push(cname->target);  // may reallocate `names`: `current` is not used after this
  }
}

ResolvedChain resolve_chain(const DnsMessage& msg) {
  ResolvedChain c;
  resolve_chain(msg, c);
  return c;
}

// ---- DNS over TCP ----

void DnsTcpStream::start(uint32_t seq) {
  buf_.clear();
  synced_ = true;
  next_seq_ = seq;
}

void DnsTcpStream::reset() {
  buf_.clear();
  synced_ = false;
}

DnsTcpStream::Feed DnsTcpStream::feed(
    uint32_t seq, std::span<const uint8_t> payload,
    absl::FunctionRef<void(std::span<const uint8_t>)> on_message) {
  Feed result = Feed::Ok;
  if (!synced_) {
    synced_ = true;
    next_seq_ = seq;
  }
  // Serial-number arithmetic: the signed distance of seq from the expected one.
  auto ahead = static_cast<int32_t>(seq - next_seq_);
  if (ahead > 0) {
    ++stats_.gaps;
    buf_.clear();
    result = Feed::Gap;
  } else if (ahead < 0) {
    auto behind = static_cast<uint32_t>(next_seq_ - seq);
    if (behind >= payload.size()) {
      if (!payload.empty()) ++stats_.duplicates;
      return Feed::Duplicate;
    }
    payload = payload.subspan(behind);  // retransmission overlapping new data
    seq = next_seq_;
  }
  next_seq_ = seq + static_cast<uint32_t>(payload.size());
  consume(payload, on_message, result);
  return result;
}

void DnsTcpStream::consume(std::span<const uint8_t> data,
                           absl::FunctionRef<void(std::span<const uint8_t>)> on_message,
                           Feed& result) {
  auto bad_length = [&](size_t len) {
    if (len != 0 && len <= max_message_) return false;
    ++stats_.oversize;
    buf_.clear();
    result = Feed::Oversize;
    return true;
  };
  while (!data.empty()) {
    if (buf_.empty() && data.size() >= 2) {
      size_t len = static_cast<size_t>(data[0]) << 8 | data[1];
      if (bad_length(len)) return;   // the rest of this segment cannot be framed
      if (data.size() >= 2 + len) {  // whole message in the segment: no copy
        ++stats_.messages;
        on_message(data.subspan(2, len));
        data = data.subspan(2 + len);
        continue;
      }
    }
    if (buf_.size() < 2) {
      size_t take = std::min<size_t>(2 - buf_.size(), data.size());
      buf_.insert(buf_.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(take));
      data = data.subspan(take);
      if (buf_.size() < 2) return;
      if (bad_length(static_cast<size_t>(buf_[0]) << 8 | buf_[1])) return;
    }
    size_t want = 2 + (static_cast<size_t>(buf_[0]) << 8 | buf_[1]);
    size_t take = std::min(want - buf_.size(), data.size());
    buf_.insert(buf_.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(take));
    data = data.subspan(take);
    if (buf_.size() == want) {
      ++stats_.messages;
      on_message(std::span<const uint8_t>(buf_).subspan(2));
      buf_.clear();
    }
  }
}

// ---- answers for blocked names ----

namespace {

DnsRewriteResult rewrite(std::span<const uint8_t> original, std::span<uint8_t> out, bool nxdomain,
                         uint32_t ttl) {
  DnsRewriteResult r;
  if (original.size() < LDNS_HEADER_SIZE || original.size() > 65535) return r;
  if (read16(original.data() + 4) != 1) return r;
  RrPtr question;
  RrPtr opt;
  if (!walk_rrs(original,
                [&](int section, RrPtr& rr, bool) {
                  if (section == 0) question = std::move(rr);
                  if (section == 3 && !opt && ldns_rr_get_type(rr.get()) == LDNS_RR_TYPE_OPT)
                    opt = std::move(rr);
                  return true;
                }) ||
      !question) {
    return r;
  }
  DnsMessage header;
  read_header(original, header);
  if (!header.qr) {
    r.status = DnsRewriteStatus::NotResponse;
    return r;
  }
  r.status = DnsRewriteStatus::BuildFailed;
  PktPtr pkt(ldns_pkt_new());
  if (!pkt) return r;
  ldns_pkt* p = pkt.get();
  ldns_pkt_set_id(p, header.id);
  ldns_pkt_set_qr(p, true);
  ldns_pkt_set_opcode(p, static_cast<ldns_pkt_opcode>(header.opcode));
  ldns_pkt_set_aa(p, header.aa);
  ldns_pkt_set_rd(p, header.rd);
  ldns_pkt_set_ra(p, header.ra);
  ldns_pkt_set_cd(p, original[3] & 0x10);
  ldns_pkt_set_rcode(p, nxdomain ? kDnsRcodeNxDomain : kDnsRcodeNoError);
  if (opt) {  // echo EDNS: payload size, version and the DO bit; no options
    ldns_pkt_set_edns_udp_size(p, static_cast<uint16_t>(ldns_rr_get_class(opt.get())));
    ldns_pkt_set_edns_version(p, static_cast<uint8_t>(ldns_rr_ttl(opt.get()) >> 16));
    ldns_pkt_set_edns_z(p, static_cast<uint16_t>(ldns_rr_ttl(opt.get()) & 0x8000));
  }
  ldns_rr_type qtype = ldns_rr_get_type(question.get());
  bool in = ldns_rr_get_class(question.get()) == LDNS_RR_CLASS_IN;
  ldns_rdf* qname = ldns_rr_owner(question.get());
  RrPtr answer;
  if (!nxdomain && in && (qtype == LDNS_RR_TYPE_A || qtype == LDNS_RR_TYPE_AAAA)) {
    static const uint8_t kZero[16] = {};
    bool v4 = qtype == LDNS_RR_TYPE_A;
    answer.reset(ldns_rr_new());
    ldns_rdf* owner = ldns_rdf_clone(qname);
    ldns_rdf* addr =
        ldns_rdf_new_frm_data(v4 ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA, v4 ? 4 : 16, kZero);
    if (!answer || owner == nullptr || addr == nullptr) {
      if (owner != nullptr) ldns_rdf_deep_free(owner);
      if (addr != nullptr) ldns_rdf_deep_free(addr);
      return r;
    }
    ldns_rr_set_owner(answer.get(), owner);
    ldns_rr_set_type(answer.get(), qtype);
    ldns_rr_set_class(answer.get(), LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(answer.get(), ttl);
    ldns_rr_push_rdf(answer.get(), addr);
  }
  // Keeps the question's owner name as sent (case included: 0x20 clients check it).
  if (!ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, question.get())) return r;
  question.release();
  if (answer) {
    if (!ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, answer.get())) return r;
    answer.release();
  }
  uint8_t* wire = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&wire, p, &size) != LDNS_STATUS_OK || wire == nullptr) {
    std::free(wire);
    return r;
  }
  if (size > out.size()) {
    r.status = DnsRewriteStatus::BufferTooSmall;
  } else {
    std::memcpy(out.data(), wire, size);
    r.status = DnsRewriteStatus::Ok;
  }
  r.length = size;
  std::free(wire);
  return r;
}

}  // namespace

DnsRewriteResult rewrite_answer_null(std::span<const uint8_t> original, std::span<uint8_t> out,
                                     uint32_t ttl) {
  return rewrite(original, out, false, ttl);
}

DnsRewriteResult make_nxdomain(std::span<const uint8_t> original, std::span<uint8_t> out) {
  return rewrite(original, out, true, 0);
}

}  // namespace tripline
