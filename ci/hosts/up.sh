#!/usr/bin/env bash
# Builds three "hosts" on this machine for multi-host MPI tests: network
# namespaces rf-node1..3, each with its own address (10.77.0.1-3/24) on a
# bridge (br-rf, 10.77.0.254 for this machine's own namespace, where mpirun
# runs), and names node1..3 in /etc/hosts. Each rank gets its own hostname
# from a UTS namespace made by ci/hosts/agent.sh, Open MPI's rsh agent.
# ci/hosts/down.sh removes it all. Needs root (or sudo) and iproute2.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
if ! command -v ip >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends iproute2 >/dev/null
fi
bash "$(dirname "$0")/down.sh" >/dev/null 2>&1 || true

$SUDO ip link add br-rf type bridge
$SUDO ip addr add 10.77.0.254/24 dev br-rf
$SUDO ip link set br-rf up
for i in 1 2 3; do
    ns="rf-node$i"
    $SUDO ip netns add "$ns"
    $SUDO ip link add "veth-rf$i" type veth peer name eth0 netns "$ns"
    $SUDO ip link set "veth-rf$i" master br-rf
    $SUDO ip link set "veth-rf$i" up
    $SUDO ip -n "$ns" addr add "10.77.0.$i/24" dev eth0
    $SUDO ip -n "$ns" link set eth0 up
    $SUDO ip -n "$ns" link set lo up
    $SUDO ip -n "$ns" route add default via 10.77.0.254
done
{
    echo "# rankflow ci/hosts begin"
    for i in 1 2 3; do echo "10.77.0.$i node$i"; done
    echo "10.77.0.254 $(hostname -s)-br"
    echo "# rankflow ci/hosts end"
} | $SUDO tee -a /etc/hosts >/dev/null
echo "ci/hosts/up.sh: hosts node1, node2, node3 (10.77.0.1-3) on bridge br-rf"
