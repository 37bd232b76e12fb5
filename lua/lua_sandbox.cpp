#include "lua_sandbox.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <lua.hpp>

#include "lua_profile.h"

namespace tripline {
namespace {

// Globals of the base library a trigger must not have: file access, loading
// code at run time (including bytecode), and stopping the collector.
constexpr const char* kRemovedGlobals[] = {"dofile",         "loadfile", "load",
                                           "collectgarbage", "require",  "xpcall"};

// print() goes to the log, at most this many lines per state (a print in a
// per-packet hook must not flood the journal); later ones are counted.
constexpr uint64_t kMaxPrintLines = 100;

int lua_print(lua_State* L) {
  auto* count = static_cast<uint64_t*>(lua_touserdata(L, lua_upvalueindex(1)));
  if ((*count)++ >= kMaxPrintLines) {
    if (*count == kMaxPrintLines + 1)
      spdlog::warn("lua: print: more than {} lines; the rest are not logged", kMaxPrintLines);
    return 0;
  }
  std::string line;
  int n = lua_gettop(L);
  for (int i = 1; i <= n; ++i) {
    size_t len = 0;
    const char* s = luaL_tolstring(L, i, &len);
    if (i > 1) line += '\t';
    line.append(s, len);
    lua_pop(L, 1);
  }
  spdlog::info("lua: {}", line);
  return 0;
}

// pcall that cannot catch the budget: a script must not loop on its own
// "instruction budget exceeded" error.
int sandbox_pcall(lua_State* L) {
  luaL_checkany(L, 1);
  int rc = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  if (rc != LUA_OK) {
    if (LuaSandbox::of(L).over_budget()) return lua_error(L);
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  return lua_gettop(L);
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

void LuaSandbox::count_hook(lua_State* L, lua_Debug*) { budget_exceeded(L); }

void LuaSandbox::budget_exceeded(lua_State* L) {
  LuaSandbox::of(L).over_budget_ = true;
  luaL_error(L, "instruction budget exceeded");
}

LuaSandbox::LuaSandbox(size_t memory_limit, uint32_t budget)
    : limit_(memory_limit), budget_(budget == 0 ? 1 : budget) {
  L_ = lua_newstate(&LuaSandbox::alloc, this);
  if (!L_) throw LuaError("cannot create a Lua state (memory limit too small?)");
  *static_cast<void**>(lua_getextraspace(L_)) =
      nullptr;  // the owner (e.g. a trigger stage) sets it
  const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},
                           {LUA_TABLIBNAME, luaopen_table},
                           {LUA_STRLIBNAME, luaopen_string},
                           {LUA_MATHLIBNAME, luaopen_math},
                           {LUA_UTF8LIBNAME, luaopen_utf8}};
  try {
    for (const auto& lib : libs) {
      luaL_requiref(L_, lib.name, lib.func, 1);
      lua_pop(L_, 1);
    }
    for (const char* name : kRemovedGlobals) {
      lua_pushnil(L_);
      lua_setglobal(L_, name);
    }
    lua_getglobal(L_, LUA_STRLIBNAME);  // string.dump hands out bytecode
    lua_pushnil(L_);
    lua_setfield(L_, -2, "dump");
    lua_pop(L_, 1);
    auto* count = static_cast<uint64_t*>(lua_newuserdatauv(L_, sizeof(uint64_t), 0));
    *count = 0;
    lua_pushcclosure(L_, lua_print, 1);
    lua_setglobal(L_, "print");
    lua_pushcfunction(L_, sandbox_pcall);
    lua_setglobal(L_, "pcall");
  } catch (...) {  // the C++ build of Lua throws on errors outside a protected call
    lua_close(L_);
    drain_free_lists();
    throw LuaError("cannot open the Lua libraries within the memory limit");
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
  if (L_) lua_close(L_);
  drain_free_lists();
}

void LuaSandbox::load(std::string_view code, const std::string& chunk_name) {
  std::string name = "@" + chunk_name;  // "@" makes Lua print the name as a file
  if (luaL_loadbufferx(L_, code.data(), code.size(), name.c_str(), "t") != LUA_OK) {
    std::string msg = lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "cannot load";
    lua_pop(L_, 1);
    throw LuaError(msg);
  }
  uint32_t saved = budget_;
  budget_ = saved > UINT32_MAX / 100 ? UINT32_MAX : saved * 100;
  LuaCallResult r = call(0, 0);
  budget_ = saved;
  if (r != LuaCallResult::Ok) throw LuaError(last_error_);
}

LuaCallResult LuaSandbox::call(int nargs, int nresults) {
  over_budget_ = false;
  out_of_memory_ = false;
  // Setting the hook resets its countdown: every call gets the whole budget.
  if (sampler_)
    sampler_->arm(L_, budget_);
  else
    lua_sethook(L_, &LuaSandbox::count_hook, LUA_MASKCOUNT, static_cast<int>(budget_ & 0x7fffffff));
  // The hook stays set between calls: a finalizer the collector runs later
  // is bounded too.
  int rc = lua_pcall(L_, nargs, nresults, 0);
  if (rc == LUA_OK) return LuaCallResult::Ok;
  const char* msg = lua_tostring(L_, -1);
  last_error_ = msg ? msg : "error object is not a string";
  lua_pop(L_, 1);
  if (over_budget_) return LuaCallResult::Budget;
  if (rc == LUA_ERRMEM || out_of_memory_) return LuaCallResult::Memory;
  return LuaCallResult::Error;
}

}  // namespace tripline
