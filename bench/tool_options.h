// Shared by the live benchmark's little traffic programs (udp_flood, udp_ping,
// tcp_connect): "--name value" options bound to variables.
#pragma once

#include <cstdlib>
#include <map>
#include <string>

struct ToolOptions {
  std::map<std::string, std::string*> text;
  std::map<std::string, unsigned long*> number;  // unsigned decimal
  std::map<std::string, double*> positive;       // a number > 0

  // False on an unknown name, a missing value or a malformed number.
  bool parse(int argc, char** argv) const {
    for (int i = 1; i < argc; i += 2) {
      if (i + 1 >= argc) return false;
      std::string name = argv[i];
      const char* v = argv[i + 1];
      char* end = nullptr;
      if (auto t = text.find(name); t != text.end()) {
        *t->second = v;
      } else if (auto n = number.find(name); n != number.end()) {
        *n->second = std::strtoul(v, &end, 10);
        if (*v == '\0' || *v == '-' || *end != '\0') return false;
      } else if (auto p = positive.find(name); p != positive.end()) {
        *p->second = std::strtod(v, &end);
        if (*v == '\0' || *end != '\0' || !(*p->second > 0)) return false;
      } else {
        return false;
      }
    }
    return true;
  }
};
