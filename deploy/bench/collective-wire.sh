#!/usr/bin/env bash
# Runs the TCP rows of CollectiveBench over a loopback that behaves like a network link: a private
# network namespace whose `lo` is shaped by a token-bucket filter (tc tbf) to RATE. On the plain
# loopback of a small machine the "wire" is the same CPU cores that run the ranks, so the benchmark's
# limit there is a CPU limit; here the wire is the bottleneck, as a NIC is between hosts, and busbw over
# the limit says how busy the ring keeps the wire while it reduces. The bare-socket limit is measured
# in the same namespace, through the same shaped loopback, right after each row.
#
# Guarantees: nothing outside the namespace changes (the host's own loopback is not shaped); the
# namespace and its qdisc disappear when the run ends.
#
# Usage (from the repo root, after ./shoal or ./mvnw package built deploy/target/shoal-dist):
#   deploy/bench/collective-wire.sh [RATE, e.g. 8gbit] [CollectiveBench arguments after "tcp"]
#   deploy/bench/collective-wire.sh 16gbit 2 64 avg all_reduce,reduce_scatter,all_gather 1024 300
# Needs: ip and tc (iproute2), and unshare (root, or unprivileged user namespaces).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RATE="${1:-16gbit}"
[[ $# -gt 0 ]] && shift
LIB="$ROOT/deploy/target/shoal-dist/lib"
if ! compgen -G "$LIB/shoal-runtime-*.jar" >/dev/null; then
  echo "collective-wire: no distribution in $LIB; build it first (./mvnw -B package -DskipTests)" >&2
  exit 2
fi
for tool in ip tc unshare; do
  command -v "$tool" >/dev/null || { echo "collective-wire: '$tool' not found (install iproute2 / util-linux)" >&2; exit 2; }
done
if [[ ! "$RATE" =~ ^[0-9]+(\.[0-9]+)?([kmg]?bit|[kmg]?bps)$ ]]; then
  echo "collective-wire: RATE '$RATE' is not a tc rate such as 8gbit or 1gbps" >&2
  exit 2
fi
NS_FLAGS=(--net)
[[ $(id -u) -ne 0 ]] && NS_FLAGS=(--map-root-user --net)
export SHOAL_WIRE_RATE="$RATE" SHOAL_WIRE_LIB="$LIB"
# The inner script is single-quoted on purpose: it expands its variables inside the namespace.
# shellcheck disable=SC2016
exec unshare "${NS_FLAGS[@]}" bash -c '
  set -euo pipefail
  ip link set lo up
  # burst: 4 MB of tokens (about the socket buffers the ring uses); latency: how long a packet may queue.
  tc qdisc add dev lo root tbf rate "$SHOAL_WIRE_RATE" burst 4mb latency 100ms
  echo "# wire: loopback shaped in a private network namespace: $(tc qdisc show dev lo)"
  exec java -cp "$SHOAL_WIRE_LIB/*" dev.shoal.runtime.bench.CollectiveBench tcp "$@"
' collective-wire "$@"
