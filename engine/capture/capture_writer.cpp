#include "capture_writer.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <pcap/pcap.h>
#include <spdlog/spdlog.h>
#include <stdio_ext.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "capture_ring.h"
#include "pcapng_blocks.h"
#include "version.h"

namespace tripline {

namespace {

// A record in a worker's ring: this header, its note (note_len bytes: the
// packet's comment, or the section comment of an open), then its bytes (the
// packet, cut to snaplen, or the label); the record's length gives their count.
enum RecordType : uint8_t { kOpen = 1, kPacket = 2, kClose = 3 };

struct RecordHeader {
  uint8_t type = kPacket;
  uint8_t reserved = 0;
  uint16_t note_len = 0;
  uint32_t orig_len = 0;
  uint64_t session = 0;
  int64_t ts = 0;
};
static_assert(sizeof(RecordHeader) == 24);

constexpr size_t kMaxLabel = 48;
constexpr auto kIdleWait = std::chrono::milliseconds(10);
constexpr int kFileBuffer = 1 << 16;
constexpr size_t kMaxNamedAddrs = 4096;  // addresses per file looked up for names
constexpr long kPcapHeader = 24;

// The IP source and destination of a raw IP packet, if its header holds them.
int addresses_of(std::span<const uint8_t> ip, IpAddr out[2]) {
  if (ip.empty()) return 0;
  if ((ip[0] >> 4) == 4 && ip.size() >= 20) {
    out[0] = IpAddr::v4(ip.data() + 12);
    out[1] = IpAddr::v4(ip.data() + 16);
    return 2;
  }
  if ((ip[0] >> 4) == 6 && ip.size() >= 40) {
    out[0] = IpAddr::v6(ip.data() + 8);
    out[1] = IpAddr::v6(ip.data() + 24);
    return 2;
  }
  return 0;
}

char label_char(char c) {
  bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '_' || c == '-';
  return ok ? c : '_';
}

FILE* open_exclusive(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return nullptr;
  FILE* fp = ::fdopen(fd, "wb");
  if (!fp) {
    int e = errno;
    ::close(fd);
    errno = e;
  }
  return fp;
}

}  // namespace

// One worker's ring (capture_ring.h: single producer, the writer thread
// consumes) and the records it refused.
struct CaptureWriter::Ring {
  explicit Ring(uint64_t capacity) : ring(capacity) {}
  CaptureRing ring;
  std::atomic<uint64_t> dropped{0};  // producer only (relaxed load + store)
};

// The writer thread's state and work. Only the thread touches it, except
// `files` (copied by files() under files_mu) and the stats atomics.
struct CaptureWriter::Impl {
  struct Key {
    unsigned worker = 0;
    uint64_t session = 0;
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.worker, k.session);
    }
  };
  struct Session {
    FILE* fp = nullptr;               // null once failed: later records are discarded
    pcap_dumper_t* dumper = nullptr;  // pcap format only (pcapng: our own blocks)
    uint64_t serial = 0;              // of its entry in `files`
    bool dirty = false;               // written since the last flush
    long good = 0;                    // file bytes known written: whole records
    long header = 0;                  // bytes before the first packet
    uint64_t pending = 0;             // records buffered since, not yet known written
    std::string path;
    // pcapng: addresses looked up for names, and those that had none yet
    // (looked up again when the file ends).
    absl::flat_hash_set<IpAddr> looked_up;
    std::vector<IpAddr> unnamed;
  };
  struct FileEntry {
    std::string path;
    uint64_t serial = 0;
    bool open = false;
  };

  explicit Impl(const CaptureConfig& c) : cfg(c), max_files(c.max_files) {}

  void handle(unsigned w, const RecordHeader& hd, std::span<const uint8_t> data) {
    switch (hd.type) {
      case kOpen:
        open_file(w, hd.session, as_text(data.subspan(hd.note_len)), hd.ts,
                  as_text(data.first(hd.note_len)));
        break;
      case kPacket:
        write_packet(w, hd, data.subspan(hd.note_len), as_text(data.first(hd.note_len)));
        break;
      case kClose:
        close_file(w, hd.session);
        break;
      default:
        std::fprintf(stderr, "capture: corrupt ring record type %u\n", hd.type);
        std::abort();
    }
  }

  static std::string_view as_text(std::span<const uint8_t> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }

  // Flushes every file written since the last flush (all = every open file).
  void flush_files(bool all) {
    for (auto& [key, s] : sessions) {
      if (!s.fp || (!s.dirty && !all)) continue;
      s.dirty = false;
      if (flush_one(s) != 0) {
        fail(key, s, errno);
        continue;
      }
      committed(s);
    }
  }

  static int flush_one(Session& s) {
    int rc = s.dumper ? pcap_dump_flush(s.dumper) : std::fflush(s.fp);
    return rc != 0 || std::ferror(s.fp) ? -1 : 0;
  }

  // A successful flush: what was buffered is in the file.
  void committed(Session& s) {
    s.good = std::ftell(s.fp);
    written.fetch_add(s.pending, std::memory_order_relaxed);
    s.pending = 0;
  }

  // Records of worker w that reach no file: counted here and in its counter.
  void lose(unsigned w, uint64_t n) {
    if (n == 0) return;
    discarded.fetch_add(n, std::memory_order_relaxed);
    std::lock_guard lk(lost_mu);
    if (w < lost_counters.size() && lost_counters[w]) lost_counters[w]->add(n);
  }

  void close_all() {
    for (auto& [key, s] : sessions) finish(key, s);
    sessions.clear();
  }

  std::string file_name(unsigned w, uint64_t session, std::string_view label, Timestamp ts,
                        int attempt) const {
    time_t secs = static_cast<time_t>(ts / kNsPerSec);
    if (ts % kNsPerSec < 0) secs -= 1;
    tm parts;
    gmtime_r(&secs, &parts);
    char when[32];
    std::strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &parts);
    std::string name = fmt::format("{}/tripline-{}-w{}-s{}", cfg.dir, when, w, session);
    if (!label.empty()) fmt::format_to(std::back_inserter(name), "-{}", label);
    if (attempt) fmt::format_to(std::back_inserter(name), ".{}", attempt);
    name += cfg.format == CaptureFormat::Pcapng ? ".pcapng" : ".pcap";
    return name;
  }

  // The recordings in the folder now, tripline's file names only
  // (tripline-<YYYYmmddTHHMMSSZ>-w<N>-s<N>[-label][.N].pcap or .pcapng, both
  // formats, whichever this run writes), oldest first:
  // by start time, then worker and session number. Other files are never
  // counted nor touched.
  struct Recording {
    std::string when;
    uint64_t worker = 0, session = 0;
    std::string path;
    bool operator<(const Recording& o) const {
      return std::tie(when, worker, session, path) < std::tie(o.when, o.worker, o.session, o.path);
    }
  };
  static bool parse_number(std::string_view& s, uint64_t& out) {
    size_t n = 0;
    out = 0;
    while (n < s.size() && n < 19 && s[n] >= '0' && s[n] <= '9') out = out * 10 + (s[n++] - '0');
    s.remove_prefix(n);
    return n > 0;
  }
  static std::optional<Recording> parse_recording(std::string_view name) {
    constexpr std::string_view kPrefix = "tripline-", kPcap = ".pcap", kPcapng = ".pcapng";
    if (!name.starts_with(kPrefix)) return std::nullopt;
    std::string_view rest = name.substr(kPrefix.size());
    if (rest.ends_with(kPcap))
      rest.remove_suffix(kPcap.size());
    else if (rest.ends_with(kPcapng))
      rest.remove_suffix(kPcapng.size());
    else
      return std::nullopt;
    Recording r;
    if (rest.size() < 16 || rest[8] != 'T' || rest[15] != 'Z') return std::nullopt;
    for (size_t i = 0; i < 15; ++i)
      if (i != 8 && (rest[i] < '0' || rest[i] > '9')) return std::nullopt;
    r.when = std::string(rest.substr(0, 16));
    rest.remove_prefix(16);
    if (!rest.starts_with("-w")) return std::nullopt;
    rest.remove_prefix(2);
    if (!parse_number(rest, r.worker) || !rest.starts_with("-s")) return std::nullopt;
    rest.remove_prefix(2);
    if (!parse_number(rest, r.session)) return std::nullopt;
    for (char c : rest)  // [-label][.N]: label characters only
      if (label_char(c) != c) return std::nullopt;
    if (!rest.empty() && rest[0] != '-' && rest[0] != '.') return std::nullopt;
    return r;
  }
  std::vector<Recording> recordings_in_folder() const {
    std::vector<Recording> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(cfg.dir, ec)) {
      std::string name = e.path().filename().string();
      auto r = parse_recording(name);
      if (!r || !e.is_regular_file(ec)) continue;
      r->path = e.path().string();
      out.push_back(std::move(*r));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Deletes the oldest closed recordings in the folder (of any run) until at
  // most `keep` are left. Files still open here are kept even beyond it.
  void trim(size_t keep) {
    std::vector<Recording> found = recordings_in_folder();
    size_t count = found.size();
    for (const Recording& r : found) {
      if (count <= keep) break;
      bool open = false;
      {
        std::lock_guard lk(files_mu);
        for (const auto& f : files) open |= f.open && same_file(f.path, r.path);
      }
      if (open) continue;
      if (::unlink(r.path.c_str()) != 0 && errno != ENOENT) {
        spdlog::warn("capture: cannot delete {}: {}", r.path, std::strerror(errno));
        continue;
      }
      deleted.fetch_add(1, std::memory_order_relaxed);
      --count;
      std::lock_guard lk(files_mu);
      for (auto it = files.begin(); it != files.end(); ++it) {
        if (same_file(it->path, r.path)) {
          files.erase(it);
          break;
        }
      }
    }
  }
  static bool same_file(const std::string& a, const std::string& b) {
    return std::filesystem::path(a).filename() == std::filesystem::path(b).filename();
  }

  // Room for one more file under max_files, counting what is in the folder.
  void rotate() {
    uint32_t max = max_files.load(std::memory_order_relaxed);
    if (max == 0) return;  // 0: unlimited
    trim(max - 1);
  }

  void open_file(unsigned w, uint64_t session, std::string_view label, Timestamp ts,
                 std::string_view comment) {
    Key key{w, session};
    if (sessions.contains(key)) {  // a caller bug; keep the first file
      discarded.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    Session& s = sessions[key];
    if (std::chrono::steady_clock::now() < no_open_until) {
      ++opens_refused;  // the disk was full a moment ago: this session records nothing
      return;
    }
    rotate();
    std::string path;
    FILE* fp = nullptr;
    for (int attempt = 0; attempt < 10 && !fp; ++attempt) {
      path = file_name(w, session, label, ts, attempt);
      fp = open_file_fn(path);
      if (!fp && errno != EEXIST) break;
    }
    if (!fp) {
      errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("capture: cannot create {}: {}", path, std::strerror(errno));
      pause_opens();
      return;  // s stays without a dumper: the session's records are discarded
    }
    std::setvbuf(fp, nullptr, _IOFBF, kFileBuffer);
    s.fp = fp;
    s.path = path;
    s.serial = next_serial++;
    {
      std::lock_guard lk(files_mu);
      files.push_back({path, s.serial, true});
    }
    opened.fetch_add(1, std::memory_order_relaxed);
    if (cfg.format == CaptureFormat::Pcap) {
      s.dumper = pcap_dump_fopen(dead, fp);
      if (!s.dumper) {
        std::fclose(fp);
        s.fp = nullptr;
        mark_closed(s.serial);
        errors.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("capture: cannot start {}: {}", path, pcap_geterr(dead));
        return;
      }
      s.header = kPcapHeader;
    } else {
      block.clear();
      pcapng::append_section_header(block, comment, fmt::format("tripline {}", kVersion));
      std::string_view ifname =
          w < interfaces.size() && !interfaces[w].empty() ? std::string_view(interfaces[w]) : "";
      std::string fallback = ifname.empty() ? fmt::format("worker{}", w) : std::string();
      pcapng::append_interface(block, pcapng::kLinktypeRaw, cfg.snaplen,
                               ifname.empty() ? std::string_view(fallback) : ifname);
      s.header = static_cast<long>(block.size());
      if (!put_block(key, s)) return;
    }
    s.dirty = true;
  }

  // pcapng: writes `block` to the session's file; false (the session failed)
  // on a write error.
  bool put_block(const Key& key, Session& s) {
    if (std::fwrite(block.data(), 1, block.size(), s.fp) != block.size() || std::ferror(s.fp)) {
      fail(key, s, errno);
      return false;
    }
    return true;
  }

  // pcapng: a name resolution block for the packet's addresses this file has
  // not looked up yet (and that the cache has names for), before the packet.
  bool name_addresses(const Key& key, Session& s, std::span<const uint8_t> ip) {
    if (!names_fn || s.looked_up.size() >= kMaxNamedAddrs) return true;
    IpAddr addrs[2];
    int n = addresses_of(ip, addrs);
    std::vector<std::string> found[2];
    pcapng::NameRecord recs[2];
    size_t nrec = 0;
    for (int i = 0; i < n; ++i) {
      if (!s.looked_up.insert(addrs[i]).second) continue;
      found[nrec] = names_fn(addrs[i]);
      if (found[nrec].empty()) {
        s.unnamed.push_back(addrs[i]);
        continue;
      }
      recs[nrec] = {addrs[i], found[nrec]};
      ++nrec;
    }
    if (nrec == 0) return true;
    block.clear();
    pcapng::append_names(block, std::span(recs, nrec));
    return block.empty() || put_block(key, s);
  }

  // pcapng, as a file ends: names that reached the cache after their
  // address's first packet (the answer came later), in one last block.
  void name_late(const Key& key, Session& s) {
    if (!names_fn || s.unnamed.empty()) return;
    std::vector<std::vector<std::string>> found;
    std::vector<pcapng::NameRecord> recs;
    found.reserve(s.unnamed.size());
    for (const IpAddr& a : s.unnamed) {
      found.push_back(names_fn(a));
      if (!found.back().empty()) recs.push_back({a, found.back()});
    }
    s.unnamed.clear();
    if (recs.empty()) return;
    block.clear();
    pcapng::append_names(block, recs);
    if (!block.empty()) put_block(key, s);
  }

  void write_packet(unsigned w, const RecordHeader& hd, std::span<const uint8_t> data,
                    std::string_view comment) {
    auto it = sessions.find(Key{w, hd.session});
    if (it == sessions.end() || !it->second.fp) {
      lose(w, 1);
      return;
    }
    Session& s = it->second;
    if (!s.dumper) {  // pcapng
      if (!name_addresses(it->first, s, data)) {
        lose(w, 1);
        return;
      }
      block.clear();
      pcapng::append_packet(block, hd.ts, data, hd.orig_len, comment);
      ++s.pending;
      if (put_block(it->first, s)) s.dirty = true;
      return;
    }
    pcap_pkthdr ph{};
    int64_t sec = hd.ts / kNsPerSec, nsec = hd.ts % kNsPerSec;
    if (nsec < 0) {
      nsec += kNsPerSec;
      sec -= 1;
    }
    ph.ts.tv_sec = static_cast<time_t>(sec);
    ph.ts.tv_usec = static_cast<suseconds_t>(nsec);  // nanoseconds: the pcap_t is nano-precision
    ph.caplen = static_cast<uint32_t>(data.size());
    ph.len = hd.orig_len;
    pcap_dump(reinterpret_cast<u_char*>(s.dumper), &ph, data.data());
    ++s.pending;
    if (std::ferror(s.fp)) {
      fail(it->first, s, errno);
      return;
    }
    s.dirty = true;
  }

  void close_file(unsigned w, uint64_t session) {
    auto it = sessions.find(Key{w, session});
    if (it == sessions.end()) {
      discarded.fetch_add(1, std::memory_order_relaxed);  // a close, not a packet
      return;
    }
    finish(it->first, it->second);
    sessions.erase(it);
  }

  // Flushes and closes a session's file (if it still has one).
  void finish(const Key& key, Session& s) {
    if (!s.fp) return;
    if (!s.dumper) name_late(key, s);
    if (!s.fp) return;  // that failed
    if (flush_one(s) != 0) {
      fail(key, s, errno);
      return;
    }
    committed(s);
    close_fp(s);
    s.fp = nullptr;
    mark_closed(s.serial);
  }

  void close_fp(Session& s) {
    if (s.dumper)
      pcap_dump_close(s.dumper);  // fcloses s.fp
    else
      std::fclose(s.fp);
    s.dumper = nullptr;
    s.fp = nullptr;
  }

  // A write error (a full disk): count it and every record not known written,
  // take the cut records back out of the file (it stays readable to its last
  // whole packet; one with no packet is removed), discard the session's later
  // records, and open no new file for a while.
  void fail(const Key& key, Session& s, int err) {
    errors.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("capture: write error on worker {} session {}: {}; its capture ends", key.worker,
                 key.session, std::strerror(err ? err : EIO));
    lose(key.worker, s.pending);
    s.pending = 0;
    __fpurge(s.fp);  // what stdio still holds must not reach the file at close
    bool empty = s.good <= s.header;
    if (!empty && ::ftruncate(fileno(s.fp), s.good) != 0)
      spdlog::warn("capture: cannot cut {} back to its last whole packet: {}", s.path,
                   std::strerror(errno));
    close_fp(s);
    mark_closed(s.serial);
    if (empty && !s.path.empty() && ::unlink(s.path.c_str()) == 0) {
      std::lock_guard lk(files_mu);
      for (auto it = files.begin(); it != files.end(); ++it) {
        if (it->serial == s.serial) {
          files.erase(it);
          break;
        }
      }
    }
    pause_opens();
  }

  void pause_opens() { no_open_until = std::chrono::steady_clock::now() + retry_after; }

  void mark_closed(uint64_t serial) {
    std::lock_guard lk(files_mu);
    for (auto& f : files)
      if (f.serial == serial) f.open = false;
  }

  const CaptureConfig& cfg;
  std::atomic<uint32_t> max_files;  // cfg.max_files, or what a reload set
  pcap_t* dead = nullptr;
  absl::flat_hash_map<Key, Session> sessions;
  std::deque<FileEntry> files;  // oldest first; edited under files_mu
  mutable std::mutex files_mu;
  uint64_t next_serial = 1;
  std::function<FILE*(const std::string&)> open_file_fn;
  std::function<std::vector<std::string>(const IpAddr&)> names_fn;
  std::vector<std::string> interfaces;
  std::vector<uint8_t> block;  // pcapng: the block being written (reused)
  std::chrono::milliseconds retry_after{1000};
  std::chrono::steady_clock::time_point no_open_until{};
  uint64_t opens_refused = 0;
  std::mutex lost_mu;
  std::vector<Counter*> lost_counters;  // by worker; under lost_mu

  std::atomic<uint64_t> written{0};
  std::atomic<uint64_t> discarded{0};  // by the thread; ring refusals are counted per ring
  std::atomic<uint64_t> opened{0};
  std::atomic<uint64_t> deleted{0};
  std::atomic<uint64_t> errors{0};
};

void CaptureWriter::set_max_files(uint32_t max_files) {
  impl_->max_files.store(max_files, std::memory_order_relaxed);
}

uint32_t CaptureWriter::record_bytes(uint32_t n) {
  return static_cast<uint32_t>(CaptureRing::frame_bytes(sizeof(RecordHeader) + uint64_t{n}));
}

CaptureWriter::CaptureWriter(const CaptureConfig& cfg, unsigned workers, CaptureWriterOptions opts)
    : cfg_(cfg), impl_(std::make_unique<Impl>(cfg_)) {
  namespace fs = std::filesystem;
  if (workers == 0) throw std::runtime_error("capture writer: no workers");
  if (cfg_.snaplen == 0) throw std::runtime_error("capture: snaplen must be at least 1");
  if (cfg_.dir.empty()) throw std::runtime_error("capture: no directory configured");
  uint64_t cap = cfg_.ring_bytes ? std::bit_floor(uint64_t{cfg_.ring_bytes}) : 0;
  // Room for two of the largest records: one then always fits an empty ring.
  uint64_t need = 2 * uint64_t{std::max(record_bytes(cfg_.snaplen + kMaxPacketComment),
                                        record_bytes(kMaxLabel + kMaxSectionComment))};
  if (cap < need)
    throw std::runtime_error(
        fmt::format("capture: ring_bytes {} is too small for snaplen {} (needs at least {})",
                    cfg_.ring_bytes, cfg_.snaplen, std::bit_ceil(need)));

  std::error_code ec;
  fs::create_directories(cfg_.dir, ec);
  if (ec) throw std::runtime_error("capture directory " + cfg_.dir + ": " + ec.message());
  if (!fs::is_directory(cfg_.dir, ec))
    throw std::runtime_error("capture directory " + cfg_.dir + ": not a directory");
  if (::access(cfg_.dir.c_str(), W_OK | X_OK) != 0)
    throw std::runtime_error("capture directory " + cfg_.dir +
                             ": not writable: " + std::strerror(errno));

  impl_->dead = pcap_open_dead_with_tstamp_precision(DLT_RAW, static_cast<int>(cfg_.snaplen),
                                                     PCAP_TSTAMP_PRECISION_NANO);
  if (!impl_->dead) throw std::runtime_error("capture: pcap_open_dead failed");
  impl_->open_file_fn = opts.open_file ? std::move(opts.open_file) : open_exclusive;
  impl_->retry_after = opts.retry_after;
  impl_->names_fn = std::move(opts.names);
  impl_->interfaces = std::move(opts.interfaces);
  impl_->lost_counters.assign(workers, nullptr);
  // Recordings of earlier runs count toward max_files from the start.
  if (cfg_.max_files > 0) impl_->trim(cfg_.max_files);

  rings_.reserve(workers);
  for (unsigned w = 0; w < workers; ++w) rings_.push_back(std::make_unique<Ring>(cap));
  paused_ = opts.start_paused;
  thread_ = std::thread([this] { run(); });
}

CaptureWriter::~CaptureWriter() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  pcap_close(impl_->dead);
}

