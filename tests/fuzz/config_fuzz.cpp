// Fuzzes the TOML configuration loader: any text either gives a Config or a
// ConfigError naming where it went wrong; nothing else escapes, nothing crashes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    tripline::Config c = tripline::Config::load_string(text, "fuzz.toml");
    if (c.queue.count == 0 || c.queue.first + c.queue.count - 1 > 65535) {
      std::fprintf(stderr, "config_fuzz: accepted an impossible queue range\n");
      std::abort();
    }
  } catch (const tripline::ConfigError& e) {
    if (std::string_view(e.what()).rfind("fuzz.toml", 0) != 0) {
      std::fprintf(stderr, "config_fuzz: error does not name the file: %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}
