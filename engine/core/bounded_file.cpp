#include "bounded_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace tripline {
namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

BoundedFileRead read_regular_file(const std::string& path, size_t max_bytes) {
  BoundedFileRead r;
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    r.missing = errno == ENOENT;
    r.error = path + ": cannot read: " + std::strerror(errno);
    return r;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    r.error = path + ": cannot read: " + std::strerror(errno);
    ::close(fd);
    return r;
  }
  if (!S_ISREG(st.st_mode)) {
    r.error = path + ": " + kind_of(st.st_mode) + ", not a regular file";
    ::close(fd);
    return r;
  }
  const std::string too_large = path + ": larger than " + std::to_string(max_bytes) + " bytes";
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    r.error = too_large;
    ::close(fd);
    return r;
  }
  r.bytes.resize(static_cast<size_t>(st.st_size));
  size_t have = 0;
  for (;;) {
    if (have == r.bytes.size()) {
      // Grown since fstat (or a file whose size lies, as in /proc): read on,
      // in steps, up to one byte past the bound.
      if (r.bytes.size() > max_bytes) {
        r.error = too_large;
        r.bytes.clear();
        ::close(fd);
        return r;
      }
      r.bytes.resize(std::min(max_bytes + 1, r.bytes.size() + 65536));
    }
    ssize_t n = ::read(fd, r.bytes.data() + have, r.bytes.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.error = path + ": read error: " + std::strerror(errno);
      r.bytes.clear();
      ::close(fd);
      return r;
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  ::close(fd);
  if (have > max_bytes) {
    r.error = too_large;
    r.bytes.clear();
    return r;
  }
  r.bytes.resize(have);
  r.ok = true;
  return r;
}

}  // namespace tripline
