"""Karyogram layout, rendering, the step scripts and the karyogram rules, on tiles made here."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from karyospectrum import AUTOSOMES, CHROMOSOMES
from karyospectrum.errors import InputError
from karyospectrum.ideogram import chrom_height
from karyospectrum.karyogram import (
    ISCN_ROWS,
    Style,
    contact_sheet,
    load_sample_tiles,
    render_karyogram,
    select_copies,
    write_karyogram,
)
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
SEX_TILES = {"XX": {"X": [0, 1], "Y": []}, "XY": {"X": [0], "Y": [0]}, "none": {"X": [], "Y": []}}


def random_tile(rng, size=32):
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def tiles_for(sex="XX", copies=2, seed=0):
    rng = np.random.default_rng(seed)
    images = {}
    for c in AUTOSOMES:
        for k in range(copies):
            images[(c, k)] = random_tile(rng)
    for c in ("X", "Y"):
        for k in SEX_TILES[sex][c]:
            images[(c, k)] = random_tile(rng)
    return images


def make_tiles_dir(root: Path, samples: dict[str, str], copies=2) -> Path:
    """A cohort tiles directory like rule generate's: {sample}/{chrom}.{copy}.png + manifest.tsv."""
    rows = []
    for i, (sample, sex) in enumerate(samples.items()):
        (root / sample).mkdir(parents=True, exist_ok=True)
        for (chrom, copy), img in tiles_for(sex, copies, seed=i).items():
            rel = f"{sample}/{chrom}.{copy}.png"
            img.save(root / rel)
            rows.append({"sample": sample, "chrom": chrom, "copy": copy, "path": rel})
    pd.DataFrame(rows).to_csv(root / "manifest.tsv", sep="\t", index=False)
    return root


def overlaps(a, b) -> bool:
    return a["x0"] < b["x1"] and b["x0"] < a["x1"] and a["y0"] < b["y1"] and b["y0"] < a["y1"]


def check_layout(layout, expected_counts):
    boxes = layout["boxes"]
    counts = {}
    for b in boxes:
        counts[b["chrom"]] = counts.get(b["chrom"], 0) + 1
        assert 0 <= b["x0"] < b["x1"] <= layout["width"]
        assert 0 <= b["y0"] < b["y1"] <= layout["height"]
    assert counts == {c: n for c, n in expected_counts.items() if n}
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not overlaps(a, b), (a, b)
    for box in boxes:
        for lab in layout["labels"]:
            x0, y0, x1, y1 = lab["bbox"]
            assert not overlaps(box, {"x0": x0, "y0": y0, "x1": x1, "y1": y1})


@pytest.mark.parametrize(
    "sex,x,y", [("XX", 2, 0), ("XY", 1, 1), ("none", 0, 0)], ids=["female", "male", "no-sex-chromosomes"]
)
def test_every_chromosome_the_right_number_of_times(sex, x, y):
    image, layout = render_karyogram(tiles_for(sex), title="S1")
    assert image.size == (layout["width"], layout["height"])
    check_layout(layout, {**{c: 2 for c in AUTOSOMES}, "X": x, "Y": y})
    assert layout["sample"] == "S1"


def test_unphased_one_copy_per_chromosome():
    _, layout = render_karyogram(tiles_for("XY", copies=1))
    check_layout(layout, {**{c: 1 for c in AUTOSOMES}, "X": 1, "Y": 1})


def test_iscn_order_rows_and_pairs_over_their_label():
    _, layout = render_karyogram(tiles_for("XY"), title="S1")
    order = list(dict.fromkeys(b["chrom"] for b in layout["boxes"]))
    assert order == CHROMOSOMES
    by_chrom = {}
    for b in layout["boxes"]:
        by_chrom.setdefault(b["chrom"], []).append(b)
    labels = {lab["text"]: lab for lab in layout["labels"]}
    row_bottoms = []
    for row in ISCN_ROWS:
        bottoms = {b["y1"] for c in row for b in by_chrom[c]}
        assert len(bottoms) == 1  # one baseline per row
        row_bottoms.append(bottoms.pop())
        xs = [np.mean([(b["x0"] + b["x1"]) / 2 for b in by_chrom[c]]) for c in row]
        assert xs == sorted(xs)  # left to right
        for c in row:
            copies = sorted(by_chrom[c], key=lambda b: b["copy"])
            assert [b["copy"] for b in copies] == sorted(b["copy"] for b in copies)
            centre = (copies[0]["x0"] + copies[-1]["x1"]) / 2
            assert abs(centre - labels[c]["x"]) <= 2  # the pair sits over its label
            assert labels[c]["bbox"][1] >= copies[0]["y1"]
    assert row_bottoms == sorted(row_bottoms)


