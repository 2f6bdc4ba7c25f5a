"""Classifier input normalisation: polarity, robust contrast, aspect-keeping padding; lab-shift augmentation.

Inverted, rescaled and contrast-shifted crops must give the same network input within a tolerance: on
synthetic G-band crops always, and on real crops of ../shared/data/chromosomes when that folder exists.
"""

from pathlib import Path

import numpy as np
import pytest
from karyospectrum import CHROMOSOMES
from karyospectrum import classifier as C
from karyospectrum.synthetic import render_chromosome
from PIL import Image

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "chromosomes"
SIZE = 64


def resize(g, f):
    h, w = g.shape
    return np.asarray(Image.fromarray(g).resize((max(2, round(w * f)), max(2, round(h * f))), Image.BILINEAR))


SHIFTS = {
    # name: (change, largest mean |difference| of one crop, largest mean over crops)
    "inverted": (lambda g: 255 - g, 1e-6, 1e-6),
    "low contrast, offset": (lambda g: np.round(60 + g * 0.5).astype(np.uint8), 0.07, 0.01),
    "inverted, low contrast": (lambda g: np.round(20 + (255 - g) * 0.6).astype(np.uint8), 0.07, 0.01),
    "16-bit": (lambda g: g.astype(np.uint16) * 257, 1e-6, 1e-6),
    "half size": (lambda g: resize(g, 0.5), 0.16, 0.05),
    "double size": (lambda g: resize(g, 2.0), 0.07, 0.025),
}


def synthetic_crops():
    rng = np.random.default_rng(0)
    return [render_chromosome(c, rng) for c in ("1", "4", "9", "13", "18", "21", "X", "Y")]


def real_crops(n=12):
    out = []
    for name in ("gband-612cells", "seed-gband"):
        m = C.read_manifest(REAL / name / "manifest.csv").sample(n, random_state=3)
        out += [C.load_grey(f) for f in m.file]
    return out


def check_same_input(crops):
    for name, (change, per_crop, overall) in SHIFTS.items():
        d = [np.abs(C.preprocess(g, SIZE) - C.preprocess(change(g), SIZE)).mean() for g in crops]
        assert max(d) <= per_crop and np.mean(d) <= overall, (name, max(d), np.mean(d))


def test_shifted_synthetic_crops_give_the_same_input():
    check_same_input(synthetic_crops())


@pytest.mark.skipif(not REAL.is_dir(), reason="needs ../shared/data/chromosomes (not in the repo)")
def test_shifted_real_crops_give_the_same_input():
    crops = real_crops()
    check_same_input(crops)
    for g in crops:  # real G-band crops are dark on light; inverted, light on dark
        assert C.background_is_bright(g / 255.0) and not C.background_is_bright(1 - g / 255.0)


def test_preprocess_gives_ink_on_zero_keeping_the_aspect_ratio():
    crop = np.full((60, 20), 255, np.uint8)
    crop[5:55, 5:15] = 40  # a dark bar 10 x 50 px on white
    for g in (crop, 255 - crop):
        sq = C.preprocess(g, 32)
        assert sq.shape == (32, 32) and sq.dtype == np.float32
        assert sq[0, 0] == 0 and sq.max() == pytest.approx(1.0, abs=0.02)
        rows = np.nonzero(sq.max(axis=1) > 0.5)[0]
        cols = np.nonzero(sq.max(axis=0) > 0.5)[0]
        assert 27 <= len(rows) <= 31  # trimmed to the bar: its length fills the square but the margin
        assert 5 <= len(cols) <= 8  # 10/50 of it across: not stretched
        assert abs(cols.mean() - 15.5) < 1.5  # centred


def test_alpha_masked_crop_reads_like_the_plain_one():
    g = synthetic_crops()[0]
    mask = g < 250
    rgba = np.zeros(g.shape + (4,), np.uint8)
    rgba[..., :3] = np.where(mask, g, 0)[..., None]  # junk (black) under the transparent background
    rgba[..., 3] = np.where(mask, 255, 0)
    plain = C.preprocess(g, SIZE)
    assert np.abs(C.preprocess(rgba, SIZE) - plain).mean() < 0.05  # the mask drops the soft edge
    assert np.abs(C.preprocess(Image.fromarray(rgba, "RGBA"), SIZE) - plain).mean() < 0.05


