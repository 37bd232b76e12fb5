#include "lua_sandbox.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <lua.hpp>

#include "lua_library.h"
#include "lua_profile.h"
#include "lua_watchdog.h"

namespace tripline {
namespace {

// Thrown by the panic handler: Lua calls it for an error outside any
// protected call, where it would otherwise abort the process.
class LuaPanic : public LuaError {
 public:
  using LuaError::LuaError;
};

int open_libraries(lua_State* L) {
  open_sandbox_libraries(L);
  return 0;
}

}  // namespace

LuaSandbox& LuaSandbox::of(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return *static_cast<LuaSandbox*>(ud);
}

void* LuaSandbox::take(size_t n) {
  if (n > kSmallStep * kSmallClasses) return std::malloc(n);
  size_t c = small_class(n);
  if (FreeBlock* b = free_[c]) {
    free_[c] = b->next;
    --free_count_[c];
    return b;
  }
  return std::malloc((c + 1) * kSmallStep);
}

void LuaSandbox::give(void* p, size_t n) {
  if (n > kSmallStep * kSmallClasses) {
    std::free(p);
    return;
  }
  size_t c = small_class(n);
  if (free_count_[c] >= kMaxFreePerClass) {
    std::free(p);
    return;
  }
  auto* b = static_cast<FreeBlock*>(p);
  b->next = free_[c];
  free_[c] = b;
  ++free_count_[c];
}

void* LuaSandbox::alloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* self = static_cast<LuaSandbox*>(ud);
  if (!ptr) osize = 0;  // osize is then a type tag, not a size
  if (nsize == 0) {
    if (ptr) self->give(ptr, osize);
    self->used_ -= osize;
    return nullptr;
  }
  if (nsize > osize && self->used_ - osize + nsize > self->limit_) {
    self->out_of_memory_ = true;
    return nullptr;  // Lua raises a memory error
  }
  constexpr size_t kSmallMax = kSmallStep * kSmallClasses;
  void* p = nullptr;
  if (ptr && osize > kSmallMax && nsize > kSmallMax) {
    p = std::realloc(ptr, nsize);
  } else if (ptr && osize <= kSmallMax && nsize <= kSmallMax &&
             small_class(osize) == small_class(nsize)) {
    p = ptr;  // the block already has room
  } else {
    p = self->take(nsize);
    if (p && ptr) {
      std::memcpy(p, ptr, std::min(osize, nsize));
      self->give(ptr, osize);
    }
  }
  if (!p) {
    self->out_of_memory_ = true;
    return nullptr;
  }
  self->used_ = self->used_ - osize + nsize;
  return p;
}

std::string LuaSandbox::cut_message(std::string_view s) {
  if (s.size() <= kMaxMessage) return std::string(s);
  return fmt::format("{}... ({} bytes)", s.substr(0, kMaxMessage), s.size());
}

std::string LuaSandbox::error_text(lua_State* L, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t n = 0;
      const char* s = lua_tolstring(L, idx, &n);  // a string already: no conversion
      return cut_message(std::string_view(s, n));
    }
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) return fmt::format("{}", lua_tointeger(L, idx));
      return fmt::format("{}", lua_tonumber(L, idx));
    case LUA_TNONE:
      return "no error object";
    default:  // tables, userdata, nil, ...: their __tostring is not run
      return fmt::format("error object is a {} value", lua_typename(L, lua_type(L, idx)));
  }
}

void LuaSandbox::set_error(std::string_view what) { last_error_ = cut_message(what); }

void LuaSandbox::stop_now() {
  // Every further instruction raises again, so nothing of the script (a
  // pcall loop, __close handlers) runs on after the limit.
  lua_sethook(L_, &LuaSandbox::hook, LUA_MASKCOUNT, 1);
}

void LuaSandbox::hook(lua_State* L, lua_Debug* ar) {
  LuaSandbox& sb = of(L);
  if (sb.interrupt_gen_.load(std::memory_order_acquire) == sb.gen_.load(std::memory_order_relaxed))
    sb.timed_out_ = true;
  if (sb.timed_out_) {
    sb.stop_now();
    luaL_error(L, "time limit exceeded (max_call_ms = %d)",
               static_cast<int>(sb.max_call_ms_ * sb.factor_));
  }
  if (sb.sampler_ && !sb.over_budget_) {
    // Profiling: the sampler counts the budget down in steps.
    int next = sb.sampler_->step(L, ar);
    if (next > 0) {
      if (next != lua_gethookcount(L)) lua_sethook(L, &LuaSandbox::hook, LUA_MASKCOUNT, next);
      return;
    }
  } else if (!sb.over_budget_ && lua_gethookcount(L) == 1 && sb.budget_ > 1) {
    // The watchdog's interrupt of an earlier call, set just after it ended.
    lua_sethook(L, &LuaSandbox::hook, LUA_MASKCOUNT,
                static_cast<int>(std::min<uint64_t>(uint64_t{sb.budget_} * sb.factor_, INT32_MAX)));
    return;
  }
  sb.over_budget_ = true;
  sb.stop_now();
  luaL_error(L, "instruction budget exceeded");
}

void LuaSandbox::charge(lua_State* L, double units, const char* what) {
  LuaSandbox& sb = of(L);
  double total = static_cast<double>(sb.work_) + std::max(units, 0.0);
  if (total <= static_cast<double>(sb.work_limit_)) {
    sb.work_ = static_cast<uint64_t>(total);
    return;
  }
  sb.work_ = sb.work_limit_;
  sb.over_budget_ = true;
  sb.stop_now();
  luaL_error(L, "instruction budget exceeded (%s)", what);
}

