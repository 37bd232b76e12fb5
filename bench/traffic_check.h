// Reads a generated pcap back and checks it is what the generator meant:
// every packet except the deliberately malformed ones decodes, and every DNS
// payload parses (with ldns, an independent parser). Used by `tripline-gen
// --check` and the smoke tests.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "decode.h"

namespace tripline::gen {

struct CheckReport {
  uint64_t packets = 0;
  uint64_t decode_errors = 0;  // packets decode() rejected
  std::array<uint64_t, static_cast<size_t>(DecodeError::kCount)> errors_by_kind{};  // by reason
  uint64_t fragments = 0;         // decoded packets that are IP fragments
  uint64_t dns_messages = 0;      // UDP port 53 payloads (unfragmented)
  uint64_t dns_responses = 0;     // of which QR is set
  uint64_t dns_parse_errors = 0;  // payloads ldns could not parse
  std::string first_problem;      // the first DNS payload that failed, with its frame number

  // "packets=... decode_errors=... (ipv4_truncated=3 ...) ..." on one line.
  std::string summary() const;
};

// Throws std::runtime_error when the file cannot be opened or read.
CheckReport check_pcap(const std::string& path);

}  // namespace tripline::gen
