// Fuzzes the TOML configuration loader: any text either gives a Config or a
// ConfigError naming where it went wrong; nothing else escapes, nothing crashes.
// A config that loads also builds its rule chains (without reading list
// files: a fuzzed path could name anything), prints them and runs a few flows
// through them.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "config.h"
#include "rule_chain.h"

namespace {

bool names_files(const tripline::MatchNode& n) {
  if (n.kind == tripline::MatchKind::DomainList) return true;
  for (const auto& c : n.children)
    if (names_files(c)) return true;
  return false;
}

// Builds the chains of a loaded config and evaluates a few flows.
void run_rules(const tripline::Config& c) {
  using namespace tripline;
  for (const RuleConfig& r : c.rules)
    if (names_files(r.match)) return;
  std::unique_ptr<RuleSet> rules;
  try {
    rules = build_rule_set(c, InterfaceNames::Ignore);
  } catch (const ConfigError& e) {
    if (std::string_view(e.what()).rfind("fuzz.toml", 0) != 0) {
      std::fprintf(stderr, "config_fuzz: rule error does not name the file: %s\n", e.what());
      std::abort();
    }
    return;
  }
  if (rules->to_string().empty()) std::abort();
  FlowFacts facts(c.network.inside, nullptr);
  RuleEvaluation out;
  const char* addrs[][2] = {{"10.0.0.1", "203.0.113.1"},
                            {"203.0.113.1", "10.0.0.1"},
                            {"fd00::1", "fd00::2"},
                            {"192.0.2.1", "198.51.100.1"}};
  uint8_t protos[] = {6, 17, 1};
  for (const auto& a : addrs) {
    for (uint8_t proto : protos) {
      Flow f;
      f.key.lo = *IpAddr::parse(a[0]);
      f.key.hi = *IpAddr::parse(a[1]);
      f.key.lo_port = 40000;
      f.key.hi_port = 443;
      f.key.proto = proto;
      const PacketMeta meta{1, 2};
      facts.reset(f, meta, 0);
      rules->evaluate(facts, out);
      if (out.decided_by && out.matched.back() != out.decided_by) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    tripline::Config c = tripline::Config::load_string(text, "fuzz.toml");
    if (c.queue.count == 0 || c.queue.first + c.queue.count - 1 > 65535) {
      std::fprintf(stderr, "config_fuzz: accepted an impossible queue range\n");
      std::abort();
    }
    run_rules(c);
  } catch (const tripline::ConfigError& e) {
    if (std::string_view(e.what()).rfind("fuzz.toml", 0) != 0) {
      std::fprintf(stderr, "config_fuzz: error does not name the file: %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}
