// The event writer under concurrent submitters: every line it counts as
// written is in the file, whole and once; every other line is counted dropped.
// Also run under ThreadSanitizer (the tsan preset).
#include "event_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "capture_test_util.h"
#include "run_bounded.h"

namespace tripline {
namespace {

using capture_test::SmallDisk;
using capture_test::TempDir;

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(EventWriter, ConcurrentSubmittersLoseNothingUncounted) {
  TempDir tmp;
  const std::string path = tmp.path() + "/eve.json";
  constexpr int kThreads = 4;
  constexpr int kLines = 5000;
  uint64_t accepted[kThreads] = {};
  uint64_t written = 0, dropped = 0;
  {
    EventWriter writer(path, 1024);  // small queue: some submissions may be refused
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&writer, &accepted, t] {
        for (int i = 0; i < kLines; ++i) {
          std::string line = "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) +
                             ",\"pad\":\"" + std::string(i % 200, 'x') + "\"}";
          if (writer.submit(std::move(line))) ++accepted[t];
        }
      });
    }
    for (auto& th : threads) th.join();
    writer.flush();
    written = writer.written();
    dropped = writer.dropped();
    EXPECT_EQ(writer.write_errors(), 0u);
  }
  uint64_t total_accepted = 0;
  for (uint64_t a : accepted) total_accepted += a;
  EXPECT_EQ(written, total_accepted);
  EXPECT_EQ(written + dropped, uint64_t{kThreads} * kLines);

  // Each accepted line exactly once, intact, and each thread's lines in order.
  std::map<int, int> last;
  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), written);
  for (const auto& line : lines) {
    int t = -1, i = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "{\"t\":%d,\"i\":%d,", &t, &i), 2) << line;
    std::string expect = "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) +
                         ",\"pad\":\"" + std::string(i % 200, 'x') + "\"}";
    EXPECT_EQ(line, expect);
    auto it = last.find(t);
    if (it != last.end()) {
      EXPECT_GT(i, it->second) << "thread " << t << " out of order";
    }
    last[t] = i;
  }
}

TEST(EventWriter, WriteErrorsAreCountedNotWritten) {
  uint64_t written = 0, errors = 0;
  {
    EventWriter writer("/dev/full", 64);
    for (int i = 0; i < 50; ++i) writer.submit(std::string(8192, 'e'));
    writer.flush();
    written = writer.written();
    errors = writer.write_errors();
  }
  EXPECT_GT(errors, 0u);
  EXPECT_LT(written, 50u);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A full disk: every line counted written is in the file whole, every other
// one is counted lost, and the file ends with a whole line.
TEST(EventWriter, FullDiskKeepsWholeLinesAndCountsTheRest) {
  TempDir tmp;
  SmallDisk disk(tmp.path(), "64k");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  const std::string path = tmp.path() + "/eve.json";
  constexpr int kLines = 300;
  Counter written, lost;
  uint64_t w = 0, errors = 0;
  {
    EventWriter writer(path, 4096);
    int source = writer.attach({&written, &lost});
    for (int i = 0; i < kLines; ++i) {
      ASSERT_TRUE(writer.submit(
          "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(700 + i % 13, 'x') + "\"}",
          source));
      if (i % 10 == 0) writer.flush();  // several batches, so one ends part-way
    }
    writer.flush();
    w = writer.written();
    errors = writer.write_errors();
    writer.detach(source);
  }
  EXPECT_GT(w, 0u);
  EXPECT_GT(errors, 0u);
  EXPECT_EQ(w + errors, uint64_t{kLines});
  EXPECT_EQ(written.get(), w);
  EXPECT_EQ(lost.get(), errors);
  std::string text = slurp(path);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  auto lines = read_lines(path);
  EXPECT_EQ(lines.size(), w);
  for (const auto& line : lines) EXPECT_EQ(line.back(), '}') << line.substr(0, 40);
}

// A log that ends inside a line (an earlier run was cut short while writing)
// is cut back to its last whole line before anything is appended.
TEST(EventWriter, CutLineAtTheEndIsRemovedWhenOpened) {
  TempDir tmp;
  const std::string path = tmp.path() + "/eve.json";
  std::ofstream(path, std::ios::binary) << "{\"a\":1}\n{\"b\":2}\n{\"c\":";
  {
    EventWriter writer(path, 64);
    writer.submit("{\"d\":4}");
    writer.flush();
  }
  EXPECT_EQ(slurp(path), "{\"a\":1}\n{\"b\":2}\n{\"d\":4}\n");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "{\"only\":";
  { EventWriter writer(path, 64); }
  EXPECT_EQ(slurp(path), "");
}

// A FIFO nobody reads yet: start-up goes on; the events wait (bounded) and
// reach the reader once one comes.
TEST(EventWriter, FifoWithoutReaderDoesNotBlockStartUp) {
  TempDir tmp;
  const std::string path = tmp.path() + "/eve.fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  auto outcome = test::run_bounded(
      [&] {
        EventWriter writer(path, 64);  // before: fopen blocked here for ever
        for (int i = 0; i < 3; ++i) writer.submit("{\"n\":" + std::to_string(i) + "}");
        int reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
        if (reader < 0 || !writer.flush()) return false;
        char buf[256];
        ssize_t n = ::read(reader, buf, sizeof buf);
        ::close(reader);
        return n > 0 &&
               std::string(buf, static_cast<size_t>(n)) == "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n";
      },
      std::chrono::seconds(10));
  EXPECT_EQ(outcome, test::ChildOutcome::Passed);
}

