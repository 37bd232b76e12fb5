#include "queue_table.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace tripline {
namespace {

bool parse_u64(const std::string& s, uint64_t& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  v = std::strtoull(s.c_str(), &end, 10);
  return end && *end == '\0';
}

}  // namespace

std::vector<QueueRow> parse_queue_table(std::string_view text) {
  std::vector<QueueRow> rows;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string w[8];
    uint64_t v[8];
    bool ok = true;
    for (size_t i = 0; i < 8 && ok; ++i) ok = (fields >> w[i]) && parse_u64(w[i], v[i]);
    if (!ok) continue;
    rows.push_back({static_cast<uint32_t>(v[0]), v[2], v[5], v[6], v[7]});
  }
  return rows;
}

std::vector<QueueRow> read_queue_table() {
  std::ifstream in("/proc/net/netfilter/nfnetlink_queue");
  std::stringstream text;
  text << in.rdbuf();
  return parse_queue_table(text.str());
}

std::optional<QueueRow> read_queue_row(uint32_t queue) {
  for (const auto& row : read_queue_table())
    if (row.queue == queue) return row;
  return std::nullopt;
}

}  // namespace tripline
