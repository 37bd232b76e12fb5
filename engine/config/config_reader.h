// Internal to the config component: reading TOML tables (every key known, every
// value of the right type; errors are ConfigErrors naming "file:line:
// section.key: what") and the parts read in their own files.
#pragma once

#include <fmt/format.h>
#include <toml++/toml.h>

#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "config.h"

namespace tripline::config_detail {

// Reads one table: every key must be known, every value of the right type.
// Errors carry "file:line: section.key: what".
class TableReader {
 public:
  // `lines`, when given, gets the line of every key read ("section.key" -> line).
  TableReader(const toml::table& table, std::string section, const std::string& file,
              KeyLines* lines = nullptr)
      : table_(table), section_(std::move(section)), file_(file), lines_(lines) {}

  // Marks a key as accepted that the caller reads itself.
  void known(std::string_view key) { seen_.emplace(key); }
  // "section.key", as errors name it.
  std::string path(std::string_view key) const { return section_ + "." + std::string(key); }

  // Call once per accepted key, then finish() reports the unknown ones.
  template <typename T>
  std::optional<T> get(std::string_view key) {
    seen_.emplace(key);
    const toml::node* node = table_.get(key);
    if (!node) return std::nullopt;
    note_line(key, *node);
    if constexpr (std::is_same_v<T, bool>) {
      if (auto v = node->value_exact<bool>()) return *v;
      fail(*node, key, "expected true or false");
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (auto v = node->value_exact<std::string>()) return *v;
      fail(*node, key, "expected a string");
    } else if constexpr (std::is_same_v<T, double>) {
      if (auto v = node->value<double>()) return *v;
      fail(*node, key, "expected a number");
    } else {
      auto v = node->value_exact<int64_t>();
      if (!v) fail(*node, key, "expected an integer");
      if (*v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          static_cast<uint64_t>(*v) > static_cast<uint64_t>(std::numeric_limits<T>::max()))
        fail(*node, key,
             fmt::format("{} is out of range {}..{}", *v, std::numeric_limits<T>::min(),
                         std::numeric_limits<T>::max()));
      return static_cast<T>(*v);
    }
    return std::nullopt;
  }

  // A list of strings; each is passed to `each` with its node for errors.
  bool get_strings(std::string_view key,
                   const std::function<void(const std::string&, const toml::node&)>& each) {
    seen_.emplace(key);
    const toml::node* node = table_.get(key);
    if (!node) return false;
    note_line(key, *node);
    const toml::array* arr = node->as_array();
    if (!arr) fail(*node, key, "expected a list of strings");
    for (const toml::node& item : *arr) {
      auto s = item.value_exact<std::string>();
      if (!s) fail(item, key, "expected a list of strings");
      each(*s, item);
    }
    return true;
  }

  // Seconds as an integer or a float; must be > 0.
  std::optional<Timestamp> get_seconds(std::string_view key) {
    auto v = get<double>(key);
    if (!v) return std::nullopt;
    if (!(*v > 0) || *v > 1e9) fail(*table_.get(key), key, "expected a positive number of seconds");
    return seconds(*v);
  }

  // The key's node if present, else the table itself (for line numbers).
  const toml::node& node(std::string_view key) const {
    const toml::node* n = table_.get(key);
    return n ? *n : table_;
  }

  [[noreturn]] void fail(const toml::node& node, std::string_view key, const std::string& what) {
    throw ConfigError(
        fmt::format("{}:{}: {}.{}: {}", file_, node.source().begin.line, section_, key, what));
  }

  void finish() {
    for (auto&& [key, node] : table_) {
      if (!seen_.count(std::string(key.str())))
        throw ConfigError(fmt::format("{}:{}: {}.{}: unknown key", file_, key.source().begin.line,
                                      section_, key.str()));
    }
  }

 private:
  void note_line(std::string_view key, const toml::node& node) {
    if (lines_) (*lines_)[path(key)] = node.source().begin.line;
  }

  const toml::table& table_;
  std::string section_;
  const std::string& file_;
  KeyLines* lines_;
  std::set<std::string, std::less<>> seen_;
};

// Relative paths are relative to the config file's folder.
std::string relative_to(const std::string& config_file, const std::string& path);

// [[rule]] (an array of tables) and [zones] (a table of tables); `key` is the
// root key's node for line numbers. Rule names are checked unique here; zone
// references once everything is read (check_rule_references).
void read_rules(const toml::node& node, const toml::key& key, const std::string& file,
                std::vector<RuleConfig>& rules);
void read_zones(const toml::node& node, const toml::key& key, const std::string& file,
                std::vector<ZoneConfig>& zones);
void check_rule_references(const Config& c);

}  // namespace tripline::config_detail
