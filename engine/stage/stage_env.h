// What a stage may use of the worker that runs it, and nothing more: the
// worker's counters, its event sink, its capture recorder, the default
// decision and its index (for log lines). The worker builds one and hands it
// to each of its stages at construction; stages never see the Worker.
#pragma once

#include <string>

#include "counters.h"
#include "eve.h"
#include "stage_profile.h"
#include "verdict.h"

namespace tripline {

class CaptureRecorder;
class DnsAnswerHook;
class EventWriter;

class StageEnv {
 public:
  // counters must outlive the environment; events may be null (no event log).
  StageEnv(Counters& counters, EventWriter* events, const Decision& default_decision,
           unsigned worker_index);
  ~StageEnv();
  StageEnv(const StageEnv&) = delete;
  StageEnv& operator=(const StageEnv&) = delete;

  // The worker's counters. Stages run on the worker's thread: they count here
  // like the worker does (single writer).
  Counters& counters() { return counters_; }
  // What a packet gets when nothing decides otherwise ([queue] default_verdict).
  const Decision& default_decision() const { return default_decision_; }
  // The worker's conditional capture; null when capture is not configured.
  CaptureRecorder* capture() const { return capture_; }
  // The worker's number, for log lines.
  unsigned worker_index() const { return worker_index_; }
  // Where the worker's time goes (`tripline bench`); null unless profiling.
  StageProfile* profile() const { return profile_; }
  // Who sees the worker's trusted DNS answers before they open anything (a
  // trigger script's on_dns); null: nobody. Set by that stage while it lives.
  DnsAnswerHook* dns_hook() const { return dns_hook_; }
  void set_dns_hook(DnsAnswerHook* hook) { dns_hook_ = hook; }

  // Events. Build one only when events_on(); eve() lays it out from facts
  // (events/eve.h, the one home of every layout) and emit() hands the finished
  // line to the event writer: never blocks. Counted events_dropped when the
  // writer's queue refuses it, else (by the writer, once it knows)
  // events_written or events_lost.
  bool events_on() const { return events_ != nullptr; }
  EveBuilder& eve() { return eve_; }
  void emit(std::string line);

 protected:
  // The worker attaches its recorder after its stages are built.
  void set_capture(CaptureRecorder* capture) { capture_ = capture; }
  void set_profile(StageProfile* profile) { profile_ = profile; }

 private:
  Counters& counters_;
  EventWriter* events_;
  int events_source_ = -1;
  Decision default_decision_;
  CaptureRecorder* capture_ = nullptr;
  StageProfile* profile_ = nullptr;
  DnsAnswerHook* dns_hook_ = nullptr;
  unsigned worker_index_;
  EveBuilder eve_;
};

}  // namespace tripline
