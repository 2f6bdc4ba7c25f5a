"""Style datasets: crops cached on disk with a held-out split; bad source files are skipped, counted."""

import logging
import subprocess
import sys

import numpy as np
import pytest
from karyospectrum.artdata import (
    StyleDataset,
    StyleDatasetOptions,
    build_style_dataset,
    read_dataset_info,
)
from karyospectrum.errors import InputError
from PIL import Image

OPTS = StyleDatasetOptions(crop_size=32, n_train=24, n_heldout=8, max_pixels=200 * 200)


def _gradient(h, w, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // w, yy * 255 // h, np.full((h, w), rng.integers(256))], -1)
    return Image.fromarray(img.astype(np.uint8))


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    _gradient(120, 160, 0).save(folder / "a.png")
    _gradient(100, 100, 1).save(folder / "b.jpg")
    (folder / "notes.txt").write_text("not an image, not an image suffix: ignored")
    return folder


def test_builds_train_and_heldout_crops_streamed_from_disk(source, tmp_path):
    info = build_style_dataset("test", source, tmp_path / "ds", "CC0", OPTS, workers=2)
    assert info["counts"] == {"train": 24, "heldout": 8}
    assert info["source_images"] == 2 and info["skipped_files"] == 0
    assert sum(info["crops_per_source"].values()) == 32
    train, held = StyleDataset(tmp_path / "ds", "train"), StyleDataset(tmp_path / "ds", "heldout")
    assert len(train) == 24 and len(held) == 8
    assert train[0].shape == (32, 32, 3) and train[0].dtype == np.uint8
    assert StyleDataset(tmp_path / "ds", "train", resolution=(16, 16))[3].shape == (16, 16, 3)
    # held-out crops are other crops, and the build is reproducible
    assert not any(np.array_equal(held[i], train[j]) for i in range(8) for j in range(24))
    build_style_dataset("test", source, tmp_path / "ds2", "CC0", OPTS)
    assert np.array_equal(StyleDataset(tmp_path / "ds2").load(), train.load())
    assert read_dataset_info(tmp_path / "ds")["license"] == "CC0"


def test_bad_files_get_one_line_each_and_are_skipped_and_counted(source, tmp_path, caplog):
    (source / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    (source / "empty.jpg").write_bytes(b"")
    _gradient(300, 300, 2).save(source / "huge.png")  # above max_pixels (200 x 200)
    _gradient(20, 20, 3).save(source / "tiny.png")  # smaller than the crop
    with caplog.at_level(logging.WARNING):
        info = build_style_dataset("test", source, tmp_path / "ds", "", OPTS)
    assert info["skipped_files"] == 4 and info["source_images"] == 2
    assert {s["file"] for s in info["skipped"]} == {"corrupt.png", "empty.jpg", "huge.png", "tiny.png"}
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 4 and all("\n" not in m and "skipped" in m for m in lines)
    assert any("huge.png" in m and "too large" in m for m in lines)
    assert len(StyleDataset(tmp_path / "ds")) == 24


def test_a_folder_without_readable_images_is_one_error(tmp_path, repo):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.png").write_bytes(b"nope")
    with pytest.raises(InputError, match="no readable images"):
        build_style_dataset("test", folder, tmp_path / "ds", "", OPTS)
    with pytest.raises(InputError, match="not found"):
        build_style_dataset("test", tmp_path / "missing", tmp_path / "ds", "", OPTS)
    script = [sys.executable, str(repo / "scripts/style_dataset.py"), "--style", "x", "--source", str(folder)]
    out = subprocess.run(script + ["--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert out.returncode == 2
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "no readable images" in errors[0] and "Traceback" not in out.stderr


def test_procedural_style_and_incomplete_folders(tmp_path):
    info = build_style_dataset("abstract", "procedural", tmp_path / "ds", "", OPTS)
    assert info["source_images"] == 1 and len(StyleDataset(tmp_path / "ds", "heldout")) == 8
    (tmp_path / "ds" / "manifest.tsv").unlink()
    with pytest.raises(InputError, match="not a style dataset"):
        StyleDataset(tmp_path / "ds")


def test_blank_crops_are_drawn_again_and_a_blank_source_gives_way(source, tmp_path):
    # A light wallpaper's flat white paints an invisible chromosome: such crops are drawn again, and a
    # source that is blank all over hands its turn to the others.
    Image.new("RGB", (120, 120), (250, 250, 250)).save(source / "white.png")
    info = build_style_dataset("test", source, tmp_path / "ds", "", OPTS)
    from karyospectrum.artdata import contrast

    crops = np.concatenate([StyleDataset(tmp_path / "ds", s).load() for s in ("train", "heldout")])
    assert len(crops) == 32 and min(contrast(Image.fromarray(c)) for c in crops) >= OPTS.min_contrast
    assert info["crops_per_source"]["white.png"] == 0 and sum(info["crops_per_source"].values()) == 32
    assert info["blank_crops"]["redrawn"] >= 10 and info["blank_crops"]["kept_after_tries"] == 0
    # The manifest names the source each crop really came from.
    manifest = (tmp_path / "ds" / "manifest.tsv").read_text()
    assert "white.png" not in manifest
    # Off (0): blank crops are kept as drawn.
    from dataclasses import replace

    off = build_style_dataset("test", source, tmp_path / "off", "", replace(OPTS, min_contrast=0.0))
    assert off["blank_crops"]["redrawn"] == 0 and off["crops_per_source"]["white.png"] > 0


def test_a_compact_copy_keeps_splits_and_sources_at_the_training_window(source, tmp_path, repo):
    import subprocess
    import sys

    from karyospectrum.artdata import compact_copy

    build_style_dataset("test", source, tmp_path / "ds", "CC0", OPTS)
    info = compact_copy(tmp_path / "ds", tmp_path / "small", (16, 16), quality=90)
    assert info["crop_size"] == 16 and "WebP at quality 90" in info["compact"]
    assert read_dataset_info(tmp_path / "small")["license"] == "CC0"
    full, small = StyleDataset(tmp_path / "ds", "train", (16, 16)), StyleDataset(tmp_path / "small", "train")
    assert len(small) == 24 and len(StyleDataset(tmp_path / "small", "heldout")) == 8
    assert small[5].shape == (16, 16, 3)
    assert np.abs(small[5].astype(int) - full[5]).mean() < 8  # lossy, but the same crop
    exact = compact_copy(tmp_path / "ds", tmp_path / "exact", (16, 16))  # the default: lossless
    assert exact["compact"].endswith("lossless WebP")
    assert np.array_equal(StyleDataset(tmp_path / "exact", "train").load(), full.load())
    with pytest.raises(InputError, match="quality"):
        compact_copy(tmp_path / "ds", tmp_path / "bad", (16, 16), quality=101)
    rows = (tmp_path / "small/manifest.tsv").read_text().splitlines()
    assert rows[1].split("\t")[2] == (tmp_path / "ds/manifest.tsv").read_text().splitlines()[1].split("\t")[2]
    # The CLI: a folder that is no style dataset is one line.
    r = subprocess.run(
        [sys.executable, str(repo / "scripts/compact_style_dataset.py"), str(source), str(tmp_path / "x")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "not a style dataset" in r.stderr
