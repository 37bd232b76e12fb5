#!/usr/bin/env bash
# Loads or removes tripline's nftables rules (tripline.nft beside this script).
#   tripline-nft.sh up [first] [count]   queue forwarded traffic to queues first..first+count-1
#   tripline-nft.sh down                 remove them
# first/count must match [queue] first/count in tripline.toml (defaults 0 and 1).
# TRIPLINE_REJECT_MARK (default 0x7470) must match [egress] reject_mark.
# On a kernel built without nftables queue support (CONFIG_NFT_QUEUE) "up" falls
# back to the iptables rules (iptables-nft NFQUEUE), with a warning, unless
# TRIPLINE_NFT_NO_FALLBACK=1.
set -euo pipefail                                     # stop at the first failing command

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)    # folder of this script and of tripline.nft
ACTION=${1:-}                                         # up | down
FIRST=${2:-0}                                         # first queue number
COUNT=${3:-1}                                         # number of queues
MARK=${TRIPLINE_REJECT_MARK:-0x7470}                  # packet mark tripline puts on rejects

usage() { echo "usage: $0 up|down [first] [count]" >&2; exit 2; }

# Validate the numbers: queue numbers are 16 bits wide.
[[ $FIRST =~ ^[0-9]+$ && $COUNT =~ ^[0-9]+$ ]] || usage
(( COUNT >= 1 && FIRST + COUNT - 1 <= 65535 )) || { echo "$0: queues $FIRST+$COUNT out of range" >&2; exit 2; }
[[ $MARK =~ ^(0x[0-9a-fA-F]+|[0-9]+)$ ]] || { echo "$0: bad TRIPLINE_REJECT_MARK $MARK" >&2; exit 2; }

LAST=$(( FIRST + COUNT - 1 ))                         # last queue number
if (( COUNT == 1 )); then QUEUES=$FIRST; else QUEUES=$FIRST-$LAST; fi   # nft wants "A" or "A-B"

# Does this kernel have the nft queue expression? Try it in a scratch table with no
# hook (no traffic sees it), created and deleted in one transaction.
nft_has_queue() {
  nft -f - >/dev/null 2>&1 <<'NFT'
table inet tripline_probe { chain probe { queue flags bypass to 0; }; }
delete table inet tripline_probe
NFT
}

case "$ACTION" in
  up)
    # Kernel accounting for offloaded flows ([offload]): counts, start/end times, destroy events
    # for every connection. Only connections made after this count.
    sysctl -qw net.netfilter.nf_conntrack_acct=1 net.netfilter.nf_conntrack_timestamp=1 \
      net.netfilter.nf_conntrack_events=1 2>/dev/null \
      || echo "$0: warning: could not turn on nf_conntrack_acct/timestamp/events (offload counts)" >&2
    if nft_has_queue; then
      # Load the template with the queue range and the reject mark filled in.
      nft -D TL_QUEUES="$QUEUES" -D TL_REJECT_MARK="$MARK" -f "$HERE/tripline.nft"
    elif [[ ${TRIPLINE_NFT_NO_FALLBACK:-0} == 1 ]]; then
      echo "$0: this kernel has no nftables queue support (CONFIG_NFT_QUEUE)" >&2
      exit 1
    else
      # Same rules through iptables-nft, whose NFQUEUE target works without nft_queue.
      echo "$0: warning: no nftables queue support in this kernel (CONFIG_NFT_QUEUE);" \
           "using contrib/iptables/tripline-iptables.sh instead" >&2
      exec bash "$HERE/../iptables/tripline-iptables.sh" up "$FIRST" "$COUNT"
    fi
    ;;
  down)
    # Remove our table if it is there; nothing else is touched.
    if nft list table inet tripline >/dev/null 2>&1; then nft delete table inet tripline; fi
    # Without nft queue support, "up" used the iptables rules: remove those as well.
    if ! nft_has_queue; then bash "$HERE/../iptables/tripline-iptables.sh" down; fi
    ;;
  *) usage ;;
esac
