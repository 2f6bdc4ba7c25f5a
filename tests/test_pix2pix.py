"""pix2pix: the networks as Isola et al. built them, the trainer's shape, painting styles, bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO
from example_latents import example_latents, pedigree_pairs
from karyospectrum.checkpoints import save_checkpoint
from karyospectrum.errors import InputError
from karyospectrum.karyogram import load_sample_tiles, read_manifest, render_karyogram
from karyospectrum.networks import (
    UnetGenerator,
    define_pix2pix_D,
    define_pix2pix_G,
    patch_receptive_field,
)
from karyospectrum.pix2pix import (
    PRESETS,
    known_styles,
    layout_agreement,
    paint,
    paint_tiles,
    resolve_config,
    style_weights,
    train,
)
from karyospectrum.sketch import sketch_classes, sketch_cohort, write_sketch

torch.set_num_threads(2)


def test_unet_and_patchgan_shapes_dropout_and_the_70px_receptive_field():
    G = define_pix2pix_G(128, ngf=4)
    assert isinstance(G, UnetGenerator) and G.num_downs == 7 and G.multiple == 128
    assert sum(isinstance(m, torch.nn.Dropout) for m in G.modules()) == 2  # the inner 8ngf levels (7 - 5)
    x = torch.randn(2, 3, 128, 128)
    assert G(x).shape == x.shape and G(x).abs().max() <= 1
    G.eval()
    assert torch.equal(G(x), G(x))  # no noise at paint time
    G.train()
    assert not torch.equal(G(x), G(x))  # dropout is the noise in training
    D = define_pix2pix_D(ndf=4, norm="batch").eval()  # running statistics: instance norm would see it all
    assert patch_receptive_field(3) == 70
    # empirically: one PatchGAN output sees exactly a 70x70 window of the (sketch, image) pair
    inp = torch.randn(1, 6, 128, 128, requires_grad=True)
    out = D(inp)
    assert out.shape[:2] == (1, 1) and out.shape[-1] == 14
    out[0, 0, 7, 7].backward()
    rows = torch.nonzero(inp.grad.abs().sum(dim=(0, 1, 3))).ravel()
    assert int(rows.max() - rows.min() + 1) == 70


def test_presets_are_one_table_and_the_cpu_preset_fits_the_limits():
    cpu = resolve_config("cpu")
    assert cpu["resolution"] >= 128 and cpu["lambda_l1"] == 100 and cpu["gan_mode"] == "vanilla"
    assert 0 < cpu["max_minutes"] < 120
    n_params = sum(p.numel() for p in define_pix2pix_G(cpu["resolution"], cpu["ngf"]).parameters())
    assert n_params * 2 < 25e6  # fp16 weights under 25 MB
    assert set(PRESETS) >= {"cpu", "gpu-256", "tiny"}
    with pytest.raises(InputError, match="unknown pix2pix option 'lamda'"):
        resolve_config("cpu", {"lamda": 10})
    with pytest.raises(InputError, match="power of two"):
        resolve_config("cpu", {"resolution": 100})
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts/train_pix2pix.py"), "--style", "s", "--data", "procedural",
         "--out", "x.safetensors", "--preset", "gpu-256", "--set", "lr=1e-4", "--dry-run"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["lr"] == 1e-4 and json.loads(proc.stdout)["resolution"] == 256


@pytest.fixture(scope="module")
def tiny_style(tmp_path_factory):
    """A tiny style trained end to end (2 epochs at 32 px) on a tiny dataset of rule style_dataset."""
    from karyospectrum.artdata import StyleDatasetOptions, build_style_dataset

    tmp = tmp_path_factory.mktemp("style")
    build_style_dataset("toy", "procedural", tmp / "data", "test", StyleDatasetOptions(32, 24, 6), workers=1)
    weights = tmp / "models" / "pix2pix-toy.safetensors"
    cfg = resolve_config("tiny", {"pairs": 16, "heldout_pairs": 4})
    card = train(cfg, str(tmp / "data"), "toy", weights, tmp / "train", "cpu", command="test")
    return weights, card, tmp


def test_training_writes_card_metrics_and_resumes(tiny_style):
    weights, card, tmp = tiny_style
    assert card["kind"] == "pix2pix" and card["epochs"] == 2 and card["style"] == "toy"
    assert card["training_data"]["license"] == "test"
    assert card["hyper_parameters"]["lambda_l1"] == 100
    assert 0 < card["metrics"]["heldout_l1"] < 1 and 0 <= card["metrics"]["layout_agreement"] <= 1
    rows = [json.loads(line) for line in (tmp / "train/metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and all("loss_l1" in r for r in rows)
    assert weights.stat().st_size < 25e6 and (tmp / "train/heldout.png").exists()
    cfg = resolve_config("tiny", {"pairs": 16, "heldout_pairs": 4, "epochs": 3})
    out = tmp / "resumed.safetensors"
    card3 = train(cfg, str(tmp / "data"), "toy", out, tmp / "train", "cpu", command="test")
    assert card3["epochs"] == 3 and card3["steps"] == 3 * card["steps"] // 2
    with pytest.raises(InputError, match="another config .*ngf"):
        train(resolve_config("tiny", {"pairs": 16, "heldout_pairs": 4, "ngf": 8}), str(tmp / "data"), "toy", out,
              tmp / "train", "cpu")  # fmt: skip


def test_painting_a_cohort_keeps_the_manifest_and_the_layout(tiny_style, tmp_path):
    weights, card, _ = tiny_style
    rng = np.random.default_rng(0)
    lat = rng.standard_normal((2, 2, 16)).astype(np.float32)
    np.savez(tmp_path / "1.npz", samples=np.array(["a", "b"]), latents=lat, copy_present=np.ones((2, 2), bool),
             n_variants=10, dim=16, chrom="1", key_id="t", centering="cohort", alpha=-0.5)  # fmt: skip
    from karyospectrum.sketch import SketchSettings

    sketch_cohort([tmp_path / "1.npz"], tmp_path / "sk", SketchSettings(size=32))
    rows, _ = paint_tiles(tmp_path / "sk", weights, tmp_path / "painted", "cpu")
    assert len(rows) == 4
    from PIL import Image

    assert Image.open(tmp_path / "painted/a/1.1.png").size == (32, 11 * 32)  # chromosome 1's aspect
    assert read_manifest(tmp_path / "painted").equals(read_manifest(tmp_path / "sk"))
    first = (tmp_path / "painted/a/1.1.png").read_bytes()
    paint_tiles(tmp_path / "sk", weights, tmp_path / "again", "cpu", batch_size=1)
    assert (tmp_path / "again/a/1.1.png").read_bytes() == first  # deterministic, whatever the batch
    _, layout_sketch = render_karyogram(load_sample_tiles(tmp_path / "sk", "a"), title="a")
    _, layout_paint = render_karyogram(load_sample_tiles(tmp_path / "painted", "a"), title="a")
    assert layout_sketch == layout_paint
    # tiles of another width than the style's are one line
    w = tmp_path / "m" / "pix2pix-big.safetensors"
    big = {**card, "generator": {**card["generator"], "resolution": 128}}
    save_checkpoint(w, define_pix2pix_G(128, 4).state_dict(), big, half=True)
    with pytest.raises(InputError, match="sketch is 32x352 px; this style paints sketches 128 px wide"):
        paint_tiles(tmp_path / "sk", w, tmp_path / "x", "cpu")


def test_layout_agreement_of_a_perfect_and_a_blind_painter():
    classes = np.stack([sketch_classes(np.random.default_rng(s).standard_normal(64), 64) for s in range(3)])
    colours = np.array([[230, 230, 230], [20, 20, 20], [60, 140, 60], [170, 60, 50], [50, 70, 160]], np.uint8)
    assert layout_agreement(colours[classes], classes, colours) > 0.95
    grey = np.full((*classes.shape, 3), 128, np.uint8)
    assert layout_agreement(grey, classes, colours) < 0.5


def test_unknown_style_and_off_vocabulary_sketch_are_one_line(tiny_style, tmp_path):
    weights, _, tmp = tiny_style
    with pytest.raises(InputError, match=r"unknown style 'nope'; bundled styles in .*: toy"):
        style_weights("nope", weights.parent)
    script = str(REPO / "scripts/paint_styles.py")
    proc = subprocess.run([sys.executable, script, "--style", "nope", "--models", str(weights.parent), "--sketch",
                           "x.png", "--out", "y.png"], capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert "unknown style 'nope'" in proc.stderr and "toy" in proc.stderr
    rgb = np.full((32, 32, 3), 255, np.uint8)
    rgb[5:9, 5:9] = (120, 30, 200)  # purple: outside the vocabulary
    from PIL import Image

    Image.fromarray(rgb).save(tmp_path / "purple.png")
    args = [
        sys.executable,
        script,
        "--style",
        "toy",
        "--models",
        str(weights.parent),
        "--device",
        "cpu",
        "--sketch",
    ]
    proc = subprocess.run(
        [*args, str(tmp_path / "purple.png"), "--out", str(tmp_path / "p.png")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and proc.stderr.strip().count("\n") == 0
    assert "not sketch colours" in proc.stderr and not (tmp_path / "p.png").exists()
    from karyospectrum.pix2pix import paint_sketch_file

    painted = paint_sketch_file(tmp_path / "purple.png", weights, tmp_path / "p.png", "cpu", snap=True)
    assert painted.shape == (32, 32, 3) and Image.open(tmp_path / "p.png").size == (32, 32)
    write_sketch(tmp_path / "odd.png", np.zeros((40, 32), np.uint8))
    with pytest.raises(InputError, match="multiples of 32"):
        paint_sketch_file(tmp_path / "odd.png", weights, tmp_path / "o.png", "cpu")


MODELS = Path(os.environ.get("KARYOSPECTRUM_TEST_MODELS", REPO / "resources/models"))
BUNDLED = known_styles(MODELS)


@pytest.mark.skipif(not BUNDLED, reason="no pix2pix style bundled in resources/models")
def test_relatives_paintings_are_closer_than_strangers(tmp_path):
    """The example cohort painted in a bundled style: relatives' paintings resemble, strangers' do not."""
    from karyospectrum.pix2pix import load_style
    from karyospectrum.sketch import read_sketch

    files = example_latents(tmp_path, ["17", "19", "20", "22"])  # short ones: quick to paint
    rows = sketch_cohort(files, tmp_path / "sk")
    G, card = load_style(style_weights(BUNDLED[0], MODELS))
    by = {}
    for chrom in dict.fromkeys(r[1] for r in rows):  # one batch per chromosome: one tile shape
        mine = [r for r in rows if r[1] == chrom]
        painted = paint(G, np.stack([read_sketch(tmp_path / "sk" / r[3]) for r in mine]), "cpu")
        for (sample, _, _, _), img in zip(mine, painted.astype(np.float32)):
            by.setdefault(sample, {}).setdefault(chrom, []).append(img)

    def distance(a, b):  # best-matching haplotypes, mean absolute pixel difference
        return np.mean([min(np.abs(x - y).mean() for y in by[b][c]) for c in by[a] for x in by[a][c]])

    relatives, strangers = pedigree_pairs()
    rel = [distance(a, b) for a, b in relatives]
    unr = [distance(a, b) for a, b in strangers]
    assert max(rel) < np.percentile(unr, 5), (rel, sorted(unr)[:5])
