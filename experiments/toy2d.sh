#!/usr/bin/env bash
# The 2-D benchmark: 3 data sets x {none, clip, gp, sn} x 3 seeds (results/toy2d).
# Run from the repository root; extra Hydra overrides are passed on, e.g. hydra.launcher.n_jobs=8.
set -euo pipefail
lipbench -m experiment=toy2d_full "$@"
lipbench-report multirun/toy2d_full --out results/toy2d
