#!/usr/bin/env bash
# Sensitivity to the optimizer: clip / gp / sn under the SN-GAN paper's settings A-F (Table 1),
# on the 8-Gaussian ring at toy2d's budget (3 x 128 MLP, 3,000 iterations, 2 seeds), with
# per-setting plots and Kurach-style budget curves (results/sngan_settings).
set -euo pipefail
lipbench -m experiment=sngan_settings "$@"
lipbench-report multirun/sngan_settings --out results/sngan_settings
