"""Ideogram geometry: silhouettes from the hg38 cytobands (length, centromere, acrocentric short arms)."""

import numpy as np
import pytest
from karyospectrum import CHROMOSOMES
from karyospectrum.cytobands import chrom_sizes, p_arm_fraction
from karyospectrum.ideogram import (
    banded_ideogram,
    centromere_row,
    chrom_height,
    fit_tile,
    is_acrocentric,
    p_area_fraction,
    shape_tile,
    silhouette,
)
from PIL import Image

ACROCENTRIC = ["13", "14", "15", "21", "22"]
METACENTRIC = ["1", "3", "16", "19", "20"]


def _rows_covered(mask: np.ndarray) -> np.ndarray:
    return (mask > 127).sum(axis=1)


def test_acrocentrics_detected_from_the_stalk_band():
    assert [c for c in CHROMOSOMES if is_acrocentric(c)] == ACROCENTRIC


def test_heights_proportional_to_length():
    sizes = chrom_sizes()
    for c in CHROMOSOMES:
        h = chrom_height(c, 1000)
        assert abs(h - sizes[c] / sizes["1"] * 1000) <= 0.5
    assert chrom_height("1", 1000) == 1000
    assert chrom_height("21", 1000) < chrom_height("22", 1000) < chrom_height("19", 1000)


@pytest.mark.parametrize("chrom", CHROMOSOMES)
def test_silhouette_spans_its_box_with_constant_width(chrom):
    h = chrom_height(chrom, 400)
    mask = np.asarray(silhouette(chrom, h, 40))
    assert mask.shape == (h, 40)
    rows = np.flatnonzero(_rows_covered(mask) > 0)
    # Rounded telomeres still reach (almost) the ends of the box.
    assert rows[0] <= 2 and rows[-1] >= h - 3
    # Full width somewhere on the q-arm.
    assert _rows_covered(mask).max() >= 38


@pytest.mark.parametrize("chrom", ["1", "2", "7", "X", "13", "21"])
def test_centromere_is_a_constriction_where_the_cytobands_put_it(chrom):
    h = chrom_height(chrom, 600)
    mask = np.asarray(silhouette(chrom, h, 40))
    cen = centromere_row(chrom, h)
    assert abs(cen - p_arm_fraction(chrom) * h) < 1e-6
    widths = _rows_covered(mask)
    window = slice(int(cen) - 3, int(cen) + 4)
    assert widths[window].min() <= 0.6 * widths.max()
    # The narrowest row near the middle of the q-arm is wider than the centromere.
    q_mid = int((cen + h) / 2)
    assert widths[q_mid] > widths[window].min()


def test_acrocentrics_look_acrocentric():
    acro = {c: p_area_fraction(c) for c in ACROCENTRIC}
    meta = {c: p_area_fraction(c) for c in METACENTRIC}
    assert max(acro.values()) < 0.2, acro
    assert min(meta.values()) > 0.35, meta
    others = [p_area_fraction(c) for c in CHROMOSOMES if c not in ACROCENTRIC + ["Y"]]
    assert max(acro.values()) < min(others)


def test_acrocentric_short_arm_is_narrow():
    h = chrom_height("14", 600)
    widths = _rows_covered(np.asarray(silhouette("14", h, 40)))
    cen = int(centromere_row("14", h))
    assert widths[:cen].max() <= 0.6 * 40 + 1
    assert widths[cen:].max() >= 38


def test_shape_tile_masks_and_bands():
    rng = np.random.default_rng(0)
    tile = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    h = chrom_height("1", 300)
    plain = shape_tile(tile, "1", h, 30, band_strength=0.0, outline=False)
    banded = shape_tile(tile, "1", h, 30, band_strength=0.5, outline=False)
    assert plain.mode == "RGBA" and plain.size == (30, h)
    alpha = np.asarray(plain)[:, :, 3]
    assert np.array_equal(alpha, np.asarray(silhouette("1", h, 30)))
    # Bands only darken.
    p = np.asarray(plain)[:, :, :3].astype(int)
    b = np.asarray(banded)[:, :, :3].astype(int)
    assert (b <= p).all() and (b < p).any()
    assert np.array_equal(np.asarray(shape_tile(tile, "1", h, 30)), np.asarray(shape_tile(tile, "1", h, 30)))
    with pytest.raises(ValueError):
        shape_tile(tile, "1", h, 30, band_strength=1.5)
    with pytest.raises(ValueError):
        shape_tile(tile, "MT", h, 30)


def test_a_tile_painted_at_its_box_is_used_as_it_is_never_repeated():
    rng = np.random.default_rng(1)
    tile = Image.fromarray(rng.integers(0, 256, (100, 20, 3), dtype=np.uint8))
    assert np.array_equal(np.asarray(fit_tile(tile, 100, 20)), np.asarray(tile))
    small = Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    assert fit_tile(small, 100, 20).size == (20, 100)  # fixed-resolution tiles are stretched, once
    with pytest.raises(ValueError, match="fit"):
        shape_tile(tile, "1", 100, 20, fit="mirror")


def test_banded_ideogram_shows_g_bands():
    img = np.asarray(banded_ideogram("1", 500, 40))
    centre_col = img[:, 20, :3].mean(axis=1)[img[:, 20, 3] > 250]
    assert centre_col.min() < 80 and centre_col.max() > 200
