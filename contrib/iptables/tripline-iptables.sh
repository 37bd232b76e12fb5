#!/usr/bin/env bash
# Adds or removes tripline's iptables rules, for IPv4 (iptables) and IPv6 (ip6tables).
#   tripline-iptables.sh up [first] [count]   queue forwarded traffic to queues first..first+count-1
#   tripline-iptables.sh down                 remove them
# first/count must match [queue] first/count in tripline.toml (defaults 0 and 1).
# TRIPLINE_REJECT_MARK (default 0x7470) must match [egress] reject_mark.
# TRIPLINE_OFFLOAD_MARK / _DROP_MARK / _MASK (defaults 0x10000000 / 0x20000000 / 0x30000000)
# must match [offload] mark / drop_mark / mask.
# All rules live in a chain of their own, TRIPLINE in the filter table, reached by one jump
# from FORWARD. (`down` also removes the mangle table's TRIPLINE chain that older versions
# added for the offload save rule.)
set -euo pipefail                                     # stop at the first failing command

ACTION=${1:-}                                         # up | down
FIRST=${2:-0}                                         # first queue number
COUNT=${3:-1}                                         # number of queues
MARK=${TRIPLINE_REJECT_MARK:-0x7470}                  # packet mark tripline puts on rejects
CHAIN=TRIPLINE                                        # our chain in the filter table
OFF_MARK=${TRIPLINE_OFFLOAD_MARK:-0x10000000}         # conntrack mark: offloaded, accepted
OFF_DROP=${TRIPLINE_OFFLOAD_DROP_MARK:-0x20000000}    # conntrack mark: offloaded, dropped
OFF_MASK=${TRIPLINE_OFFLOAD_MASK:-0x30000000}         # the conntrack mark bits tripline owns

usage() { echo "usage: $0 up|down [first] [count]" >&2; exit 2; }

# Validate the numbers: queue numbers are 16 bits wide.
[[ $FIRST =~ ^[0-9]+$ && $COUNT =~ ^[0-9]+$ ]] || usage
(( COUNT >= 1 && FIRST + COUNT - 1 <= 65535 )) || { echo "$0: queues $FIRST+$COUNT out of range" >&2; exit 2; }
[[ $MARK =~ ^(0x[0-9a-fA-F]+|[0-9]+)$ ]] || { echo "$0: bad TRIPLINE_REJECT_MARK $MARK" >&2; exit 2; }

LAST=$(( FIRST + COUNT - 1 ))                         # last queue number
if (( COUNT == 1 )); then
  QUEUE=(--queue-num "$FIRST")                        # one queue
else
  QUEUE=(--queue-balance "$FIRST:$LAST")              # flows hashed over FIRST..LAST, both directions alike
fi

