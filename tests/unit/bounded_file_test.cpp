#include "bounded_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "run_bounded.h"

namespace tripline {
namespace {

using test::ChildOutcome;
using test::run_bounded;

class BoundedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = testing::TempDir() + "tripline_bounded_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const char* name) const { return dir_ + "/" + name; }
  std::string dir_;
};

TEST_F(BoundedFileTest, ReadsARegularFileWhole) {
  std::ofstream(path("a.txt")) << "one\ntwo\n";
  BoundedFileRead r = read_regular_file(path("a.txt"), 100);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.bytes, "one\ntwo\n");
  BoundedFileRead exact = read_regular_file(path("a.txt"), 8);
  EXPECT_TRUE(exact.ok) << exact.error;
}

TEST_F(BoundedFileTest, MissingFileIsMissing) {
  BoundedFileRead r = read_regular_file(path("nope"), 100);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.missing);
  EXPECT_NE(r.error.find(path("nope")), std::string::npos);
}

TEST_F(BoundedFileTest, LargerThanTheBoundIsRefused) {
  std::ofstream(path("big.txt")) << std::string(101, 'x');
  BoundedFileRead r = read_regular_file(path("big.txt"), 100);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.missing);
  EXPECT_TRUE(r.bytes.empty());
}

TEST_F(BoundedFileTest, DirectoryIsRefused) {
  BoundedFileRead r = read_regular_file(dir_, 100);
  EXPECT_FALSE(r.ok);
}

// Before: an ifstream on a FIFO without a writer blocks in open() forever.
TEST_F(BoundedFileTest, FifoWithoutWriterFailsAtOnce) {
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  std::string p = path("fifo");
  auto outcome = run_bounded(
      [&] {
        BoundedFileRead r = read_regular_file(p, 1 << 20);
        return !r.ok && !r.missing && r.error.find("FIFO") != std::string::npos;
      },
      std::chrono::seconds(5));
  EXPECT_EQ(outcome, ChildOutcome::Passed);
}

// Before: reading /dev/zero to its end never ends (or runs out of memory).
TEST_F(BoundedFileTest, DevZeroFailsAtOnce) {
  auto outcome = run_bounded(
      [] {
        BoundedFileRead r = read_regular_file("/dev/zero", 1 << 20);
        return !r.ok && r.error.find("device") != std::string::npos;
      },
      std::chrono::seconds(5));
  EXPECT_EQ(outcome, ChildOutcome::Passed);
}

// /proc files say size 0 and still have content: read to the end, bounded.
TEST_F(BoundedFileTest, FileWhoseSizeIsZeroButHasBytes) {
  BoundedFileRead r = read_regular_file("/proc/self/status", 1 << 20);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_NE(r.bytes.find("Name:"), std::string::npos);
  BoundedFileRead small = read_regular_file("/proc/self/status", 10);
  EXPECT_FALSE(small.ok);
}

}  // namespace
}  // namespace tripline
