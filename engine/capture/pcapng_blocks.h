// pcapng block framing (draft-ietf-opsawg-pcapng): the few blocks a recording
// needs, appended to a byte buffer in host byte order (the section header's
// byte-order magic tells readers which). Pure: the writer thread does the I/O.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ip_address.h"
#include "timestamp.h"

namespace tripline::pcapng {

inline constexpr uint32_t kSectionHeader = 0x0A0D0D0A;
inline constexpr uint32_t kInterfaceDescription = 1;
inline constexpr uint32_t kNameResolution = 4;
inline constexpr uint32_t kEnhancedPacket = 6;
inline constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
inline constexpr uint16_t kLinktypeRaw = 101;  // LINKTYPE_RAW: the packet starts with its IP header

// Option codes used here.
inline constexpr uint16_t kOptEnd = 0, kOptComment = 1, kShbUserAppl = 4, kIfName = 2,
                          kIfTsresol = 9;

// Section header: a comment (why the file exists) and the writing application.
void append_section_header(std::vector<uint8_t>& out, std::string_view comment,
                           std::string_view user_appl);
// Interface description: link type, snaplen, name, nanosecond timestamps (if_tsresol 9).
void append_interface(std::vector<uint8_t>& out, uint16_t linktype, uint32_t snaplen,
                      std::string_view name);
// Enhanced packet on interface 0; ts in nanoseconds since the epoch; an
// optional comment (opt_comment).
void append_packet(std::vector<uint8_t>& out, Timestamp ts, std::span<const uint8_t> data,
                   uint32_t orig_len, std::string_view comment = {});

struct NameRecord {
  IpAddr addr;
  std::span<const std::string> names;  // at least one; empty names are skipped
};
// Name resolution block: each address with its names. Nothing is appended
// when no record has a name.
void append_names(std::vector<uint8_t>& out, std::span<const NameRecord> records);

// Bytes of a block as written (for tests and bounds).
inline constexpr size_t padded(size_t n) { return (n + 3) & ~size_t{3}; }

}  // namespace tripline::pcapng
