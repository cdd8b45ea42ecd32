#!/usr/bin/env bash
# Images offline: none / clip / gp / sn / sn_cert on MNIST at 32x32 x 3 seeds (results/mnist), scored with the
# domain feature extractor through torch-fidelity. MNIST_ROOT: the IDX archive or the folder it
# unpacks to (default ../shared/data/mnist-idx.tar.gz).
set -euo pipefail
lipbench -m experiment=mnist data.root="${MNIST_ROOT:-../shared/data/mnist-idx.tar.gz}" "$@"
lipbench-report multirun/mnist --out results/mnist