int LuaSandbox::panic(lua_State* L) {
  // Lua aborts when this returns; a C++ exception unwinds through the C++
  // build of Lua to the sandbox call that caught it.
  throw LuaPanic("Lua panic (error outside a protected call): " + error_text(L, -1));
}

void LuaSandbox::raise_unprotected_for_test() {
  lua_settop(L_, 0);
  lua_newtable(L_);
  lua_error(L_);
}

void LuaSandbox::watchdog_check(int64_t now_ns) {
  uint64_t g = gen_.load(std::memory_order_acquire);
  int64_t d = deadline_.load(std::memory_order_acquire);
  if (d == 0 || now_ns < d || gen_.load(std::memory_order_acquire) != g) return;
  interrupt_gen_.store(g, std::memory_order_release);
  // Safe from another thread (lua.h: lua_sethook is async-safe): the running
  // call stops at its next VM instruction.
  lua_sethook(L_, &LuaSandbox::hook, LUA_MASKCOUNT, 1);
}

LuaSandbox::LuaSandbox(const LuaLimits& limits)
    : limit_(limits.memory_bytes),
      budget_(limits.budget == 0 ? 1 : limits.budget),
      max_call_ms_(limits.max_call_ms) {
  L_ = lua_newstate(&LuaSandbox::alloc, this);
  if (!L_) throw LuaError("cannot create a Lua state (memory limit too small?)");
  lua_atpanic(L_, &LuaSandbox::panic);
  *static_cast<void**>(lua_getextraspace(L_)) =
      nullptr;  // the owner (e.g. a trigger stage) sets it
  if (max_call_ms_ > 0) LuaWatchdog::instance().add(this, int64_t{max_call_ms_} * 1'000'000 / 4);
  if (protect(open_libraries, nullptr) != LuaCallResult::Ok) {
    std::string why = last_error_;
    if (max_call_ms_ > 0) LuaWatchdog::instance().remove(this);
    lua_close(L_);
    drain_free_lists();
    throw LuaError("cannot open the Lua libraries: " + why);
  }
}

void LuaSandbox::drain_free_lists() {
  for (size_t c = 0; c < kSmallClasses; ++c) {
    while (FreeBlock* b = free_[c]) {
      free_[c] = b->next;
      std::free(b);
    }
    free_count_[c] = 0;
  }
}

LuaSandbox::~LuaSandbox() {
  if (max_call_ms_ > 0) LuaWatchdog::instance().remove(this);
  if (L_) lua_close(L_);  // scripts cannot set finalizers: nothing of theirs runs here
  drain_free_lists();
}

void LuaSandbox::load(std::string_view code, const std::string& chunk_name) {
  std::string name = "@" + chunk_name;  // "@" makes Lua print the name as a file
  // lua_load is protected itself (syntax and memory errors come back as status).
  if (luaL_loadbufferx(L_, code.data(), code.size(), name.c_str(), "t") != LUA_OK) {
    std::string msg = error_text(L_, -1);
    lua_settop(L_, 0);
    throw LuaError(msg);
  }
  LuaCallResult r = run(0, 0, kLoadFactor);
  if (r != LuaCallResult::Ok) throw LuaError(last_error_);
}

LuaCallResult LuaSandbox::call(int nargs, int nresults) { return run(nargs, nresults, 1); }

LuaCallResult LuaSandbox::protect(int (*fn)(lua_State*), void* ud) {
  lua_pushcfunction(L_, fn);
  lua_pushlightuserdata(L_, ud);
  return run(1, 0, 1);
}

LuaCallResult LuaSandbox::run(int nargs, int nresults, uint32_t factor) {
  int base = lua_gettop(L_) - nargs - 1;
  over_budget_ = false;
  timed_out_ = false;
  out_of_memory_ = false;
  factor_ = factor;
  work_ = 0;
  // C work cannot be interrupted: besides the budget, it may not take much
  // more than max_call_ms (at kWorkPerMs).
  uint64_t work = uint64_t{budget_} * kWorkPerInstruction;
  if (max_call_ms_ > 0) work = std::min(work, uint64_t{max_call_ms_} * kWorkPerMs);
  work_limit_ = work * factor;
  uint64_t gen = gen_.load(std::memory_order_relaxed) + 1;
  gen_.store(gen, std::memory_order_release);
  // Setting the hook resets its countdown: every call gets the whole budget.
  const auto count =
      static_cast<uint32_t>(std::min<uint64_t>(uint64_t{budget_} * factor, INT32_MAX));
  lua_sethook(L_, &LuaSandbox::hook, LUA_MASKCOUNT,
              static_cast<int>(sampler_ ? sampler_->arm(count) : count));
  if (max_call_ms_ > 0)
    deadline_.store(LuaWatchdog::now_ns() + int64_t{max_call_ms_} * factor * 1'000'000,
                    std::memory_order_release);
  int rc = LUA_OK;
  try {
    rc = lua_pcall(L_, nargs, nresults, 0);
  } catch (const LuaPanic& e) {  // cannot happen inside lua_pcall; kept as the last defence
    deadline_.store(0, std::memory_order_release);
    factor_ = 1;
    broken_ = true;
    last_error_ = e.what();
    lua_settop(L_, std::max(base, 0));
    return LuaCallResult::Error;
  }
  deadline_.store(0, std::memory_order_release);
  factor_ = 1;
  if (rc == LUA_OK) return LuaCallResult::Ok;
  last_error_ = error_text(L_, -1);
  lua_settop(L_, base);
  if (timed_out_) return LuaCallResult::Time;
  if (over_budget_) return LuaCallResult::Budget;
  if (rc == LUA_ERRMEM || out_of_memory_) return LuaCallResult::Memory;
  return LuaCallResult::Error;
}

}  // namespace tripline
