#include "replay.h"

#include <pcap/pcap.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "event_writer.h"
#include "worker.h"

namespace tripline {
namespace {

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A packet read and not judged yet (see the read-ahead in replay_pcap).
struct ReadRecord {
  std::vector<uint8_t> bytes;
  size_t len = 0;
  Timestamp ts = 0;
  PacketMeta meta;
  Worker::ReadAhead ahead;  // what Worker::prefetch made of it
};
// Packets read and not judged yet, at most, and the buffer each starts with.
constexpr uint64_t kReadAhead = 5;
constexpr size_t kReadAheadBytes = 65536;

}  // namespace

BufferedPcap open_pcap_buffered(const std::string& path, char* errbuf) {
  BufferedPcap r;
  if (path == "-") {  // stdin keeps its buffer; libpcap never closes it
    r.pcap.reset(
        pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf));
    return r;
  }
  FILE* f = std::fopen(path.c_str(), "rbe");
  if (!f) {  // libpcap's words for it
    std::snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: %s", path.c_str(), std::strerror(errno));
    return r;
  }
  r.buffer = std::make_unique_for_overwrite<char[]>(kPcapReadBufferBytes);
  if (setvbuf(f, r.buffer.get(), _IOFBF, kPcapReadBufferBytes) != 0) r.buffer.reset();
  r.pcap.reset(pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf));
  if (!r.pcap) std::fclose(f);
  return r;
}

