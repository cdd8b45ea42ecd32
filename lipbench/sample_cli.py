"""``lipbench-sample``: write samples of a trained run for external tools.

    lipbench-sample RUN_DIR --n 50000 --out samples/          # image run: one PNG per sample
    lipbench-sample RUN_DIR --n 2500 --out points.npz         # 2-D run: the points
    fidelity --gpu 0 --fid --input1 samples/ --input2 cifar10-train

Image runs write ``000000.png``, ``000001.png``, ... into an empty (or new) directory:
8-bit grayscale for 1-channel data, 8-bit RGB for 3 channels, which torch-fidelity's and
clean-fid's folder modes read (both convert to RGB). An ``.npz`` path gets one array
instead: ``points`` (N x 2, float32) for 2-D runs, ``images`` (N x H x W x C, uint8) for
image runs. Samples are drawn in batches (``--batch-size``) and written as they come, so
N = 50,000 needs memory for one batch only (the .npz of images holds all of them). The
same ``--seed`` gives the same files. Bad input prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lipbench.errors import RunDirError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="lipbench-sample", description="Write samples of a trained lipbench run (PNG folder or .npz).")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory that lipbench trained into")
    p.add_argument("--n", type=int, required=True, help="number of samples")
    p.add_argument("--out", required=True, help="a directory for PNG images, or a file ending in .npz")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0); the same seed gives the same files")
    p.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:1, auto, ...")
    p.add_argument("--batch-size", type=int, default=500, help="samples per generator call (default 500)")
    p.add_argument(
        "--allow-incomplete", action="store_true", help="also sample an interrupted or diverged run's last checkpoint"
    )
    return p


def _check_out(out: Path, kind: str) -> str:
    """``npz`` or ``png``; raises UsageError when ``out`` cannot take this run's samples."""
    if out.suffix.lower() == ".npz":
        if out.is_dir():
            raise UsageError(f"--out {out}: is a directory; give a file name ending in .npz")
        if not out.parent.is_dir():
            raise UsageError(f"--out {out}: the directory {out.parent} does not exist")
        return "npz"
    if kind != "image":
        raise UsageError(f"--out {out}: a 2-D run's samples are points; give a file name ending in .npz")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file; give a directory for PNG images, or a path ending in .npz")
    if out.is_dir():
        images = [p for p in out.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        if images:
            raise UsageError(
                f"--out {out}: already holds {len(images)} image files; an image-folder metric would "
                "mix them in; choose an empty or new directory"
            )
    return "png"


def _write_png(batch, out: Path, start: int, digits: int) -> None:
    """Write a uint8 (B, C, H, W) batch as files ``start``, ``start + 1``, ... (L or RGB PNGs)."""
    from PIL import Image

    pixels = batch.permute(0, 2, 3, 1).numpy()
    for i, image in enumerate(pixels):
        array = image[:, :, 0] if image.shape[2] == 1 else image
        Image.fromarray(array).save(out / f"{start + i:0{digits}d}.png")


def write_samples(run, n: int, out: Path, seed: int, batch_size: int) -> str:
    """Write ``n`` samples of the loaded ``run`` to ``out``; return a one-line description."""
    mode = _check_out(out, run.kind)
    image = run.kind == "image"
    if mode == "png":
        out.mkdir(parents=True, exist_ok=True)
    digits, parts, written = max(6, len(str(n - 1))), [], 0
    with tqdm(total=n, desc="sampling", unit="sample", disable=None, leave=False) as progress:
        for batch in run.sample_batches(n, seed=seed, batch_size=batch_size, uint8=False):
            if not np.isfinite(batch.numpy()).all():
                raise RunDirError(f"{run.run_dir}: the generator produced non-finite values (a diverged run?)")
            if image:
                from lipbench.evaluate.images import to_uint8

                batch = to_uint8(batch)
            if mode == "png":
                _write_png(batch, out, written, digits)
            else:
                parts.append(batch.permute(0, 2, 3, 1).numpy() if image else batch.numpy().astype(np.float32))
            written += len(batch)
            progress.update(len(batch))
    if mode == "npz":
        key = "images" if image else "points"
        np.savez(out, **{key: np.concatenate(parts)})
        what = "images" if image else "points"
        return f"wrote {n} {what} of {run.summary.get('method')} (step {run.step}) to {out} [{key}]"
    c, h, w = run.data_shape
    return (
        f"wrote {n} {'grayscale' if c == 1 else 'RGB'} {h}x{w} PNG images of {run.summary.get('method')} "
        f"(step {run.step}) to {out}"
    )


def main(argv=None) -> int:
    """Entry point of ``lipbench-sample``; returns (and exits with) the status."""
    from lipbench.api import load_run

    try:
        args = _parser().parse_args(argv)
        if args.n < 1:
            raise UsageError(f"--n {args.n}: must be >= 1")
        if args.batch_size < 1:
            raise UsageError(f"--batch-size {args.batch_size}: must be >= 1")
        try:
            run = load_run(args.run_dir, device=args.device, allow_incomplete=args.allow_incomplete)
        except ValueError as e:  # the device
            raise UsageError(f"--device {args.device}: {str(e).split(': ', 1)[-1]}") from None
        print(write_samples(run, args.n, Path(args.out), args.seed, args.batch_size))
    except (UsageError, RunDirError) as e:
        print(f"lipbench-sample: error: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:
        print(f"lipbench-sample: error: writing {e.filename or args.out} failed: {e.strerror or e}", file=sys.stderr)
        sys.exit(2)
    return 0


if __name__ == "__main__":  # pragma: no cover
    main()