def test_box_heights_follow_chromosome_length():
    _, layout = render_karyogram(tiles_for("XY"), chrom1_height=500)
    for b in layout["boxes"]:
        assert b["y1"] - b["y0"] == chrom_height(b["chrom"], 500)


def test_deterministic_png_and_pdf(tmp_path):
    digests = []
    for i in range(2):
        image, layout = render_karyogram(tiles_for("XX"), title="S1")
        out = tmp_path / str(i)
        write_karyogram(image, layout, out / "k.png", out / "k.pdf", out / "k.layout.json")
        digests.append(
            [hashlib.sha256((out / f).read_bytes()).hexdigest() for f in ("k.png", "k.pdf", "k.layout.json")]
        )
    assert digests[0] == digests[1]
    png = Image.open(tmp_path / "0" / "k.png")
    assert png.info["dpi"][0] == pytest.approx(300, abs=1)
    assert (tmp_path / "0" / "k.pdf").read_bytes().startswith(b"%PDF")
    assert b"DejaVuSans" in (tmp_path / "0" / "k.pdf").read_bytes()  # labels are text, not pixels


def test_title_hideable_and_layout_independent_of_tiles():
    a_img, a = render_karyogram(tiles_for("XX", seed=1), title="S1")
    b_img, b = render_karyogram(tiles_for("XX", seed=2), title="S2")
    assert [(x["x0"], x["y0"], x["x1"], x["y1"]) for x in a["boxes"]] == [
        (x["x0"], x["y0"], x["x1"], x["y1"]) for x in b["boxes"]
    ]
    assert a_img.tobytes() != b_img.tobytes()
    _, untitled = render_karyogram(tiles_for("XX", seed=1), title=None)
    assert untitled["title"] is None and untitled["height"] < a["height"]


def test_unshaped_real_crops_fit_their_slot():
    rng = np.random.default_rng(3)
    crops = {
        ("1", 0): random_tile(rng, 20).resize((30, 200)),
        ("21", 1): random_tile(rng, 20).resize((60, 50)),
    }
    image, layout = render_karyogram(crops, shaped=False)
    check_layout(layout, {"1": 1, "21": 1})
    for b in layout["boxes"]:
        w, h = b["x1"] - b["x0"], b["y1"] - b["y0"]
        src = crops[(b["chrom"], b["copy"])]
        assert abs(w / h - src.width / src.height) < 0.1  # aspect kept
        assert h <= chrom_height(b["chrom"], Style().chrom1_height)


def test_bad_keys_rejected():
    img = Image.new("RGB", (8, 8))
    with pytest.raises(ValueError, match="unknown chromosome"):
        render_karyogram({("MT", 0): img})
    with pytest.raises(ValueError, match="not a PIL image"):
        render_karyogram({("1", 0): np.zeros((8, 8))})
    with pytest.raises(TypeError, match="unknown karyogram option"):
        render_karyogram({("1", 0): img}, colour="red")


def test_sex_override_from_the_sample_sheet():
    rows = pd.DataFrame(
        [{"sample": "S", "chrom": c, "copy": k, "path": ""} for c in ("1", "X", "Y") for k in (0, 1)]
    )

    def count(sex):
        return select_copies(rows, sex)["chrom"].value_counts().to_dict()

    assert count("") == {"1": 2, "X": 2, "Y": 2}
    assert count("XX") == {"1": 2, "X": 2}
    assert count("female") == {"1": 2, "X": 2}
    assert count("XY") == {"1": 2, "X": 1, "Y": 1}
    assert count("male") == {"1": 2, "X": 1, "Y": 1}
    assert count("X") == {"1": 2, "X": 1}
    with pytest.raises(ValueError, match="unknown sex"):
        count("ZW")


