// The daemon's log sink: every message is escaped (core/log_escape.h) before
// the wrapped sink formats it, so names from packets, block lists and scripts
// that reach a log line cannot forge lines or send terminal escapes.
#pragma once

#include <spdlog/sinks/sink.h>

#include <memory>
#include <string>

namespace tripline {

class EscapingSink final : public spdlog::sinks::sink {
 public:
  explicit EscapingSink(std::shared_ptr<spdlog::sinks::sink> inner) : inner_(std::move(inner)) {}

  void log(const spdlog::details::log_msg& msg) override;
  void flush() override { inner_->flush(); }
  void set_pattern(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    inner_->set_formatter(std::move(formatter));
  }

 private:
  std::shared_ptr<spdlog::sinks::sink> inner_;
};

}  // namespace tripline
