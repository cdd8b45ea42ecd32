#!/usr/bin/env bash
# CPU smoke run of the CIFAR-10 path from a JPEG image folder or archive:
#   experiments/cifar10_smoke.sh ../shared/data/cifar10-jpeg.tar.gz
set -euo pipefail
root=${1:?usage: experiments/cifar10_smoke.sh /path/to/cifar10-jpeg.tar.gz [overrides...]}
shift
lipbench experiment=cifar10_smoke data.root="$root" "$@"
