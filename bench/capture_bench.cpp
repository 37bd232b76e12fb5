// CaptureRecorder::on_packet (engine/capture/capture_recorder.h) as a worker pays for
// it: with one active flow session (the packet is copied into the writer's
// ring; a real writer thread writes the pcap files to a temporary directory),
// idle with capture configured but no pre-trigger ring, and idle with the
// pre-trigger ring; and how many packets per second the writer thread gets
// into files when a worker records flat out. TRIPLINE_BENCH_ITEMS (default 200,000) is the packet
// limit of one capture session: a session that reaches it is restarted (untimed), and max_files = 4
// bounds the disk used. Files go under TRIPLINE_BENCH_DIR, else TMPDIR, else /tmp, and are removed
// at the end.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_env.h"
#include "capture_recorder.h"
#include "counters.h"
#include "decode.h"
#include "flow_table.h"
#include "packet_craft.h"

namespace {

using tripline::CaptureConfig;
using tripline::CaptureRecorder;
using tripline::CaptureRequest;
using tripline::CaptureScope;
using tripline::CaptureWriter;
using tripline::Counters;
using tripline::Decoded;
using tripline::Flow;
using tripline::FlowConfig;
using tripline::FlowTable;
using tripline::IpAddr;
using tripline::Timestamp;

constexpr Timestamp kStart = 1'767'225'600LL * tripline::kNsPerSec;

std::string make_temp_dir() {
  std::string dir = "/tmp";
  if (const char* d = std::getenv("TRIPLINE_BENCH_DIR"); d && *d) {
    dir = d;
  } else if (const char* t = std::getenv("TMPDIR"); t && *t) {
    dir = t;
  }
  std::string tmpl = dir + "/tripline-capture-bench-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) {
    std::perror(tmpl.c_str());
    std::exit(1);
  }
  return buf.data();
}

// A writer over a fresh temporary directory, removed (after the writer has
// finished) when this goes away.
struct Capture {
  explicit Capture(uint32_t pre_packets) : dir(make_temp_dir()) {
    cfg.dir = dir;
    cfg.max_files = 4;
    cfg.pre_packets = pre_packets;
    writer = std::make_unique<CaptureWriter>(cfg, 1);
    recorder = std::make_unique<CaptureRecorder>(*writer, 0, cfg, capture_counters(counters));
  }
  ~Capture() {
    recorder.reset();
    writer.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string dir;
  CaptureConfig cfg;
  Counters counters;
  std::unique_ptr<CaptureWriter> writer;
  std::unique_ptr<CaptureRecorder> recorder;
};

// Packets of one UDP flow, both directions, `size` bytes of IP packet each.
struct FlowPackets {
  explicit FlowPackets(size_t size) : table(FlowConfig{}, nullptr) {
    IpAddr c = *IpAddr::parse("10.0.0.1"), s = *IpAddr::parse("93.184.216.34");
    size_t body = size > 28 ? size - 28 : 0;
    for (int i = 0; i < 64; ++i) {
      std::vector<uint8_t> payload(body, static_cast<uint8_t>(i));
      bytes.push_back(i % 2 ? tripline::craft::udp(s, 443, c, 40000, payload)
                            : tripline::craft::udp(c, 40000, s, 443, payload));
    }
    pkts.resize(bytes.size());
    for (size_t i = 0; i < bytes.size(); ++i) {
      tripline::decode(tripline::LinkType::Raw, bytes[i], pkts[i]);
      flow = table.track(pkts[i], kStart).flow;
    }
  }
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<Decoded> pkts;
  FlowTable table;
  Flow* flow = nullptr;
};

void report(benchmark::State& state, const Capture& cap, size_t packet_bytes) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(packet_bytes));
  auto iters = static_cast<double>(std::max<int64_t>(1, state.iterations()));
  state.counters["captured"] = static_cast<double>(cap.counters.capture_packets.get());
  state.counters["dropped"] = static_cast<double>(cap.counters.capture_dropped.get());
  state.counters["drop_ratio"] = static_cast<double>(cap.counters.capture_dropped.get()) / iters;
}

