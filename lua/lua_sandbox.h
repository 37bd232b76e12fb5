// One sandboxed Lua 5.4 state: a byte-limited allocator, an allow-list of
// library functions (lua_library.h), an instruction budget and a wall-clock
// limit on every call into the script, and a panic handler that turns an error
// outside a protected call into a C++ exception. One per worker thread.
#pragma once

#include <atomic>
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

enum class LuaCallResult : uint8_t { Ok, Error, Budget, Memory, Time };

struct LuaLimits {
  size_t memory_bytes = size_t{32} << 20;  // bytes the state may hold
  uint32_t budget = 20000;                 // VM instructions per call
  uint32_t max_call_ms = 0;                // wall clock per call; 0: no limit
};

class LuaSandbox {
 public:
  // Work of C library functions (bytes made or scanned, pattern steps, sort
  // comparisons) allowed per call, per instruction of the budget.
  static constexpr uint64_t kWorkPerInstruction = 16;
  // ... and at most this much per millisecond of max_call_ms (a unit is
  // about a byte copied or a pattern step: a few nanoseconds at most).
  static constexpr uint64_t kWorkPerMs = 200'000;
  // Logged script messages (errors, print lines) are cut to this many bytes.
  static constexpr size_t kMaxMessage = 512;
  // The script's top level runs once, with this many calls' budget and time.
  static constexpr uint32_t kLoadFactor = 100;

  explicit LuaSandbox(const LuaLimits& limits);
  ~LuaSandbox();
  LuaSandbox(const LuaSandbox&) = delete;
  LuaSandbox& operator=(const LuaSandbox&) = delete;

  // Runs a script's main chunk (kLoadFactor calls' budget and time). Throws
  // LuaError with "file:line: message" on a syntax or runtime error.
  void load(std::string_view code, const std::string& chunk_name);

  // Calls the function below `nargs` arguments on the stack in a protected
  // call under the budget and the time limit, leaving `nresults` results (or
  // nothing on failure: the error text is in last_error()). Never throws.
  LuaCallResult call(int nargs, int nresults);
  // Runs fn(L) with `ud` as its only argument (a light userdata) the same way.
  LuaCallResult protect(int (*fn)(lua_State*), void* ud);
  const std::string& last_error() const { return last_error_; }
  // For callers that judge a call's results: records why they were refused.
  void set_error(std::string_view what);

  lua_State* state() const { return L_; }
  // The sandbox that owns a state (from its allocator's user data).
  static LuaSandbox& of(lua_State* L);
  size_t memory_used() const { return used_; }
  size_t memory_limit() const { return limit_; }
  uint32_t budget() const { return budget_; }
  // The running call ran out of instructions or time: pcall cannot catch it.
  bool stopped() const { return over_budget_ || timed_out_; }
  // A panic happened (an error outside a protected call): the state may be
  // inconsistent and should be rebuilt.
  bool broken() const { return broken_; }

  // Charges `units` of C work to the running call; raises the budget error
  // (a Lua error) when the call's allowance is spent. `what` names the function.
  static void charge(lua_State* L, double units, const char* what);

  // Raises a Lua error (a table) outside any protected call: the panic
  // handler's path, which nothing else in the binding takes. For tests.
  void raise_unprotected_for_test();

  // Called by the watchdog thread: interrupts a call past its deadline.
  void watchdog_check(int64_t now_ns);

  // The text of the error object on top of the stack, without running
  // metamethods or allocating: strings cut to kMaxMessage, other types named.
  static std::string error_text(lua_State* L, int idx);
  // Cuts a message to kMaxMessage bytes, saying how long it was.
  static std::string cut_message(std::string_view s);
  bool over_budget() const { return over_budget_; }
  // `tripline bench`: while a sampler is set, the sandbox's count hook fires
  // every few instructions, the sampler records the running line and counts
  // the budget down (the time limit is checked as always); null: one count of
  // the whole budget.
  void set_sampler(LuaProfiler* sampler) { sampler_ = sampler; }
  LuaProfiler* sampler() const { return sampler_; }

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
  static void hook(lua_State* L, lua_Debug* ar);
  static int panic(lua_State* L);
  // Makes every further VM instruction of this call raise the same error.
  void stop_now();
  LuaCallResult run(int nargs, int nresults, uint32_t factor);

  lua_State* L_ = nullptr;
  size_t limit_;
  size_t used_ = 0;
  FreeBlock* free_[kSmallClasses] = {};
  size_t free_count_[kSmallClasses] = {};
  uint32_t budget_;
  uint32_t max_call_ms_;
  uint32_t factor_ = 1;  // kLoadFactor while the top level runs
  uint64_t work_ = 0;    // C work charged to the running call
  uint64_t work_limit_ = 0;
  bool over_budget_ = false;
  bool timed_out_ = false;
  bool out_of_memory_ = false;
  bool broken_ = false;
  // Shared with the watchdog thread: the running call's number and deadline
  // (0: no call), and the number of the call it interrupted.
  std::atomic<uint64_t> gen_{0};
  std::atomic<int64_t> deadline_{0};
  std::atomic<uint64_t> interrupt_gen_{0};
  LuaProfiler* sampler_ = nullptr;
  std::string last_error_;
};

}  // namespace tripline
