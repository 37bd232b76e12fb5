#include "event_writer.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

namespace tripline {
namespace {

constexpr int kWakeMarker = -2;  // an empty item the destructor queues to wake the writer
constexpr size_t kBatch = 64;
constexpr off_t kRepairScan = off_t{1} << 20;  // how far back a cut line is looked for

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

EventWriter::EventWriter(const std::string& path, size_t max_queued)
    : EventWriter(path, EventWriterOptions{.max_queued = max_queued}) {}

EventWriter::EventWriter(const std::string& path, EventWriterOptions opts)
    : path_(path), opts_(opts) {
  // A FIFO without a reader (ENXIO) is opened later by the writer thread.
  if (!open_output() && errno != ENXIO)
    throw std::runtime_error("cannot open event log " + path_ + ": " + std::strerror(errno));
  thread_ = std::thread([this] { run(); });
}

EventWriter::~EventWriter() {
  int64_t now = steady_ns();
  // After a flush() that timed out the reader had its chance: do not wait again.
  int64_t drain =
      drain_expired_.load(std::memory_order_relaxed)
          ? 0
          : std::chrono::duration_cast<std::chrono::nanoseconds>(opts_.drain_timeout).count();
  deadline_ns_.store(now + drain, std::memory_order_relaxed);
  stop_.store(true, std::memory_order_release);
  queue_.enqueue(Item{std::string(), kWakeMarker});
  thread_.join();
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
  uint64_t lost = discarded();
  if (lost > 0)
    spdlog::warn(
        "event log {}: {} events still queued at shutdown were not written (the reader "
        "did not take them within {} ms)",
        path_, lost, opts_.drain_timeout.count());
}

int EventWriter::attach(EventSinkCounters counters) {
  std::lock_guard lock(sources_mu_);
  sources_.push_back(counters);
  return static_cast<int>(sources_.size() - 1);
}

void EventWriter::detach(int source) {
  std::lock_guard lock(sources_mu_);
  if (source >= 0 && static_cast<size_t>(source) < sources_.size()) sources_[source] = {};
}

bool EventWriter::submit(std::string line, int source) {
  const uint64_t bytes = line.size() + 1;
  if (line.empty() || queue_.size_approx() >= opts_.max_queued) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // Reserve the bytes first; give them back when over the bound.
  if (queued_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes > opts_.max_queued_bytes) {
    queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  submitted_.fetch_add(1, std::memory_order_relaxed);
  if (!queue_.enqueue(Item{std::move(line), source})) {
    submitted_.fetch_sub(1, std::memory_order_relaxed);
    queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

uint64_t EventWriter::accounted() const {
  return written_.load(std::memory_order_acquire) + write_errors_.load(std::memory_order_acquire) +
         discarded_.load(std::memory_order_acquire);
}

bool EventWriter::flush() {
  const uint64_t target = submitted_.load(std::memory_order_acquire);
  auto until = std::chrono::steady_clock::now() + opts_.drain_timeout;
  while (accounted() < target) {
    if (std::chrono::steady_clock::now() >= until) {
      // The reader is stalled (or absent): what was submitted so far is given
      // up, counted lost, so the counters are complete when the caller reads
      // them; the destructor will not wait again.
      drain_expired_.store(true, std::memory_order_relaxed);
      discard_upto_.store(target, std::memory_order_release);
      auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      while (accounted() < target && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

bool EventWriter::abandoning() const {
  if (accounted() < discard_upto_.load(std::memory_order_acquire)) return true;
  return stop_.load(std::memory_order_acquire) &&
         steady_ns() >= deadline_ns_.load(std::memory_order_relaxed);
}

bool EventWriter::open_output() {
  if (path_ == "-") {
    fd_ = STDOUT_FILENO;
    owns_fd_ = false;
    struct stat st {};
    regular_ = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
    return true;
  }
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
                  0640);
  if (fd < 0) return false;  // ENXIO: a FIFO nobody reads yet
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return false;
  }
  fd_ = fd;
  owns_fd_ = true;
  regular_ = S_ISREG(st.st_mode);
  if (regular_) repair_tail();
  return true;
}

void EventWriter::repair_tail() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || st.st_size == 0) return;
  // fd_ is write-only: read through a second descriptor of the same file.
  int rfd = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (rfd < 0) return;
  struct stat rst {};
  if (::fstat(rfd, &rst) != 0 || rst.st_dev != st.st_dev || rst.st_ino != st.st_ino) {
    ::close(rfd);
    return;
  }
  repair_tail(rfd, st.st_size);
  ::close(rfd);
}

void EventWriter::repair_tail(int rfd, off_t size) {
  struct stat st {};
  st.st_size = size;
  char last = 0;
  if (::pread(rfd, &last, 1, st.st_size - 1) != 1 || last == '\n') return;
  // Find the last newline within the last kRepairScan bytes.
  off_t end = st.st_size;
  off_t stop = std::max<off_t>(0, st.st_size - kRepairScan);
  char chunk[65536];
  off_t keep = -1;
  while (end > stop && keep < 0) {
    off_t from = std::max<off_t>(stop, end - static_cast<off_t>(sizeof chunk));
    ssize_t n = ::pread(rfd, chunk, static_cast<size_t>(end - from), from);
    if (n <= 0) return;
    for (ssize_t i = n; i-- > 0;) {
      if (chunk[i] == '\n') {
        keep = from + i + 1;
        break;
      }
    }
    end = from;
  }
  if (keep < 0 && stop == 0) keep = 0;  // the whole file is one cut line
  if (keep >= 0 && ::ftruncate(fd_, keep) == 0) {
    spdlog::warn(
        "event log {}: ended inside a line (a write was cut short before): {} bytes cut "
        "back to the last whole line",
        path_, static_cast<long long>(st.st_size - keep));
    return;
  }
  // A line longer than the scan: end it rather than cut so much.
  if (::write(fd_, "\n", 1) == 1)
    spdlog::warn("event log {}: ended inside a line; a newline was added", path_);
}

bool EventWriter::wait_writable() {
  for (;;) {
    if (abandoning()) return false;
    pollfd p{fd_, POLLOUT, 0};
    int r = ::poll(&p, 1, 50);
    if (r > 0) return true;  // writable, or an error the write will report
    if (r < 0 && errno != EINTR) return true;
  }
}

size_t EventWriter::write_batch() {
  // stdout may be a blocking pipe shared with others: write at most PIPE_BUF
  // after poll says there is room, so the write cannot block.
  const bool chunked = !regular_ && !owns_fd_;
  size_t off = 0;
  int err = 0;
  while (off < buf_.size()) {
    if (chunked && !wait_writable()) break;
    size_t len = buf_.size() - off;
    if (chunked) len = std::min<size_t>(len, PIPE_BUF);
    ssize_t k = ::write(fd_, buf_.data() + off, len);
    if (k > 0) {
      off += static_cast<size_t>(k);
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && errno == EAGAIN && !regular_) {
      if (!wait_writable()) break;  // shutdown's deadline passed: the rest is lost
      continue;
    }
    err = k < 0 ? errno : EIO;
    break;
  }
  const size_t whole =
      static_cast<size_t>(std::upper_bound(ends_.begin(), ends_.end(), off) - ends_.begin());
  if (off == buf_.size()) {
    if (failing_) {
      spdlog::info("event log {}: writing again", path_);
      failing_ = false;
    }
    return whole;
  }
  const size_t cut = off - (whole ? ends_[whole - 1] : 0);
  if (cut > 0 && regular_) {
    // Take the cut line back out; O_APPEND: our bytes end the file.
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || ::ftruncate(fd_, st.st_size - static_cast<off_t>(cut)) != 0)
      spdlog::warn("event log {}: could not remove a cut line: {}", path_, std::strerror(errno));
  }
  if (err != 0) {
    note_error(err);
    if (err == EPIPE && owns_fd_) {  // the FIFO's reader left: reopen when one comes
      ::close(fd_);
      fd_ = -1;
    }
  }
  return whole;
}

void EventWriter::note_error(int err) {
  auto now = std::chrono::steady_clock::now();
  if (failing_ && now - last_error_log_ < opts_.error_log_interval) return;
  spdlog::warn(
      "event log {}: write failed: {}; events not written are counted in events_lost "
      "({} so far)",
      path_, std::strerror(err), write_errors());
  failing_ = true;
  last_error_log_ = now;
}

void EventWriter::account(const Item* items, size_t n, size_t ok) {
  // items[0..n) are the batch's lines in order; the first `ok` were written.
  const bool abandoned = abandoning();
  uint64_t w = 0, l = 0;
  std::lock_guard lock(sources_mu_);
  for (size_t i = 0; i < n; ++i) {
    const Item& it = items[i];
    bool done = i < ok;
    (done ? w : l) += 1;
    if (it.source < 0 || static_cast<size_t>(it.source) >= sources_.size()) continue;
    const EventSinkCounters& c = sources_[it.source];
    Counter* counter = done ? c.written : c.lost;
    if (counter) counter->add();
  }
  written_.fetch_add(w, std::memory_order_release);
  (abandoned ? discarded_ : write_errors_).fetch_add(l, std::memory_order_release);
}

void EventWriter::reopen(std::string path) {
  {
    std::lock_guard lock(reopen_mu_);
    reopen_path_ = std::move(path);
  }
  reopen_.store(true, std::memory_order_release);
}

void EventWriter::run() {
  // A FIFO whose reader left makes write() fail with EPIPE instead of
  // killing the process with SIGPIPE.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);

  Item batch[kBatch];
  std::vector<Item> lines;
  lines.reserve(kBatch);
  auto all_done = [this] {
    return written_.load(std::memory_order_relaxed) + write_errors() + discarded() >=
           submitted_.load(std::memory_order_relaxed);
  };
  for (;;) {
    const bool stopping = stop_.load(std::memory_order_acquire);
    if (stopping && all_done()) break;
    if (reopen_.exchange(false, std::memory_order_acq_rel)) {
      {
        std::lock_guard lock(reopen_mu_);
        path_ = reopen_path_;
      }
      if (fd_ >= 0 && owns_fd_) ::close(fd_);
      fd_ = -1;
      spdlog::info("event log reopened: {}", path_);
    }
    if (fd_ < 0 && !abandoning()) {
      if (!open_output()) {
        // No reader yet (or the path cannot be opened now): events wait in
        // the bounded queue; try again shortly, a little at a time.
        auto until = std::chrono::steady_clock::now() + opts_.reopen_interval;
        while (std::chrono::steady_clock::now() < until && !abandoning())
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
    }
    size_t n = queue_.wait_dequeue_bulk_timed(batch, kBatch, std::chrono::milliseconds(100));
    lines.clear();
    buf_.clear();
    ends_.clear();
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; ++i) {
      if (batch[i].source == kWakeMarker) continue;
      bytes += batch[i].line.size() + 1;
      lines.push_back(std::move(batch[i]));
      batch[i].line.clear();
    }
    queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    if (lines.empty()) continue;
    size_t ok = 0;
    if (fd_ >= 0 && !abandoning()) {
      for (auto& item : lines) {
        buf_.append(item.line);
        buf_.push_back('\n');
        ends_.push_back(buf_.size());
      }
      ok = write_batch();
    }
    account(lines.data(), lines.size(), ok);
  }
}

}  // namespace tripline
