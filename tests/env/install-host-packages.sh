#!/usr/bin/env bash
# Installs the Debian packages the local test cluster runs on (containerd, runc, CNI plugins,
# etcd 3.4, iptables, …). Does nothing when they are all present.
set -euo pipefail
packages=(containerd runc containernetworking-plugins etcd-server etcd-client iptables conntrack
  busybox-static iproute2 openssl socat ethtool util-linux mount)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "[env] installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# Debian starts the packaged services where it can; the test cluster runs its own instances.
for service in containerd etcd; do
  if command -v service >/dev/null 2>&1; then service "$service" stop >/dev/null 2>&1 || true; fi
done
