#!/usr/bin/env bash
# The study (results/study_toy2d): none, clip, gp and sn on the 8-Gaussian ring, 24 settings each
# drawn from Lucic et al.'s ranges, then each method's best setting rerun with 10 fresh seeds.
# Run from the repository root; a killed study relaunched with the same command skips what
# it finished. Extra Hydra overrides are passed on, e.g. data=eight_gaussians,twentyfive_gaussians.
set -euo pipefail
lipbench -m experiment=study_toy2d "$@"
lipbench-report multirun/study_toy2d --out results/study_toy2d
