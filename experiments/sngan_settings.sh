#!/usr/bin/env bash
# Sensitivity to the optimizer: clip / gp / sn under the SN-GAN paper's settings A-F (Table 1),
# with per-setting plots and Kurach-style budget curves (results/sngan_settings).
set -euo pipefail
lipbench -m experiment=sngan_settings "$@"
lipbench-report multirun/sngan_settings --out results/sngan_settings
