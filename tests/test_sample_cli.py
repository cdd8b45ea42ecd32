"""lipbench-sample: PNG folders that torch-fidelity's folder mode reads, .npz files, the
same files for the same seed, and one-line errors with exit status 2. The image run also
checks what load_run rebuilds (an SN-wrapped conv critic) and its TensorBoard grids."""

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch_fidelity.utils import prepare_input_from_descriptor
from torchvision.utils import save_image

from conftest import FAST_2D, compose_spec
from lipbench.api import load_run
from lipbench.data import build_data
from lipbench.sample_cli import main
from lipbench.train.loop import train

DIGITS = [
    "data=digits",
    "model=dcgan",
    "model.width=8",
    "model.z_dim=16",
    "constraint=sn",
    "seed=2",
    "train.iterations=3",
    "train.batch_size=32",
    "train.progress=false",
    "train.threads=1",
    "train.tensorboard=true",
    "eval.every=2",
    "eval.fid_samples=100",
    "eval.fid_samples_during=50",
    "eval.kid_subset_size=40",
    "eval.grad_samples=16",
    "eval.extractors=[domain]",
    "eval.fidelity_batch_size=50",
]


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A tiny digits run (3 iterations). The domain classifier cache is the one the other
    image tests share, so the classifier is trained once per session."""
    cache = tmp_path_factory.getbasetemp() / "lipbench-digits-cache"
    cache.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIPBENCH_CACHE", str(cache))
        run_dir = tmp_path_factory.mktemp("sample") / "digits"
        summary = train(compose_spec(*DIGITS), run_dir)
    assert summary["status"] == "completed", (summary.get("error"), summary.get("diverged"))
    return run_dir


@pytest.fixture(scope="module")
def run_2d(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("sample") / "points"
    assert train(compose_spec(*FAST_2D, "constraint=clip"), run_dir)["status"] == "completed"
    return run_dir


def test_png_folder_is_read_by_torch_fidelity_as_the_samples(image_run, tmp_path, capsys):
    out = tmp_path / "samples"
    assert main([str(image_run), "--n", "37", "--out", str(out), "--seed", "1", "--batch-size", "10"]) == 0
    assert "wrote 37 grayscale 16x16 PNG images" in capsys.readouterr().out
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"{i:06d}.png" for i in range(37)]
    assert Image.open(files[0]).mode == "L" and Image.open(files[0]).size == (16, 16)
    dataset = prepare_input_from_descriptor({"input": str(out)}, verbose=False)  # torch-fidelity's folder mode
    assert len(dataset) == 37
    expected = load_run(image_run).sample(37, seed=1, uint8=True)  # (37, 1, 16, 16)
    for i in (0, 17, 36):
        item = dataset[i]
        assert item.dtype == torch.uint8 and item.shape == (3, 16, 16)
        assert torch.equal(item, expected[i].expand(3, -1, -1))


def test_same_seed_same_files_other_seed_other_files(image_run, tmp_path):
    for name, seed in (("a", 4), ("b", 4), ("c", 5)):
        main([str(image_run), "--n", "12", "--out", str(tmp_path / name), "--seed", str(seed)])
    read = {name: [p.read_bytes() for p in sorted((tmp_path / name).iterdir())] for name in "abc"}
    assert read["a"] == read["b"]
    assert read["a"] != read["c"]


def test_npz_of_images_holds_uint8_hwc(image_run, tmp_path):
    main([str(image_run), "--n", "9", "--out", str(tmp_path / "s.npz"), "--seed", "3"])
    images = np.load(tmp_path / "s.npz")["images"]
    assert images.dtype == np.uint8 and images.shape == (9, 16, 16, 1)
    expected = load_run(image_run).sample(9, seed=3, uint8=True).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(images, expected)


def test_loaded_image_run_reproduces_its_grid_and_gradient_norms(image_run, tmp_path):
    run = load_run(image_run)
    assert run.kind == "image" and run.data_shape == (1, 16, 16)
    assert any(hasattr(m, "parametrizations") for m in run.critic.modules())  # SN rebuilt before loading
    # the final grid: 64 samples of the evaluator's fixed noise (seeded with the run's seed)
    z = torch.randn(64, run.z_dim, generator=torch.Generator().manual_seed(run.config.seed))
    save_image(run.generate(z).clamp(-1, 1) * 0.5 + 0.5, str(tmp_path / "grid.png"), nrow=8, padding=2)
    drawn, saved = Image.open(tmp_path / "grid.png"), Image.open(image_run / "grid_final.png")
    assert np.array_equal(np.asarray(drawn), np.asarray(saved))
    # the critic: per-sample gradient norms at the evaluator's real images equal the recorded ones
    real = build_data(run.config.data).sample(16, torch.Generator().manual_seed(10_007 + run.config.seed))
    real.requires_grad_(True)
    (grad,) = torch.autograd.grad(run.critic(real).sum(), real)
    recorded = run.summary["diagnostics"]["grad_norms"]["real"]
    np.testing.assert_allclose(grad.flatten(1).norm(dim=1).numpy(), recorded, rtol=1e-4, atol=1e-6)


def test_each_image_evaluation_logs_its_grid_to_tensorboard(image_run):
    acc = EventAccumulator(str(image_run / "tb"), size_guidance={"images": 0})
    acc.Reload()
    images = {
        e.step: np.asarray(Image.open(io.BytesIO(e.encoded_image_string)).convert("RGB")) for e in acc.Images("samples")
    }
    assert sorted(images) == [2, 3]
    for step, name in ((2, "grid_step000002.png"), (3, "grid_final.png")):
        assert np.array_equal(images[step], np.asarray(Image.open(image_run / name).convert("RGB")))


def test_points_of_a_2d_run(run_2d, tmp_path):
    assert main([str(run_2d), "--n", "700", "--out", str(tmp_path / "p.npz"), "--seed", "9"]) == 0
    points = np.load(tmp_path / "p.npz")["points"]
    assert points.dtype == np.float32 and points.shape == (700, 2)
    np.testing.assert_array_equal(points, load_run(run_2d).sample(700, seed=9).numpy())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--n", "0", "--out", "{tmp}/x.npz"], "--n 0: must be >= 1"),
        (["--n", "many", "--out", "{tmp}/x.npz"], "argument --n: invalid int value"),
        (["--n", "5"], "the following arguments are required: --out"),
        (["--n", "5", "--out", "{tmp}/dir"], "a 2-D run's samples are points"),
        (["--n", "5", "--out", "{tmp}/x.npz", "--device", "nonsense"], "--device nonsense: not a torch device"),
        (["--n", "5", "--out", "{tmp}/missing/x.npz"], "does not exist"),
        (["--n", "5", "--out", "{tmp}/x.npz", "--batch-size", "0"], "--batch-size 0: must be >= 1"),
    ],
)
def test_bad_input_is_one_line_and_status_2(run_2d, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main([str(run_2d), *[a.format(tmp=tmp_path) for a in args]])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lipbench-sample: error:") and message in lines[0], lines
    assert not (tmp_path / "x.npz").exists()


def test_console_script_reports_a_missing_run_in_one_line(tmp_path):
    exe = Path(sys.executable).parent / "lipbench-sample"
    proc = subprocess.run(
        [str(exe), str(tmp_path / "nowhere"), "--n", "5", "--out", str(tmp_path / "x.npz")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"lipbench-sample: error: {tmp_path / 'nowhere'}: no such run directory"


def test_a_folder_that_already_holds_images_is_refused(image_run, tmp_path, capsys):
    (tmp_path / "old.png").write_bytes(b"")
    with pytest.raises(SystemExit) as exit_info:
        main([str(image_run), "--n", "3", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "already holds 1 image files" in capsys.readouterr().err
