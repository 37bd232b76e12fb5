// Helpers shared by the capture and event writer tests: a temporary
// directory that removes itself, a small tmpfs (a disk that really fills up),
// and reading a pcap file back with libpcap (nanosecond stamps).
#pragma once

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <sys/mount.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "timestamp.h"

namespace tripline::capture_test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = testing::TempDir() + "tripline_capture_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) ADD_FAILURE() << "mkdtemp failed for " << tmpl;
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A small tmpfs of its own over `dir`: a disk that really fills up. Needs
// root; mounted() says whether it is there.
class SmallDisk {
 public:
  SmallDisk(const std::string& dir, const char* size) : dir_(dir) {
    std::string opts = std::string("size=") + size + ",mode=0700";
    mounted_ = ::mount("tripline-test", dir_.c_str(), "tmpfs", 0, opts.c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  bool mounted() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

struct PcapRecord {
  Timestamp ts = 0;
  uint32_t caplen = 0;
  uint32_t len = 0;
  std::vector<uint8_t> bytes;
};

struct PcapFile {
  bool ok = false;
  std::string error;
  int linktype = -1;
  int precision = -1;
  std::vector<PcapRecord> records;
};

inline PcapFile read_pcap(const std::string& path) {
  PcapFile out;
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  if (!p) {
    out.error = err;
    return out;
  }
  out.linktype = pcap_datalink(p);
  out.precision = pcap_get_tstamp_precision(p);
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  int rc;
  while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
    PcapRecord r;
    r.ts = static_cast<Timestamp>(h->ts.tv_sec) * kNsPerSec + h->ts.tv_usec;
    r.caplen = h->caplen;
    r.len = h->len;
    r.bytes.assign(data, data + h->caplen);
    out.records.push_back(std::move(r));
  }
  out.ok = rc == PCAP_ERROR_BREAK;  // end of file, not a read error
  if (!out.ok) out.error = pcap_geterr(p);
  pcap_close(p);
  return out;
}

// The file of (worker, session) among `files`, or "" when there is none.
inline std::string file_of(const std::vector<std::string>& files, unsigned w, uint64_t session) {
  std::string tag = "-w" + std::to_string(w) + "-s" + std::to_string(session);
  for (const auto& f : files) {
    auto name = std::filesystem::path(f).filename().string();
    auto pos = name.find(tag);
    if (pos == std::string::npos) continue;
    char next = pos + tag.size() < name.size() ? name[pos + tag.size()] : '\0';
    if (next == '-' || next == '.') return f;
  }
  return "";
}

}  // namespace tripline::capture_test
