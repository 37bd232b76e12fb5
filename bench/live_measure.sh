# shellcheck shell=bash
# Shared by bench/live_bench.sh and bench/peers.sh (source it first): help,
# reading tool output, arithmetic on decimals, and CPU time from /proc, to say which side
# limited a figure.

# The calling script's header comment (its help), and usage [status]: that
# header on stdout for --help (status 0), else on stderr, then exit.
header() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; }
usage() {
  if (( ${1:-2} == 0 )); then header; else header >&2; fi
  exit "${1:-2}"
}

# "key value" output of a tool: the value of key $2 in text $1.
field() { awk -v k="$2" '$1 == k {print $2; exit}' <<<"$1"; }
# Arithmetic on decimals: calc 'a / b' (prints with the given format, default %.0f).
calc() { awk "BEGIN { printf \"${2:-%.0f}\", $1 }"; }
# Median of the numbers on stdin, one per line.
median() { sort -g | awk '{v[NR] = $1} END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

CLK_TCK=$(getconf CLK_TCK)
# "busy total" jiffies of the whole machine (/proc/stat; idle and iowait are not busy).
machine_cpu() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= 11; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat; }
# utime + stime of process $1 (all its threads), in clock ticks.
proc_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# "tid ticks" for each thread of process $1.
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s\n' "${t##*/}" "$(sed 's/^.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}')"
  done
}

# measure_begin [PID]: snapshots before a phase. measure_end then sets BUSY (the machine's
# busy time over the phase, in cores), PID_CPU_S (the process's CPU seconds), PID_CORES
# (the same per second of wall time) and PID_TOP (its busiest thread, in cores).
measure_begin() {
  M_PID=${1:-}
  read -r M_BUSY0 M_TOT0 < <(machine_cpu)
  M_T0=$(date +%s.%N)
  M_P0=0 M_THREADS0=""
  if [[ -n $M_PID ]]; then
    M_P0=$(proc_ticks "$M_PID")
    M_THREADS0=$(thread_ticks "$M_PID")
  fi
}
measure_end() {
  local busy1 tot1 t1 p1=0 threads1="" wall
  read -r busy1 tot1 < <(machine_cpu)
  t1=$(date +%s.%N)
  if [[ -n $M_PID ]]; then
    p1=$(proc_ticks "$M_PID")
    threads1=$(thread_ticks "$M_PID")
  fi
  wall=$(calc "$t1 - $M_T0" %.3f)
  BUSY=$(calc "($busy1 - $M_BUSY0) / ($tot1 - $M_TOT0 + 1e-9) * $(nproc)" %.2f)
  PID_CPU_S=$(calc "($p1 - $M_P0) / $CLK_TCK" %.2f)
  PID_CORES=$(calc "$PID_CPU_S / $wall" %.2f)
  PID_TOP=$(awk -v wall="$wall" -v hz="$CLK_TCK" 'NR == FNR {b[$1] = $2; next}
    { d = $2 - b[$1]; if (d > m) m = d } END { printf "%.2f", m / hz / wall }' \
    <(echo "$M_THREADS0") <(echo "$threads1"))
}

# limit_of NAME: which side limited the phase just measured (NAME: the consumer, "" for none).
limit_of() {
  local ncpu
  ncpu=$(nproc)
  if [[ -n $1 ]] && awk -v t="$PID_TOP" 'BEGIN { exit !(t >= 0.85) }'; then
    echo "$1 CPU (its busiest thread ${PID_TOP} of a core; machine ${BUSY}/${ncpu} cores)"
  elif awk -v b="$BUSY" -v n="$ncpu" 'BEGIN { exit !(b >= 0.9 * n) }'; then
    echo "machine CPU (${BUSY}/${ncpu} cores busy$([[ -z $1 ]] || echo "; $1 ${PID_CORES}"))"
  else
    echo "no CPU full (${BUSY}/${ncpu} cores busy$([[ -z $1 ]] || echo "; $1 ${PID_CORES}")): round trips"
  fi
}
