"""Genome sketches: determinism, the five-colour vocabulary, kinship kept, the PNG checks, segmentation."""

import subprocess
import sys

import numpy as np
import pytest
from example_latents import example_latents, pedigree_pairs
from karyospectrum.errors import InputError
from karyospectrum.karyogram import load_sample_tiles, read_manifest, render_karyogram
from karyospectrum.sketch import (
    CLASSES,
    PALETTE,
    class_agreement,
    read_sketch,
    segment,
    sketch,
    sketch_classes,
    sketch_cohort,
    write_sketch,
)
from PIL import Image

CHROMS = ["1", "2", "5", "10", "16", "X"]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """The example cohort's sketch tiles for a few chromosomes."""
    tmp = tmp_path_factory.mktemp("sketch")
    files = example_latents(tmp, CHROMS)
    rows = sketch_cohort(files, tmp / "tiles")
    return tmp / "tiles", rows


def test_sketch_is_deterministic_five_colours_and_depends_on_the_direction_only():
    z = np.random.default_rng(1).standard_normal(128)
    a, b = sketch(z), sketch(z.astype(np.float32) * 3.0)
    assert a.shape == (128, 128, 3) and a.dtype == np.uint8
    assert np.array_equal(sketch(z), a)
    assert np.mean(a == b) > 0.999  # float32 rounding may move a boundary pixel, nothing more
    colours = {tuple(c) for c in a.reshape(-1, 3)}
    assert colours <= {tuple(c) for c in PALETTE}
    fractions = (
        np.mean(
            [
                np.bincount(
                    sketch_classes(np.random.default_rng(s).standard_normal(128)).ravel(), minlength=5
                )
                for s in range(20)
            ],
            axis=0,
        )
        / 128**2
    )
    assert all(f > 0.02 for f in fractions), dict(zip(CLASSES, fractions))  # every class is drawn
    with pytest.raises(ValueError):
        sketch(np.zeros(128))


def test_similar_latents_give_similar_sketches():
    rng = np.random.default_rng(0)
    agree = {c: [] for c in (0.0, 0.5, 0.9)}
    for _ in range(15):
        a, n = rng.standard_normal(128), rng.standard_normal(128)
        for c in agree:
            agree[c].append(
                class_agreement(sketch_classes(a), sketch_classes(c * a + np.sqrt(1 - c * c) * n))
            )
    m = {c: float(np.mean(v)) for c, v in agree.items()}
    assert m[0.9] > m[0.5] + 0.1 > m[0.0] + 0.2, m


def test_relatives_sketches_are_closer_than_strangers(cohort):
    tiles, rows = cohort
    by = {}
    for sample, chrom, _copy, rel in rows:
        by.setdefault(sample, {}).setdefault(chrom, []).append(read_sketch(tiles / rel))
    autosomes = [c for c in CHROMS if c != "X"]

    def similarity(a, b):  # best-matching haplotypes per chromosome, averaged
        return np.mean([max(class_agreement(x, y) for y in by[b][c]) for c in autosomes for x in by[a][c]])

    relatives, strangers = pedigree_pairs()
    rel = [similarity(a, b) for a, b in relatives]
    unr = [similarity(a, b) for a, b in strangers]
    assert len(rel) >= 5 and len(unr) >= 20
    assert min(rel) > np.percentile(unr, 95), (rel, sorted(unr)[-5:])
    assert np.mean(rel) > np.mean(unr) + 0.1


def test_sketch_tiles_read_as_karyogram_tiles(cohort):
    tiles, rows = cohort
    manifest = read_manifest(tiles)
    heights = {c: Image.open(tiles / f"FAM1_mother/{c}.1.png").size for c in ("1", "16", "X")}
    assert (
        heights["1"] == (128, 1408) and heights["16"][1] < heights["X"][1] < heights["1"][1]
    )  # their aspects
    assert len(manifest) == len(rows) and set(manifest["chrom"]) == set(CHROMS)
    images = load_sample_tiles(tiles, "FAM1_father")
    assert len([k for k in images if k[0] == "X"]) == 1  # a father: one X, no second X tile
    image, layout = render_karyogram(images, title="FAM1_father", band_strength=0.0)
    assert {b["chrom"] for b in layout["boxes"]} == set(CHROMS)


def test_sketch_cli_and_byte_identical_rerun(repo, tmp_path, cohort):
    tiles, _ = cohort
    latents = [tiles.parent / f"{c}.npz" for c in CHROMS[:2]]
    outs = []
    for name in ("a", "b"):
        proc = subprocess.run(
            [
                sys.executable,
                str(repo / "scripts/sketch.py"),
                "--latents",
                *map(str, latents),
                "--out",
                str(tmp_path / name),
            ],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        outs.append(tmp_path / name)
    for f in sorted(outs[0].rglob("*.png")):
        assert f.read_bytes() == (outs[1] / f.relative_to(outs[0])).read_bytes()
    assert (outs[0] / "manifest.tsv").read_text() == (outs[1] / "manifest.tsv").read_text()


def test_bad_sketch_pngs_are_one_line(tmp_path):
    classes = sketch_classes(np.random.default_rng(2).standard_normal(128))
    good = tmp_path / "good.png"
    write_sketch(good, classes)
    assert np.array_equal(read_sketch(good, size=128), classes)
    with pytest.raises(InputError, match=r"sketch is 128x128 px; this step paints 256x256"):
        read_sketch(good, size=256)
    with pytest.raises(InputError, match=r"multiples of 256"):
        read_sketch(good, multiple=256)
    rgb = np.asarray(Image.open(good)).copy()
    rgb[:4, :4] = (250, 10, 10)  # almost red: not a sketch colour
    off = tmp_path / "off.png"
    Image.fromarray(rgb).save(off)
    with pytest.raises(InputError, match=r"16 pixels \(0\.1%\) are not sketch colours .*--snap") as err:
        read_sketch(off)
    assert "\n" not in str(err.value)
    snapped = read_sketch(off, snap=True)
    assert (snapped[:4, :4] == CLASSES.index("building")).all()
    not_png = tmp_path / "x.png"
    not_png.write_text("hello")
    with pytest.raises(InputError, match="not an image"):
        read_sketch(not_png)


def test_segment_recovers_a_drawn_map():
    """A picture drawn in five distinct colours is segmented back into its classes."""
    img = np.full((96, 96, 3), 245, np.uint8)  # pale land
    truth = np.zeros((96, 96), np.uint8)
    for cls, box, colour in (
        (2, (0, 0, 40, 40), (40, 140, 60)),  # park: green
        (3, (56, 0, 96, 40), (180, 50, 40)),  # buildings: red
        (4, (0, 56, 96, 96), (40, 70, 170)),  # water: blue
        (1, (44, 0, 52, 56), (15, 15, 15)),  # a road: dark
    ):
        x0, y0, x1, y1 = box
        img[y0:y1, x0:x1] = colour
        truth[y0:y1, x0:x1] = cls
    assert class_agreement(segment(img, n_segments=200), truth) > 0.9