def test_load_sample_tiles(tmp_path):
    tiles = make_tiles_dir(tmp_path / "tiles", {"F": "XX", "M": "XY"})
    female = load_sample_tiles(tiles, "F")
    assert sum(c == "X" for c, _ in female) == 2 and not any(c == "Y" for c, _ in female)
    male = load_sample_tiles(tiles, "M")
    assert sum(c == "X" for c, _ in male) == 1 and sum(c == "Y" for c, _ in male) == 1
    assert len(load_sample_tiles(tiles, "M", chromosomes=["1", "2"])) == 4
    with pytest.raises(InputError, match="no tiles for sample"):
        load_sample_tiles(tiles, "nobody")


def test_contact_sheet_grid():
    rng = np.random.default_rng(0)
    kgs = [(f"S{i}", random_tile(rng, 40).resize((100, 130))) for i in range(7)]
    sheet = contact_sheet(kgs, columns=3, thumb_width=50)
    assert sheet.width == 3 * 62 + 12
    with pytest.raises(ValueError):
        contact_sheet([])


def test_contact_sheet_reads_karyograms_on_threads_in_order(tmp_path):
    """Two reader threads give the same sheet, byte for byte, as one (the thumbnails keep sheet order)."""
    from karyospectrum.io import png_bytes
    from karyospectrum.karyogram import cohort_contact_sheet

    rng = np.random.default_rng(1)
    paths = []
    for i in range(9):
        paths.append(tmp_path / f"S{i}.png")
        random_tile(rng, 40).resize((120, 160)).save(paths[-1])
    one, two = (png_bytes(cohort_contact_sheet(paths, 3, 60, threads=t)) for t in (1, 2))
    assert one == two
    swapped = png_bytes(cohort_contact_sheet([paths[1], paths[0], *paths[2:]], 3, 60, threads=2))
    assert swapped != one


def test_per_sample_keeps_order_and_names_the_first_bad_sample():
    from karyospectrum.batches import per_sample

    def work(x):
        if x in (3, 5):
            raise InputError(f"f{x}.png", "not a readable image")
        return x * x

    items = [(f"S{x}", (x,)) for x in range(8)]
    assert per_sample(items[:3], work, threads=2) == [0, 1, 4]
    for threads in (1, 2):
        with pytest.raises(InputError) as err:
            per_sample(items, work, threads=threads)
        assert str(err.value.path) == "f3.png" and err.value.problem == "sample S3: not a readable image"


# --- the step scripts (as the rules call them) ---


