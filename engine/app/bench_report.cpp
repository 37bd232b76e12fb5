// BenchResult::to_html: one page that needs no network. The figures are the
// --json document, embedded; inline JS draws them as SVG charts and marks the
// page (<body data-charts="N">) once it has drawn them, so a test can tell a
// page that drew from one that failed.
#include <string>

#include "bench_result.h"

namespace tripline {
namespace {

constexpr char kHead[] = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tripline bench</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.sub{color:#666}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:180px}
.card b{display:block;font-size:22px}.card span{color:#666;font-size:12px}
table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 10px;text-align:right;border-bottom:1px solid #eee}
td:first-child,th:first-child{text-align:left}svg{display:block;margin:6px 0}
.bar{fill:#3b82c4}.bar2{fill:#b9c7d6}.axis{stroke:#999}.lbl{font-size:11px;fill:#333}
#status{color:#888;font-size:12px;margin-top:30px}
#passes svg{display:inline-block;vertical-align:top;margin-right:16px}
</style></head>
<body data-charts="0">
<h1>tripline bench</h1><div class="sub" id="sub"></div>
<h2>Pipeline from memory, vs bare read from memory</h2><div class="cards" id="cards-memory"></div>
<h2>Pipeline reading the file, vs libpcap read of the file, as replay_bench</h2><div class="cards" id="cards-file"></div>
<h2>Time per stage (ns per packet, profiled pass)</h2><div id="stages"></div>
<h2>Packets per second, per pass</h2><div id="passes"></div>
<h2>Lua: time per call</h2><div id="lua"></div>
<h2>Memory (peak)</h2><div id="memory"></div>
<h2>Counters (profiled pass)</h2><div id="counters"></div>
<div id="status">not drawn (JavaScript off?)</div>
<script type="application/json" id="bench-data">)HTML";

constexpr char kTail[] = R"HTML(</script>
<script>
"use strict";
window.onerror = function (msg) {
  document.body.setAttribute("data-error", String(msg));
  document.getElementById("status").textContent = "error: " + msg;
};
const NS = "http://www.w3.org/2000/svg";
function el(tag, attrs, parent, text) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
function fmt(n, d) {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + " G";
  if (n >= 1e6) return (n / 1e6).toFixed(2) + " M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + " k";
  return Number(n).toFixed(d === undefined ? 0 : d);
}
function bytes(n) {
  if (n >= 1048576) return (n / 1048576).toFixed(1) + " MiB";
  return (n / 1024).toFixed(1) + " KiB";
}
// Horizontal bars: rows [{label, value, text, cls}].
function hbars(host, rows) {
  const rowH = 22, left = 150, width = 760;
  const max = Math.max(1e-9, ...rows.map(r => r.value));
  const svg = el("svg", {width: left + width + 120, height: rows.length * rowH + 10}, host);
  rows.forEach((r, i) => {
    const y = 5 + i * rowH;
    el("text", {x: left - 8, y: y + 15, "text-anchor": "end", class: "lbl"}, svg, r.label);
    el("rect", {x: left, y: y + 3, height: rowH - 6, width: Math.max(1, width * r.value / max),
                class: r.cls || "bar"}, svg);
    el("text", {x: left + width * r.value / max + 6, y: y + 15, class: "lbl"}, svg, r.text);
  });
  return svg;
}
// Vertical bars: labels under each bar, values on top.
function vbars(host, rows, title, minWidth) {
  // The title on top, the bars below it (their values above them), labels under the axis.
  const h = 160, top = 20, bw = Math.max(8, Math.min(48, 700 / Math.max(1, rows.length))), gap = 4;
  const base = top + h + 16;
  const max = Math.max(1e-9, ...rows.map(r => r.value));
  const width = Math.max(minWidth || 0, 60 + rows.length * (bw + gap) + 20);
  const svg = el("svg", {width: width, height: base + 24}, host);
  el("text", {x: 0, y: 12, class: "lbl"}, svg, title);
  el("line", {x1: 50, y1: base, x2: 60 + rows.length * (bw + gap), y2: base, class: "axis"}, svg);
  rows.forEach((r, i) => {
    const x = 56 + i * (bw + gap), bh = Math.max(1, h * r.value / max);
    el("rect", {x: x, y: base - bh, width: bw, height: bh, class: r.cls || "bar"}, svg)
      .appendChild(el("title", {}, null, r.tip || r.text));
    // Narrow bars: values only on hover, and every few labels, so none overlap.
    if (r.text && bw >= 30) el("text", {x: x + bw / 2, y: base - bh - 4, "text-anchor": "middle", class: "lbl"}, svg, r.text);
    if (i % Math.ceil(40 / (bw + gap)) === 0)
      el("text", {x: x + bw / 2, y: base + 14, "text-anchor": "middle", class: "lbl"}, svg, r.label);
  });
  return svg;
}
function table(host, head, rows) {
  const t = document.createElement("table");
  const tr = t.insertRow();
  head.forEach(h => { const th = document.createElement("th"); th.textContent = h; tr.appendChild(th); });
  rows.forEach(r => { const row = t.insertRow(); r.forEach(c => { row.insertCell().textContent = c; }); });
  host.appendChild(t);
}
function card(group, label, value, note) {
  const d = document.createElement("div");
  d.className = "card";
  const b = document.createElement("b"); b.textContent = value; d.appendChild(b);
  const s = document.createElement("span"); s.textContent = label + (note ? " (" + note + ")" : ""); d.appendChild(s);
  document.getElementById("cards-" + group).appendChild(d);
}

const data = JSON.parse(document.getElementById("bench-data").textContent);
let charts = 0;
document.getElementById("sub").textContent =
  data.file + ": " + data.packets + " packets, " + data.bytes + " bytes; config " + data.config +
  "; " + data.passes + " passes (median, min..max)";
const P = data.pipeline, B = data.bare_read, F = data.file_read;
const range = (s, d) => fmt(s.min, d) + ".." + fmt(s.max, d);
const ratioRange = s => s.min.toFixed(3) + ".." + s.max.toFixed(3);
card("memory", "pipeline packets/s", fmt(P.packets_per_second.median, 0), range(P.packets_per_second));
card("memory", "pipeline ns/packet", fmt(P.ns_per_packet.median, 1), range(P.ns_per_packet, 1));
card("memory", "bare read packets/s", fmt(B.packets_per_second.median, 0), range(B.packets_per_second));
card("memory", "ratio vs bare read from memory", data.ratio.median.toFixed(3), ratioRange(data.ratio));
card("memory", "ratio in CPU time", data.cpu_ratio.median.toFixed(3),
     ratioRange(data.cpu_ratio) + "; this thread");
card("file", "pipeline reading the file, packets/s", fmt(F.pipeline.packets_per_second.median, 0),
     range(F.pipeline.packets_per_second));
card("file", "libpcap read of the file, packets/s", fmt(F.libpcap_read.packets_per_second.median, 0),
     range(F.libpcap_read.packets_per_second));
card("file", "ratio vs libpcap read of the file (replay_bench's vs_baseline)",
     F.ratio.median.toFixed(3), ratioRange(F.ratio));
card("file", "ratio in CPU time", F.cpu_ratio.median.toFixed(3),
     ratioRange(F.cpu_ratio) + "; this thread");

// 1. Time per stage.
const pk = Math.max(1, data.packets);
hbars(document.getElementById("stages"), data.profile.stages.map(s => ({
  label: s.name, value: s.ns_per_packet,
  text: s.ns_per_packet.toFixed(1) + " ns (" + (100 * s.share).toFixed(1) + " %)"})));
const note = document.createElement("div");
note.className = "sub";
note.textContent = "profiled pass " + data.profile.ns_per_packet.toFixed(1) +
  " ns/packet (the clock read at every stage change included); stages add up to " +
  (data.profile.stage_sum_ns / pk).toFixed(1) + " ns/packet";
document.getElementById("stages").appendChild(note);
charts++;

// 2. Packets/s per pass.
const passes = document.getElementById("passes");
[[P, "pipeline, from memory", "bar"], [B, "bare read from memory", "bar2"],
 [F.pipeline, "pipeline, reading the file", "bar"],
 [F.libpcap_read, "libpcap read of the file (as replay_bench)", "bar2"]].forEach(([r, title, cls]) =>
  vbars(passes, r.per_pass_packets_per_second.map((v, i) => ({label: "" + (i + 1), value: v, text: fmt(v), cls: cls})),
        title, 280));
charts++;

// 3. Lua call time distribution.
const lua = document.getElementById("lua");
if (!data.lua.on) {
  lua.textContent = "no [lua] script in this configuration";
} else {
  table(lua, ["hook", "calls", "p50 ns", "p99 ns", "mean ns"],
        data.lua.hooks.map(h => [h.name, h.calls, h.p50_ns, h.p99_ns, h.mean_ns.toFixed(0)]));
  data.lua.hooks.filter(h => h.calls > 0).forEach(h => {
    vbars(lua, h.histogram.map(b => ({label: fmt(b[0]), value: b[1], text: "" + b[1],
                                     tip: ">= " + b[0] + " ns: " + b[1] + " calls"})),
          h.name + ": calls by time per call (ns, bucket start)");
  });
  if (data.lua.lines.length) {
    const p = document.createElement("div");
    p.textContent = "Script lines that run most (a sample every " +
      data.lua.sample_every_instructions + " VM instructions, " + data.lua.samples + " samples)";
    lua.appendChild(p);
    table(lua, ["line", "samples", "share"],
          data.lua.lines.map(l => [l.source + ":" + l.line, l.samples, (100 * l.share).toFixed(1) + " %"]));
  }
  if (data.lua.flows.length) {
    const p = document.createElement("div");
    p.textContent = "Flows costing most script time (of " + data.lua.flows_with_calls + ")";
    lua.appendChild(p);
    table(lua, ["flow", "calls", "ns"], data.lua.flows.map(f => [f.flow, f.calls, f.ns]));
  }
}
charts++;

const M = data.memory;
table(document.getElementById("memory"), ["what", "bytes"], [
  ["flow table (" + M.flows_peak + " flows at most)", bytes(M.flow_table_bytes)],
  ["DNS cache", bytes(M.dns_cache_bytes)], ["Lua state", bytes(M.lua_bytes)],
  ["capture rings", bytes(M.capture_ring_bytes)]]);
table(document.getElementById("counters"), ["counter", "value"],
      Object.keys(data.counters).map(k => [k, data.counters[k]]));

document.body.setAttribute("data-charts", String(charts));
document.getElementById("status").textContent = "drawn: " + charts + " charts";
</script>
</body></html>
)HTML";

}  // namespace

std::string BenchResult::to_html() const {
  std::string json = to_json();
  // Inside <script>, "</" could end the element early; "<\/" is the same JSON string.
  std::string safe;
  safe.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<' && i + 1 < json.size() && json[i + 1] == '/') {
      safe += "<\\/";
      ++i;
    } else {
      safe += json[i];
    }
  }
  return kHead + safe + kTail;
}

}  // namespace tripline
