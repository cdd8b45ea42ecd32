#!/usr/bin/env bash
# The dual benchmark (results/dual): train only the critic to maximise E_P[f] - E_Q[f]
# for pairs with a known W1, and compare its held-out estimate with the exact W1.
#   1. clip, gp, sn, bjorck, sn_exact with ReLU critics, and
#   2. bjorck, sn_exact with GroupSort critics (Anil et al. 2019),
# on the Gaussian translation in d = 2, 16, 64, 256 (dual_gauss) and on 8 Gaussians,
# 25 Gaussians, the Swiss roll and 8x8 digits against themselves plus noise (dual_noise),
# 3 seeds each: 168 runs into multirun/dual, then one report.
set -euo pipefail
GROUPSORT=(constraint=bjorck,sn_exact model.critic_activation=groupsort)
lipbench -m experiment=dual_gauss "$@"
lipbench -m experiment=dual_gauss "${GROUPSORT[@]}" "$@"
lipbench -m experiment=dual_noise "$@"
lipbench -m experiment=dual_noise "${GROUPSORT[@]}" "$@"
lipbench-report multirun/dual --out results/dual --name dual
