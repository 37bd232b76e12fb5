#include "neighbour_monitor.h"

#include <ifaddrs.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "neighbour_message.h"

namespace tripline {
namespace {

uint8_t prefix_length(const sockaddr* mask) {
  if (!mask) return 0;
  const uint8_t* b = nullptr;
  size_t n = 0;
  if (mask->sa_family == AF_INET) {
    b = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
    n = 4;
  } else if (mask->sa_family == AF_INET6) {
    b = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
    n = 16;
  }
  uint8_t len = 0;
  for (size_t i = 0; i < n; ++i) len += static_cast<uint8_t>(__builtin_popcount(b[i]));
  return len;
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

std::vector<OnLinkPrefix> read_on_link_prefixes() {
  std::vector<OnLinkPrefix> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK)) continue;
    OnLinkPrefix p;
    if (i->ifa_addr->sa_family == AF_INET) {
      p.net = IpAddr::v4(reinterpret_cast<const uint8_t*>(
          &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      p.net = IpAddr::v6(reinterpret_cast<const uint8_t*>(
          &reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr));
    } else {
      continue;
    }
    p.length = prefix_length(i->ifa_netmask);
    if (p.length == 0) continue;  // no netmask: not a prefix we can tell anything by
    p.ifindex = if_nametoindex(i->ifa_name);
    out.push_back(p);
  }
  freeifaddrs(list);
  return out;
}

NeighbourMonitor::NeighbourMonitor(HostTable& table) : table_(table) {
  events_ = mnl_socket_open(NETLINK_ROUTE);
  if (!events_) throw NeighbourError(errno_text("neighbour table: netlink socket"));
  // Subscribed before the dump, so no change between the two goes unseen.
  unsigned groups = RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (mnl_socket_bind(events_, groups, MNL_SOCKET_AUTOPID) < 0) {
    std::string e = errno_text("neighbour table: netlink bind");
    mnl_socket_close(events_);
    throw NeighbourError(e);
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    std::string e = errno_text("neighbour table: eventfd");
    mnl_socket_close(events_);
    throw NeighbourError(e);
  }
  reload_prefixes();
  dump();
}

NeighbourMonitor::~NeighbourMonitor() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (events_) mnl_socket_close(events_);
}

void NeighbourMonitor::reload_prefixes() {
  std::vector<OnLinkPrefix> p = read_on_link_prefixes();
  table_.set_prefixes(p);
  prefix_reloads_.fetch_add(1, std::memory_order_relaxed);
}

bool NeighbourMonitor::apply(const uint8_t* buf, size_t len) {
  bool done = false;
  bool addr_changed = false;
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf);
  int remaining = static_cast<int>(len);
  while (mnl_nlmsg_ok(nlh, remaining)) {
    if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR) done = true;
    if (nlh->nlmsg_type == RTM_NEWADDR || nlh->nlmsg_type == RTM_DELADDR) addr_changed = true;
    if (nlh->nlmsg_type == RTM_NEWNEIGH || nlh->nlmsg_type == RTM_DELNEIGH) {
      messages_.fetch_add(1, std::memory_order_relaxed);
      NeighbourUpdate u = parse_neighbour_message(
          {reinterpret_cast<const uint8_t*>(nlh), static_cast<size_t>(nlh->nlmsg_len)});
      switch (u.op) {
        case NeighbourUpdate::Op::Set:
          table_.set(u.addr, u.mac, u.ifindex);
          break;
        case NeighbourUpdate::Op::Remove:
          table_.remove(u.addr, u.ifindex);
          break;
        case NeighbourUpdate::Op::Ignore:
          ignored_.fetch_add(1, std::memory_order_relaxed);
          break;
      }
    }
    nlh = mnl_nlmsg_next(nlh, &remaining);
  }
  if (addr_changed) reload_prefixes();
  return done;
}

void NeighbourMonitor::dump() {
  // A socket of its own, so the dump's answer is not mixed with events.
  mnl_socket* s = mnl_socket_open(NETLINK_ROUTE);
  if (!s) throw NeighbourError(errno_text("neighbour table: netlink socket"));
  struct Closer {
    mnl_socket* s;
    ~Closer() { mnl_socket_close(s); }
  } closer{s};
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0)
    throw NeighbourError(errno_text("neighbour table: netlink bind"));
  std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETNEIGH;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = 1;
  auto* nd = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  nd->ndm_family = AF_UNSPEC;
  if (mnl_socket_sendto(s, nlh, nlh->nlmsg_len) < 0)
    throw NeighbourError(errno_text("neighbour table: dump request"));
  table_.clear();
  dumps_.fetch_add(1, std::memory_order_relaxed);
  // Bounded: the kernel ends a dump with NLMSG_DONE; a table can only be so large.
  for (int rounds = 0; rounds < 100000; ++rounds) {
    ssize_t n = mnl_socket_recvfrom(s, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw NeighbourError(errno_text("neighbour table: dump"));
    }
    if (n == 0 || apply(buf.data(), static_cast<size_t>(n))) return;
  }
}

void NeighbourMonitor::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void NeighbourMonitor::run() {
  std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  pollfd fds[2] = {{mnl_socket_get_fd(events_), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    int r = ::poll(fds, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    ssize_t n = ::recv(mnl_socket_get_fd(events_), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == ENOBUFS) {
        // Events were lost: what the table holds may be stale. Start again.
        overruns_.fetch_add(1, std::memory_order_relaxed);
        try {
          dump();
        } catch (const NeighbourError&) {
          // Keep what we have; the next overrun or change tries again.
        }
      }
      continue;
    }
    apply(buf.data(), static_cast<size_t>(n));
  }
}

NeighbourMonitorStats NeighbourMonitor::stats() const {
  NeighbourMonitorStats s;
  s.messages = messages_.load(std::memory_order_relaxed);
  s.ignored = ignored_.load(std::memory_order_relaxed);
  s.dumps = dumps_.load(std::memory_order_relaxed);
  s.overruns = overruns_.load(std::memory_order_relaxed);
  s.prefix_reloads = prefix_reloads_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace tripline
