// STUB: being implemented (nfqueue helper). Replace entirely.
#include "nfqueue_source.h"

namespace tripline {
struct NfqueueSource::Impl {};
NfqueueSource::NfqueueSource(const QueueConfig&, uint16_t queue_num, Worker&) : queue_num_(queue_num) {
  throw SourceError("not implemented");
}
NfqueueSource::~NfqueueSource() = default;
void NfqueueSource::run(const std::atomic<bool>&) {}
}  // namespace tripline