// A flow session that records every packet, restarted (untimed) when it
// reaches its packet limit.
struct Session {
  Session(Capture& cap, FlowPackets& fp, benchmark::State& state) : cap(cap), fp(fp), state(state) {
    req.scope = CaptureScope::Flow;
    req.duration = tripline::seconds(1e6);
    req.max_packets = tripline::gen::env_u64("TRIPLINE_BENCH_ITEMS", 200'000);
    req.max_bytes = UINT64_MAX / 2;
    req.label = "bench";
    start();
  }
  void start() {
    if (cap.recorder->start(req, fp.pkts[0], *fp.flow, now) == 0) state.SkipWithError("refused");
  }
  void packet() {
    cap.recorder->on_packet(fp.pkts[i], fp.flow, ++now);
    i = (i + 1) & 63;
  }
  Capture& cap;
  FlowPackets& fp;
  benchmark::State& state;
  CaptureRequest req;
  Timestamp now = kStart;
  size_t i = 0;
};

// What a worker pays to hand one packet of a recorded flow to the writer: the
// copy into its ring. Packets go in bursts of half the ring; between bursts
// (untimed) the writer empties the ring, so none is dropped (drop_ratio 0).
void BM_CaptureEnqueue(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  Capture cap(0);
  FlowPackets fp(size);
  Session session(cap, fp, state);
  const size_t burst = std::max<size_t>(
      1, cap.cfg.ring_bytes / 2 / CaptureWriter::record_bytes(static_cast<uint32_t>(size)));
  size_t in_burst = 0;
  for (auto _ : state) {
    session.packet();
    if (++in_burst == burst || cap.recorder->active() == 0) {
      state.PauseTiming();
      cap.writer->flush();
      in_burst = 0;
      if (cap.recorder->active() == 0) session.start();
      state.ResumeTiming();
    }
  }
  cap.recorder->shutdown();
  report(state, cap, size);
}
BENCHMARK(BM_CaptureEnqueue)->ArgName("bytes")->Arg(128)->Arg(1500);

// The writer thread's limit: a worker records flat out for the whole run;
// `written_per_s` = packets the writer put into pcap files per second of the
// run (wall clock, including the final flush), `drop_ratio` = what the full
// ring refused meanwhile. items_per_second is only the rate offered.
void BM_CaptureWriterSustained(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  Capture cap(0);
  FlowPackets fp(size);
  Session session(cap, fp, state);
  auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    session.packet();
    if (cap.recorder->active() == 0) session.start();  // rare: every TRIPLINE_BENCH_ITEMS packets
  }
  cap.recorder->shutdown();
  cap.writer->flush();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report(state, cap, size);
  state.counters["written_per_s"] =
      static_cast<double>(cap.writer->stats().records_written) / std::max(secs, 1e-9);
}
BENCHMARK(BM_CaptureWriterSustained)->ArgName("bytes")->Arg(128)->Arg(1500);

// Capture configured, nothing to do: no session and no pre-trigger ring.
void BM_CaptureIdle(benchmark::State& state) {
  Capture cap(0);
  FlowPackets fp(128);
  Timestamp now = kStart;
  size_t i = 0;
  for (auto _ : state) {
    cap.recorder->on_packet(fp.pkts[i], fp.flow, ++now);
    i = (i + 1) & 63;
  }
  report(state, cap, 128);
}
BENCHMARK(BM_CaptureIdle);

// No session, but every packet is remembered in a 32-packet pre-trigger ring.
void BM_CapturePreRing(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  Capture cap(32);
  FlowPackets fp(size);
  Timestamp now = kStart;
  size_t i = 0;
  for (auto _ : state) {
    cap.recorder->on_packet(fp.pkts[i], fp.flow, ++now);
    i = (i + 1) & 63;
  }
  report(state, cap, size);
}
BENCHMARK(BM_CapturePreRing)->ArgName("bytes")->Arg(128)->Arg(1500);

}  // namespace

BENCHMARK_MAIN();
