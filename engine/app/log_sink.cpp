#include "log_sink.h"

#include <spdlog/details/log_msg.h>

#include <string_view>

#include "log_escape.h"

namespace tripline {

void EscapingSink::log(const spdlog::details::log_msg& msg) {
  std::string_view payload(msg.payload.data(), msg.payload.size());
  if (log_safe(payload)) {
    inner_->log(msg);
    return;
  }
  std::string escaped = escape_for_log(payload);
  spdlog::details::log_msg copy(msg);
  copy.payload = spdlog::string_view_t(escaped.data(), escaped.size());
  inner_->log(copy);
}

}  // namespace tripline
