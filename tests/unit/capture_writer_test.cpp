#include "capture_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "capture_test_util.h"

namespace tripline {
namespace {

using capture_test::file_of;
using capture_test::read_pcap;
using capture_test::SmallDisk;
using capture_test::TempDir;

constexpr Timestamp kT0 = 1'767'225'600LL * kNsPerSec;  // 2026-01-01T00:00:00Z

// Bytes that identify (session, i) and vary in length.
std::vector<uint8_t> payload(uint64_t session, uint32_t i, size_t len) {
  std::vector<uint8_t> b(len);
  for (size_t k = 0; k < len; ++k) b[k] = static_cast<uint8_t>(session * 31 + i * 7 + k);
  return b;
}

// Every test runs for both formats: the format under test, set by the fixture.
CaptureFormat g_format = CaptureFormat::Pcapng;

CaptureConfig config(const std::string& dir) {
  CaptureConfig cfg;
  cfg.dir = dir;
  cfg.ring_bytes = 1u << 20;
  cfg.format = g_format;
  return cfg;
}

// The file name ending of the format under test.
std::string ext() { return g_format == CaptureFormat::Pcapng ? ".pcapng" : ".pcap"; }

class CaptureWriterTest : public testing::TestWithParam<CaptureFormat> {
 protected:
  void SetUp() override { g_format = GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Formats, CaptureWriterTest,
                         testing::Values(CaptureFormat::Pcapng, CaptureFormat::Pcap),
                         [](const testing::TestParamInfo<CaptureFormat>& i) {
                           return std::string(i.param == CaptureFormat::Pcapng ? "pcapng" : "pcap");
                         });

TEST_P(CaptureWriterTest, WritesSessionsThatReadBackExactly) {
  TempDir tmp;
  CaptureConfig cfg = config(tmp.path());
  cfg.snaplen = 200;
  constexpr uint32_t kN = 50;
  {
    CaptureWriter writer(cfg, 2);
    ASSERT_TRUE(writer.open(0, 1, "dns tunnel!", kT0));
    ASSERT_TRUE(writer.open(1, 1, "other/..label", kT0 + 5 * kNsPerSec));
    for (uint32_t i = 0; i < kN; ++i) {
      Timestamp ts = kT0 + i * 1'234'567'891LL + 7;
      ASSERT_TRUE(writer.write(0, 1, ts, payload(1, i, 20 + i)));
      // Worker 1: longer than snaplen from i = 40; the file keeps 200 bytes
      // and the original length. Its last packet claims a longer original.
      uint32_t orig = i == kN - 1 ? 5000 : 0;
      ASSERT_TRUE(writer.write(1, 1, ts + 1, payload(2, i, 100 + 3 * i), orig));
    }
    ASSERT_TRUE(writer.close(0, 1));
    ASSERT_TRUE(writer.close(1, 1));
    writer.flush();

    CaptureWriterStats st = writer.stats();
    EXPECT_EQ(st.records_written, 2 * kN);
    EXPECT_EQ(st.records_dropped, 0u);
    EXPECT_EQ(st.files_opened, 2u);
    EXPECT_EQ(st.write_errors, 0u);

    auto files = writer.files();
    ASSERT_EQ(files.size(), 2u);
    auto f0 = std::filesystem::path(file_of(files, 0, 1)).filename().string();
    auto f1 = std::filesystem::path(file_of(files, 1, 1)).filename().string();
    EXPECT_EQ(f0, "tripline-20260101T000000Z-w0-s1-dns_tunnel_" + ext());
    EXPECT_EQ(f1, "tripline-20260101T000005Z-w1-s1-other_..label" + ext());
  }
  // After the writer is gone the files are complete.
  for (unsigned w = 0; w < 2; ++w) {
    std::vector<std::string> names;
    for (auto& e : std::filesystem::directory_iterator(tmp.path())) names.push_back(e.path());
    auto pcap = read_pcap(file_of(names, w, 1));
    ASSERT_TRUE(pcap.ok) << pcap.error;
    EXPECT_EQ(pcap.linktype, DLT_RAW);
    EXPECT_EQ(pcap.precision, PCAP_TSTAMP_PRECISION_NANO);
    ASSERT_EQ(pcap.records.size(), kN);
    for (uint32_t i = 0; i < kN; ++i) {
      const auto& r = pcap.records[i];
      Timestamp ts = kT0 + i * 1'234'567'891LL + 7 + w;
      EXPECT_EQ(r.ts, ts) << "worker " << w << " packet " << i;
      size_t len = w == 0 ? 20 + i : 100 + 3 * i;
      auto want = payload(w + 1, i, len);
      if (want.size() > cfg.snaplen) want.resize(cfg.snaplen);
      EXPECT_EQ(r.bytes, want) << "worker " << w << " packet " << i;
      EXPECT_EQ(r.caplen, want.size());
      EXPECT_EQ(r.len, w == 1 && i == kN - 1 ? 5000u : len);
    }
  }
}

TEST_P(CaptureWriterTest, FlushMakesPacketsOfAnOpenSessionReadable) {
  TempDir tmp;
  CaptureWriter writer(config(tmp.path()), 1);
  ASSERT_TRUE(writer.open(0, 7, "", kT0));
  for (uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(writer.write(0, 7, kT0 + i, payload(7, i, 60)));
  writer.flush();
  auto path = file_of(writer.files(), 0, 7);
  EXPECT_EQ(std::filesystem::path(path).filename().string(),
            "tripline-20260101T000000Z-w0-s7" + ext());
  auto pcap = read_pcap(path);
  ASSERT_TRUE(pcap.ok) << pcap.error;
  EXPECT_EQ(pcap.records.size(), 5u);
}

TEST_P(CaptureWriterTest, LabelIsCutTo48Characters) {
  TempDir tmp;
  CaptureWriter writer(config(tmp.path()), 1);
  std::string label(100, 'x');
  ASSERT_TRUE(writer.open(0, 1, label, kT0));
  ASSERT_TRUE(writer.close(0, 1));
  writer.flush();
  auto name = std::filesystem::path(file_of(writer.files(), 0, 1)).filename().string();
  EXPECT_EQ(name, "tripline-20260101T000000Z-w0-s1-" + std::string(48, 'x') + ext());
}

// A paused writer never drains: the ring fills after a fixed number of
// records, every further write is refused and counted, and nothing is lost
// once it drains again.
TEST_P(CaptureWriterTest, FullRingRefusesAndCounts) {
  TempDir tmp;
  CaptureConfig cfg = config(tmp.path());
  cfg.snaplen = 1500;
  cfg.ring_bytes = 4096;
  CaptureWriterOptions opts;
  opts.start_paused = true;
  CaptureWriter writer(cfg, 1, opts);

  ASSERT_TRUE(writer.open(0, 1, "x", kT0));  // 40 bytes
  uint32_t accepted = 0, refused = 0;
  for (uint32_t i = 0; i < 10; ++i) {
    if (writer.write(0, 1, kT0 + i, payload(1, i, 1000))) {
      ASSERT_EQ(refused, 0u) << "accepted after a refusal without draining";
      ++accepted;
    } else {
      ++refused;
    }
  }
  // 4096 bytes: the open record (40) and three 1032-byte packet records.
  EXPECT_EQ(CaptureWriter::record_bytes(1000), 1032u);
  EXPECT_EQ(accepted, 3u);
  EXPECT_EQ(refused, 7u);
  EXPECT_EQ(writer.stats().records_dropped, 7u);
  EXPECT_EQ(writer.stats().records_written, 0u);

  writer.resume();
  writer.flush();
  EXPECT_EQ(writer.stats().records_written, 3u);
  ASSERT_TRUE(writer.write(0, 1, kT0 + 100, payload(1, 100, 1000)));
  writer.flush();
  auto pcap = read_pcap(file_of(writer.files(), 0, 1));
  ASSERT_TRUE(pcap.ok) << pcap.error;
  ASSERT_EQ(pcap.records.size(), 4u);
  EXPECT_EQ(pcap.records[3].bytes, payload(1, 100, 1000));
}

// Many records of varying sizes through a small ring: records never wrap, so
// the producer skips the buffer's tail; every packet must still come out
// whole and in order.
TEST_P(CaptureWriterTest, RingWrapsWithoutCorruptingRecords) {
  TempDir tmp;
  CaptureConfig cfg = config(tmp.path());
  cfg.snaplen = 1500;
  cfg.ring_bytes = 4096;
  CaptureWriter writer(cfg, 1);
  ASSERT_TRUE(writer.open(0, 1, "wrap", kT0));
  constexpr uint32_t kN = 300;
  std::vector<std::vector<uint8_t>> sent;
  for (uint32_t i = 0; i < kN; ++i) {
    sent.push_back(payload(1, i, 1 + (i * 397) % 1500));
    while (!writer.write(0, 1, kT0 + i, sent.back())) writer.flush();
  }
  ASSERT_TRUE(writer.close(0, 1) || (writer.flush(), writer.close(0, 1)));
  writer.flush();
  auto pcap = read_pcap(file_of(writer.files(), 0, 1));
  ASSERT_TRUE(pcap.ok) << pcap.error;
  ASSERT_EQ(pcap.records.size(), kN);
  for (uint32_t i = 0; i < kN; ++i) {
    EXPECT_EQ(pcap.records[i].bytes, sent[i]) << "packet " << i;
    EXPECT_EQ(pcap.records[i].ts, kT0 + i);
  }
}

TEST_P(CaptureWriterTest, RecordsOfUnknownSessionsAreDroppedAndCounted) {
  TempDir tmp;
  CaptureWriter writer(config(tmp.path()), 2);
  EXPECT_TRUE(writer.write(0, 42, kT0, payload(42, 0, 40)));  // queued, then discarded
  EXPECT_TRUE(writer.close(1, 42));
  ASSERT_TRUE(writer.open(0, 1, "", kT0));
  EXPECT_TRUE(writer.write(1, 1, kT0, payload(1, 0, 40)));  // session 1 is worker 0's
  writer.flush();
  EXPECT_EQ(writer.stats().records_dropped, 3u);
  EXPECT_EQ(writer.stats().records_written, 0u);
}

TEST_P(CaptureWriterTest, MaxFilesDeletesTheOldestClosedFile) {
  TempDir tmp;
  CaptureConfig cfg = config(tmp.path());
  cfg.max_files = 3;
  CaptureWriter writer(cfg, 1);
  for (uint64_t s = 1; s <= 5; ++s) {
    ASSERT_TRUE(writer.open(0, s, "f", kT0 + static_cast<Timestamp>(s)));
    ASSERT_TRUE(writer.write(0, s, kT0, payload(s, 0, 40)));
    ASSERT_TRUE(writer.close(0, s));
  }
  writer.flush();
  auto files = writer.files();
  ASSERT_EQ(files.size(), 3u);
  EXPECT_NE(file_of(files, 0, 3), "");
  EXPECT_NE(file_of(files, 0, 4), "");
  EXPECT_NE(file_of(files, 0, 5), "");
  EXPECT_EQ(writer.stats().files_deleted, 2u);
  size_t on_disk = 0;
  for (auto& e : std::filesystem::directory_iterator(tmp.path())) {
    (void)e;
    ++on_disk;
  }
  EXPECT_EQ(on_disk, 3u);
  for (const auto& f : files) EXPECT_TRUE(std::filesystem::exists(f)) << f;

  // Files still being written are never deleted, even beyond max_files.
  for (uint64_t s = 10; s < 16; ++s) ASSERT_TRUE(writer.open(0, s, "open", kT0));
  writer.flush();
  files = writer.files();
  EXPECT_EQ(files.size(), 6u);  // the three closed ones went first
  for (uint64_t s = 10; s < 16; ++s) EXPECT_NE(file_of(files, 0, s), "") << s;
  EXPECT_EQ(writer.stats().files_deleted, 5u);
}

// max_files counts what is in the folder: earlier runs' recordings too, at
// start and at every new file; files with other names are never touched.
TEST_P(CaptureWriterTest, MaxFilesCountsEarlierRunsInTheFolder) {
  TempDir tmp;
  const std::vector<std::string> earlier = {
      "tripline-20250101T000000Z-w0-s1-old.pcap", "tripline-20250101T000000Z-w0-s2.pcap",
      "tripline-20250102T000000Z-w1-s1-x.1.pcapng", "tripline-20250103T000000Z-w0-s9-keep.pcap"};
  const std::vector<std::string> foreign = {"notes.txt", "tripline-manual.pcap",
                                            "tripline-x.pcapng",
                                            "tripline-20250101T000000Z-w0-s1-old.pcap.bak"};
  for (const auto& n : earlier) std::ofstream(tmp.path() + "/" + n) << "x";
  for (const auto& n : foreign) std::ofstream(tmp.path() + "/" + n) << "x";
  auto on_disk = [&] {
    std::vector<std::string> names;
    for (auto& e : std::filesystem::directory_iterator(tmp.path()))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  };
  CaptureConfig cfg = config(tmp.path());
  cfg.max_files = 3;
  CaptureWriter writer(cfg, 1);
  // At start: four recordings, three allowed: the oldest went.
  EXPECT_EQ(writer.stats().files_deleted, 1u);
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/" + earlier[0]));
  for (int run = 0; run < 4; ++run) {
    ASSERT_TRUE(writer.open(0, 100 + run, "new", kT0 + run * kNsPerSec));
    ASSERT_TRUE(writer.close(0, 100 + run));
  }
  writer.flush();
  std::vector<std::string> names = on_disk();
  size_t recordings = 0;
  for (const auto& n : names)
    recordings += n.starts_with("tripline-2") && (n.ends_with(".pcap") || n.ends_with(".pcapng"));
  EXPECT_EQ(recordings, 3u);
  for (const auto& n : foreign) EXPECT_TRUE(std::filesystem::exists(tmp.path() + "/" + n)) << n;
  EXPECT_EQ(writer.stats().files_deleted, 5u);
  EXPECT_NE(file_of(writer.files(), 0, 103), "");
}

TEST_P(CaptureWriterTest, UnusableDirectoryThrows) {
  TempDir tmp;
  std::string file = tmp.path() + "/plain_file";
  std::ofstream(file) << "x";
  EXPECT_THROW(CaptureWriter(config(file), 1), std::runtime_error);
  EXPECT_THROW(CaptureWriter(config(file + "/sub"), 1), std::runtime_error);
  EXPECT_THROW(CaptureWriter(config(""), 1), std::runtime_error);
  EXPECT_THROW(CaptureWriter(config(tmp.path()), 0), std::runtime_error);
  CaptureConfig tiny = config(tmp.path());
  tiny.ring_bytes = 1024;  // cannot hold two 65535-byte packets
  EXPECT_THROW(CaptureWriter(tiny, 1), std::runtime_error);

  // A missing directory is created.
  std::string fresh = tmp.path() + "/a/b";
  CaptureWriter ok(config(fresh), 1);
  EXPECT_TRUE(std::filesystem::is_directory(fresh));
}

// A real ENOSPC: the file of session 1 is /dev/full (the kernel fails every
// write with "No space left on device"). The error is counted, that session's
// later records are dropped, and other sessions go on.
TEST_P(CaptureWriterTest, WriteErrorEndsOnlyThatSession) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "/dev/full is not writable here";
  TempDir tmp;
  CaptureWriterOptions opts;
  opts.open_file = [](const std::string& path) -> FILE* {
    if (path.find("-s1-") != std::string::npos) return std::fopen("/dev/full", "wb");
    return std::fopen(path.c_str(), "wbx");
  };
  // Paused, so that all ten records are written before any flush finds the
  // error (otherwise an idle flush could end session 1 early).
  opts.start_paused = true;
  CaptureWriter writer(config(tmp.path()), 1, opts);
  ASSERT_TRUE(writer.open(0, 1, "full", kT0));
  ASSERT_TRUE(writer.open(0, 2, "fine", kT0));
  for (uint32_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(writer.write(0, 1, kT0 + i, payload(1, i, 100)));
    ASSERT_TRUE(writer.write(0, 2, kT0 + i, payload(2, i, 100)));
  }
  Counter lost;
  writer.attach_lost(0, &lost);
  writer.resume();
  writer.flush();  // the buffered bytes meet the full device here
  EXPECT_EQ(writer.stats().write_errors, 1u);
  // The five records buffered for session 1 never reached a file: lost, and
  // counted so (before, they were counted written).
  EXPECT_EQ(writer.stats().records_dropped, 5u);
  EXPECT_EQ(writer.stats().records_written, 5u);  // session 2's
  EXPECT_EQ(lost.get(), 5u);

  for (uint32_t i = 5; i < 8; ++i) {
    ASSERT_TRUE(writer.write(0, 1, kT0 + i, payload(1, i, 100)));
    ASSERT_TRUE(writer.write(0, 2, kT0 + i, payload(2, i, 100)));
  }
  ASSERT_TRUE(writer.close(0, 1));
  ASSERT_TRUE(writer.close(0, 2));
  writer.flush();
  EXPECT_EQ(writer.stats().write_errors, 1u);
  EXPECT_EQ(writer.stats().records_dropped, 8u);
  EXPECT_EQ(writer.stats().records_written, 8u);
  EXPECT_EQ(lost.get(), 8u);
  writer.attach_lost(0, nullptr);
  auto pcap = read_pcap(file_of(writer.files(), 0, 2));
  ASSERT_TRUE(pcap.ok) << pcap.error;
  EXPECT_EQ(pcap.records.size(), 8u);
}

// A full disk: every record is either in a file or counted lost; every file
// left reads back to its last whole packet, none is empty; no new file is
// opened while the disk is full, and recording starts again after.
TEST_P(CaptureWriterTest, FullDiskLosesOnlyCountedRecordsAndLeavesReadableFiles) {
  TempDir tmp;
  SmallDisk disk(tmp.path(), "256k");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  CaptureConfig cfg = config(tmp.path());
  cfg.max_files = 1000;
  CaptureWriterOptions opts;
  opts.retry_after = std::chrono::milliseconds(200);
  CaptureWriter writer(cfg, 1, opts);
  Counter lost;
  writer.attach_lost(0, &lost);
  uint64_t sent = 0;
  for (uint64_t s = 1; s <= 40; ++s) {
    ASSERT_TRUE(writer.open(0, s, "full", kT0));
    for (uint32_t i = 0; i < 20; ++i) {
      while (!writer.write(0, s, kT0 + i, payload(static_cast<uint8_t>(s), i, 1400)))
        writer.flush();  // a full ring: wait, this test counts the disk's losses
      ++sent;
    }
    ASSERT_TRUE(writer.close(0, s));
    writer.flush();
  }
  CaptureWriterStats st = writer.stats();
  EXPECT_GT(st.write_errors, 0u);
  EXPECT_GT(st.records_dropped, 0u);
  EXPECT_EQ(st.records_written + st.records_dropped, sent);
  EXPECT_EQ(lost.get(), st.records_dropped);
  uint64_t in_files = 0;
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(tmp.path())) {
    ++files;
    EXPECT_GT(std::filesystem::file_size(e.path()), 24u) << e.path();
    auto pcap = read_pcap(e.path().string());
    EXPECT_TRUE(pcap.ok) << e.path() << ": " << pcap.error;
    in_files += pcap.records.size();
  }
  EXPECT_EQ(in_files, st.records_written);
  EXPECT_LT(files, 40u);  // no file for the sessions that started on a full disk

