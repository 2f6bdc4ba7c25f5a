"""Synthetic G-banded chromosomes and spreads: shape, banding from the cytobands, ground-truth boxes."""

import numpy as np
import pytest
from karyospectrum import CHROMOSOMES
from karyospectrum.synthetic import band_profile, render_cell, render_chromosome, render_spread

CLEAN = dict(bend=0.0, blur=0.3, noise=0.0, contrast=1.0, condense_blur=0.5)


def test_chromosome_is_upright_dark_on_white():
    img = render_chromosome("7", np.random.default_rng(0))
    assert img.dtype == np.uint8 and img.ndim == 2
    assert img.shape[0] > img.shape[1]
    assert (img[0] == 255).all() and (img[:, 0] == 255).all()
    assert img.min() < 150


def test_length_follows_chromosome_size():
    rng = np.random.default_rng(1)
    h = {c: render_chromosome(c, rng, width=14, **CLEAN, length=None).shape[0] for c in ["1", "21"]}
    # condensation varies by +-25 %, chromosome 1 is ~5x chromosome 21
    assert h["1"] > 2 * h["21"]


def test_bands_follow_the_cytobands():
    img = render_chromosome("1", np.random.default_rng(2), length=300, width=16, **CLEAN)
    ink = 255.0 - img[3:-3, img.shape[1] // 2 - 3]  # just off the chromatid groove
    prof = band_profile("1", len(ink))
    keep = ink > 20  # inside the chromosome
    r = np.corrcoef(ink[keep], prof[keep])[0, 1]
    assert r > 0.6


def test_unknown_chromosome_is_refused():
    with pytest.raises(ValueError):
        render_chromosome("23")


def test_cell_has_46_chromosomes_in_pairs():
    cell = render_cell(np.random.default_rng(3), sex="XX")
    names = [c for c, _, _ in cell]
    assert len(cell) == 46
    assert names.count("X") == 2 and "Y" not in names
    assert all(names.count(c) == 2 for c in CHROMOSOMES[:22])


def test_spread_boxes_hold_their_chromosome():
    img, boxes = render_spread(np.random.default_rng(4), size=(700, 700), touching=0.2)
    assert img.shape == (700, 700) and img.dtype == np.uint8
    assert len(boxes) == 46
    for b in boxes:
        assert 0 <= b["x0"] < b["x1"] <= 700 and 0 <= b["y0"] < b["y1"] <= 700
        assert img[b["y0"] : b["y1"], b["x0"] : b["x1"]].min() < 200
    # outside all boxes the spread is background
    covered = np.zeros(img.shape, bool)
    for b in boxes:
        covered[b["y0"] : b["y1"], b["x0"] : b["x1"]] = True
    assert img[~covered].min() >= 235


def test_spread_is_deterministic_for_a_seed():
    a, ba = render_spread(np.random.default_rng(5), size=(600, 600))
    b, bb = render_spread(np.random.default_rng(5), size=(600, 600))
    assert ba == bb and np.array_equal(a, b)
