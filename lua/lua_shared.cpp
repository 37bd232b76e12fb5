#include "lua_shared.h"

#include <algorithm>
#include <lua.hpp>
#include <string_view>

#include "lua_triggers.h"
#include "shared_store.h"

namespace tripline {
namespace {

// The longest ttl a script may give (10 years): beyond it, no expiry is meant.
constexpr double kMaxTtlSeconds = 10.0 * 365 * 86400;

LuaTriggers& self_of(lua_State* L) {
  auto* self = *static_cast<LuaTriggers**>(lua_getextraspace(L));
  if (!self) luaL_error(L, "the shared store is not available here");
  return *self;
}

// The store and the time of the running callback (packet time: in replay the
// pcap's, live the arrival); raises outside callbacks.
SharedStore& store_of(lua_State* L, const char* fn, Timestamp* now) {
  LuaTriggers& self = self_of(L);
  if (!self.call_state().active) luaL_error(L, "tripline.%s: only inside a trigger callback", fn);
  if (!self.shared_store()) luaL_error(L, "tripline.%s: the shared store is not available", fn);
  *now = self.call_state().now;
  return *self.shared_store();
}

std::string_view check_key(lua_State* L, const char* fn) {
  if (lua_type(L, 1) != LUA_TSTRING)
    luaL_error(L, "tripline.%s: key: expected a string, got %s", fn, luaL_typename(L, 1));
  size_t n = 0;
  const char* s = lua_tolstring(L, 1, &n);
  if (n == 0 || n > SharedStore::kMaxKey)
    luaL_error(L, "tripline.%s: key: expected 1..%d bytes, got %d", fn, int(SharedStore::kMaxKey),
               static_cast<int>(std::min<size_t>(n, 1 << 30)));
  return {s, n};
}

// ttl in seconds: nil or none is no expiry.
Timestamp check_ttl(lua_State* L, int idx, const char* fn) {
  if (lua_isnoneornil(L, idx)) return SharedStore::kNever;
  if (lua_type(L, idx) != LUA_TNUMBER)
    luaL_error(L, "tripline.%s: ttl: expected seconds (a number) or nil, got %s", fn,
               luaL_typename(L, idx));
  double s = lua_tonumber(L, idx);
  if (!(s > 0) || s > kMaxTtlSeconds)
    luaL_error(L, "tripline.%s: ttl: expected 0 < seconds <= %d (10 years), or nil", fn,
               static_cast<int>(kMaxTtlSeconds));
  return seconds(s);
}

// A number argument into a SharedValue (Int or Float).
void to_number(lua_State* L, int idx, SharedValue* v) {
  if (lua_isinteger(L, idx)) {
    v->kind = SharedValue::Kind::Int;
    v->i = lua_tointeger(L, idx);
  } else {
    v->kind = SharedValue::Kind::Float;
    v->d = lua_tonumber(L, idx);
  }
}

int push_value(lua_State* L, const SharedValue& v) {
  switch (v.kind) {
    case SharedValue::Kind::None:
      lua_pushnil(L);
      break;
    case SharedValue::Kind::Int:
      lua_pushinteger(L, v.i);
      break;
    case SharedValue::Kind::Float:
      lua_pushnumber(L, v.d);
      break;
    case SharedValue::Kind::Bool:
      lua_pushboolean(L, v.b);
      break;
    case SharedValue::Kind::String:
      lua_pushlstring(L, v.s.data(), v.s.size());
      break;
  }
  return 1;
}

// What a worker's calls copy values through: its strings keep their capacity,
// so a call allocates nothing once the longest value has been seen.
SharedValue& scratch() {
  thread_local SharedValue v;
  return v;
}

void count(lua_State* L, const SharedStore::Effect& e) {
  if (e.evicted) self_of(L).env().counters().lua_shared_evicted.add(e.evicted);
}

// tripline.incr(key [, n = 1 [, ttl]]) -> the new value
int api_incr(lua_State* L) {
  Timestamp now = 0;
  SharedStore& store = store_of(L, "incr", &now);
  std::string_view key = check_key(L, "incr");
  SharedValue n;
  if (lua_isnoneornil(L, 2)) {
    n.kind = SharedValue::Kind::Int;
    n.i = 1;
  } else if (lua_type(L, 2) == LUA_TNUMBER) {
    to_number(L, 2, &n);
  } else {
    return luaL_error(L, "tripline.incr: n: expected a number, got %s", luaL_typename(L, 2));
  }
  Timestamp ttl = check_ttl(L, 3, "incr");
  SharedStore::Effect effect;
  SharedValue& out = scratch();
  if (!store.incr(key, n, ttl, now, &out, &effect))
    return luaL_error(L, "tripline.incr: key \"%s\" holds a value that is not a number",
                      lua_tostring(L, 1));
  count(L, effect);
  return push_value(L, out);
}

// tripline.get(key) -> the value, or nil
int api_get(lua_State* L) {
  Timestamp now = 0;
  SharedStore& store = store_of(L, "get", &now);
  std::string_view key = check_key(L, "get");
  SharedValue& out = scratch();
  store.get(key, now, &out);
  return push_value(L, out);
}

// tripline.set(key, value [, ttl]); a nil value deletes the key.
int api_set(lua_State* L) {
  Timestamp now = 0;
  SharedStore& store = store_of(L, "set", &now);
  std::string_view key = check_key(L, "set");
  Timestamp ttl = check_ttl(L, 3, "set");
  SharedValue& v = scratch();
  switch (lua_type(L, 2)) {
    case LUA_TNONE:
    case LUA_TNIL:
      store.del(key, now);
      return 0;
    case LUA_TNUMBER:
      to_number(L, 2, &v);
      break;
    case LUA_TBOOLEAN:
      v.kind = SharedValue::Kind::Bool;
      v.b = lua_toboolean(L, 2) != 0;
      break;
    case LUA_TSTRING: {
      size_t n = 0;
      const char* s = lua_tolstring(L, 2, &n);
      if (n > SharedStore::kMaxString)
        return luaL_error(L, "tripline.set: value: strings up to %d bytes, got %d",
                          int(SharedStore::kMaxString),
                          static_cast<int>(std::min<size_t>(n, 1 << 30)));
      v.kind = SharedValue::Kind::String;
      v.s.assign(s, n);
      break;
    }
    default:
      return luaL_error(L, "tripline.set: value: expected a number, string, boolean or nil, got %s",
                        luaL_typename(L, 2));
  }
  SharedStore::Effect effect;
  store.set(key, v, ttl, now, &effect);
  count(L, effect);
  return 0;
}

// tripline.del(key) -> true when the key held a value
int api_del(lua_State* L) {
  Timestamp now = 0;
  SharedStore& store = store_of(L, "del", &now);
  lua_pushboolean(L, store.del(check_key(L, "del"), now));
  return 1;
}

}  // namespace

void add_shared_functions(lua_State* L) {
  const luaL_Reg fns[] = {
      {"incr", api_incr}, {"get", api_get}, {"set", api_set}, {"del", api_del}, {nullptr, nullptr}};
  luaL_setfuncs(L, fns, 0);
}

}  // namespace tripline
