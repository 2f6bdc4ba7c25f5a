"""generate: tiles for every present copy, a manifest, byte-identical reruns, and one-line errors."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from karyospectrum.checkpoints import save_checkpoint
from karyospectrum.errors import InputError
from karyospectrum.networks import define_G, init_weights
from karyospectrum.painting import paint, tile_distance
from PIL import Image

torch.set_num_threads(2)
DIM = 16


@pytest.fixture(scope="module")
def generator_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "generator.safetensors"
    torch.manual_seed(0)
    G = init_weights(define_G("resizeconv", DIM, (32, 32), ngf=8)).eval()
    card = {
        "kind": "generator",
        "arch": "resizeconv",
        "latent_dim": DIM,
        "resolution": [32, 32],
        "generator": {"ngf": 8, "norm": "batch"},
    }
    save_checkpoint(path, G.state_dict(), card, half=True)
    return path


def write_latents(path, chrom, dim=DIM, samples=("mum", "dad", "kid"), seed=0):
    rng = np.random.default_rng(seed)
    lat = rng.standard_normal((len(samples), 2, dim)).astype(np.float32)
    present = np.ones((len(samples), 2), bool)
    if chrom == "X":
        present[1, 1] = False  # dad has one X
    np.savez(
        path,
        samples=np.array(samples),
        latents=lat,
        copy_present=present,
        n_variants=10,
        dim=dim,
        chrom=chrom,
        key_id="test",
        centering="cohort",
    )
    return path


@pytest.fixture()
def latents(tmp_path):
    return [write_latents(tmp_path / f"{c}.npz", c, seed=i) for i, c in enumerate(["1", "X"])]


def run_generate(repo, *args):
    return subprocess.run(
        [sys.executable, str(repo / "scripts/generate.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_generate_writes_every_present_copy_and_is_byte_identical(repo, tmp_path, latents, generator_ckpt):
    outs = []
    for name, bs in (("a", 4), ("b", 4)):
        out = tmp_path / name
        res = run_generate(
            repo,
            "--latents",
            *latents,
            "--checkpoint",
            generator_ckpt,
            "--out",
            out,
            "--batch-size",
            bs,
            "--device",
            "cpu",
        )
        assert res.returncode == 0, res.stderr
        outs.append(out)
    manifest = (outs[0] / "manifest.tsv").read_text().splitlines()
    assert manifest[0] == "sample\tchrom\tcopy\tpath"
    rows = [r.split("\t") for r in manifest[1:]]
    assert len(rows) == 3 * 2 + 3 * 2 - 1  # dad's second X is absent
    assert ["dad", "X", "2", "dad/X.2.png"] not in rows and ["kid", "X", "2", "kid/X.2.png"] in rows
    assert [r[0] for r in rows][:4] == ["mum"] * 4  # sample order of the latents file
    pngs = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*.png"))
    assert [str(p) for p in pngs] == sorted(r[3] for r in rows)
    assert Image.open(outs[0] / "kid/1.2.png").size == (32, 32)
    for p in pngs:
        assert (outs[0] / p).read_bytes() == (outs[1] / p).read_bytes(), p
    assert (outs[0] / "manifest.tsv").read_bytes() == (outs[1] / "manifest.tsv").read_bytes()
    # Different latents paint different tiles.
    assert (outs[0] / "mum/1.1.png").read_bytes() != (outs[0] / "dad/1.1.png").read_bytes()


def test_paint_library_function(generator_ckpt):
    from karyospectrum.painting import load_generator

    G, card = load_generator(generator_ckpt)
    z = np.random.default_rng(1).standard_normal((2, 3, DIM)).astype(np.float32)
    a = paint(z, G, batch_size=4)
    assert a.shape == (2, 3, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, paint(z, G, batch_size=4))
    assert np.array_equal(a[0, 0], a[0, 0]) and not np.array_equal(a[0, 0], a[1, 0])
    # Close latents paint closer pictures than unrelated ones (what kinship in the art rests on).
    near = paint(z[0, 0] + 0.1 * z[1, 1], G)
    far = paint(z[1, 2], G)
    assert tile_distance(a[0, 0], near) < tile_distance(a[0, 0], far)
    assert tile_distance(a[0, 0], a[0, 0]) == 0.0
    with pytest.raises(InputError, match="latent dim 5"):
        paint(np.zeros((1, 5), np.float32), G)


def test_missing_latents_file_is_one_line_exit_2(repo, tmp_path, latents, generator_ckpt):
    res = run_generate(
        repo,
        "--latents",
        latents[0],
        tmp_path / "22.npz",
        "--checkpoint",
        generator_ckpt,
        "--out",
        tmp_path / "o",
        "--device",
        "cpu",
    )
    assert res.returncode == 2
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "22.npz" in last and "not found" in last
    assert "Traceback" not in res.stderr


def test_dim_mismatch_is_one_line_exit_2(repo, tmp_path, generator_ckpt):
    bad = write_latents(tmp_path / "1.npz", "1", dim=DIM + 4)
    res = run_generate(
        repo, "--latents", bad, "--checkpoint", generator_ckpt, "--out", tmp_path / "o", "--device", "cpu"
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and f"latent dim {DIM + 4}" in last and f"latent_dim {DIM}" in last


def test_bad_checkpoint_and_bad_latents_are_refused(repo, tmp_path, latents, generator_ckpt):
    res = run_generate(
        repo,
        "--latents",
        *latents,
        "--checkpoint",
        tmp_path / "none.safetensors",
        "--out",
        tmp_path / "o",
        "--device",
        "cpu",
    )
    assert res.returncode == 2 and "checkpoint not found" in res.stderr and "Traceback" not in res.stderr
    junk = tmp_path / "2.npz"
    junk.write_bytes(b"not a zip")
    res = run_generate(
        repo, "--latents", junk, "--checkpoint", generator_ckpt, "--out", tmp_path / "o", "--device", "cpu"
    )
    assert res.returncode == 2 and "2.npz" in res.stderr and "Traceback" not in res.stderr


@pytest.fixture(scope="module")
def cips_ckpt(tmp_path_factory):
    """A (randomly initialised) coordinate generator bundled as style 'test' in a models folder."""
    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    opts = {"hidden": 16, "mlp_layers": 2, "n_freq": 16, "offset_range": 6.0}
    G = init_weights(define_G("cips", DIM, (32, 32), ngf=4, **opts)).post_init().eval()
    for m in G.modules():  # unit-gain convs: vivid pictures from an untrained painter
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, a=0.2)
    card = {
        "kind": "generator",
        "arch": "cips",
        "latent_dim": DIM,
        "resolution": [32, 32],
        "generator": {"ngf": 4, "norm": "batch", **opts},
    }
    save_checkpoint(folder / "generator-test.safetensors", G.state_dict(), card, half=True)
    return folder / "generator-test.safetensors"


def test_each_copy_is_painted_once_at_its_silhouettes_size(repo, tmp_path, latents, cips_ckpt):
    from karyospectrum.tiles import read_manifest, tile_size

    out = tmp_path / "tiles"
    res = run_generate(
        repo, "--latents", *latents, "--style", "test", "--models-dir", cips_ckpt.parent, "--out", out,
        "--chrom1-height", 448, "--chromatid-width", 40, "--threads", 1,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    manifest = read_manifest(out)
    assert len(manifest) == 11
    for chrom, rel in zip(manifest["chrom"], manifest["path"]):
        with Image.open(out / rel) as im:
            assert im.size[::-1] == tile_size(chrom, 448, 40)
    with Image.open(out / "mum/1.1.png") as im:
        assert im.size == (40, 448)  # chromosome 1: about 1:11, one painting, no repetition
        top, bottom = np.asarray(im)[:40].astype(int), np.asarray(im)[-40:].astype(int)
    assert np.abs(top - bottom).mean() > 1 and np.abs(top - bottom[::-1]).mean() > 1


def test_a_poster_paints_the_same_picture_with_more_pixels(cips_ckpt):
    from karyospectrum.painting import load_generator

    G, _ = load_generator(cips_ckpt)
    z = np.random.default_rng(3).standard_normal((2, DIM)).astype(np.float32)
    screen = paint(z, G, size=(96, 32)).astype(np.float32)
    poster = paint(z, G, size=(192, 64), scale=2.0).astype(np.float32)
    # Box-downsampled, the poster is the screen picture (same composition), not another painting.
    down = poster.reshape(2, 96, 2, 32, 2, 3).mean(axis=(2, 4))
    other = paint(z[::-1], G, size=(96, 32)).astype(np.float32)
    assert np.abs(down - screen).mean() < 0.5 * np.abs(other - screen).mean()
    with pytest.raises(ValueError, match="paints only"):
        from karyospectrum.networks import define_G as build

        paint(z, build("resizeconv", DIM, (32, 32), ngf=4).eval(), size=(64, 32))


def test_unknown_style_is_one_line_naming_the_known_styles(repo, tmp_path, latents, cips_ckpt):
    res = run_generate(
        repo, "--latents", *latents, "--style", "nope", "--models-dir", cips_ckpt.parent, "--out", tmp_path / "o"
    )  # fmt: skip
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1] == "error: unknown generator style 'nope'; known styles: test"
    assert "Traceback" not in res.stderr


def test_default_tile_geometry_is_the_karyograms():
    from karyospectrum.karyogram import Style
    from karyospectrum.painting import CHROM1_HEIGHT, REFERENCE_CHROMATID_WIDTH

    assert (CHROM1_HEIGHT, REFERENCE_CHROMATID_WIDTH) == (Style.chrom1_height, Style.chromatid_width)