def test_blank_and_tiny_crops_are_flagged_not_crashing():
    blank = np.full((40, 20), 255, np.uint8)
    assert not C.preprocess(blank, SIZE).any()
    assert "background" in C.crop_problem(blank)
    assert "too small" in C.crop_problem(np.zeros((1, 1), np.uint8))
    assert not C.preprocess(np.zeros((1, 1), np.uint8), SIZE).any()
    assert C.crop_problem(synthetic_crops()[0]) is None


def test_load_grey_reads_16_bit_and_rgba_files(tmp_path):
    g = synthetic_crops()[1]
    Image.fromarray(g.astype(np.uint16) * 257).save(tmp_path / "c16.png")
    assert Image.open(tmp_path / "c16.png").mode.startswith("I")
    g16 = C.load_grey(tmp_path / "c16.png")
    assert g16.dtype == np.uint8 and np.abs(C.preprocess(g16, SIZE) - C.preprocess(g, SIZE)).mean() < 0.01


def test_lab_shift_changes_the_crop_but_preprocess_undoes_most_of_it():
    rng = np.random.default_rng(1)
    crops = synthetic_crops()
    shifted = [C.lab_shift(g, rng, invert_p=1.0) for g in crops]
    assert all(s.dtype == np.uint8 for s in shifted)
    # inverted: the border is now darker than the object
    assert all(not C.background_is_bright(s / 255.0) for s in shifted)
    d = [np.abs(C.preprocess(a, SIZE) - C.preprocess(b, SIZE)).mean() for a, b in zip(crops, shifted)]
    assert np.mean(d) < 0.12


def test_augment_covers_gamma_band_jitter_low_resolution_and_noise():
    import torch

    r = C.recipe_from("cpu64", blur_p=0.0, rotation=0.0, translate=0.0, scale=(1.0, 1.0), hflip=False)
    r.brightness = r.contrast = 0.0
    x = torch.from_numpy(np.stack([C.preprocess(g, 32) for g in synthetic_crops()])).unsqueeze(1)
    for field, value in (
        ("gamma_range", (0.5, 0.6)),
        ("band_jitter", 0.5),
        ("lowres_p", 1.0),
        ("noise", 0.1),
    ):
        only = C.recipe_from(
            "gpu", blur_p=0.0, rotation=0.0, translate=0.0, scale=(1.0, 1.0), hflip=False, **{field: value}
        )
        only.brightness = only.contrast = 0.0
        a = C.augment(x.clone(), only, torch.Generator().manual_seed(0))
        assert a.shape == x.shape and 0 <= float(a.min()) and float(a.max()) <= 1
        assert float((a - x).abs().mean()) > 1e-3, field
    a = C.augment(x.clone(), r, torch.Generator().manual_seed(0))
    b = C.augment(x.clone(), r, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)


def test_classifier_reads_both_polarities_alike(tmp_path):
    C.init_checkpoint(tmp_path / "c.safetensors", size=32)
    clf = C.Classifier.load(tmp_path / "c.safetensors", device="cpu")
    assert clf.version == C.PREPROCESS_VERSION
    crops = synthetic_crops()
    up = clf.predict(crops)
    inv = clf.predict([255 - g for g in crops])
    assert up.shape == (len(crops), len(CHROMOSOMES)) and np.allclose(up, inv, atol=1e-5)
    both = clf.predict(crops, tta="hflip")
    assert np.allclose(both.sum(1), 1, atol=1e-4)


def test_crop_length_reads_either_polarity():
    from karyospectrum.karyotype import crop_length

    crop = np.full((50, 20), 255, np.uint8)
    crop[5:45, 8:12] = 40
    assert crop_length(crop) == 40 and crop_length(255 - crop) == 40
    assert crop_length(crop.astype(np.uint16) * 257) == 40


def test_eval_script_scores_inverted_crops(tmp_path):
    import json
    import subprocess
    import sys

    from test_classifier import write_crops

    write_crops(tmp_path / "data", cells=2)
    C.init_checkpoint(tmp_path / "c.safetensors", size=32)
    r = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve().parents[1] / "benchmarks" / "eval_classifier.py"),
            "--checkpoint",
            str(tmp_path / "c.safetensors"),
            "--data",
            str(tmp_path / "data"),
            "--group-by",
            "cell_id",
            "--invert",
            "--threads",
            "1",
            "--out",
            str(tmp_path / "e.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    rows = json.loads((tmp_path / "e.json").read_text())["data"]
    assert [row["subset"] for row in rows] == ["all (held out)", "all (held out), inverted"]
    assert rows[0]["crop_accuracy"] == rows[1]["crop_accuracy"]  # the input normalisation undoes it
