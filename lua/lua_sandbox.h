// One sandboxed Lua 5.4 state: a byte-limited allocator, only the safe
// libraries (base without file/load access, table, string, math, utf8) and an
// instruction budget on every call into the script. One per worker thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

struct lua_State;
struct lua_Debug;

namespace tripline {

class LuaProfiler;

class LuaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class LuaCallResult : uint8_t { Ok, Error, Budget, Memory };

class LuaSandbox {
 public:
  // memory_limit: bytes the state may hold; budget: VM instructions per call.
  LuaSandbox(size_t memory_limit, uint32_t budget);
  ~LuaSandbox();
  LuaSandbox(const LuaSandbox&) = delete;
  LuaSandbox& operator=(const LuaSandbox&) = delete;

  // Runs a script's main chunk (budget: 100 calls' worth). Throws LuaError
  // with "file:line: message" on a syntax or runtime error.
  void load(std::string_view code, const std::string& chunk_name);

  // Calls the function below `nargs` arguments on the stack under the budget,
  // leaving `nresults` results (or nothing on failure: the error text is in
  // last_error()). Never throws.
  LuaCallResult call(int nargs, int nresults);
  const std::string& last_error() const { return last_error_; }
  // For callers that judge a call's results: records why they were refused.
  void set_error(std::string what) { last_error_ = std::move(what); }

  lua_State* state() const { return L_; }
  // The sandbox that owns a state (from its allocator's user data).
  static LuaSandbox& of(lua_State* L);
  size_t memory_used() const { return used_; }
  size_t memory_limit() const { return limit_; }
  uint32_t budget() const { return budget_; }
  bool over_budget() const { return over_budget_; }
  // `tripline bench`: the profiler sets the count hook before each call (it
  // samples lines and counts the budget down); null gives the sandbox's back.
  void set_sampler(LuaProfiler* sampler) { sampler_ = sampler; }
  LuaProfiler* sampler() const { return sampler_; }
  // What a count hook does when the call's budget is spent: raises the error.
  static void budget_exceeded(lua_State* L);

 private:
  static void* alloc(void* ud, void* ptr, size_t osize, size_t nsize);
  // Small blocks (the objects made per callback, short strings, small
  // tables) are recycled through per-size free lists, so a state in its
  // steady state calls malloc no more per call.
  static constexpr size_t kSmallStep = 16;
  static constexpr size_t kSmallClasses = 8;  // blocks of 16, 32, ..., 128 bytes
  static constexpr size_t kMaxFreePerClass = 4096;
  struct FreeBlock {
    FreeBlock* next;
  };
  static size_t small_class(size_t n) { return (n + kSmallStep - 1) / kSmallStep - 1; }
  void* take(size_t n);
  void give(void* p, size_t n);
  void drain_free_lists();
  static void count_hook(lua_State* L, lua_Debug* ar);

  lua_State* L_ = nullptr;
  size_t limit_;
  size_t used_ = 0;
  FreeBlock* free_[kSmallClasses] = {};
  size_t free_count_[kSmallClasses] = {};
  uint32_t budget_;
  bool over_budget_ = false;
  bool out_of_memory_ = false;
  LuaProfiler* sampler_ = nullptr;
  std::string last_error_;
};

}  // namespace tripline
