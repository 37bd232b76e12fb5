// Reading a whole file that someone else names (lists, state, config) safely:
// only a regular file, and only up to a size bound. A FIFO, a device such as
// /dev/zero or a directory is refused at once, never read (no hang, no OOM).
#pragma once

#include <cstddef>
#include <string>

namespace tripline {

struct BoundedFileRead {
  bool ok = false;
  bool missing = false;  // the path does not exist (ENOENT)
  std::string error;     // "<path>: <why>" when not ok
  std::string bytes;     // the whole file when ok
};

// Opens without following into a FIFO's wait (O_NONBLOCK), checks that it is a
// regular file of at most max_bytes, then reads it all (a file that grows past
// the bound while being read is refused too).
BoundedFileRead read_regular_file(const std::string& path, size_t max_bytes);

}  // namespace tripline
