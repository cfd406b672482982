#!/usr/bin/env bash
# Removes what ci/hosts/up.sh made.
set -uo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
for i in 1 2 3; do
    $SUDO ip netns pids "rf-node$i" 2>/dev/null | xargs -r $SUDO kill -9 2>/dev/null
    $SUDO ip netns del "rf-node$i" 2>/dev/null
    $SUDO ip link del "veth-rf$i" 2>/dev/null
done
$SUDO ip link del br-rf 2>/dev/null
if grep -q '# rankflow ci/hosts begin' /etc/hosts; then
    $SUDO sed -i '/# rankflow ci\/hosts begin/,/# rankflow ci\/hosts end/d' /etc/hosts
fi
exit 0
