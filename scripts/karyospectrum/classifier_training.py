"""Training the chromosome classifier: the cell-wise split, the loop (EMA, resume, time budget, metrics
JSONL), synthetic crops, evaluation at crop and cell level, TTA chosen on validation cells, and the card.

Every setting is chosen on validation cells; test cells and held-out sets are only scored at the end.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import CHROMOSOMES
from . import classifier as C
from .checkpoints import check_resume_config, load_checkpoint
from .errors import InputError
from .io import atomic_path, write_text
from .karyotype import score_cells
from .training import TimeBudget, append_metrics, load_state, log_epoch, save_model, save_state, write_metrics

log = logging.getLogger("karyospectrum.classifier_training")

# Recipe keys that may change between a run and its resume (budget, length, patience).
RESUMABLE_CHANGES = ("epochs", "max_minutes", "patience")


@dataclass
class CropSet:
    """Crops of one part: raw grey crops, their preprocessed squares (uint8), labels and cells."""

    raw: list
    squares: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    name: str = ""

    def __len__(self) -> int:
        return len(self.y)

    def inverted(self) -> "CropSet":
        """The same crops with their polarity inverted (bright chromosomes on black), re-preprocessed."""
        size = self.squares.shape[-1]
        raw = [255 - np.asarray(g, np.uint8) for g in self.raw]
        sq = np.stack([C.to_u8_square(C.preprocess(g, size)) for g in raw]) if raw else self.squares
        return CropSet(raw, sq, self.y, self.groups, self.name + " inverted")


@dataclass
class Split:
    """The cell-wise split of one manifest."""

    manifest: Path
    group_column: str
    val_frac: float
    test_frac: float
    seed: int
    parts: dict = field(default_factory=dict)  # train/val/test -> CropSet
    cells: dict = field(default_factory=dict)

    def params(self) -> dict:
        return {
            "group_column": self.group_column,
            "val_frac": self.val_frac,
            "test_frac": self.test_frac,
            "seed": self.seed,
        }


def load_set(frame, group_column: str, size: int, name: str) -> CropSet:
    raw: list = []
    squares = C.load_squares(frame.file.tolist(), size, raw=raw)
    y = np.array([C.CLASS_INDEX[c] for c in frame.chrom], np.int64)
    return CropSet(raw, squares, y, frame[group_column].to_numpy(), name)


def load_split(
    manifest, group_column: str, val_frac: float, test_frac: float, seed: int, size: int, limit: int = 0
) -> Split:
    """Read a manifest and split it by cell (never by image); ``limit`` keeps a few crops per part."""
    import pandas as pd

    m = C.read_manifest(manifest)
    if group_column not in m.columns:
        raise InputError(manifest, f"no {group_column!r} column to split by cell")
    m["split"] = C.split_groups(m[group_column], val_frac, test_frac, seed)
    if limit:  # smoke tests: a few crops of each part, still split by cell
        m = pd.concat([d.sample(n=min(limit, len(d)), random_state=0) for _, d in m.groupby("split")])
    split = Split(Path(manifest), group_column, val_frac, test_frac, seed)
    split.cells = {k: int(v) for k, v in m.groupby("split")[group_column].nunique().items()}
    for part in ("train", "val", "test"):
        split.parts[part] = load_set(m[m.split == part], group_column, size, part)
    log.info("split by %s: %s cells, %s crops", group_column, split.cells, m.split.value_counts().to_dict())
    return split


def load_heldout(manifest, group_column: str, size: int) -> CropSet:
    m = C.read_manifest(manifest)
    col = group_column if group_column in m.columns else "cell_id"
    if col not in m.columns:
        raise InputError(manifest, f"no {group_column!r} column naming the cell")
    return load_set(m, col, size, Path(manifest).parent.name)


def synthetic_set(per_class: int, size: int, seed: int = 0) -> CropSet:
    """Crops of the synthetic G-band renderer, ``per_class`` of each chromosome."""
    from .synthetic import render_chromosome

    rng = np.random.default_rng(10_000 + seed)
    raw, ys = [], []
    for i, c in enumerate(CHROMOSOMES):
        for _ in range(per_class):
            raw.append(render_chromosome(c, rng))
            ys.append(i)
    sq = np.stack([C.to_u8_square(C.preprocess(g, size)) for g in raw]) if raw else np.zeros((0, size, size))
    y = np.array(ys, np.int64)
    return CropSet(raw, sq.astype(np.uint8), y, np.array(["synthetic"] * len(y)), "synthetic")


def concat(a: CropSet, b: CropSet) -> CropSet:
    if not len(b):
        return a
    return CropSet(
        a.raw + b.raw,
        np.concatenate([a.squares, b.squares]),
        np.concatenate([a.y, b.y]),
        np.concatenate([a.groups.astype(object), b.groups.astype(object)]),
        a.name,
    )


# --------------------------------------------------------------------------- the loop


def make_optimizer(model, r: C.Recipe):
    import torch

    p = model.parameters()
    if r.optimizer == "adam":
        return torch.optim.Adam(p, lr=r.lr, weight_decay=r.weight_decay)
    if r.optimizer == "adamw":
        return torch.optim.AdamW(p, lr=r.lr, weight_decay=r.weight_decay)
    if r.optimizer == "sgd":
        return torch.optim.SGD(p, lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay)
    return torch.optim.RMSprop(p, lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay)


def make_batch(data: CropSet, idx: np.ndarray, r: C.Recipe, rng: np.random.Generator):
    """Squares of ``idx`` in [0, 1]; a share ``shift_p`` is re-made from a lab-shifted raw crop."""
    x = data.squares[idx].astype(np.float32) / 255.0
    if r.shift_p > 0:
        for k, j in enumerate(idx):
            if rng.random() < r.shift_p:
                x[k] = C.preprocess(C.lab_shift(data.raw[j], rng, r.invert_p), r.size)
    return x


def lr_factor(r: C.Recipe, minutes: float, epoch: int) -> float:
    """Linear warm-up over the first 3% of the budget, then cosine to 1% (time) or StepLR (step)."""
    if r.schedule == "time":
        frac = min(minutes / r.max_minutes, 1.0)
        warm = min(1.0, frac / 0.03) if frac < 0.03 else 1.0
        return max(warm, 0.05) * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * frac)))
    return r.gamma ** (epoch // max(r.step_size, 1))


def accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    return float((probs.argmax(1) == y).mean()) if len(y) else 0.0


@dataclass
class _Run:
    """What one training updates: the model, its EMA, the optimiser and AMP scaler, the batch RNG."""

    r: C.Recipe
    device: object
    model: object
    ema: object
    opt: object
    scaler: object
    rng: np.random.Generator
    dev_type: str
    amp_dtype: object


def _start(r: C.Recipe, device, init_state: dict | None) -> _Run:
    import torch
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    torch.manual_seed(r.seed)
    model = build(r, device, init_state)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(r.ema), use_buffers=True) if r.ema else None
    opt = make_optimizer(model, r)
    rng = np.random.default_rng(r.seed)
    dev_type = torch.device(device).type
    amp_dtype = torch.float16 if dev_type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler(dev_type, enabled=r.amp and dev_type == "cuda")
    return _Run(r, device, model, ema, opt, scaler, rng, dev_type, amp_dtype)


def _save(run: _Run, path: Path, history: list, loop: dict) -> None:
    """The whole state after an epoch: recipe, weights, optimiser, EMA, both RNGs, history, loop."""
    import torch

    state = {
        "recipe": C.recipe_dict(run.r),
        "model": run.model.state_dict(),
        "opt": run.opt.state_dict(),
        "ema": run.ema.state_dict() if run.ema is not None else None,
        "rng": run.rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "history": history,
        "loop": loop,
    }
    save_state(path, state)


def _resume(run: _Run, state_path: Path) -> tuple[list, dict]:
    """Load a state file (of the same recipe) into the run; returns its history and loop state."""
    import torch

    saved = load_state(state_path)
    check_resume_config(
        state_path, saved.get("recipe", {}), C.recipe_dict(run.r), RESUMABLE_CHANGES, "recipe"
    )
    run.model.load_state_dict(saved["model"])
    run.opt.load_state_dict(saved["opt"])
    if run.ema is not None and saved.get("ema"):
        run.ema.load_state_dict(saved["ema"])
    run.rng.bit_generator.state = saved["rng"]
    torch.set_rng_state(saved["torch_rng"])
    st = saved["loop"]
    log.info("resumed from %s after epoch %d (%.1f min)", state_path, st["epoch"], st["minutes"])
    return saved["history"], st


def _train_epoch(run: _Run, data: CropSet, epoch: int, budget: TimeBudget, progress: bool) -> dict:
    """One pass over the training crops (cut short when the budget is spent); its row of metrics."""
    import torch
    import torch.nn.functional as F

    r, model, opt = run.r, run.model, run.opt
    n = len(data)
    model.train()
    perm = run.rng.permutation(n)
    steps = range(0, n - (n % r.batch if n > r.batch else 0), r.batch)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc=f"epoch {epoch}/{r.epochs}", leave=False, mininterval=10)
    tot_loss, tot_ok, seen, t_epoch = 0.0, 0, 0, time.time()
    for i in steps:
        if budget.spent():
            break
        for g in opt.param_groups:
            g["lr"] = r.lr * lr_factor(r, budget.minutes(), epoch - 1)
        idx = perm[i : i + r.batch]
        x = torch.from_numpy(make_batch(data, idx, r, run.rng)).unsqueeze(1)
        x = C.augment(x, r, None)
        x = ((x - C.MEAN) / C.STD).to(run.device).contiguous(memory_format=torch.channels_last)
        y = torch.as_tensor(data.y[idx], dtype=torch.long).to(run.device)
        with torch.autocast(run.dev_type, dtype=run.amp_dtype, enabled=r.amp):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=r.label_smoothing)
        opt.zero_grad(set_to_none=True)
        run.scaler.scale(loss).backward()
        run.scaler.step(opt)
        run.scaler.update()
        if run.ema is not None:
            run.ema.update_parameters(model)
        tot_loss += loss.item() * len(idx)
        tot_ok += int((logits.argmax(1) == y).sum())
        seen += len(idx)
    return {
        "epoch": epoch,
        "lr": opt.param_groups[0]["lr"],
        "train_loss": tot_loss / max(seen, 1),
        "train_acc": tot_ok / max(seen, 1),
        "crops_per_s": seen / max(time.time() - t_epoch, 1e-9),
    }


def _validate(run: _Run, val: CropSet, rec: dict, st: dict, epoch: int) -> None:
    """Validation accuracy of the raw and EMA weights; the best so far is kept in ``st``."""
    candidates = {"raw": run.model} | ({"ema": run.ema.module} if run.ema is not None else {})
    improved = False
    for which, m in candidates.items():
        probs = C.predict_squares(m, val.squares, run.device)
        acc = accuracy(probs, val.y)
        rec[f"val_acc_{which}"] = acc
        if which == "raw":
            rec["val_acc"] = acc
            rec["val_loss"] = (
                float(-np.log(probs[np.arange(len(val.y)), val.y] + 1e-9).mean()) if len(val.y) else 0.0
            )
        if acc > st["best"]:
            st["best"], improved = acc, True
            st["best_state"] = copy.deepcopy(m.state_dict())
            st["best_info"] = {"epoch": epoch, "weights": which, "val_acc": acc}
    st["bad"] = 0 if improved else st["bad"] + 1


def train(
    r: C.Recipe,
    data: CropSet,
    val: CropSet,
    device,
    state_path: str | Path | None = None,
    metrics_path: str | Path | None = None,
    resume: bool = False,
    init_state: dict | None = None,
    progress: bool = True,
):
    """Train; keep the best of raw and EMA weights by validation accuracy.

    Returns (model holding the best weights, history, info). With ``state_path`` the whole state is saved
    after every epoch and, with ``resume``, a run picks up where the state file left it; the time budget
    ``max_minutes`` counts the minutes of every run.
    """
    run = _start(r, device, init_state)
    st = {"epoch": 0, "minutes": 0.0, "best": -1.0, "best_state": None, "best_info": {}, "bad": 0}
    history: list = []
    state_path = Path(state_path) if state_path else None
    if resume and state_path and state_path.exists():
        history, st = _resume(run, state_path)
    if metrics_path:
        Path(metrics_path).parent.mkdir(parents=True, exist_ok=True)
        write_metrics(metrics_path, history)
    budget = TimeBudget(r.max_minutes, st["minutes"] * 60)
    while st["epoch"] < r.epochs and not budget.spent() and st["bad"] < r.patience:
        epoch = st["epoch"] + 1
        rec = _train_epoch(run, data, epoch, budget, progress)
        _validate(run, val, rec, st, epoch)
        st["epoch"], st["minutes"] = epoch, budget.minutes()
        rec["minutes"] = st["minutes"]
        history.append(rec)
        log_epoch(log, epoch, rec, digits=5)
        if metrics_path:
            append_metrics(metrics_path, rec)
        if state_path:
            _save(run, state_path, history, st)
    if st["bad"] >= r.patience:
        log.info("early stopping: no better validation accuracy for %d epochs", r.patience)
    if budget.spent():
        log.info("stopping: the %.0f-minute budget is spent", r.max_minutes)
    if st["best_state"] is not None:
        run.model.load_state_dict(st["best_state"])
    info = dict(st["best_info"]) | {"epochs_run": st["epoch"], "minutes": round(st["minutes"], 1)}
    return run.model, history, info


def build(r: C.Recipe, device, init_state: dict | None = None):
    import torch

    model = C.build_model(r.arch)
    if init_state is not None:
        model.load_state_dict(init_state)
    return model.to(device).to(memory_format=torch.channels_last)


def init_from(weights, r: C.Recipe, split: Split) -> tuple[dict, dict]:
    """Weights to start from, refused unless trained on the same cell split (so test cells stay unseen)."""
    state, card = load_checkpoint(weights, kind="classifier", arch=r.arch)
    theirs = card.get("data", {}).get("split_params")
    same_data = Path(card.get("data", {}).get("manifest", "")).parts[:1] == (split.manifest.parent.name,)
    if not same_data or theirs != split.params():
        raise InputError(weights, "was not trained on the same cell split: its test cells could leak")
    return state, {
        "from": Path(weights).name,
        "arch": card.get("arch"),
        "size": card.get("size"),
        "preprocess_version": card.get("preprocess_version", 1),
        "its_test_cells": card.get("metrics", {}).get("test_cells"),
    }


# --------------------------------------------------------------------------- evaluation


def score(model, crops: CropSet, device, tta: str = "none") -> tuple[dict, np.ndarray]:
    """Crop- and cell-level accuracy (joint assignment per cell) of a crop set; also the probabilities."""
    probs = C.predict_squares(model, crops.squares, device, tta=tta)
    res = score_cells(probs, crops.y, crops.groups)
    labels = res.pop("labels", None)
    return res, (probs, labels)


def choose_tta(model, val: CropSet, device) -> tuple[str, dict]:
    """The TTA mode with the best validation crop accuracy (ties go to the cheaper one)."""
    scores = {
        mode: accuracy(C.predict_squares(model, val.squares, device, tta=mode), val.y) for mode in C.TTA_MODES
    }
    best = max(C.TTA_MODES, key=lambda m: (round(scores[m], 6), -C.TTA_MODES.index(m)))
    return best, {m: round(v, 4) for m, v in scores.items()}


def per_class_table(y, pred, labels) -> str:
    rows = ["chrom\tcrops\tcrop_accuracy\tcell_level_accuracy"]
    for i, c in enumerate(CHROMOSOMES):
        sel = y == i
        if sel.any():
            rows.append(
                f"{c}\t{int(sel.sum())}\t{(pred[sel] == i).mean():.4f}\t{(labels[sel] == i).mean():.4f}"
            )
    return "\n".join(rows) + "\n"


def confusion_png(path, y, pred, title="classifier confusion on unseen cells (crop level)") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(CHROMOSOMES)
    cm = np.zeros((k, k), int)
    np.add.at(cm, (y, pred), 1)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), CHROMOSOMES, fontsize=7)
    ax.set_yticks(range(k), CHROMOSOMES, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                color = "w" if norm[i, j] > 0.5 else "k"
                ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=5, color=color)
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def evaluate_all(
    model, split: Split, heldout: list, device, tta: str, per_class=None, confusion=None
) -> dict:
    """Validation, unseen test cells (upright and inverted) and every held-out set (upright and inverted)."""
    metrics = {}
    for part in ("val", "test"):
        crops = split.parts[part]
        if not len(crops):
            metrics[f"{part}_cells"] = {}
            continue
        res, (probs, labels) = score(model, crops, device, tta)
        metrics[f"{part}_cells"] = res
        if part == "test":
            pred = probs.argmax(1)
            if per_class:
                write_text(per_class, per_class_table(crops.y, pred, labels))
            if confusion:
                confusion_png(confusion, crops.y, pred)
            metrics["test_cells_inverted"] = score(model, crops.inverted(), device, tta)[0]
    for h in heldout:
        metrics[f"heldout:{h.name}"] = score(model, h, device, tta)[0]
        metrics[f"heldout:{h.name}_inverted"] = score(model, h.inverted(), device, tta)[0]
    return metrics


# --------------------------------------------------------------------------- the whole run


def run(args, recipe: C.Recipe, command: str) -> dict:
    """Load, (pre-)train, choose TTA on validation, evaluate, write the weights, card and reports."""
    from .devices import pick_device, set_threads

    set_threads(args.threads)
    device = pick_device(args.device)
    t0 = time.time()
    split = load_split(
        args.manifest, args.group_column, args.val_frac, args.test_frac, recipe.seed, recipe.size, args.limit
    )
    heldout = [load_heldout(h, args.heldout_group_column, recipe.size) for h in args.heldout]
    synth = synthetic_set(recipe.synthetic, recipe.size, recipe.seed)
    log.info("loaded crops at %d px in %.0f s (+%d synthetic)", recipe.size, time.time() - t0, len(synth))
    init_state, init_info, pretrain = None, None, None
    if args.init:
        init_state, init_info = init_from(args.init, recipe, split)
    elif recipe.synthetic_epochs and len(synth):
        from dataclasses import replace

        pre = replace(recipe, epochs=recipe.synthetic_epochs, schedule="step", max_minutes=0, ema=0.0)
        pre_model, pre_hist, _ = train(pre, synth, split.parts["val"], device, progress=False)
        init_state = pre_model.state_dict()
        pretrain = {"crops": len(synth), "epochs": len(pre_hist), "val_acc_after": pre_hist[-1]["val_acc"]}
    state_path = Path(args.state) if args.state else Path(args.out).with_suffix(".state.pt")
    model, history, info = train(
        recipe,
        concat(split.parts["train"], synth),
        split.parts["val"],
        device,
        state_path=state_path,
        metrics_path=args.metrics,
        resume=args.resume,
        init_state=init_state,
        progress=not args.no_progress,
    )
    tta, tta_val = choose_tta(model, split.parts["val"], device)
    log.info("test-time augmentation chosen on validation cells: %s %s", tta, tta_val)
    metrics = evaluate_all(model, split, heldout, device, tta, args.per_class, args.confusion)
    log.info("metrics: %s", json.dumps(metrics))
    card = make_card(recipe, args, split, heldout, history, info, metrics, tta, tta_val, command)
    card = save_model(
        args.out, model.state_dict(), card, device, command, init=init_info, synthetic_pretraining=pretrain
    )
    log.info("wrote %s", args.out)
    return card


def make_card(recipe, args, split: Split, heldout, history, info, metrics, tta, tta_val, command) -> dict:
    """The model card: architecture, preprocessing, recipe, data and split, selection, metrics, command."""
    return C.base_card(recipe) | {
        "preset": args.preset,
        "tta": tta,
        "tta_val_crop_accuracy": tta_val,
        "selected": info,
        "epochs_run": info.get("epochs_run", 0),
        "best_epoch": info.get("epoch", 0),
        "training_minutes": info.get("minutes", 0.0),
        "data": {
            "manifest": split.manifest.parent.name + "/" + split.manifest.name,
            "crops": int(sum(len(p) for p in split.parts.values())),
            "synthetic_crops": recipe.synthetic * len(CHROMOSOMES),
            "split": f"by {split.group_column} (sha1 hash of seed:{split.group_column}, seed {split.seed}); "
            f"test {split.test_frac} of cells never seen, val {split.val_frac} for every choice "
            "(best epoch, raw vs EMA weights, TTA)",
            "split_params": split.params(),
            "cells": split.cells,
            "note": "real G-banded crops; see ../shared/data/chromosomes/README.md (no licence file upstream)",
            "heldout": [h.name for h in heldout],
        },
        "metrics": metrics,
        "history_tail": history[-3:],
        "cell_level": "linear_sum_assignment per cell: each autosome twice, XX or XY, extra copies penalised",
        "command": command,
    }
