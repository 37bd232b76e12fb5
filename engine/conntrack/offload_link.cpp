#include "offload_link.h"

namespace tripline {

OffloadLink::OffloadLink(unsigned workers, size_t max_requests, size_t max_ends, size_t max_owned)
    : max_requests_(max_requests), max_ends_(max_ends), max_owned_(max_owned), requests_(64) {
  for (unsigned i = 0; i < workers; ++i)
    inboxes_.push_back(std::make_unique<moodycamel::ConcurrentQueue<CtEnd>>(64));
}

bool OffloadLink::request(const CtRequest& r) {
  if (r.op == CtOp::Offload && r.in_verdict) {
    // Nothing for the control thread to do but this: a queued request would
    // cost it a wake-up (or a poll) per offloaded flow.
    if (will_offload(r)) return true;
    requests_full_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (requests_.size_approx() >= max_requests_ || !requests_.enqueue(r)) {
    requests_full_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // Pairs with the fence in wait_for_request: either the control thread
  // sees this request before it sleeps, or this sees it waiting.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (waiting_.load()) wake();
  return true;
}

void OffloadLink::wait_for_request(const std::atomic<bool>& stop) {
  const uint32_t s = signal_.load();
  if (stop.load()) return;  // a stop whose wake() came before this load
  waiting_.store(true);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (requests_.size_approx() == 0) signal_.wait(s);
  waiting_.store(false, std::memory_order_relaxed);
}

void OffloadLink::wake() {
  signal_.fetch_add(1);
  signal_.notify_all();
}

bool OffloadLink::next_end(unsigned w, CtEnd& out) {
  return w < inboxes_.size() && inboxes_[w]->try_dequeue(out);
}

bool OffloadLink::next_request(CtRequest& out) { return requests_.try_dequeue(out); }

bool OffloadLink::will_offload(const CtRequest& r) {
  if (r.op != CtOp::Offload) return true;
  std::lock_guard lock(mu_);
  auto [it, added] = owner_.try_emplace(r.tuple.canonical(), r.worker);
  if (added && owner_.size() > max_owned_) {
    owner_.erase(it);
    return false;
  }
  it->second = r.worker;
  return true;
}

bool OffloadLink::to_worker(unsigned w, const CtEnd& e) {
  if (w >= inboxes_.size() || inboxes_[w]->size_approx() >= max_ends_ || !inboxes_[w]->enqueue(e)) {
    ends_full_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void OffloadLink::applied(const CtRequest& r, bool ok, bool created) {
  if (r.op == CtOp::TakeBack) {
    if (ok) taken_back_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    owner_.erase(r.tuple.canonical());
    return;
  }
  if (ok) {
    offloaded_.fetch_add(1, std::memory_order_relaxed);
    if (created) created_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  refused_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    owner_.erase(r.tuple.canonical());
  }
  CtEnd refused;
  refused.tuple = r.tuple;
  refused.kind = CtEndKind::Refused;
  to_worker(r.worker, refused);
}

void OffloadLink::forget(const CtTuple& t, uint16_t worker) {
  std::lock_guard lock(mu_);
  auto it = owner_.find(t.canonical());
  if (it != owner_.end() && it->second == worker) owner_.erase(it);
}

bool OffloadLink::deliver_end(const CtEnd& e) {
  uint16_t w = 0;
  {
    std::lock_guard lock(mu_);
    auto it = owner_.find(e.tuple.canonical());
    if (it == owner_.end()) {
      ends_unknown_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    w = it->second;
    owner_.erase(it);
  }
  if (!to_worker(w, e)) return false;
  ends_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

size_t OffloadLink::offloaded_now() const {
  std::lock_guard lock(mu_);
  return owner_.size();
}

OffloadLinkStats OffloadLink::stats() const {
  auto g = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return {g(requests_full_), g(offloaded_),    g(created_),   g(refused_),    g(taken_back_),
          g(ends_),          g(ends_unknown_), g(ends_full_), g(events_lost_)};
}

}  // namespace tripline
