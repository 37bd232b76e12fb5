// STUB: being implemented (decode helper). Replace entirely.
#include "decode.h"

namespace tripline {
std::optional<LinkType> link_type_from_dlt(int) { return std::nullopt; }
const char* to_string(DecodeError) { return "unknown"; }
DecodeError decode(LinkType, std::span<const uint8_t>, Decoded&) { return DecodeError::LinkUnsupported; }
}  // namespace tripline
