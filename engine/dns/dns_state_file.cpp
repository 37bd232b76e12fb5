#include "dns_state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

namespace tripline {

namespace {

// Names: bytes outside '!'..'~' and '%' as %XX.
void append_escaped(std::string& out, std::string_view name) {
  static const char kHex[] = "0123456789ABCDEF";
  for (char ch : name) {
    auto c = static_cast<uint8_t>(ch);
    if (c <= 0x20 || c >= 0x7f || c == '%') {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
}

bool unescape(std::string_view in, std::string& out) {
  out.clear();
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi << 4 | lo));
    i += 2;
  }
  return true;
}

}  // namespace

// ---- writer ----

void DnsStateWriter::header() {
  out_.append(kHeader);
  out_.push_back('\n');
}

void DnsStateWriter::begin(const ClientId& scope, const IpAddr& addr, Timestamp expiry) {
  char text[64];
  if (scope.none()) {
    out_.push_back('*');
  } else {
    out_.append(text, scope.format(text));
  }
  out_.push_back(' ');
  out_.append(text, addr.format(text));
  out_.push_back(' ');
  auto [end, ec] = std::to_chars(text, text + sizeof text, expiry);
  out_.append(text, end);
}

void DnsStateWriter::name(std::string_view name, bool qname) {
  out_.append(qname ? " q:" : " c:");
  append_escaped(out_, name);
}

void DnsStateWriter::end() { out_.push_back('\n'); }

void DnsStateWriter::entry(const DnsStateEntry& e) {
  begin(e.scope, e.addr, e.expiry);
  for (const auto& n : e.names) name(n.name, n.qname);
  end();
}

// ---- the file on disk ----

DnsStateFileCheck check_dns_state_file(const std::string& path) {
  DnsStateFileCheck c;
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return c;  // Missing
    c.kind = DnsStateFileKind::NotOurs;
    c.why = path + ": cannot read it to see what it is: " + std::strerror(errno);
    return c;
  }
  struct stat st {};
  char head[64];
  ssize_t n = -1;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) n = ::pread(fd, head, sizeof head, 0);
  ::close(fd);
  c.kind = DnsStateFileKind::NotOurs;
  if (n < 0) {
    c.why = path + ": not a regular file";
    return c;
  }
  std::string_view first(head, static_cast<size_t>(n));
  if (first.empty()) {
    c.kind = DnsStateFileKind::Ours;
    return c;
  }
  first = first.substr(0, first.find('\n'));
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
  if (first == DnsStateWriter::kHeader) {
    c.kind = DnsStateFileKind::Ours;
    return c;
  }
  c.why = path + ": not a tripline DNS cache file of this version (no \"" +
          std::string(DnsStateWriter::kHeader) + "\" line)";
  return c;
}

DnsStateFileWriter::DnsStateFileWriter(std::string path)
    : path_(std::move(path)), tmp_(path_ + ".tmp") {
  DnsStateFileCheck check = check_dns_state_file(path_);
  if (check.kind == DnsStateFileKind::NotOurs) {
    refused_ = true;
    error_ = check.why + "; left as it is, the cache is not saved there";
    return;
  }
  // A leftover of an interrupted save, or something planted: unlink never
  // follows a link, and O_EXCL|O_NOFOLLOW then only ever creates a new file.
  if (::unlink(tmp_.c_str()) != 0 && errno != ENOENT) {
    fail(tmp_ + ": cannot remove the old temporary file", errno);
    return;
  }
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd_ < 0) fail(tmp_, errno);
}

DnsStateFileWriter::~DnsStateFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void DnsStateFileWriter::fail(const std::string& what, int err) {
  if (error_.empty()) error_ = what + ": " + std::strerror(err);
}

bool DnsStateFileWriter::write(std::string_view bytes) {
  if (!ok()) return false;
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fail(tmp_ + ": write failed", errno);
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool DnsStateFileWriter::commit() {
  if (!ok()) return false;
  if (::fsync(fd_) != 0) {
    fail(tmp_ + ": write failed", errno);
    return false;
  }
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    fail(tmp_ + ": write failed", errno);
    ::unlink(tmp_.c_str());
    return false;
  }
  // Checked again just before the rename: something that appeared meanwhile
  // is not replaced either.
  DnsStateFileCheck check = check_dns_state_file(path_);
  if (check.kind == DnsStateFileKind::NotOurs) {
    refused_ = true;
    error_ = check.why + "; left as it is, the cache is not saved there";
    ::unlink(tmp_.c_str());
    return false;
  }
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    fail(path_ + ": rename failed", errno);
    ::unlink(tmp_.c_str());
    return false;
  }
  // Make the rename itself durable.
  std::string dir = std::filesystem::path(path_).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

