// The library functions trigger scripts get: an allow-list per library (base,
// string, table, math, utf8). Every other function of these libraries and of
// io, os, debug, package and coroutine is a stub that raises "NAME is not
// available in tripline scripts". C functions whose work grows with their
// input are charged to the running call's budget (LuaSandbox::charge), Lua
// patterns by an estimate of their worst case before they run.
#pragma once

#include <string_view>

struct lua_State;

namespace tripline {

// Opens the libraries into the state's globals; runs inside a protected call.
void open_sandbox_libraries(lua_State* L);

// Worst-case steps of Lua's backtracking matcher for `pattern` over `subject`:
// (start positions tried) x (subject length + 1)^(repetitions that can
// backtrack). Start positions: 1 when anchored (`anchor_ok` and a leading
// '^'), the occurrences of the pattern's literal prefix when it has one, else
// every position. A repetition that ends the pattern never backtracks.
double lua_pattern_cost(std::string_view subject, std::string_view pattern, bool anchor_ok);

}  // namespace tripline
