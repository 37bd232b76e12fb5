#include "lua_library.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <lua.hpp>
#include <string>

#include "lua_sandbox.h"

namespace tripline {
namespace {

// How a C function's work is charged (LuaSandbox::charge units).
enum Cost : int {
  kFree,      // constant, or bounded by its few arguments
  kStrings,   // bytes of its string arguments
  kRep,       // string.rep: the bytes it makes
  kArgs,      // one per argument
  kResult,    // bytes of the strings it returned (charged after)
  kFind,      // a pattern (find, match): its worst case, before it runs
  kGmatch,    // the same, '^' is no anchor
  kGsub,      // the pattern, then the bytes of the result
  kTableLen,  // the table's length (insert, remove shift elements)
  kSort,      // n log n comparisons
  kConcat,    // elements before, bytes of the result after
  kUnpack,    // elements i..j
  kMove,      // elements f..e
};

// Elements (table slots moved, comparisons) cost more than bytes.
constexpr double kPerElement = 4;

struct Fn {
  const char* name;
  Cost cost;
};
struct Lib {
  const char* name;  // "_G" for the base library
  std::initializer_list<Fn> allowed;
};

// Everything not listed here becomes a stub. pcall, print and setmetatable
// are the sandbox's own (below).
const Lib kLibs[] = {
    {"_G",
     {{"assert", kFree},
      {"error", kFree},
      {"getmetatable", kFree},
      {"ipairs", kFree},
      {"next", kFree},
      {"pairs", kFree},
      {"rawequal", kFree},
      {"rawget", kFree},
      {"rawlen", kFree},
      {"rawset", kFree},
      {"select", kFree},
      {"tonumber", kStrings},
      {"tostring", kFree},
      {"type", kFree}}},
    {LUA_STRLIBNAME,
     {{"byte", kStrings},
      {"char", kArgs},
      {"find", kFind},
      {"format", kResult},
      {"gmatch", kGmatch},
      {"gsub", kGsub},
      {"len", kFree},
      {"lower", kStrings},
      {"match", kFind},
      {"pack", kResult},
      {"packsize", kFree},
      {"rep", kRep},
      {"reverse", kStrings},
      {"sub", kResult},
      {"unpack", kStrings},
      {"upper", kStrings}}},
    {LUA_TABLIBNAME,
     {{"concat", kConcat},
      {"insert", kTableLen},
      {"move", kMove},
      {"pack", kArgs},
      {"remove", kTableLen},
      {"sort", kSort},
      {"unpack", kUnpack}}},
    {LUA_MATHLIBNAME, {{"abs", kFree},    {"ceil", kFree},       {"cos", kFree},  {"deg", kFree},
                       {"exp", kFree},    {"floor", kFree},      {"fmod", kFree}, {"log", kFree},
                       {"max", kArgs},    {"min", kArgs},        {"modf", kFree}, {"rad", kFree},
                       {"random", kFree}, {"randomseed", kFree}, {"sin", kFree},  {"sqrt", kFree},
                       {"tan", kFree},    {"tointeger", kFree},  {"type", kFree}, {"ult", kFree},
                       {"atan", kFree},   {"asin", kFree},       {"acos", kFree}}},
    {LUA_UTF8LIBNAME,
     {{"char", kArgs},
      {"codes", kFree},
      {"codepoint", kStrings},
      {"len", kStrings},
      {"offset", kStrings}}},
};

// Libraries not opened at all: any field of them is a stub.
constexpr const char* kBlockedLibs[] = {"io", "os", "debug", "package", "coroutine"};
// Base functions of the package library, which is not opened.
constexpr const char* kBlockedGlobals[] = {"require"};

// print() goes to the log, at most this many lines per state (a print in a
// per-packet hook must not flood the journal); later ones are counted.
constexpr uint64_t kMaxPrintLines = 100;

int blocked(lua_State* L) {
  return luaL_error(L, "%s is not available in tripline scripts",
                    lua_tostring(L, lua_upvalueindex(1)));
}

void push_stub(lua_State* L, const std::string& name) {
  lua_pushlstring(L, name.data(), name.size());
  lua_pushcclosure(L, blocked, 1);
}

// __index of a blocked library: every field is a stub named "lib.field".
int blocked_lib_index(lua_State* L) {
  std::string name = lua_tostring(L, lua_upvalueindex(1));
  name += '.';
  if (lua_type(L, 2) == LUA_TSTRING) {
    size_t n = 0;
    const char* k = lua_tolstring(L, 2, &n);
    name.append(k, std::min<size_t>(n, 64));
  } else {
    name += '?';
  }
  push_stub(L, name);
  return 1;
}

int lua_print(lua_State* L) {
  auto* count = static_cast<uint64_t*>(lua_touserdata(L, lua_upvalueindex(1)));
  if ((*count)++ >= kMaxPrintLines) {
    if (*count == kMaxPrintLines + 1)
      spdlog::warn("lua: print: more than {} lines; the rest are not logged", kMaxPrintLines);
    return 0;
  }
  std::string line;
  int n = lua_gettop(L);
  for (int i = 1; i <= n && line.size() <= LuaSandbox::kMaxMessage; ++i) {
    size_t len = 0;
    const char* s = luaL_tolstring(L, i, &len);  // runs __tostring: bounded like any Lua code
    if (i > 1) line += '\t';
    line.append(s, std::min(len, LuaSandbox::kMaxMessage + 1));
    lua_pop(L, 1);
  }
  spdlog::info("lua: {}", LuaSandbox::cut_message(line));
  return 0;
}

// pcall that cannot catch the budget or the time limit: a script must not
// loop on its own "instruction budget exceeded" error.
int sandbox_pcall(lua_State* L) {
  luaL_checkany(L, 1);
  int rc = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  if (rc != LUA_OK) {
    if (LuaSandbox::of(L).stopped()) return lua_error(L);
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  return lua_gettop(L);
}

// setmetatable that refuses finalizers: Lua runs __gc with hooks off, so
// neither the budget nor the watchdog could stop one. An object is marked for
// finalization only if its metatable has a __gc field when it is set, so
// refusing it here also covers a __gc added to the metatable later.
int sandbox_setmetatable(lua_State* L) {
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    bool has_gc = lua_rawget(L, 2) != LUA_TNIL;
    lua_pop(L, 1);
    if (has_gc) return luaL_error(L, "__gc (finalizers) is not available in tripline scripts");
  }
  return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

double string_bytes(lua_State* L, int from, int to) {
  double total = 0;
  for (int i = from; i <= to; ++i)
    if (lua_type(L, i) == LUA_TSTRING) total += static_cast<double>(lua_rawlen(L, i));
  return total;
}

// The length a table function will use; tables whose length is a __len
// metamethod are refused (it could answer differently when the function asks).
double table_len(lua_State* L, const char* name) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (luaL_getmetafield(L, 1, "__len") != LUA_TNIL)
    luaL_error(L, "%s: tables with a __len metamethod are not supported in tripline scripts", name);
  return static_cast<double>(lua_rawlen(L, 1));
}

double count(lua_Integer first, lua_Integer last) {
  return last < first ? 0 : static_cast<double>(last) - static_cast<double>(first) + 1;
}

double pattern_work(lua_State* L, Cost cost) {
  size_t n = 0, m = 0;
  const char* s = luaL_checklstring(L, 1, &n);
  const char* p = luaL_checklstring(L, 2, &m);
  bool plain = cost == kFind && lua_toboolean(L, 4) && lua_gettop(L) >= 4;
  if (plain || std::string_view(p, m).find_first_of("^$*+?.([%-") == std::string_view::npos)
    return static_cast<double>(n) * static_cast<double>(std::max<size_t>(m, 1));
  return lua_pattern_cost({s, n}, {p, m}, cost != kGmatch);
}

// A library function with its cost: upvalues are the function, its Cost and
// its name.
int charged(lua_State* L) {
  auto fn = lua_tocfunction(L, lua_upvalueindex(1));
  auto cost = static_cast<Cost>(lua_tointeger(L, lua_upvalueindex(2)));
  const char* name = lua_tostring(L, lua_upvalueindex(3));
  double before = 0;
  switch (cost) {
    case kStrings:
      before = string_bytes(L, 1, lua_gettop(L));
      break;
    case kRep: {
      size_t ls = 0, lsep = 0;
      luaL_checklstring(L, 1, &ls);
      lua_Integer times = luaL_checkinteger(L, 2);
      luaL_optlstring(L, 3, "", &lsep);
      // Each repetition is a buffer append of its own: short strings cost per piece.
      if (times > 0)
        before = static_cast<double>(times) * (static_cast<double>(ls + lsep) + kPerElement);
      break;
    }
    case kArgs:
      before = lua_gettop(L);
      break;
    case kFind:
    case kGmatch:
    case kGsub:
      before = pattern_work(L, cost);
      break;
    case kTableLen:
      before = table_len(L, name) * kPerElement;
      break;
    case kSort: {
      double n = table_len(L, name);
      before = n * std::log2(n + 2) * 2 * kPerElement;
      break;
    }
    case kConcat: {
      double len = table_len(L, name);
      lua_Integer i = luaL_optinteger(L, 3, 1);
      lua_Integer j = luaL_opt(L, luaL_checkinteger, 4, static_cast<lua_Integer>(len));
      before = count(i, j) * kPerElement;
      break;
    }
    case kUnpack: {
      lua_Integer i = luaL_optinteger(L, 2, 1);
      lua_Integer j = lua_isnoneornil(L, 3) ? static_cast<lua_Integer>(table_len(L, name))
                                            : luaL_checkinteger(L, 3);
      before = count(i, j) * kPerElement;
      break;
    }
    case kMove:
      before = count(luaL_checkinteger(L, 2), luaL_checkinteger(L, 3)) * kPerElement;
      break;
    case kFree:
    case kResult:
      break;
  }
  if (before > 0) LuaSandbox::charge(L, before, name);
  int results = fn(L);
  if (cost == kResult || cost == kGsub || cost == kConcat) {
    int top = lua_gettop(L);
    LuaSandbox::charge(L, string_bytes(L, top - results + 1, top), name);
  }
  return results;
}

void wrap(lua_State* L, int lib, const char* lib_name, const Fn& fn) {
  lua_getfield(L, lib, fn.name);
  if (!lua_iscfunction(L, -1)) {  // not in this Lua version
    lua_pop(L, 1);
    return;
  }
  if (fn.cost == kFree) {
    lua_pop(L, 1);
    return;
  }
  std::string full =
      std::strcmp(lib_name, "_G") == 0 ? fn.name : std::string(lib_name) + "." + fn.name;
  lua_pushinteger(L, fn.cost);
  lua_pushlstring(L, full.data(), full.size());
  lua_pushcclosure(L, charged, 3);
  lua_setfield(L, lib, fn.name);
}

bool allowed(const Lib& lib, const char* name) {
  for (const Fn& fn : lib.allowed)
    if (std::strcmp(fn.name, name) == 0) return true;
  return false;
}

// Replaces every function of the table at `lib` that the allow-list does not
// name by a stub, and wraps the charged ones.
void restrict_library(lua_State* L, int lib, const Lib& spec, const char* own[], size_t n_own) {
  std::string prefix = std::strcmp(spec.name, "_G") == 0 ? "" : std::string(spec.name) + ".";
  lua_pushnil(L);
  while (lua_next(L, lib) != 0) {
    bool is_fn = lua_type(L, -1) == LUA_TFUNCTION;
    lua_pop(L, 1);
    if (!is_fn || lua_type(L, -1) != LUA_TSTRING) continue;
    const char* name = lua_tostring(L, -1);
    bool keep = allowed(spec, name);
    for (size_t i = 0; i < n_own && !keep; ++i) keep = std::strcmp(own[i], name) == 0;
    if (keep) continue;
    lua_pushvalue(L, -1);  // the key
    push_stub(L, prefix + name);
    lua_rawset(L, lib);  // assigning an existing field keeps lua_next valid
  }
  for (const Fn& fn : spec.allowed) wrap(L, lib, spec.name, fn);
}

size_t skip_set(std::string_view p, size_t k) {  // k at '[': returns just past ']'
  ++k;
  if (k < p.size() && p[k] == '^') ++k;
  do {
    if (k >= p.size()) return p.size();
    k += p[k] == '%' ? 2 : 1;
  } while (k < p.size() && p[k] != ']');
  return std::min(k + 1, p.size());
}

}  // namespace

double lua_pattern_cost(std::string_view s, std::string_view p, bool anchor_ok) {
  const double n = static_cast<double>(s.size());
  size_t k = 0;
  bool anchored = anchor_ok && !p.empty() && p[0] == '^';
  if (anchored) k = 1;
  // The literal prefix: where it does not occur, a start position costs one compare.
  size_t prefix_end = k;  // no allocation: patterns may run per packet
  while (prefix_end < p.size() && std::strchr("^$*+?.()[%-", p[prefix_end]) == nullptr &&
         !(prefix_end + 1 < p.size() && p[prefix_end + 1] != 0 &&
           std::strchr("*+-?", p[prefix_end + 1]) != nullptr))
    ++prefix_end;
  std::string_view prefix = p.substr(k, prefix_end - k);
  int repeats = 0, optionals = 0;
  while (k < p.size()) {
    char c = p[k];
    if (c == '(' || c == ')' || (c == '$' && k + 1 == p.size())) {
      ++k;
      continue;
    }
    if (c == '%' && k + 1 < p.size()) {
      char d = p[k + 1];
      if (d == 'b') {  // %bxy scans ahead for the balance
        ++repeats;
        k += 4;
        continue;
      }
      if (d == 'f') {
        k += 2;
        if (k < p.size() && p[k] == '[') k = skip_set(p, k);
        continue;
      }
      if (d >= '0' && d <= '9') {  // a back reference compares a capture
        ++repeats;
        k += 2;
        continue;
      }
      k += 2;
    } else if (c == '[') {
      k = skip_set(p, k);
    } else {
      ++k;
    }
    if (k < p.size() && p[k] != 0 && std::strchr("*+-", p[k]) != nullptr) {
      size_t r = k + 1;
      while (r < p.size() && p[r] == ')') ++r;
      if (r < p.size()) ++repeats;  // something after it can fail and make it backtrack
      ++k;
    } else if (k < p.size() && p[k] == '?') {
      ++optionals;
      ++k;
    }
  }
  double starts = n + 1;
  if (anchored) {
    starts = 1;
  } else if (!prefix.empty()) {
    starts = 1;
    for (size_t at = s.find(prefix); at != std::string_view::npos; at = s.find(prefix, at + 1))
      ++starts;
  }
  return starts * std::pow(n + 1, repeats) * std::pow(2.0, std::min(optionals, 64)) + n +
         static_cast<double>(p.size());
}

void open_sandbox_libraries(lua_State* L) {
  const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},
                           {LUA_TABLIBNAME, luaopen_table},
                           {LUA_STRLIBNAME, luaopen_string},
                           {LUA_MATHLIBNAME, luaopen_math},
                           {LUA_UTF8LIBNAME, luaopen_utf8}};
  for (const auto& lib : libs) {
    luaL_requiref(L, lib.name, lib.func, 1);
    lua_pop(L, 1);
  }
  // The sandbox's own base functions.
  lua_getglobal(L, "setmetatable");
  lua_pushcclosure(L, sandbox_setmetatable, 1);
  lua_setglobal(L, "setmetatable");
  auto* lines = static_cast<uint64_t*>(lua_newuserdatauv(L, sizeof(uint64_t), 0));
  *lines = 0;
  lua_pushcclosure(L, lua_print, 1);
  lua_setglobal(L, "print");
  lua_pushcfunction(L, sandbox_pcall);
  lua_setglobal(L, "pcall");
  const char* own[] = {"pcall", "print", "setmetatable"};

  for (const Lib& spec : kLibs) {
    if (std::strcmp(spec.name, "_G") == 0)
      lua_pushglobaltable(L);
    else
      lua_getglobal(L, spec.name);
    int lib = lua_gettop(L);
    restrict_library(L, lib, spec, own, std::strcmp(spec.name, "_G") == 0 ? std::size(own) : 0);
    lua_pop(L, 1);
  }
  for (const char* name : kBlockedGlobals) {
    push_stub(L, name);
    lua_setglobal(L, name);
  }
  for (const char* name : kBlockedLibs) {
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, name);
    lua_pushcclosure(L, blocked_lib_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_setglobal(L, name);
  }
  // The string metatable (its __index is the string table, wrapped above) is
  // out of the scripts' reach: getmetatable("") answers "locked".
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushliteral(L, "locked");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);
}

}  // namespace tripline
