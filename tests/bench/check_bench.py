"""tests/bench: `tripline bench` on a small pcap (make_pcap.py) with a config
using DNS-gated egress, a [[rule]], an on_flow-only trigger, capture and events.

  check_bench.py TRIPLINE CASE_DIR OUT_DIR json    the JSON figures hold together
  check_bench.py TRIPLINE CASE_DIR OUT_DIR report  the HTML report draws its charts
                                                   in headless Chromium, without
                                                   console errors; screenshot kept
                                                   as OUT_DIR/bench-report.png
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

# The stages (decode, flow table, DNS observer, egress, rule chain, Lua,
# capture) and the rest of the worker's time (reading the pcap, flow-end events,
# the worker's own share), in the order bench lists them.
STAGES = ["read", "decode", "flow_table", "dns", "egress", "rule_chain", "lua", "capture",
          "events", "worker"]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run_bench(tripline, case_dir, out_dir, name, repeat, extra):
    pcap = os.path.join(out_dir, name + ".pcap")
    subprocess.run(["/usr/bin/python3", os.path.join(case_dir, "make_pcap.py"), pcap], check=True)
    # Run where the config's events file and capture dir would land: bench writes neither.
    work = tempfile.mkdtemp(prefix=WORK_PREFIX, dir=out_dir)
    cmd = [tripline, "bench", pcap, "-c", os.path.join(case_dir, "config.toml"),
           "--repeat", str(repeat)] + extra
    r = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        fail("tripline bench exited %d" % r.returncode)
    left = os.listdir(work)
    if left:
        fail("bench wrote into the working directory: %s" % left)
    os.rmdir(work)
    return r


def check_json(tripline, case_dir, out_dir):
    out = os.path.join(out_dir, "bench.json")
    run_bench(tripline, case_dir, out_dir, "bench-json", 2, ["--json", out])
    with open(out) as f:
        d = json.load(f)
    c = d["counters"]
    if d["packets"] != c["packets"] or d["packets"] < 300:
        fail("packets: %d in the file, %d in the profiled pass" % (d["packets"], c["packets"]))
    for part in ("pipeline", "bare_read"):
        per_pass = d[part]["per_pass_packets_per_second"]
        if len(per_pass) != 2 or min(per_pass) <= 0:
            fail("%s: per-pass rates %s" % (part, per_pass))
        s = d[part]["packets_per_second"]
        if not (s["min"] <= s["median"] <= s["max"]):
            fail("%s: median outside min..max: %s" % (part, s))
        if not 0 < d[part]["cpu_ns_per_packet"]["median"]:
            fail("%s: no CPU time" % part)
    if not 0 < d["ratio"]["median"] < 1:
        fail("ratio %s: the pipeline cannot beat a bare read" % d["ratio"])
    # The second baseline, as replay_bench: the pipeline reading the file
    # against a libpcap read of the file, pass by pass.
    f = d["file_read"]
    for part in ("pipeline", "libpcap_read"):
        per_pass = f[part]["per_pass_packets_per_second"]
        if len(per_pass) != 2 or min(per_pass) <= 0:
            fail("file_read.%s: per-pass rates %s" % (part, per_pass))
        s = f[part]["packets_per_second"]
        if not (s["min"] <= s["median"] <= s["max"]):
            fail("file_read.%s: median outside min..max: %s" % (part, s))
        if not 0 < f[part]["cpu_ns_per_packet"]["median"]:
            fail("file_read.%s: no CPU time" % part)
    ratios = [p / b for p, b in zip(f["pipeline"]["per_pass_packets_per_second"],
                                    f["libpcap_read"]["per_pass_packets_per_second"])]
    if abs(f["ratio"]["median"] - sum(ratios) / 2) > 1e-9 * max(ratios):
        fail("file_read.ratio %s is not the passes' pipeline/libpcap read %s" % (f["ratio"], ratios))
    if not 0 < f["ratio"]["median"] < 1:
        fail("file_read.ratio %s: the pipeline cannot beat a libpcap read" % f["ratio"])

    # Every stage present, each with work in this config, adding up to the total.
    names = [s["name"] for s in d["profile"]["stages"]]
    if names != STAGES:
        fail("stages %s, expected %s" % (names, STAGES))
    for s in d["profile"]["stages"]:
        if s["ns"] <= 0 or s["entries"] <= 0:
            fail("stage %s has no time or was never entered: %s" % (s["name"], s))
    # Both policy chains ran: the user's rule matched the UDP noise, egress judged the flows.
    if c.get("rule.udp-noise") != 5 or not c.get("egress_would_block"):
        fail("rule.udp-noise %s (expected 5), egress_would_block %s" %
             (c.get("rule.udp-noise"), c.get("egress_would_block")))
    total = d["profile"]["total_ns"]
    summed = sum(s["ns"] for s in d["profile"]["stages"])
    if summed != d["profile"]["stage_sum_ns"]:
        fail("stage_sum_ns %d, the stages add up to %d" % (d["profile"]["stage_sum_ns"], summed))
    if abs(summed - total) > 0.10 * total:
        fail("stages add up to %d ns, the pass took %d ns (more than 10 %% apart)" % (summed, total))

    # An on_flow-only script: one call per new flow, nothing else.
    hooks = {h["name"]: h for h in d["lua"]["hooks"]}
    flows = c["flows_created"]
    if hooks["on_flow"]["calls"] != flows or c["lua_calls"] != flows:
        fail("on_flow calls %d, lua_calls %d, new flows %d" %
             (hooks["on_flow"]["calls"], c["lua_calls"], flows))
    if hooks["on_packet"]["calls"] or hooks["on_flow_end"]["calls"]:
        fail("calls to hooks the script does not define: %s" % hooks)
    h = hooks["on_flow"]
    if not 0 < h["p50_ns"] <= h["p99_ns"] or sum(n for _, n in h["histogram"]) != flows:
        fail("on_flow latency: %s" % h)
    if d["lua"]["flows_with_calls"] != flows or not d["lua"]["flows"]:
        fail("flows with script time: %d of %d" % (d["lua"]["flows_with_calls"], flows))
    lines = d["lua"]["lines"]
    if not lines or not lines[0]["source"].endswith("on_flow.lua"):
        fail("sampled lines: %s" % lines)
    if lines[0]["line"] != 9:  # the loop body of on_flow.lua (3 of the loop's 4 instructions)
        fail("the costliest line is %s, expected on_flow.lua:9" % lines[0])
    # The calls are timed inside the time charged to the lua stage.
    lua_stage = next(s for s in d["profile"]["stages"] if s["name"] == "lua")
    hook_ns = sum(h["total_ns"] for h in d["lua"]["hooks"])
    if lua_stage["ns"] < hook_ns:
        fail("lua stage %d ns, less than its calls took (%d ns)" % (lua_stage["ns"], hook_ns))
    m = d["memory"]
    for k in ("flow_table_bytes", "flows_peak", "dns_cache_bytes", "lua_bytes",
              "capture_ring_bytes"):
        if m[k] <= 0:
            fail("memory %s is %d" % (k, m[k]))
    print("OK: %d packets, %d flows, stages add up to %.1f %% of the pass" %
          (d["packets"], flows, 100.0 * summed / total))


def check_report(tripline, case_dir, out_dir):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("SKIP: no chromium (scripts/install-deps.sh installs it)")
        sys.exit(77)
    html = os.path.join(out_dir, "bench-report.html")
    png = os.path.join(out_dir, "bench-report.png")
    if os.path.exists(png):
        os.remove(png)
    run_bench(tripline, case_dir, out_dir, "bench-report", 1, ["--report", html, "-q"])
    with open(html) as f:
        page = f.read()
    for bad in ("http://", "https://"):
        for line in page.splitlines():
            if bad in line and "www.w3.org/2000/svg" not in line:
                fail("the page refers to the network: %s" % line.strip())
    profile = tempfile.mkdtemp(prefix="chromium-", dir=out_dir)
    base = [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--user-data-dir=" + profile,
            "--enable-logging=stderr", "--v=0", "--hide-scrollbars"]
    url = "file://" + os.path.abspath(html)
    try:
        dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True,
                             timeout=120)
        shot = subprocess.run(base + ["--screenshot=" + png, "--window-size=1200,2400", url],
                              capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    console = [l for l in (dom.stderr + shot.stderr).splitlines() if "CONSOLE" in l]
    for l in console:
        print("console: " + l)
    if any("Uncaught" in l or "Error" in l for l in console):
        fail("the page logged errors")
    if 'data-error=' in dom.stdout:
        fail("the page caught an error: " + dom.stdout.split('data-error=')[1][:200])
    if '<body data-charts="3"' not in dom.stdout:
        fail("the charts were not drawn (no <body data-charts=\"3\">)")
    if dom.stdout.count("<svg") < 4:
        fail("expected at least 4 SVG charts, found %d" % dom.stdout.count("<svg"))
    if not os.path.exists(png) or os.path.getsize(png) < 10000:
        fail("no screenshot at %s" % png)
    print("OK: charts drawn, screenshot %s" % png)


WORK_PREFIX = "bench-cwd-"


def main():
    tripline, case_dir, out_dir, what = sys.argv[1:5]
    os.makedirs(out_dir, exist_ok=True)
    # ctest runs the json and report checks at once in the same folder: each
    # removes only its own leftovers.
    global WORK_PREFIX
    WORK_PREFIX = f"bench-cwd-{what}-"
    for stale in glob.glob(os.path.join(out_dir, WORK_PREFIX + "*")):
        shutil.rmtree(stale, ignore_errors=True)
    {"json": check_json, "report": check_report}[what](tripline, case_dir, out_dir)


if __name__ == "__main__":
    main()