// ---- reader ----

DnsStateReadResult DnsStateReader::read(std::span<const uint8_t> bytes,
                                        absl::FunctionRef<void(const DnsStateEntry&)> on_entry) {
  return read(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
              on_entry);
}

DnsStateReadResult DnsStateReader::read_all(std::span<const uint8_t> bytes,
                                            std::vector<DnsStateEntry>& out) {
  return read(bytes, [&](const DnsStateEntry& e) { out.push_back(e); });
}

DnsStateReadResult DnsStateReader::read(std::string_view text,
                                        absl::FunctionRef<void(const DnsStateEntry&)> on_entry) {
  DnsStateReadResult r;
  const std::string file(opts_.name);
  if (text.size() > DnsStateReadResult::kMaxBytes) {
    r.error = file + ": larger than 512 MiB";
    return r;
  }
  if (text.empty()) {
    r.error = file + ": empty file";
    return r;
  }
  // The header decides before any entry is handed out.
  std::string_view first = text.substr(0, text.find('\n'));
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
  if (first != DnsStateWriter::kHeader) {
    constexpr std::string_view kMagic = "tripline-dns-cache ";
    r.error = first.starts_with(kMagic)
                  ? file + ":1: a tripline DNS cache file of an unsupported version (this " +
                        "tripline reads version 1)"
                  : file + ":1: not a tripline DNS cache file (no \"tripline-dns-cache 1\" line)";
    return r;
  }

  size_t line_no = 0;
  std::vector<std::string_view> tokens;
  DnsStateEntry e;
  std::string decoded;
  auto corrupt = [&](const char* why) {
    ++r.corrupt;
    if (r.warnings.size() < DnsStateReadResult::kMaxWarnings)
      r.warnings.push_back(file + ":" + std::to_string(line_no) + ": " + why);
  };
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (line_no == 1) continue;  // the header, checked above
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    ++r.records;
    tokens.clear();
    for (size_t pos = 0; pos < line.size();) {
      size_t sp = line.find(' ', pos);
      if (sp == std::string_view::npos) sp = line.size();
      if (sp > pos) tokens.push_back(line.substr(pos, sp - pos));
      pos = sp + 1;
    }
    if (tokens.size() < 4) {
      corrupt("too few fields");
      continue;
    }
    e.scope = ClientId{};
    if (tokens[0] != "*") {
      auto s = ClientId::parse(tokens[0]);
      if (!s) {
        corrupt("bad scope");
        continue;
      }
      e.scope = *s;
    }
    auto addr = IpAddr::parse(tokens[1]);
    if (!addr) {
      corrupt("bad address");
      continue;
    }
    e.addr = *addr;
    e.expiry = 0;
    const char* exp_end = tokens[2].data() + tokens[2].size();
    auto [end, ec] = std::from_chars(tokens[2].data(), exp_end, e.expiry);
    if (ec != std::errc() || end != exp_end || e.expiry <= 0) {
      corrupt("bad expiry");
      continue;
    }
    e.names.clear();
    bool bad = false, any_q = false;
    for (size_t i = 3; i < tokens.size(); ++i) {
      std::string_view t = tokens[i];
      bool q = t.starts_with("q:");
      if ((!q && !t.starts_with("c:")) || !unescape(t.substr(2), decoded) || decoded.empty() ||
          decoded.size() > DnsStateEntry::kMaxNameBytes) {
        bad = true;
        break;
      }
      any_q |= q;
      e.names.push_back({decoded, q});
    }
    if (bad || !any_q || e.names.size() > DnsStateEntry::kMaxNames) {
      corrupt(bad ? "bad name" : !any_q ? "no qname" : "too many names");
      continue;
    }
    if (!e.scope.none() && !opts_.scope_client) {
      ++r.skipped;
      continue;
    }
    if (e.expiry < opts_.expired_before) {
      ++r.expired;
      continue;
    }
    e.expiry = std::min(e.expiry, opts_.latest);
    ++r.loaded;
    on_entry(e);
  }
  r.ok = true;
  return r;
}

}  // namespace tripline
