"""Every command line the project documents, composed and validated: the resolved config
and the run identity of each job (a sweep expanded into its jobs, as the CLI does).

A refactor of the config must leave them all unchanged, or committed run directories
stop being recognised on resume. Run it with one code tree, then the other, and diff::

    PYTHONPATH=/path/to/old python tests/compositions.py --out old.json
    PYTHONPATH=$PWD python tests/compositions.py --out new.json --compare old.json

tests/test_compositions.py checks the identities against tests/golden/run_identities.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# single runs and sweeps from README.md, results/README.md, experiments/*.sh and the tests
COMMANDS = [
    [],
    ["constraint=gp"],
    ["constraint=gp", "constraint.gp.weight=1", "seed=3"],
    ["constraint=gp", "constraint.gp.weight=1.0", "seed=3"],
    ["constraint=gp", "constraint.gp.weight=10.0"],
    ["constraint=[sn,gp]", "optim=D", "loss=hinge"],
    ["-m", "constraint=sn,[sn,gp]"],
    ["-m", "constraint=clip", "constraint.clip.c=0.1,0.01,0.001"],
    ["-m", "constraint=clip,gp,sn", "optim=A,B,C,D,E,F"],
    ["-m", "constraint=none,clip,gp,sn", "seed=0,1,2"],
    ["-m", "data=eight_gaussians,twentyfive_gaussians,swiss_roll", "constraint=clip,gp,sn"],
    ["-m", "loss=wasserstein,hinge,ns", "constraint=sn"],
    ["-m", "constraint=lp,dragan,r1,r2,zero_gp,max_gp,ortho,bjorck,sn_exact,sn_conv,none"],
    ["constraint=max_gp", "constraint.max_gp.form=hinge"],
    ["constraint=bjorck", "model.critic_activation=groupsort", "model.critic_depth=2"],
    ["constraint=[bjorck,sn_exact]"],
    ["data=digits", "model=dcgan", "model.width=32", "constraint=gp"],
    ["data=digits", "model=sngan_cnn", "model.g_width=16"],
    ["data=digits", "model=resnet", "model.d_width=8"],
    ["data=mnist", "model=dcgan"],
    ["data=fashion_mnist", "model=dcgan", "data.max_images=100"],
    ["data=cifar10", "model=dcgan", "data.root=/tmp/x"],
    ["data=imagefolder", "data.root=/tmp/x.tar.gz", "model=dcgan", "data.resolution=16", "data.channels=1"],
    ["data=twentyfive_gaussians", "data.std=0.1", "data.grid=3"],
    ["data=swiss_roll", "data.noise=0.5"],
    [
        "model.hidden=64",
        "train.batch_size=64",
        "train.iterations=20",
        "train.progress=false",
        "train.threads=1",
        "train.tensorboard=false",
        "eval.every=10",
        "eval.n_samples=500",
        "eval.w1_samples=200",
        "eval.grad_samples=64",
        "eval.surface_resolution=20",
    ],
    ["train.precision=bf16"],
    ["train.compile=true"],
    ["train.precision=fp32", "train.compile=false"],
    ["optim=paper", "optim.lr=0.0003"],
    ["optim.betas=[0.0,0.9]", "optim.n_critic=2"],
    ["optim=A", "optim.lr=1e-3"],
    ["eval.extractors=[domain]", "eval.plateau_tol=0", "eval.alpha=0.1"],
    ["task=dual", "pair=gaussian", "pair.dim=64", "constraint=sn_exact"],
    ["task=dual", "pair=digits", "constraint=gp"],
    ["experiment=cifar10_smoke", "data.root=/tmp/cifar10-jpeg.tar.gz"],
    ["experiment=cifar10_smoke", "data.root=/tmp/x", "data.max_images=400", "train.iterations=2"],
    ["-m", "experiment=cifar10_sngan"],
    [
        "-m",
        "experiment=cifar10_sngan",
        "data=imagefolder",
        "data.root=/tmp/x",
        "data.max_images=400",
        "model.width=4",
        "eval.extractors=[domain]",
    ],
    ["-m", "experiment=digits"],
    ["-m", "experiment=dual_gauss"],
    ["-m", "experiment=dual_gauss", "constraint=bjorck,sn_exact", "model.critic_activation=groupsort"],
    ["-m", "experiment=dual_noise"],
    ["-m", "experiment=dual_noise", "constraint=bjorck,sn_exact", "model.critic_activation=groupsort"],
    ["-m", "experiment=dual_quick"],
    ["-m", "experiment=sngan_settings"],
    ["-m", "experiment=toy2d"],
    ["-m", "experiment=toy2d", "constraint=none,clip,gp,sn"],
    ["-m", "experiment=toy2d", "seed=0,1,2"],
    ["-m", "experiment=toy2d_extended"],
    ["-m", "experiment=toy2d_full"],
    ["-m", "experiment=toy2d_full", "seed=0,1,2,3,4", "train.iterations=300", "model.hidden=512"],
    ["-m", "experiment=toy2d_paper"],
    ["-m", "experiment=tune_toy2d", "constraint=gp"],
    ["-m", "experiment=tune_toy2d", "constraint=sn"],
    [
        "-m",
        "data=eight_gaussians",
        "model=mlp",
        "model.hidden=16",
        "constraint=none,clip,gp,sn",
        "seed=0",
        "train.iterations=4",
        "eval.every=4",
        "eval.n_samples=200",
        "eval.w1_samples=100",
        "eval.grad_samples=16",
        "eval.surface_resolution=8",
    ],
    [
        "-m",
        "data=digits",
        "model=dcgan",
        "model.width=4",
        "constraint=none,clip,gp,sn",
        "seed=0",
        "train.batch_size=64",
        "eval.extractors=[domain]",
    ],
]


def committed_commands():
    """The task overrides recorded by every committed run (results/*/runs/*/summary.json)."""
    seen = []
    for path in sorted((REPO / "results").glob("**/summary.json")):
        overrides = json.loads(path.read_text()).get("overrides")
        if overrides is not None and overrides not in seen:
            seen.append(list(overrides))
    return seen


def compose_all(commands, ends_only: bool = False):
    """``{" ".join(job): {"id": run identity, "cfg": resolved, validated config}}``; with
    ``ends_only``, only the first and the last job of each sweep."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import lipbench.cli as cli
    from lipbench.errors import ConfigError
    from lipbench.spec import from_config

    out = {}
    with initialize_config_dir(config_dir=cli.CONF_DIR, version_base=None, job_name="lipbench"):
        for argv in commands:
            expanded = cli.expand_jobs(argv)
            for job in expanded[:1] + expanded[-1:] if ends_only else expanded:
                key = " ".join(job)
                if key in out:
                    continue
                try:
                    spec = from_config(compose("config", overrides=job))
                except ConfigError as e:  # e.g. an image data set that is not on this machine
                    out[key] = {"error": str(e)}
                    continue
                out[key] = {"id": spec.run_id, "cfg": OmegaConf.to_container(spec.config)}
    return out


def differences(old: dict, new: dict):
    """Lines naming every job whose identity or config differs (or that one side lacks)."""
    lines = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a != b:
            lines.append(
                f"{key or '(defaults)'}:\n  old {json.dumps(a, sort_keys=True)}\n  new {json.dumps(b, sort_keys=True)}"
            )
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="write {job: {id, cfg}} here (JSON)")
    p.add_argument("--compare", help="an earlier --out file: print every difference, exit 1 if any")
    p.add_argument("--no-committed", action="store_true", help="leave out the committed runs' overrides")
    p.add_argument("--golden", help="also write {job: run identity} here (tests/golden/run_identities.json)")
    args = p.parse_args(argv)
    commands = COMMANDS + ([] if args.no_committed else committed_commands())
    result = compose_all(commands)
    Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=True))
    if args.golden:
        ids = {key: value.get("id", value.get("error")) for key, value in result.items()}
        Path(args.golden).write_text(json.dumps(ids, indent=0, sort_keys=True) + "\n")
    print(f"{len(result)} jobs composed ({sum('error' in v for v in result.values())} rejected)")
    if args.compare:
        diff = differences(json.loads(Path(args.compare).read_text()), result)
        print("\n".join(diff) or "no differences")
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