up() {  # $1 = iptables or ip6tables, $2 = its ICMP reject type
  local ipt=$1 icmp=$2
  $ipt -w -N "$CHAIN" 2>/dev/null || $ipt -w -F "$CHAIN"   # create our chain, or empty it when re-run
  # Offload fast path ([offload]): the connections tripline decided carry its conntrack mark
  # (under OFF_MASK); the kernel carries them without queueing. First in the chain: each
  # packet of an offloaded connection tests one rule. Harmless while offload is off: no
  # connection carries these marks.
  $ipt -w -A "$CHAIN" -m connmark --mark "$OFF_MARK/$OFF_MASK" -j ACCEPT             # accepted flows
  $ipt -w -A "$CHAIN" -m connmark --mark "$OFF_DROP/$OFF_MASK" -j DROP               # dropped flows
  # Offload save rule: the verdict with which tripline offloads an accepted flow sends its
  # packet back through this chain (NF_REPEAT) with a packet mark: the packet's own, with the
  # OFF_MASK bits set to OFF_MARK. These two rules copy those bits, and only those, to the
  # connection's conntrack mark and accept the packet, so the rule above takes the flow's
  # very next packet. CONNMARK --save-mark with masks sets
  # ctmark = (ctmark & ~ctmask) ^ (nfmark & nfmask): other users' conntrack mark bits stay.
  # Without them offload still works, later: tripline accepts the packet that comes back
  # (counted in offload_returned) and marks connections through ctnetlink; `tripline check`
  # warns.
  # Dropped flows are marked through ctnetlink (a dropped packet reaches no rule).
  $ipt -w -A "$CHAIN" -m mark --mark "$OFF_MARK/$OFF_MASK" \
    -j CONNMARK --save-mark --nfmask "$OFF_MASK" --ctmask "$OFF_MASK"
  $ipt -w -A "$CHAIN" -m mark --mark "$OFF_MARK/$OFF_MASK" -j ACCEPT
  # Rejects: tripline answers a Reject by handing the packet back (NF_REPEAT) with the mark;
  # it runs through this chain again and is refused here.
  $ipt -w -A "$CHAIN" -p tcp -m mark --mark "$MARK" -j REJECT --reject-with tcp-reset   # TCP: reset
  $ipt -w -A "$CHAIN" -m mark --mark "$MARK" -j REJECT --reject-with "$icmp"          # others: ICMP
  # All of the above must come before NFQUEUE: an accepted packet never reaches the rules
  # after a queue rule. Rules in FORWARD before the jump here see a repeated packet twice.
  # Optional fast path (off): pass packets of established connections without queueing them;
  # tripline then sees only connection setup (no byte counts, no flow ends, no late verdicts).
  # $ipt -w -A "$CHAIN" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  # Queue the rest. --queue-balance keeps a connection on one queue (--queue-cpu-fanout would
  # not); --queue-bypass accepts packets while no tripline is bound (fail-open). tripline reads
  # this rule's packet counter (iptables -L TRIPLINE -v -x) to count what crossed uninspected.
  $ipt -w -A "$CHAIN" -j NFQUEUE "${QUEUE[@]}" --queue-bypass
  # Jump to our chain first thing in FORWARD, once.
  $ipt -w -C FORWARD -j "$CHAIN" 2>/dev/null || $ipt -w -I FORWARD 1 -j "$CHAIN"
  remove_mangle "$ipt"  # an older version's save rule: its hook would cost every packet
}

# Removes the mangle table's TRIPLINE chain (the offload save rule, in POSTROUTING, of older
# versions), if there.
remove_mangle() {  # $1 = iptables or ip6tables
  local ipt=$1
  while $ipt -w -t mangle -C POSTROUTING -j "$CHAIN" 2>/dev/null; do
    $ipt -w -t mangle -D POSTROUTING -j "$CHAIN"
  done
  $ipt -w -t mangle -F "$CHAIN" 2>/dev/null || true
  $ipt -w -t mangle -X "$CHAIN" 2>/dev/null || true
}

down() {  # $1 = iptables or ip6tables
  local ipt=$1
  while $ipt -w -C FORWARD -j "$CHAIN" 2>/dev/null; do $ipt -w -D FORWARD -j "$CHAIN"; done  # every jump
  $ipt -w -F "$CHAIN" 2>/dev/null || true             # empty our chain if it exists
  $ipt -w -X "$CHAIN" 2>/dev/null || true             # and delete it
  remove_mangle "$ipt"
}

case "$ACTION" in
  up)
    # Kernel accounting for offloaded flows: conntrack counts packets/bytes and stamps start and
    # end (tripline merges them into the flow events). Only connections made after this count.
    # nf_conntrack_events=1: destroy events for every connection, also those made before tripline
    # subscribed (the default 2 reports only connections made while someone listens).
    sysctl -qw net.netfilter.nf_conntrack_acct=1 net.netfilter.nf_conntrack_timestamp=1 \
      net.netfilter.nf_conntrack_events=1 2>/dev/null \
      || echo "$0: warning: could not turn on nf_conntrack_acct/timestamp (offloaded flows' counts)" >&2
    up iptables icmp-admin-prohibited                 # IPv4
    if command -v ip6tables >/dev/null; then up ip6tables icmp6-adm-prohibited; fi   # IPv6
    ;;
  down)
    down iptables                                     # IPv4
    if command -v ip6tables >/dev/null; then down ip6tables; fi                      # IPv6
    ;;
  *) usage ;;
esac
