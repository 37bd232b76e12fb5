#include "pcapng_blocks.h"

#include <cstring>

namespace tripline::pcapng {

namespace {

void put(std::vector<uint8_t>& out, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  out.insert(out.end(), b, b + n);
}
void put32(std::vector<uint8_t>& out, uint32_t v) { put(out, &v, 4); }
void put16(std::vector<uint8_t>& out, uint16_t v) { put(out, &v, 2); }
void pad(std::vector<uint8_t>& out, size_t n) { out.insert(out.end(), padded(n) - n, 0); }

// Option values are at most 65535 bytes; longer text is cut there.
void put_option(std::vector<uint8_t>& out, uint16_t code, const void* value, size_t n) {
  if (n > 0xffff) n = 0xffff;
  put16(out, code);
  put16(out, static_cast<uint16_t>(n));
  put(out, value, n);
  pad(out, n);
}
void put_text(std::vector<uint8_t>& out, uint16_t code, std::string_view text) {
  if (!text.empty()) put_option(out, code, text.data(), text.size());
}

// Opens a block (type, length placeholder); close_block writes both lengths.
size_t open_block(std::vector<uint8_t>& out, uint32_t type) {
  size_t start = out.size();
  put32(out, type);
  put32(out, 0);
  return start;
}
void close_block(std::vector<uint8_t>& out, size_t start) {
  uint32_t total = static_cast<uint32_t>(out.size() - start + 4);
  std::memcpy(out.data() + start + 4, &total, 4);
  put32(out, total);
}
void end_options(std::vector<uint8_t>& out) {
  put16(out, kOptEnd);
  put16(out, 0);
}

}  // namespace

void append_section_header(std::vector<uint8_t>& out, std::string_view comment,
                           std::string_view user_appl) {
  size_t b = open_block(out, kSectionHeader);
  put32(out, kByteOrderMagic);
  put16(out, 1);                // major
  put16(out, 0);                // minor
  int64_t section_length = -1;  // not known in advance
  put(out, &section_length, 8);
  put_text(out, kOptComment, comment);
  put_text(out, kShbUserAppl, user_appl);
  end_options(out);
  close_block(out, b);
}

void append_interface(std::vector<uint8_t>& out, uint16_t linktype, uint32_t snaplen,
                      std::string_view name) {
  size_t b = open_block(out, kInterfaceDescription);
  put16(out, linktype);
  put16(out, 0);
  put32(out, snaplen);
  put_text(out, kIfName, name);
  uint8_t tsresol = 9;  // 10^-9 s
  put_option(out, kIfTsresol, &tsresol, 1);
  end_options(out);
  close_block(out, b);
}

void append_packet(std::vector<uint8_t>& out, Timestamp ts, std::span<const uint8_t> data,
                   uint32_t orig_len, std::string_view comment) {
  size_t b = open_block(out, kEnhancedPacket);
  put32(out, 0);                           // interface id
  uint64_t t = static_cast<uint64_t>(ts);  // units of if_tsresol: nanoseconds
  put32(out, static_cast<uint32_t>(t >> 32));
  put32(out, static_cast<uint32_t>(t));
  put32(out, static_cast<uint32_t>(data.size()));
  put32(out, orig_len < data.size() ? static_cast<uint32_t>(data.size()) : orig_len);
  put(out, data.data(), data.size());
  pad(out, data.size());
  if (!comment.empty()) {
    put_text(out, kOptComment, comment);
    end_options(out);
  }
  close_block(out, b);
}

void append_names(std::vector<uint8_t>& out, std::span<const NameRecord> records) {
  size_t b = out.size();
  bool any = false;
  for (const NameRecord& r : records) {
    if (r.addr.family != 4 && r.addr.family != 6) continue;
    size_t len = r.addr.size();
    for (const std::string& n : r.names)
      if (!n.empty() && n.size() < 0x1000) len += n.size() + 1;
    if (len == r.addr.size() || len > 0xffff) continue;
    if (!any) {
      open_block(out, kNameResolution);
      any = true;
    }
    put16(out, r.addr.is_v4() ? 1 : 2);  // nrb_record_ipv4 / nrb_record_ipv6
    put16(out, static_cast<uint16_t>(len));
    put(out, r.addr.bytes.data(), r.addr.size());
    for (const std::string& n : r.names) {
      if (n.empty() || n.size() >= 0x1000) continue;
      put(out, n.data(), n.size());
      out.push_back(0);
    }
    pad(out, len);
  }
  if (!any) return;
  put16(out, 0);  // nrb_record_end
  put16(out, 0);
  close_block(out, b);
}

}  // namespace tripline::pcapng
