#!/usr/bin/env bash
# Every further constraint on the 8-Gaussian ring x 3 seeds, merged with the 2-D benchmark
# (run experiments/toy2d.sh first) into one table (results/toy2d_extended).
set -euo pipefail
lipbench -m experiment=toy2d_extended "$@"
lipbench-report multirun/toy2d_full multirun/toy2d_extended --out results/toy2d_extended
