#include "ctl_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "config.h"
#include "control_client.h"
#include "control_server.h"

namespace tripline {
namespace {

using nlohmann::json;

std::string num(const json& j) { return j.is_null() ? "-" : j.dump(); }
std::string str(const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

void print_status(const json& r) {
  fmt::print("tripline {}, up {} s, queues {}..{}\n", str(r["version"]), num(r["uptime_seconds"]),
             r["queues"]["first"].get<unsigned>(),
             r["queues"]["first"].get<unsigned>() + r["queues"]["count"].get<unsigned>() - 1);
  fmt::print("{:<8}{:<8}{:>14}{:>12}\n", "worker", "queue", "packets", "packets/s");
  for (const auto& w : r["workers"])
    fmt::print("{:<8}{:<8}{:>14}{:>12}\n", num(w["worker"]), num(w["queue"]), num(w["packets"]),
               num(w["packets_per_second"]));
  if (r.contains("dns_cache_entries"))
    fmt::print("dns cache entries: {}\n", num(r["dns_cache_entries"]));
  fmt::print("counters:\n");
  for (auto it = r["counters"].begin(); it != r["counters"].end(); ++it) {
    if (it->is_object()) {
      for (auto d = it->begin(); d != it->end(); ++d)
        fmt::print("  {}.{} {}\n", it.key(), d.key(), num(*d));
      continue;
    }
    fmt::print("  {} {}\n", it.key(), num(*it));
  }
}

void print_flows(const json& r) {
  fmt::print("{:<5} {:<45} {:<45} {:<12} {:>12} {:>10}  {}\n", "proto", "source", "destination",
             "state", "bytes", "verdict", "name / client");
  for (const auto& f : r["flows"]) {
    std::string who = f.contains("dns_name") ? str(f["dns_name"]) : "";
    // The client: its DHCP lease name, else its link-layer address.
    if (f["client"].contains("name"))
      who += (who.empty() ? "" : " ") + str(f["client"]["name"]);
    else if (f["client"].contains("host"))
      who += (who.empty() ? "" : " ") + str(f["client"]["host"]);
    fmt::print("{:<5} {:<45} {:<45} {:<12} {:>12} {:>10}  {}\n", str(f["proto"]),
               str(f["src_ip"]) + ":" + num(f["src_port"]),
               str(f["dest_ip"]) + ":" + num(f["dest_port"]), str(f["state"]),
               f["bytes_toserver"].get<uint64_t>() + f["bytes_toclient"].get<uint64_t>(),
               str(f["verdict"]), who);
  }
  if (!r["workers_not_answering"].empty())
    fmt::print(stderr, "workers that did not answer in time: {}\n",
               r["workers_not_answering"].dump());
}

void print_dns(const json& r) {
  if (r["entries"].empty()) {
    fmt::print("nothing in the DNS cache\n");
    return;
  }
  fmt::print("{:<40} {:<24} {:<28} {}\n", "address", "client", "until", "names");
  for (const auto& e : r["entries"]) {
    std::string names;
    for (const auto& n : e["names"]) names += (names.empty() ? "" : ", ") + str(n);
    fmt::print("{:<40} {:<24} {:<28} {}\n", str(e["address"]), str(e["client"]), str(e["until"]),
               names);
  }
}

void print_captures(const json& r) {
  if (r["captures"].empty()) {
    fmt::print("no capture running\n");
    return;
  }
  fmt::print("{:<8} {:<6} {:<24} {:<28} {:>9}  {}\n", "id", "scope", "host/flow", "until",
             "packets", "file");
  for (const auto& c : r["captures"]) {
    std::string what = c.contains("host")      ? str(c["host"])
                       : c.contains("flow_id") ? num(c["flow_id"])
                                               : "*";
    fmt::print("{:<8} {:<6} {:<24} {:<28} {:>9}  {}\n", str(c["id"]), str(c["scope"]), what,
               str(c["until"]), num(c["packets"]), str(c["file"]));
  }
}

}  // namespace

CLI::App* add_ctl_command(CLI::App& app, CtlOptions& o) {
  auto* ctl = app.add_subcommand("ctl", "Ask the running daemon (through its control socket)");
  o.socket = kDefaultControlSocket;
  ctl->add_option("--socket", o.socket, "Control socket ([control] socket)")->capture_default_str();
  ctl->add_flag("--json", o.json, "Print the daemon's answer as JSON");
  ctl->add_option("--timeout-ms", o.timeout_ms, "How long to wait for the answer")
      ->capture_default_str();
  ctl->require_subcommand(1);
  ctl->add_subcommand("status", "Version, uptime, queues, packets/s per worker, counters");
  auto* flows = ctl->add_subcommand("flows", "The largest flows now (or those of one host)");
  flows->add_option("--top", o.top, "How many flows (largest by bytes)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 10000u));
  flows->add_option("--host", o.host, "Only flows to or from this address");
  auto* dns = ctl->add_subcommand("dns", "The DNS cache behind DNS-gated egress");
  dns->require_subcommand(1);
  dns->add_subcommand("lookup",
                      "Which addresses a name opened (or which names an address has), "
                      "for which clients, until when")
      ->add_option("target", o.target, "NAME or IP")
      ->required();
  dns->add_subcommand("flush",
                      "Forget a name's or an address's entries (all without one): the "
                      "addresses close at once")
      ->add_option("target", o.target, "NAME or IP");
  auto* cap = ctl->add_subcommand("capture", "Captures (pcap recordings)");
  cap->require_subcommand(1);
  cap->add_subcommand("list", "Running captures and their files");
  auto* start = cap->add_subcommand("start", "Record a host's packets: capture start host IP");
  start->add_option("scope", o.capture_scope, "host")->required()->check(CLI::IsMember({"host"}));
  start->add_option("ip", o.capture_host, "The host's address")->required();
  start->add_option("--seconds", o.seconds, "How long (default: [capture] seconds)");
  cap->add_subcommand("stop", "End a capture")
      ->add_option("id", o.capture_id, "Its id (capture list)")
      ->required();
  ctl->add_subcommand("reload", "Re-read the configuration (the same as SIGHUP)");
  return ctl;
}

int run_ctl(const CLI::App& ctl, const CtlOptions& o) {
  std::string cmd;
  json args = json::object();
  const CLI::App* sub = ctl.get_subcommands().front();
  const std::string name = sub->get_name();
  if (name == "status" || name == "reload") {
    cmd = name;
  } else if (name == "flows") {
    cmd = "flows";
    args["top"] = o.top;
    if (!o.host.empty()) args["host"] = o.host;
  } else if (name == "dns") {
    cmd = "dns." + sub->get_subcommands().front()->get_name();
    if (!o.target.empty()) args["target"] = o.target;
  } else if (name == "capture") {
    std::string what = sub->get_subcommands().front()->get_name();
    cmd = "capture." + what;
    if (what == "start") {
      args["host"] = o.capture_host;
      if (o.seconds) args["seconds"] = o.seconds;
    }
    if (what == "stop") args["id"] = o.capture_id;
  }
  json resp;
  try {
    resp = control_call(o.socket, cmd, args, std::chrono::milliseconds(o.timeout_ms));
  } catch (const ControlError& e) {
    std::fprintf(stderr, "tripline ctl: %s\n", e.what());
    return 1;
  }
  const bool ok = resp.value("ok", false);
  if (o.json) {
    std::printf("%s\n", resp.dump(2, ' ', false, json::error_handler_t::replace).c_str());
    return ok ? 0 : 1;
  }
  if (!ok) {
    std::fprintf(stderr, "tripline ctl: %s\n", str(resp.value("error", json("error"))).c_str());
    return 1;
  }
  const json& r = resp["result"];
  if (cmd == "status")
    print_status(r);
  else if (cmd == "flows")
    print_flows(r);
  else if (cmd == "dns.lookup")
    print_dns(r);
  else if (cmd == "dns.flush")
    fmt::print("flushed {} entries\n", num(r["flushed"]));
  else if (cmd == "capture.list")
    print_captures(r);
  else if (cmd == "capture.start") {
    fmt::print("capture {} of {} started:\n", str(r["id"]), str(r["host"]));
    for (const auto& f : r["files"]) fmt::print("  {}\n", str(f));
    if (r.contains("warning")) fmt::print(stderr, "warning: {}\n", str(r["warning"]));
  } else if (cmd == "capture.stop")
    fmt::print("capture {} stopped\n", str(r["id"]));
  else if (cmd == "reload")
    fmt::print("{}\n", str(r["message"]));
  return 0;
}

}  // namespace tripline