ReplayResult replay_pcap(std::shared_ptr<const Config> cfg, const ReplayOptions& opts,
                         const StageFactory& stages) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  BufferedPcap file;
  std::unique_ptr<pcap_t, PcapCloser>& pcap = file.pcap;
  if (!opts.memory.empty()) {
    // fmemopen only reads through the pointer ("r"); pcap_close closes the stream.
    FILE* f = fmemopen(const_cast<uint8_t*>(opts.memory.data()), opts.memory.size(), "r");
    if (!f) throw ReplayError(opts.pcap_path + ": " + std::strerror(errno));
    pcap.reset(pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf));
    if (!pcap) std::fclose(f);
  } else {
    file = open_pcap_buffered(opts.pcap_path, errbuf);
  }
  if (!pcap) throw ReplayError(opts.pcap_path + ": " + errbuf);
  int dlt = pcap_datalink(pcap.get());
  auto link = link_type_from_dlt(dlt);
  if (!link) {
    const char* name = pcap_datalink_val_to_name(dlt);
    throw ReplayError(opts.pcap_path + ": link type " + std::to_string(dlt) + " (" +
                      (name ? name : "unknown") + ") is not supported");
  }

  Worker worker(cfg, 0, opts.events);
  worker.set_profile(opts.profile);
  if (stages) stages(worker);
  ReplayResult result;
  StageProfile* profile = opts.profile;
  auto started = std::chrono::steady_clock::now();
  double cpu_started = thread_cpu_seconds();
  if (profile) profile->start(ProfileStage::Read);
  Timestamp last = 0;
  // [log] stats_interval in the pcap's time: the same stats events each run.
  const Timestamp stats_every = seconds(cfg->log.stats_interval);
  Timestamp first = -1, next_stats = 0;
  EveBuilder stats_eve;
  // Judges one packet read earlier: everything per packet but the read.
  auto judge = [&](const ReadRecord& a) {
    ++result.frames;
    if (opts.progress && result.frames % kReplayProgressFrames == 0)
      opts.progress(result.frames, worker);
    const Timestamp ts = a.ts;
    if (stats_every > 0 && opts.events) {
      if (first < 0) {
        first = ts;
        next_stats = ts + stats_every;
      } else if (ts >= next_stats) {  // counters up to here; one event per crossing
        // (also after a long gap)
        // The writer counts lines written once they are: wait for it, so the
        // figures are those of the packets so far, the same on every run.
        opts.events->flush();
        CounterSnapshot snap;
        snap.add(worker.counters());
        opts.events->submit(
            snap.stats_event(stats_eve, next_stats, (next_stats - first) / kNsPerSec));
        next_stats += (ts - next_stats) / stats_every * stats_every + stats_every;
      }
    }
    Decision d = worker.process(*link, std::span<const uint8_t>(a.bytes.data(), a.len), ts, a.meta,
                                &a.ahead);
    if (opts.verdicts) {
      auto verdict = to_string(d.verdict);
      std::fprintf(opts.verdicts, "{\"frame\":%llu,\"verdict\":\"%.*s\"",
                   static_cast<unsigned long long>(result.frames), static_cast<int>(verdict.size()),
                   verdict.data());
      if (d.has_mark) std::fprintf(opts.verdicts, ",\"mark\":%u", d.mark);
      // A replaced packet (e.g. a rewritten DNS answer) goes out with other bytes.
      if (!d.replacement.empty())
        std::fprintf(opts.verdicts, ",\"replaced_len\":%zu", d.replacement.size());
      std::fprintf(opts.verdicts, ",\"reason\":\"%.*s\"}\n", static_cast<int>(d.reason.size()),
                   d.reason.data());
    }
  };

  // Read ahead: packet i is read (copied out of libpcap's buffer, which the
  // next read reuses) and its flow's index line warmed; the flow of packet
  // i-2 is warmed, then its list neighbours at i-3, and packet i-4 judged.
  // On a gateway's interleaved traffic the flow table's lines are rarely in
  // the cache: this way their loads overlap with judging instead of stalling
  // it. The order of judging, the clock and every output are those of
  // reading one packet at a time.
  std::array<ReadRecord, kReadAhead> ring;
  for (ReadRecord& a : ring) a.bytes.resize(kReadAheadBytes);
  auto at = [&](uint64_t i) -> ReadRecord& { return ring[i % kReadAhead]; };
  // The steps for the packets read and not judged: [judged, read).
  auto warm = [&](uint64_t read, uint64_t judged) {
    if (read - judged > 2) worker.prefetch_flow(at(read - 3).ahead);
    if (read - judged > 3) worker.prefetch_links(at(read - 4).ahead);
  };
  uint64_t read = 0, judged = 0;
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  int rc;
  while ((rc = pcap_next_ex(pcap.get(), &hdr, &data)) == 1) {
    ReadRecord& a = at(read);
    if (a.bytes.size() < hdr->caplen) a.bytes.resize(hdr->caplen);  // beyond 64 KiB: rare
    std::memcpy(a.bytes.data(), data, hdr->caplen);
    a.len = hdr->caplen;
    Timestamp ts = static_cast<Timestamp>(hdr->ts.tv_sec) * kNsPerSec + hdr->ts.tv_usec;
    if (ts < last) ts = last;  // the clock never runs backwards
    last = ts;
    a.ts = ts;
    // The sender's host, as NFQUEUE's NFQA_HWADDR would give it: the Ethernet source.
    a.meta = PacketMeta{};
    if (*link == LinkType::Ethernet && hdr->caplen >= 12)
      std::memcpy(a.meta.src_mac.bytes.data(), data + 6, a.meta.src_mac.bytes.size());
    worker.prefetch(*link, std::span<const uint8_t>(a.bytes.data(), a.len), a.ahead);
    ++read;
    warm(read, judged);
    if (read - judged == kReadAhead) judge(at(judged++));
    if (profile) profile->enter(ProfileStage::Read);
  }
  while (judged < read) {
    judge(at(judged++));
    if (profile) profile->enter(ProfileStage::Read);
  }
  if (rc == PCAP_ERROR) {
    result.truncated = true;
    result.error = pcap_geterr(pcap.get());
  }
  if (opts.progress) opts.progress(result.frames, worker);
  if (profile) profile->enter(ProfileStage::FlowTable);  // the flows still open end
  worker.shutdown(last);
  if (profile) profile->stop();
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result.cpu_seconds = thread_cpu_seconds() - cpu_started;
  // Events are counted written (or lost) by the writer once it knows.
  if (opts.events) opts.events->flush();
  result.counters.add(worker.counters());
  return result;
}

}  // namespace tripline