// A reader that stalls: large events beyond the queue's byte bound are
// dropped (memory stays bounded), and shutdown ends within the drain time.
TEST(EventWriter, StalledFifoReaderBoundsMemoryAndShutdown) {
  TempDir tmp;
  const std::string path = tmp.path() + "/eve.fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  auto outcome = test::run_bounded(
      [&] {
        int reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);  // opens, never reads
        if (reader < 0) return false;
        constexpr int kLines = 2000;
        uint64_t written = 0, dropped = 0, lost = 0;
        auto started = std::chrono::steady_clock::now();
        {
          EventWriter writer(path, 1 << 20);  // the line bound alone would take 200 MB
          const std::string big(100'000, 'a');
          for (int i = 0; i < kLines; ++i) writer.submit("{\"big\":\"" + big + "\"}");
          writer.flush();  // times out: the reader takes nothing
          written = writer.written();
          dropped = writer.dropped();
        }
        auto took = std::chrono::steady_clock::now() - started;
        ::close(reader);
        (void)lost;
        return dropped > 0 && written < kLines && took < std::chrono::seconds(15);
      },
      std::chrono::seconds(30));
  EXPECT_EQ(outcome, test::ChildOutcome::Passed);
}

TEST(EventWriter, QueueIsBoundedInBytesAndEveryLineIsCountedOnce) {
  TempDir tmp;
  const std::string path = tmp.path() + "/eve.fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  int reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  EventWriterOptions opts;
  opts.max_queued_bytes = 1 << 20;
  opts.drain_timeout = std::chrono::milliseconds(200);
  constexpr int kLines = 500;
  uint64_t accepted = 0, written = 0, dropped = 0, lost = 0;
  auto started = std::chrono::steady_clock::now();
  {
    EventWriter writer(path, opts);
    const std::string line = "{\"pad\":\"" + std::string(20'000, 'p') + "\"}";
    for (int i = 0; i < kLines; ++i) {
      accepted += writer.submit(line);
      EXPECT_LE(writer.queued_bytes(), opts.max_queued_bytes);
    }
    EXPECT_FALSE(writer.flush());
    written = writer.written();
    dropped = writer.dropped();
    lost = writer.lost();
    // Given up, counted: the counters add up as soon as flush() returns.
    EXPECT_EQ(written + lost, accepted);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  ::close(reader);
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(accepted + dropped, uint64_t{kLines});
  EXPECT_GT(lost, 0u);
  EXPECT_LT(written, accepted);
}

}  // namespace
}  // namespace tripline
