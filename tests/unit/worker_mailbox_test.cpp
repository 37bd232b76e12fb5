// Questions to a worker are answered on the worker's own thread, bounded in
// time: a worker that never serves leaves the asker with no answer, not stuck,
// and a withdrawn question never runs later. Also run under ThreadSanitizer.
#include "worker_mailbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "config.h"
#include "worker.h"

namespace tripline {
namespace {

using namespace std::chrono_literals;

struct WorkerThread {
  WorkerThread()
      : cfg(std::make_shared<Config>(Config::defaults())),
        worker(std::make_unique<Worker>(cfg, 0, nullptr)) {}
  // Serves like the live source: between "batches", here every millisecond.
  void start() {
    thread = std::thread([this] {
      owner = std::this_thread::get_id();
      while (!stop.load()) {
        worker->serve_requests();
        ++batches;  // state only this thread writes; questions read it
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  ~WorkerThread() {
    stop.store(true);
    if (thread.joinable()) thread.join();
  }
  std::shared_ptr<const Config> cfg;
  std::unique_ptr<Worker> worker;
  std::atomic<bool> stop{false};
  std::thread thread;
  std::thread::id owner;
  uint64_t batches = 0;  // plain: only the worker thread touches it
};

TEST(WorkerMailbox, QuestionsRunOnTheWorkersThread) {
  WorkerThread w;
  w.start();
  for (int i = 0; i < 200; ++i) {
    auto got = w.worker->mailbox().ask<std::pair<std::thread::id, uint64_t>>(
        [&w](Worker&) { return std::make_pair(std::this_thread::get_id(), w.batches); }, 2000ms);
    ASSERT_TRUE(got);
    EXPECT_NE(got->first, std::this_thread::get_id());
  }
}

TEST(WorkerMailbox, AWorkerThatNeverServesTimesOutAndTheQuestionIsWithdrawn) {
  WorkerThread w;  // not started: nobody serves
  std::atomic<int> ran{0};
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(w.worker->mailbox().call([&ran](Worker&) { ++ran; }, 50ms));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 50ms);
  EXPECT_LT(took, 1000ms);
  w.worker->serve_requests();  // the worker comes back: the withdrawn question is gone
  EXPECT_EQ(ran.load(), 0);
}

TEST(WorkerMailbox, ManyAskersOneWorker) {
  WorkerThread w;
  w.start();
  std::atomic<int> answered{0};
  std::vector<std::thread> askers;
  for (int t = 0; t < 4; ++t) {
    askers.emplace_back([&] {
      for (int i = 0; i < 50; ++i)
        if (w.worker->mailbox().ask<int>([](Worker&) { return 1; }, 2000ms)) ++answered;
    });
  }
  for (auto& t : askers) t.join();
  // Askers take turns: every question is answered.
  EXPECT_EQ(answered.load(), 200);
}

}  // namespace
}  // namespace tripline
