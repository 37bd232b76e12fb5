// tripline's version, for --version, the startup log and what files it writes
// name (recordings' section comments).
#pragma once

namespace tripline {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace tripline
