#include "worker_mailbox.h"

#include <thread>
#include <utility>

namespace tripline {

bool WorkerMailbox::call(Job job, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // try_lock in steps rather than try_lock_until: ThreadSanitizer does not
  // see the clock-based lock (pthread_mutex_clocklock) and reports its unlock.
  std::unique_lock turn(ask_mu_, std::defer_lock);
  while (!turn.try_lock()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto c = std::make_shared<Call>();
  c->job = std::move(job);
  {
    std::lock_guard lock(mu_);
    slot_ = c;
    pending_.store(true, std::memory_order_release);
  }
  {
    std::unique_lock lock(c->mu);
    if (c->cv.wait_until(lock, deadline, [&] { return c->done; })) return true;
  }
  std::lock_guard lock(mu_);
  if (slot_ == c) {  // not taken yet: withdrawn
    slot_.reset();
    pending_.store(false, std::memory_order_relaxed);
  }
  return false;
}

void WorkerMailbox::serve_pending(Worker& w) {
  std::shared_ptr<Call> c;
  {
    std::lock_guard lock(mu_);
    c = std::move(slot_);
    pending_.store(false, std::memory_order_relaxed);
  }
  if (!c) return;
  try {
    c->job(w);
  } catch (...) {  // e.g. out of memory building an answer: the asker gets none
  }
  {
    std::lock_guard lock(c->mu);
    c->done = true;
  }
  c->cv.notify_all();
}

}  // namespace tripline