  // Room again (the operator freed space): after the pause, recording resumes.
  for (auto& e : std::filesystem::directory_iterator(tmp.path())) std::filesystem::remove(e.path());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(writer.open(0, 100, "again", kT0));
  ASSERT_TRUE(writer.write(0, 100, kT0, payload(9, 0, 100)));
  ASSERT_TRUE(writer.close(0, 100));
  writer.flush();
  auto again = read_pcap(file_of(writer.files(), 0, 100));
  ASSERT_TRUE(again.ok) << again.error;
  EXPECT_EQ(again.records.size(), 1u);
  writer.attach_lost(0, nullptr);
}

std::string find_on_path(const char* prog) {
  const char* path = std::getenv("PATH");
  if (!path) return "";
  std::string p = path;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string cand = p.substr(start, end - start) + "/" + prog;
    if (!cand.empty() && access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return "";
}

// Wireshark's own reader agrees on what we wrote.
TEST_P(CaptureWriterTest, CapinfosCountsThePackets) {
  std::string capinfos = find_on_path("capinfos");
  if (capinfos.empty()) GTEST_SKIP() << "capinfos (wireshark/tshark package) is not on PATH";
  TempDir tmp;
  std::string path;
  {
    CaptureWriter writer(config(tmp.path()), 1);
    ASSERT_TRUE(writer.open(0, 1, "capinfos", kT0));
    for (uint32_t i = 0; i < 37; ++i)
      ASSERT_TRUE(writer.write(0, 1, kT0 + i * 1000, payload(1, i, 64)));
    ASSERT_TRUE(writer.close(0, 1));
    writer.flush();
    path = file_of(writer.files(), 0, 1);
  }
  std::string cmd = capinfos + " -c -T -r '" + path + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  ASSERT_EQ(status, 0) << out;
  // One line: "<path>\t<packets>".
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("\t([0-9]+)\\s*$"))) << out;
  EXPECT_EQ(m[1].str(), "37") << out;
}

}  // namespace
}  // namespace tripline