// ---------------------------------------------------------------------------
// Producer side

bool CaptureWriter::push(unsigned w, uint8_t type, uint64_t session, Timestamp ts,
                         std::span<const uint8_t> bytes, uint32_t orig_len, bool is_label,
                         std::string_view note) {
  if (w >= rings_.size()) {
    std::fprintf(stderr, "capture: worker %u out of range (%zu rings)\n", w, rings_.size());
    std::abort();
  }
  Ring& r = *rings_[w];
  size_t limit = is_label ? kMaxLabel : cfg_.snaplen;
  size_t n = bytes.size() < limit ? bytes.size() : limit;
  // The header and the note go in one stack buffer (the ring takes two parts).
  size_t note_max = type == kOpen ? kMaxSectionComment : kMaxPacketComment;
  if (note.size() > note_max) note = note.substr(0, note_max);
  RecordHeader hd;
  hd.type = type;
  hd.note_len = static_cast<uint16_t>(note.size());
  hd.orig_len = orig_len;
  hd.session = session;
  hd.ts = ts;
  uint8_t head[sizeof(RecordHeader) + kMaxSectionComment];
  std::memcpy(head, &hd, sizeof hd);
  if (!note.empty()) std::memcpy(head + sizeof hd, note.data(), note.size());
  std::span<const uint8_t> body = bytes.first(n);
  uint8_t label[kMaxLabel];
  if (is_label) {
    for (size_t i = 0; i < n; ++i)
      label[i] = static_cast<uint8_t>(label_char(static_cast<char>(bytes[i])));
    body = {label, n};
  }
  if (!r.ring.push({head, sizeof hd + note.size()}, body)) {
    r.dropped.store(r.dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return false;
  }

  // The writer polls every kIdleWait; wake it early only when a quarter of the
  // ring is waiting, so a busy worker does not pay a wake-up per packet.
  const uint64_t quarter = r.ring.capacity() / 4;
  if (sleeping_.load(std::memory_order_relaxed) && r.ring.backlog_estimate() >= quarter &&
      r.ring.refresh_backlog() >= quarter) {
    wake_if_sleeping();
  }
  return true;
}

void CaptureWriter::wake_if_sleeping() {
  // A wake-up lost to the race with the writer going to sleep costs at most
  // kIdleWait: the writer never sleeps longer.
  if (sleeping_.exchange(false, std::memory_order_acq_rel)) cv_.notify_one();
}

bool CaptureWriter::open(unsigned w, uint64_t session, std::string_view label, Timestamp now,
                         std::string_view comment) {
  auto bytes = std::span(reinterpret_cast<const uint8_t*>(label.data()), label.size());
  return push(w, kOpen, session, now, bytes, 0, true, comment);
}

std::string CaptureWriter::path_of(unsigned w, uint64_t session, std::string_view label,
                                   Timestamp now) const {
  std::string safe(label.substr(0, kMaxLabel));
  for (char& c : safe) c = label_char(c);  // as push() does for open()
  return impl_->file_name(w, session, safe, now, 0);
}

bool CaptureWriter::write(unsigned w, uint64_t session, Timestamp ts,
                          std::span<const uint8_t> ip_packet, uint32_t orig_len,
                          std::string_view comment) {
  uint32_t len = static_cast<uint32_t>(ip_packet.size());
  return push(w, kPacket, session, ts, ip_packet, orig_len > len ? orig_len : len, false, comment);
}

bool CaptureWriter::close(unsigned w, uint64_t session) {
  return push(w, kClose, session, 0, {}, 0, false, {});
}

// ---------------------------------------------------------------------------
// Callers' control

void CaptureWriter::flush() {
  std::unique_lock lk(mu_);
  uint64_t ticket = ++flush_requested_;
  cv_.notify_all();
  done_cv_.wait(lk, [&] { return flush_done_ >= ticket; });
}

void CaptureWriter::resume() {
  {
    std::lock_guard lk(mu_);
    paused_ = false;
  }
  cv_.notify_all();
}

void CaptureWriter::attach_lost(unsigned w, Counter* lost) {
  std::lock_guard lk(impl_->lost_mu);
  if (w < impl_->lost_counters.size()) impl_->lost_counters[w] = lost;
}

CaptureWriterStats CaptureWriter::stats() const {
  CaptureWriterStats s;
  s.records_written = impl_->written.load(std::memory_order_relaxed);
  s.records_dropped = impl_->discarded.load(std::memory_order_relaxed);
  for (const auto& r : rings_) s.records_dropped += r->dropped.load(std::memory_order_relaxed);
  s.files_opened = impl_->opened.load(std::memory_order_relaxed);
  s.files_deleted = impl_->deleted.load(std::memory_order_relaxed);
  s.write_errors = impl_->errors.load(std::memory_order_relaxed);
  return s;
}

std::vector<std::string> CaptureWriter::files() const {
  std::lock_guard lk(impl_->files_mu);
  std::vector<std::string> out;
  out.reserve(impl_->files.size());
  for (const auto& f : impl_->files) out.push_back(f.path);
  return out;
}

// ---------------------------------------------------------------------------
// Writer thread

void CaptureWriter::run() {
  Impl& drainer = *impl_;
  // Consumes what ring w held when called; true when anything was there.
  auto drain = [&](unsigned w) {
    return rings_[w]->ring.consume([&](std::span<const uint8_t> record) {
      RecordHeader hd;
      if (record.size() < sizeof hd) {
        std::fprintf(stderr, "capture: corrupt ring record of %zu bytes\n", record.size());
        std::abort();
      }
      std::memcpy(&hd, record.data(), sizeof hd);
      if (record.size() < sizeof hd + hd.note_len) {
        std::fprintf(stderr, "capture: corrupt ring record note of %u bytes\n", hd.note_len);
        std::abort();
      }
      drainer.handle(w, hd, record.subspan(sizeof hd));
    }) > 0;
  };

  for (;;) {
    uint64_t requested;
    bool stop, paused;
    {
      std::unique_lock lk(mu_);
      stop = stop_;
      paused = paused_ && !stop_;
      requested = flush_requested_;
    }
    if (paused) {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !paused_; });
      continue;
    }
    bool any = false;
    for (unsigned w = 0; w < rings_.size(); ++w) any |= drain(w);
    if (stop) {
      // Producers have stopped (the writer is being destroyed): one pass
      // emptied the rings.
      drainer.close_all();
      std::lock_guard lk(mu_);
      flush_done_ = flush_requested_;
      done_cv_.notify_all();
      return;
    }
    if (requested > flush_done_) {  // flush_done_ is written by this thread only
      drainer.flush_files(true);
      std::lock_guard lk(mu_);
      flush_done_ = requested;
      done_cv_.notify_all();
      continue;
    }
    if (any) continue;
    drainer.flush_files(false);  // idle: let what was written reach the files
    std::unique_lock lk(mu_);
    if (stop_ || paused_ || flush_requested_ > flush_done_) continue;
    sleeping_.store(true, std::memory_order_release);
    cv_.wait_for(lk, kIdleWait);
    sleeping_.store(false, std::memory_order_relaxed);
  }
}

}  // namespace tripline
