"""Classifier: models, preprocessing, class order, cell-wise split, augmentation, training, CLIs, the bundled card."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from karyospectrum import CHROMOSOMES
from karyospectrum import classifier as C
from karyospectrum import classifier_training as CT
from karyospectrum.checkpoints import load_checkpoint, save_checkpoint
from karyospectrum.errors import InputError
from karyospectrum.synthetic import render_chromosome
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "resources" / "models" / "classifier.safetensors"
REAL = REPO.parent / "shared" / "data" / "chromosomes"


@pytest.mark.parametrize(
    "arch,size", [("resnet18", 48), ("resnet50", 48), ("vgg16", 32), ("inception_v3", 80)]
)
def test_models_take_one_channel_and_give_24_classes(arch, size):
    import torch

    m = C.build_model(arch).eval()
    with torch.no_grad():
        out = m(torch.zeros(2, 1, size, size))
    assert out.shape == (2, 24)


def test_unknown_arch_and_preset_are_refused():
    with pytest.raises(InputError):
        C.recipe_from("cpu", arch="alexnet")
    with pytest.raises(InputError):
        C.recipe_from("tpu")


def test_presets_keep_the_original_recipe():
    gpu = C.recipe_from("gpu")
    assert (gpu.size, gpu.batch, gpu.lr, gpu.weight_decay, gpu.step_size, gpu.gamma, gpu.patience) == (
        224,
        16,
        1e-4,
        1e-5,
        30,
        0.1,
        10,
    )
    assert gpu.optimizer == "adam" and gpu.blur_sigma == (0.1, 5.0)
    assert C.recipe_from("cpu").size <= 96
    assert C.default_size("inception_v3") == 299


def test_classes_are_in_chromosome_order(tmp_path):
    assert C.CLASS_INDEX["2"] == 1 and C.CLASS_INDEX["10"] == 9 and C.CLASS_INDEX["X"] == 22
    (tmp_path / "m.csv").write_text("path,chrom,cell_id\na.png,chr10,c1\nb.png,X,c1\n")
    m = C.read_manifest(tmp_path / "m.csv")
    assert list(m.chrom) == ["10", "X"]
    assert m.file[0] == str(tmp_path / "a.png")
    (tmp_path / "bad.csv").write_text("path,chrom\na.png,23\n")
    with pytest.raises(InputError, match="unknown chromosome"):
        C.read_manifest(tmp_path / "bad.csv")


def test_split_is_by_cell_and_stable():
    cells = [f"cell{i}" for i in range(400) for _ in range(3)]
    split = C.split_groups(cells, 0.1, 0.2, seed=0)
    by_cell = {}
    for c, s in zip(cells, split):
        by_cell.setdefault(c, set()).add(s)
    assert all(len(v) == 1 for v in by_cell.values())
    share = {s: np.mean([next(iter(v)) == s for v in by_cell.values()]) for s in ("train", "val", "test")}
    assert 0.13 < share["test"] < 0.27 and 0.05 < share["val"] < 0.15
    assert np.array_equal(split, C.split_groups(list(reversed(cells)), 0.1, 0.2, seed=0)[::-1])


def test_augment_is_seeded_and_bounded():
    import torch

    r = C.recipe_from("cpu", blur_p=1.0)
    x = torch.zeros(8, 1, 32, 32)
    x[:, :, 8:24, 12:20] = 1
    a = C.augment(x.clone(), r, torch.Generator().manual_seed(1))
    b = C.augment(x.clone(), r, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == x.shape
    assert 0 <= float(a.min()) and float(a.max()) <= 1
    assert not torch.equal(a, x)


def test_training_learns_synthetic_chromosomes_and_resumes(tmp_path):
    data = CT.synthetic_set(2, 32)
    r = C.recipe_from(
        "cpu",
        size=32,
        epochs=12,
        batch=16,
        lr=2e-3,
        blur_p=0.0,
        rotation=0.0,
        translate=0.0,
        scale=(1.0, 1.0),
        brightness=0.0,
        contrast=0.0,
        hflip=False,
        patience=50,
        max_minutes=0,
        schedule="step",
        ema=0.9,
        amp=False,
    )
    state = tmp_path / "state.pt"
    model, hist, info = CT.train(
        r, data, data, "cpu", state_path=state, metrics_path=tmp_path / "m.jsonl", progress=False
    )
    assert len(hist) == 12 and info["epochs_run"] == 12 and info["weights"] in ("raw", "ema")
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert max(h["val_acc"] for h in hist) > 0.3  # chance is 1/24
    assert {"val_acc_raw", "val_acc_ema"} <= set(hist[-1])
    lines = (tmp_path / "m.jsonl").read_text().splitlines()
    assert len(lines) == 12 and "val_acc" in json.loads(lines[-1])
    # resume: a longer run continues from the state file, a changed recipe is refused
    r.epochs = 13
    _, hist2, info2 = CT.train(
        r, data, data, "cpu", state_path=state, metrics_path=tmp_path / "m.jsonl", resume=True, progress=False
    )
    assert len(hist2) == 13 and hist2[:12] == hist and info2["epochs_run"] == 13
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == 13
    r.lr = 1e-2
    with pytest.raises(InputError, match="another recipe"):
        CT.train(r, data, data, "cpu", state_path=state, resume=True, progress=False)
    save_checkpoint(tmp_path / "c.safetensors", model.state_dict(), C.base_card(r), half=True)
    clf = C.Classifier.load(tmp_path / "c.safetensors", device="cpu")
    probs = clf.predict([render_chromosome("1"), Image.new("L", (20, 60), 255)])
    assert probs.shape == (2, 24) and np.allclose(probs.sum(1), 1, atol=1e-4)
    tta, scores = CT.choose_tta(model, data, "cpu")
    assert tta in C.TTA_MODES and set(scores) == set(C.TTA_MODES)


def test_old_cards_keep_their_preprocessing(tmp_path):
    C.init_checkpoint(tmp_path / "c.safetensors", size=32)
    card = json.loads((tmp_path / "c.json").read_text())
    del card["preprocess_version"]
    (tmp_path / "c.json").write_text(json.dumps(card))
    clf = C.Classifier.load(tmp_path / "c.safetensors", device="cpu")
    g = render_chromosome("3")
    assert clf.version == 1 and np.allclose(clf.squares([g])[0], C.preprocess(g, 32, version=1))
    assert np.allclose(clf.squares([255 - g])[0], clf.squares([g])[0])  # polarity checked for old cards too
    card["tta"] = "spin"
    (tmp_path / "c.json").write_text(json.dumps(card))
    with pytest.raises(InputError, match="TTA"):
        C.Classifier.load(tmp_path / "c.safetensors", device="cpu")


def test_checkpoint_of_another_kind_or_arch_is_refused(tmp_path):
    w = tmp_path / "g.safetensors"
    C.init_checkpoint(w, size=32)
    card = json.loads((tmp_path / "g.json").read_text())
    card["kind"] = "generator"
    (tmp_path / "g.json").write_text(json.dumps(card))
    with pytest.raises(InputError, match="generator"):
        C.Classifier.load(w, device="cpu")
    card["kind"], card["arch"] = "classifier", "resnet50"
    (tmp_path / "g.json").write_text(json.dumps(card))
    with pytest.raises(InputError, match="do not fit"):
        C.Classifier.load(w, device="cpu")


def write_crops(root: Path, cells=2, chroms=("1", "7", "21", "X")):
    rng = np.random.default_rng(0)
    rows = ["path,chrom,cell_id"]
    for cell in range(cells):
        for c in chroms:
            p = f"images/{c}/c{cell}_{c}.png"
            (root / "images" / c).mkdir(parents=True, exist_ok=True)
            Image.fromarray(render_chromosome(c, rng)).save(root / p)
            rows.append(f"{p},{c},cell{cell}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


def run_script(name, *args):
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_train_classifier_cli_writes_card_and_metrics(tmp_path):
    manifest = write_crops(tmp_path / "data", cells=12)
    out = tmp_path / "m" / "clf.safetensors"
    r = run_script(
        "train_classifier.py",
        "--manifest",
        manifest,
        "--size",
        "32",
        "--epochs",
        "1",
        "--val-frac",
        "0.25",
        "--test-frac",
        "0.25",
        "--out",
        out,
        "--metrics",
        tmp_path / "m.jsonl",
        "--confusion",
        tmp_path / "cm.png",
        "--per-class",
        tmp_path / "pc.tsv",
        "--threads",
        "1",
        "--no-progress",
        "--heldout",
        manifest,
        "--set",
        "synthetic=2",
        "--set",
        "synthetic_epochs=1",
    )
    assert r.returncode == 0, r.stderr
    state, card = load_checkpoint(out, kind="classifier", arch="resnet18")
    assert card["classes"] == CHROMOSOMES and card["size"] == 32
    assert "train_classifier.py" in card["command"] and "--manifest" in card["command"]
    assert "cell_id" in card["data"]["split"]
    assert card["synthetic_pretraining"]["crops"] == 48 and card["data"]["synthetic_crops"] == 48
    assert card["preprocess_version"] == C.PREPROCESS_VERSION and card["tta"] in C.TTA_MODES
    assert set(card["metrics"]) >= {"val_cells", "test_cells", "test_cells_inverted", "heldout:data"}
    assert {"crop_accuracy", "cell_level_accuracy"} <= set(card["metrics"]["test_cells"])
    assert Image.open(tmp_path / "cm.png").size[0] > 100
    assert (tmp_path / "pc.tsv").read_text().startswith("chrom\tcrops")
    dry = run_script(
        "train_classifier.py", "--manifest", manifest, "--out", out, "--preset", "gpu", "--dry-run"
    )
    assert json.loads(dry.stdout)["size"] == 224
    dry = run_script(
        "train_classifier.py", "--manifest", manifest, "--out", out, "--preset", "cpu64", "--dry-run"
    )
    assert json.loads(dry.stdout)["size"] == 64 and json.loads(dry.stdout)["shift_p"] > 0
    # warm start only from weights of the same cell split (else test cells could leak)
    bad = run_script(
        "train_classifier.py", "--manifest", manifest, "--out", out, "--init", out, "--test-frac", "0.3"
    )
    assert bad.returncode == 2 and "same cell split" in bad.stderr and "Traceback" not in bad.stderr


def test_classify_cli_manifest_layout_and_bad_input(tmp_path):
    from karyospectrum.karyogram import render_karyogram

    manifest = write_crops(tmp_path / "data", cells=2)
    ckpt = tmp_path / "clf.safetensors"
    C.init_checkpoint(ckpt, size=32)
    out = tmp_path / "out.tsv"
    r = run_script(
        "classify.py",
        "--checkpoint",
        ckpt,
        "--manifest",
        manifest,
        "--group-by",
        "cell_id",
        "--out",
        out,
        "--summary",
        tmp_path / "s.json",
        "--karyogram",
        tmp_path / "k.png",
    )
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0].split("\t") == [
        "path",
        "pred",
        "prob",
        "top3",
        "expected",
        "cell",
        "assigned",
        "cell_fits",
    ]
    assert len(lines) == 9
    first = lines[1].split("\t")
    assert first[0] == "images/1/c0_1.png" and first[1] in CHROMOSOMES and len(first[3].split(",")) == 3
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["cells"] == 2 and s["cells_fitting_46"] == 0 and 0 <= s["crop_accuracy"] <= 1
    assert Image.open(tmp_path / "k.png").size[0] > 200
    # an art karyogram: its layout boxes are cropped and scored against their chromosome
    rng = np.random.default_rng(1)
    pics = {(c, k): Image.fromarray(render_chromosome(c, rng)) for c in ("1", "2", "X") for k in (1, 2)}
    img, layout = render_karyogram(pics, title="S1", shaped=False)
    img.save(tmp_path / "S1.png")
    (tmp_path / "S1.layout.json").write_text(json.dumps(layout))
    r = run_script(
        "classify.py",
        "--checkpoint",
        ckpt,
        "--layout",
        tmp_path / "S1.layout.json",
        "--image",
        tmp_path / "S1.png",
        "--out",
        tmp_path / "S1.tsv",
        "--summary",
        tmp_path / "S1.json",
        "--sample",
        "S1",
        "--batch-manifest",
        tmp_path / "batch.tsv",
    )
    assert r.returncode == 0, r.stderr
    # the batch manifest lists the sample's files; the legibility table reads it as it reads the summaries
    assert (
        tmp_path / "batch.tsv"
    ).read_text() == f"sample\ttsv\tsummary\nS1\t{tmp_path}/S1.tsv\t{tmp_path}/S1.json\n"
    for name, source in (("by-manifest", "batch.tsv"), ("by-summary", "S1.json")):
        r = run_script("classify.py", "--legibility", tmp_path / source, "--out", tmp_path / f"{name}.tsv")
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "by-manifest.tsv").read_text() == (tmp_path / "by-summary.tsv").read_text()
    rows = (tmp_path / "S1.tsv").read_text().splitlines()
    assert rows[0].split("\t") == ["box", "copy", "pred", "prob", "top3", "expected"] and len(rows) == 7
    summ = json.loads((tmp_path / "S1.json").read_text())
    exp = np.mean([r.split("\t")[2] == r.split("\t")[5] for r in rows[1:]])
    assert summ["boxes"] == 6 and summ["legibility"] == pytest.approx(exp, abs=1e-3)
    # bad input: one line, exit 2
    (tmp_path / "bad.png").write_text("not an image")
    r = run_script("classify.py", "--checkpoint", ckpt, "--image", tmp_path / "bad.png")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in r.stderr and "not an image" in r.stderr
    r = run_script(
        "classify.py", "--checkpoint", tmp_path / "none.safetensors", "--image", tmp_path / "S1.png"
    )
    assert r.returncode == 2 and "checkpoint not found" in r.stderr


@pytest.mark.skipif(not BUNDLED.exists(), reason="bundled classifier not built yet (rule train_classifier)")
def test_bundled_classifier_card():
    assert BUNDLED.stat().st_size < 25 * 1024 * 1024
    state, card = load_checkpoint(BUNDLED, kind="classifier")
    assert card["arch"] in C.ARCHS and card["classes"] == CHROMOSOMES
    assert "train_classifier.py" in card["command"]
    assert "cell" in card["data"]["split"] and card["data"]["crops"] > 1000
    for key in ("crop_accuracy", "cell_level_accuracy", "cells"):
        assert key in card["metrics"]["test_cells"]
    clf = C.Classifier.load(BUNDLED, device="cpu")
    assert clf.predict([render_chromosome("5")]).shape == (1, 24)


@pytest.mark.skipif(
    not (BUNDLED.exists() and (REAL / "seed-gband").is_dir()),
    reason="needs the bundled classifier and ../shared/data/chromosomes (not in the repo)",
)
def test_bundled_classifier_reads_real_crops():
    m = C.read_manifest(REAL / "seed-gband" / "manifest.csv").groupby("chrom").head(2)
    clf = C.Classifier.load(BUNDLED, device="cpu")
    probs = clf.predict([C.load_grey(f) for f in m.file])
    acc = np.mean([CHROMOSOMES[i] == c for i, c in zip(probs.argmax(1), m.chrom)])
    assert acc > 0.5  # chance is 1/24


def test_classify_input_rule_runs_on_a_folder_a_manifest_and_a_spread(tmp_path):
    """Rule classify_input via the Snakemake CLI: one TSV + sorted karyogram per configured input."""
    import yaml
    from karyospectrum.synthetic import render_spread

    data = tmp_path / "data"
    manifest = write_crops(data, cells=1)
    spread, _ = render_spread(np.random.default_rng(2), size=(500, 500), touching=0.0)
    Image.fromarray(spread).save(tmp_path / "spread.png")
    C.init_checkpoint(tmp_path / "clf.safetensors", size=32)
    vcf = REPO / "resources" / "example" / "cohort.vcf.gz"  # the sheet's VCF is checked at parse time
    (tmp_path / "samples.tsv").write_text(f"sample\tcohort\tvcf\nS1\tc1\t{vcf}\n")
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["samples"] = str(tmp_path / "samples.tsv")
    cfg["classifier"].update(
        checkpoint=str(tmp_path / "clf.safetensors"),
        group_by="",
        inputs=[str(data / "images"), str(manifest), str(tmp_path / "spread.png")],
    )
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    # the rules call `python`: the one running the tests
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    targets = [
        f"results/classify/inputs/{n}.{e}"
        for n in ("images", "manifest", "spread")
        for e in ("tsv", "karyogram.png")
    ]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            *targets,
            "-s",
            str(REPO / "workflow" / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(tmp_path / "config.yaml"),
            "--cores",
            "2",
            "--resources",
            "gpu=1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    folder = (tmp_path / targets[0]).read_text().splitlines()
    assert folder[0].split("\t")[:5] == ["path", "pred", "prob", "top3", "expected"] and len(folder) == 5
    assert "assigned" in folder[0]  # a folder is one cell unless classifier.group_by is set
    assert len((tmp_path / targets[2]).read_text().splitlines()) == 5
    sp = (tmp_path / targets[4]).read_text().splitlines()
    assert sp[0].split("\t") == ["box", "pred", "prob", "top3", "assigned"] and len(sp) > 30
    for t in targets[1::2]:
        assert Image.open(tmp_path / t).size[0] > 200
