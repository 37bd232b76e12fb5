// The event writer under concurrent submitters: every line it counts as
// written is in the file, whole and once; every other line is counted dropped.
// Also run under ThreadSanitizer (the tsan preset).
#include "event_writer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "capture_test_util.h"

namespace tripline {
namespace {

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

}  // namespace
}  // namespace tripline
