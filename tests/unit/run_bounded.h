// Runs a test body that may hang or exhaust memory (reading a FIFO or
// /dev/zero before the fix) in a child process with a deadline, so such a
// test fails instead of hanging the suite.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

namespace tripline::test {

enum class ChildOutcome { Passed, Failed, TimedOut, Crashed };

// body returns true on success; it runs in a forked child that exits with it.
inline ChildOutcome run_bounded(const std::function<bool()>& body,
                                std::chrono::milliseconds deadline) {
  pid_t pid = ::fork();
  if (pid < 0) return ChildOutcome::Crashed;
  if (pid == 0) {
    bool ok = false;
    try {
      ok = body();
    } catch (...) {
      ok = false;
    }
    ::_exit(ok ? 0 : 1);
  }
  auto until = std::chrono::steady_clock::now() + deadline;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return ChildOutcome::TimedOut;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status))
    return WEXITSTATUS(status) == 0 ? ChildOutcome::Passed : ChildOutcome::Failed;
  return ChildOutcome::Crashed;
}

}  // namespace tripline::test