def run_script(name, *args, cwd=None):
    return subprocess.run(
        [PY, str(REPO / "scripts" / name), *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def test_karyogram_script_and_contact_sheet(tmp_path):
    tiles = make_tiles_dir(tmp_path / "tiles", {"F": "XX", "M": "XY", "N": "none"})
    out = tmp_path / "out"
    for sample, sex in (("F", ""), ("M", ""), ("N", ""), ("F", "male")):
        name = sample + sex
        r = run_script(
            "karyogram.py",
            "--tiles",
            tiles,
            "--sample",
            sample,
            "--sex",
            sex,
            "--png",
            out / f"{name}.png",
            "--pdf",
            out / f"{name}.pdf",
            "--layout",
            out / f"{name}.layout.json",
            "--log",
            out / f"{name}.log",
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout == ""
    counts = {}
    for name in ("F", "M", "N", "Fmale"):
        layout = json.loads((out / f"{name}.layout.json").read_text())
        im = Image.open(out / f"{name}.png")
        assert im.size == (layout["width"], layout["height"])
        counts[name] = {c: sum(b["chrom"] == c for b in layout["boxes"]) for c in ("1", "X", "Y")}
    assert counts["F"] == {"1": 2, "X": 2, "Y": 0}
    assert counts["M"] == {"1": 2, "X": 1, "Y": 1}
    assert counts["N"] == {"1": 2, "X": 0, "Y": 0}
    assert counts["Fmale"] == {"1": 2, "X": 1, "Y": 0}
    r = run_script(
        "contact_sheet.py",
        "--karyograms",
        out / "F.png",
        out / "M.png",
        out / "N.png",
        "--out",
        out / "sheet.png",
        "--columns",
        "2",
        "--thumb-width",
        "100",
    )
    assert r.returncode == 0, r.stderr
    assert Image.open(out / "sheet.png").width == 2 * 112 + 12


@pytest.mark.parametrize(
    "problem",
    ["no-manifest", "not-an-image", "empty-tile", "bad-column", "bad-sex", "no-dir", "duplicate-row"],
)
def test_bad_input_one_line_exit_2(tmp_path, problem):
    tiles = make_tiles_dir(tmp_path / "tiles", {"F": "XX"}, copies=1)
    sex = ""
    if problem == "no-manifest":
        (tiles / "manifest.tsv").unlink()
    elif problem == "not-an-image":
        (tiles / "F" / "7.0.png").write_text("this is not a PNG\n")
    elif problem == "empty-tile":
        (tiles / "F" / "7.0.png").write_bytes(b"")
    elif problem == "bad-column":
        (tiles / "manifest.tsv").write_text("sample\tchromosome\tcopy\tpath\nF\t1\t0\tF/1.0.png\n")
    elif problem == "bad-sex":
        sex = "ZW"
    elif problem == "duplicate-row":
        with open(tiles / "manifest.tsv", "a") as fh:
            fh.write("F\t1\t0\tF/2.0.png\n")
    elif problem == "no-dir":
        tiles = tmp_path / "nothing"
    out = tmp_path / "out"
    r = run_script(
        "karyogram.py",
        "--tiles",
        tiles,
        "--sample",
        "F",
        "--sex",
        sex,
        "--png",
        out / "F.png",
        "--pdf",
        out / "F.pdf",
        "--layout",
        out / "F.layout.json",
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists() or not list(out.glob("F.*"))


def test_kinship_report(tmp_path):
    """Parents, a child and strangers: latents with known sharing, tiles painted linearly from them."""
    rng = np.random.default_rng(0)
    samples = ["P1", "P2", "C1"] + [f"U{i}" for i in range(1, 8)]
    project = rng.standard_normal((64, 8 * 8 * 3)) / 8
    (tmp_path / "latents").mkdir()
    paths, rows = [], []
    for chrom in ("1", "2", "3", "X"):
        hap = {s: rng.standard_normal((2, 64)) for s in samples if s != "C1"}
        hap["C1"] = np.stack([hap["P1"][0], hap["P2"][1]])  # one haplotype from each parent
        lat = np.stack([hap[s] for s in samples]).astype(np.float32)
        paths.append(tmp_path / "latents" / f"{chrom}.npz")
        np.savez(
            paths[-1],
            samples=np.array(samples),
            latents=lat,
            copy_present=np.ones((len(samples), 2), bool),
            chrom=np.array(chrom),
            n_variants=np.int64(100),
            dim=np.int64(64),
            key_id=np.array("test"),
            centering=np.array("cohort"),
            alpha=np.float64(0.0),
        )
        for i, sample in enumerate(samples):
            for k in (1, 2):
                pixels = np.clip(128 + 40 * lat[i, k - 1] @ project, 0, 255).astype(np.uint8)
                rel = f"{sample}/{chrom}.{k}.png"
                (tmp_path / "tiles" / sample).mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels.reshape(8, 8, 3)).resize((32, 32), Image.BICUBIC).save(
                    tmp_path / "tiles" / rel
                )
                rows.append({"sample": sample, "chrom": chrom, "copy": k, "path": rel})
    pd.DataFrame(rows).to_csv(tmp_path / "tiles" / "manifest.tsv", sep="\t", index=False)
    truth = tmp_path / "truth.tsv"
    truth.write_text(
        "sample_a\tsample_b\trelationship\tkinship\nP1\tC1\tparent-child\t0.25\n"
        "P2\tC1\tparent-child\t0.25\nP1\tU1\tunrelated\t0\nU2\tU3\tunrelated\t0\nP1\tGHOST\tunrelated\t0\n"
    )
    out = [tmp_path / "kin.png", tmp_path / "kin.tsv"]
    args = ["--latents", *paths, "--tiles", tmp_path / "tiles", "--png", out[0], "--tsv", out[1]]
    r = run_script("kinship_report.py", "--truth", truth, *args)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(out[1], sep="\t")
    assert len(table) == 4  # the pair with a sample outside the cohort is left out
    related = table.relationship == "parent-child"
    for col in ("latent_cosine", "tile_similarity"):
        assert (abs(table.loc[related, col] - 0.5) < 0.2).all(), table
        assert (abs(table.loc[~related, col]) < 0.25).all(), table
    assert Image.open(out[0]).size[0] > 500
    (tmp_path / "bad.tsv").write_text("a\tb\nP1\tC1\n")
    r = run_script("kinship_report.py", "--truth", tmp_path / "bad.tsv", *args)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1


def test_variant_counts(tmp_path):
    from karyospectrum.genotypes import Chunk, write_genotypes

    samples = ["A", "B", "C"]
    paths = []
    for chrom in ("1", "2"):
        hap = np.array([[[0, 1], [1, 1], [0, 0]], [[0, 0], [-1, -1], [1, 0]]], dtype=np.int8)
        chunk = Chunk(np.array([10, 20]), np.array([f"{chrom}:10:A:G", f"{chrom}:20:C:T"]), hap, True)
        paths.append(tmp_path / f"{chrom}.npz")
        write_genotypes(paths[-1], chrom, samples, iter([chunk]), __import__("collections").Counter())
    r = run_script(
        "variant_counts.py", "--genotypes", *paths, "--png", tmp_path / "v.png", "--tsv", tmp_path / "v.tsv"
    )
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(tmp_path / "v.tsv", sep="\t", dtype={"chrom": str})
    totals = table.groupby("sample")[["non_ref", "missing"]].sum()
    assert (
        totals.loc["A"].tolist() == [2, 0]
        and totals.loc["B"].tolist() == [2, 2]
        and totals.loc["C"].tolist() == [2, 0]
    )
    assert Image.open(tmp_path / "v.png").size[0] > 300


# --- the rules, through the Snakemake CLI ---


def test_karyogram_rules_with_snakemake(tmp_path):
    """Rules karyogram + contact_sheet on ready-made tiles (generate is not run); one sample lacks X and Y,
    one has its sex set by the sample sheet."""
    import yaml

    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    make_tiles_dir(work / "results" / "tiles" / "c1", {"F": "XX", "M": "XY", "N": "none", "O": "XX"})
    (work / "config" / "samples.tsv").write_text(
        "sample\tcohort\tvcf\tsex\nF\tc1\tc1.vcf.gz\t\nM\tc1\tc1.vcf.gz\t\nN\tc1\tc1.vcf.gz\t\nO\tc1\tc1.vcf.gz\tmale\n"
    )
    for suffix in ("", ".tbi", ".csi"):  # the sheet's VCF must exist (it is checked at parse time)
        if (REPO / f"resources/example/cohort.vcf.gz{suffix}").exists():
            shutil.copy(REPO / f"resources/example/cohort.vcf.gz{suffix}", work / f"c1.vcf.gz{suffix}")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["karyogram"]["pedigree_truth"] = ""
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake = [PY, "-m", "snakemake", "-s", str(REPO / "workflow" / "Snakefile"), "--directory", str(work)]
    rules = ["karyogram_c1_0", "contact_sheet", "karyograms"]  # one batch of the 4 samples
    cmd = [*snakemake, "--cores", "2", "--allowed-rules", *rules, "--", "karyograms"]
    r = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{Path(PY).parent}{os.pathsep}{os.environ['PATH']}"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    kg = work / "results" / "karyograms"
    for s in "FMNO":
        for ext in ("png", "pdf", "layout.json"):
            assert (kg / f"{s}.{ext}").stat().st_size > 0
    sex = {
        s: [
            b["chrom"]
            for b in json.loads((kg / f"{s}.layout.json").read_text())["boxes"]
            if b["chrom"] in "XY"
        ]
        for s in "FMNO"
    }
    assert sex == {"F": ["X", "X"], "M": ["X", "Y"], "N": [], "O": ["X"]}
    assert (work / "results" / "contact_sheets" / "c1.png").is_file()
    assert (work / "logs" / "karyogram" / "c1.0.log").is_file()  # one log and benchmark per batch
    assert (work / "benchmarks" / "karyogram" / "c1.0.tsv").is_file()


def test_a_poster_fills_its_paper_at_its_dpi_with_tiles_painted_at_that_size(tmp_path):
    from karyospectrum.karyogram import PAPER_INCHES, canvas_size, make_style, tile_geometry
    from karyospectrum.tiles import tile_size

    assert canvas_size(Style()) == render_karyogram(tiles_for("XY"), title="t")[0].size
    style = make_style(paper="A3", dpi=600)
    assert (style.chrom1_height, style.chromatid_width) == (3000, 280) == tile_geometry(600, 56, 600, "A3")
    w, h = canvas_size(style)
    pw, ph = (v * 600 for v in PAPER_INCHES["A3"])
    assert w <= pw and h <= ph and w > 0.95 * pw  # fills the A3 width at 600 dpi
    # At A3 300 dpi (factor 2) the karyogram draws tiles of exactly their box size, unresampled.
    small = make_style(paper="A3", dpi=300)
    rng = np.random.default_rng(0)
    images = {}
    for c in AUTOSOMES + ["X"]:
        th, tw = tile_size(c, small.chrom1_height, small.chromatid_width)
        images[(c, 1)] = Image.fromarray(rng.integers(0, 256, (th, tw, 3), dtype=np.uint8))
    image, layout = render_karyogram(
        images, title="poster", paper="A3", dpi=300, band_strength=0, outline=False
    )
    assert image.size == canvas_size(small, slots=1) and layout["dpi"] == 300
    box = next(b for b in layout["boxes"] if b["chrom"] == "1")
    assert (box["x1"] - box["x0"], box["y1"] - box["y0"]) == (112, 1200)
    mid = (box["y0"] + box["y1"]) // 2 + 200  # inside the q arm, away from the outline
    drawn = np.asarray(image)[mid, box["x0"] + 40 : box["x0"] + 70]
    assert np.array_equal(drawn, np.asarray(images[("1", 1)])[mid - box["y0"], 40:70])
    write_karyogram(image, layout, tmp_path / "p.png", tmp_path / "p.pdf", tmp_path / "p.json")
    mediabox = [
        float(v) for v in (tmp_path / "p.pdf").read_bytes().split(b"/MediaBox [")[1].split(b"]")[0].split()
    ]
    assert abs(mediabox[2] / 72 - image.width / 300) < 0.01  # page inches = pixels / dpi
    with pytest.raises(ValueError, match="unknown paper"):
        make_style(paper="B5")


# --- batch manifests (karyospectrum.batches): one file per batch job, listing its samples' outputs


def test_batch_manifest_round_trip_and_expansion(tmp_path):
    from karyospectrum.batches import expand_batches, read_batch_manifest, write_batch_manifest

    m = tmp_path / "b" / "c.0.tsv"
    write_batch_manifest(m, ["S 1", "S2"], png=["a/S 1.png", "a/S2.png"], pdf=["a/S 1.pdf", "a/S2.pdf"])
    assert read_batch_manifest(m) == {
        "sample": ["S 1", "S2"],
        "png": ["a/S 1.png", "a/S2.png"],
        "pdf": ["a/S 1.pdf", "a/S2.pdf"],
    }
    # a manifest stands for its column, any other path for itself, in the order given
    assert expand_batches(["x.png", m], "png") == ["x.png", "a/S 1.png", "a/S2.png"]
    assert not list(m.parent.glob(".*tmp*"))  # written atomically: no temporary left
    with pytest.raises(InputError, match="needs 2 pdf files"):
        write_batch_manifest(m, ["S 1", "S2"], pdf=["only-one.pdf"])


@pytest.mark.parametrize("text", ["", "png\tpdf\nx\ty\n", "sample\tpng\nS1\n", b"\xff\xfe"])
def test_a_broken_batch_manifest_is_refused_in_one_line(tmp_path, text):
    from karyospectrum.batches import expand_batches

    m = tmp_path / "bad.tsv"
    m.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InputError, match="batch manifest") as err:
        expand_batches([m], "png")
    assert err.value.path == str(m) and "\n" not in str(err.value)


def test_a_manifest_without_the_column_is_refused(tmp_path):
    from karyospectrum.batches import expand_batches, write_batch_manifest

    m = tmp_path / "c.tsv"
    write_batch_manifest(m, ["S1"], tsv=["S1.tsv"])
    with pytest.raises(InputError, match="no 'png' column"):
        expand_batches([m], "png")
