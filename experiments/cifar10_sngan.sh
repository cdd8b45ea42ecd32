#!/usr/bin/env bash
# GPU: the SN-GAN paper's standard-CNN CIFAR-10 comparison (clip, gp, sn; 100k generator iterations),
# Inception FID/IS on 10k samples during training and 50k at the end.
# CIFAR-10 is downloaded by torchvision, or pass data.root=/path/to/cifar-10 (the folder holding cifar-10-batches-py).
# Offline, pass eval.inception_weights=/path/to/weights-inception-2015-12-05-6726825d.pth.
set -euo pipefail
lipbench -m experiment=cifar10_sngan "$@"
lipbench-report multirun/cifar10_sngan --out results/cifar10_sngan
