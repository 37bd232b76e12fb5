// Questions another thread (the control socket) asks a worker: the worker
// answers them on its own thread between batches and on its idle ticks, so
// nothing else ever reads its flow table or capture sessions. The asker waits
// a bounded time; a worker that is stuck leaves it with no answer, not stuck.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace tripline {

class Worker;

class WorkerMailbox {
 public:
  using Job = std::function<void(Worker&)>;

  // Any thread: has `job` run on the worker's thread at its next serve()
  // and waits up to `timeout` for it. True when it ran; false when the worker
  // did not get to it in time: it is then withdrawn, or, if the worker had
  // already taken it, finishes later on data the job owns (capture what you
  // need by value or shared_ptr, never a reference into the asker's stack).
  // One question at a time per mailbox: other askers wait their turn (their
  // own timeout counts from when they asked).
  bool call(Job job, std::chrono::milliseconds timeout);

  // call() with a result: nullopt on timeout.
  template <typename R>
  std::optional<R> ask(std::function<R(Worker&)> fn, std::chrono::milliseconds timeout) {
    auto out = std::make_shared<std::optional<R>>();
    bool ok = call([out, fn = std::move(fn)](Worker& w) { *out = fn(w); }, timeout);
    if (!ok) return std::nullopt;
    return std::move(*out);
  }

  // The worker's thread: runs the pending job, if any. One relaxed-acquire
  // load when there is none (called once per batch and per idle tick).
  void serve(Worker& w) {
    if (!pending_.load(std::memory_order_acquire)) return;
    serve_pending(w);
  }

 private:
  struct Call {
    Job job;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  void serve_pending(Worker& w);

  std::atomic<bool> pending_{false};
  std::timed_mutex ask_mu_;  // one asker at a time
  std::mutex mu_;
  std::shared_ptr<Call> slot_;
};

}  // namespace tripline
