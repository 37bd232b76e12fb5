// tripline.incr, tripline.get, tripline.set and tripline.del: the scripts'
// side of the store shared by every worker (shared_store.h, lua/API.md).
#pragma once

struct lua_State;

namespace tripline {

// Adds the functions to the `tripline` table on top of the stack (inside the
// protected call that registers the module).
void add_shared_functions(lua_State* L);

}  // namespace tripline
