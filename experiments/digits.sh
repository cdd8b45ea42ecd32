#!/usr/bin/env bash
# Images offline: none / clip / gp / sn on scikit-learn digits at 16x16 x 3 seeds (results/digits),
# scored with the domain feature extractor through torch-fidelity.
set -euo pipefail
lipbench -m experiment=digits "$@"
lipbench-report multirun/digits --out results/digits
