#!/usr/bin/env bash
# Debian packages the demo and the tests use. Installs the missing ones when run
# as root (CI, containers); otherwise says what to install and carries on.
#   dataset-fashion-mnist  the real Fashion-MNIST files (/usr/share/datasets/fashion-mnist)
#   postgresql             the server the multi-machine sweep test starts (its own throwaway cluster)
#   chromium               the headless browser the report test opens report.html in
#   fonts-wqy-zenhei       Chinese, Japanese and Korean glyphs for names in the report's plots
#   slurm-wlm, munge       the single-node SLURM cluster the SLURM sweep tests start (as root)
set -euo pipefail

packages=(dataset-fashion-mnist postgresql chromium fonts-wqy-zenhei slurm-wlm munge)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$package")
    fi
done
if ((${#missing[@]} == 0)); then
    exit 0
fi
if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "cnnsweep: installing Debian packages: ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
else
    echo "cnnsweep: optional Debian packages missing: ${missing[*]}" >&2
    echo "          install them with: sudo apt-get install ${missing[*]}" >&2
fi
