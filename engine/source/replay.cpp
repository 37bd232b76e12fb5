#include "replay.h"

#include <pcap/pcap.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>

#include "worker.h"

namespace tripline {
namespace {

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};

}  // namespace

ReplayResult replay_pcap(std::shared_ptr<const Config> cfg, const ReplayOptions& opts,
                         const StageFactory& stages) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, PcapCloser> pcap(pcap_open_offline_with_tstamp_precision(
      opts.pcap_path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf));
  if (!pcap) throw ReplayError(opts.pcap_path + ": " + errbuf);
  int dlt = pcap_datalink(pcap.get());
  auto link = link_type_from_dlt(dlt);
  if (!link) {
    const char* name = pcap_datalink_val_to_name(dlt);
    throw ReplayError(opts.pcap_path + ": link type " + std::to_string(dlt) + " (" +
                      (name ? name : "unknown") + ") is not supported");
  }

  Worker worker(cfg, 0, opts.events);
  if (stages) stages(worker);
  ReplayResult result;
  auto started = std::chrono::steady_clock::now();
  Timestamp last = 0;
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  int rc;
  while ((rc = pcap_next_ex(pcap.get(), &hdr, &data)) == 1) {
    ++result.frames;
    Timestamp ts = static_cast<Timestamp>(hdr->ts.tv_sec) * kNsPerSec + hdr->ts.tv_usec;
    if (ts < last) ts = last;  // the clock never runs backwards
    last = ts;
    // The sender's host, as NFQUEUE's NFQA_HWADDR would give it: the Ethernet source.
    PacketMeta meta;
    if (*link == LinkType::Ethernet && hdr->caplen >= 12)
      std::memcpy(meta.src_mac.bytes.data(), data + 6, meta.src_mac.bytes.size());
    Decision d = worker.process(*link, std::span<const uint8_t>(data, hdr->caplen), ts, meta);
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
  }
  if (rc == PCAP_ERROR) {
    result.truncated = true;
    result.error = pcap_geterr(pcap.get());
  }
  worker.shutdown(last);
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result.counters.add(worker.counters());
  return result;
}

}  // namespace tripline
