"""The one shape of the three trainers (generator, pix2pix, classifier).

A preset is a row of a presets table with overrides on top (``--set KEY=VALUE``; an unknown preset
or key is refused in one line); a run resumes from its state file; one time budget, ``max_minutes``
(0 = none), counts the minutes of every run; metrics are JSONL, one row per epoch; and one function,
:func:`save_model`, writes the trained weights (fp16) with their model card.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

import numpy as np

from .checkpoints import save_checkpoint
from .errors import InputError
from .io import atomic_path, write_text

# --- presets and overrides -------------------------------------------------------------------------


def parse_value(text: str):
    """``--set key=value`` values: JSON when it parses (numbers, lists, true), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(items, strict: bool = False) -> dict:
    """``--set KEY=VALUE`` items -> overrides; ``strict``: the value must be JSON."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(None, f"--set expects KEY=VALUE, got {item!r}")
        if strict:
            try:
                out[key] = json.loads(value)
            except json.JSONDecodeError:
                raise InputError(None, f"--set {key}: {value!r} is not JSON") from None
        else:
            out[key.strip()] = parse_value(value)
    return out


def given(values: dict | None) -> dict:
    """The options that were given (None = not given: the preset's value stands)."""
    return {k: v for k, v in (values or {}).items() if v is not None}


def preset_config(presets: dict, preset: str) -> dict:
    """A copy of one row of a presets table, or one line naming the presets."""
    if preset not in presets:
        raise InputError(None, f"unknown preset {preset!r} (one of {', '.join(presets)})")
    return dict(presets[preset])


def coerce(value, default):
    """Values from the command line or `snakemake --config` may arrive as strings ("3", ["144", "256"])."""
    if isinstance(value, str) and not isinstance(default, str):
        return parse_value(value)
    if isinstance(value, list):
        return [parse_value(v) if isinstance(v, str) else v for v in value]
    return value


def apply_overrides(cfg: dict, overrides: dict, unknown, extra_keys=()) -> dict:
    """``cfg`` with the given overrides on top; a key not in ``cfg`` (nor ``extra_keys``) is refused with
    the one line ``unknown(key)``."""
    for key, value in given(overrides).items():
        if key not in cfg and key not in extra_keys:
            raise InputError(None, unknown(key))
        cfg[key] = coerce(value, cfg.get(key))
    return cfg


def check_positive(cfg: dict, keys, minimum: int = 1) -> None:
    for key in keys:
        if int(cfg[key]) < minimum:
            raise InputError(None, f"{key} must be >= {minimum}")


def trainer_parser(doc: str, presets, default: str, set_help: str) -> argparse.ArgumentParser:
    """A training step's parser, opening with ``--preset`` and ``--set KEY=VALUE``."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--preset", default=default, choices=sorted(presets), help=f"named recipe (default: {default})"
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    return p


def add_run_args(
    p, out: str | None = None, train_dir: bool = True, no_resume: bool = True, progress: bool = True
):
    """The options every training step shares: ``--out`` (required unless ``out`` is its default),
    ``--train-dir``, ``--device``, ``--threads``, ``--no-resume``, ``--dry-run``, ``--no-progress``, ``--log``."""
    p.add_argument(
        "--out", default=out, required=out is None, help="weights (.safetensors); the card goes beside them"
    )
    if train_dir:
        p.add_argument(
            "--train-dir", help="metrics, samples and state (default: <out>.train beside the weights)"
        )
    p.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda, cuda:1")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    if no_resume:
        p.add_argument(
            "--no-resume", action="store_true", help="ignore a state.pt left by an interrupted run"
        )
    p.add_argument("--dry-run", action="store_true", help="print the resolved recipe as JSON and exit")
    if progress:
        p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    p.add_argument("--log", help="log file")


def command_line(script: str, argv) -> str:
    """The command that made a model, for its card."""
    return f"python scripts/{script} " + shlex.join(argv)


def train_dir_for(weights) -> Path:
    """The training folder beside the weights: ``<name>.train/``."""
    weights = Path(weights)
    return weights.with_name(weights.name.removesuffix(".safetensors") + ".train")


def check_weights_path(weights) -> Path:
    weights = Path(weights)
    if weights.suffix != ".safetensors":
        raise InputError(weights, "the output weights must end in .safetensors")
    return weights


# --- time budget, resume state, metrics ------------------------------------------------------------


class TimeBudget:
    """The one time budget, ``max_minutes`` (0 = none), counting ``seconds_before`` of earlier runs."""

    def __init__(self, max_minutes, seconds_before: float = 0.0):
        self.max_minutes = float(max_minutes or 0)
        self.before = float(seconds_before)
        self.started = time.time()

    def seconds(self) -> float:
        return self.before + time.time() - self.started

    def minutes(self) -> float:
        return self.seconds() / 60

    def fraction(self) -> float:
        """The share of the budget spent (0 without a budget)."""
        return self.seconds() / (self.max_minutes * 60) if self.max_minutes else 0.0

    def spent(self) -> bool:
        return bool(self.max_minutes) and self.seconds() >= self.max_minutes * 60


def load_state(path: Path, map_location="cpu") -> dict:
    """A resume state (``torch.save``); an unreadable one is bad input."""
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unreadable state is bad input
        raise InputError(path, f"unreadable resume state ({str(err).splitlines()[0]})") from None


def save_state(path: Path, state: dict) -> None:
    """Write a resume state atomically (an interrupted save leaves the last one)."""
    import torch

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)


def resume(trainer, state_path: Path, enabled: bool, log) -> None:
    """Load ``state_path`` into a trainer with ``load_state_dict(state, path)`` when it exists."""
    if enabled and state_path.exists():
        trainer.load_state_dict(load_state(state_path, trainer.device), state_path)
        log.info("resumed from %s at epoch %d", state_path, trainer.epoch)


def write_metrics(path, rows: list[dict]) -> None:
    """The whole metrics JSONL (one row per epoch), atomically."""
    write_text(path, "".join(json.dumps(m) + "\n" for m in rows))


def append_metrics(path, row: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")


def log_epoch(log, epoch: int, row: dict, digits: int = 4) -> None:
    shown = {k: round(v, digits) if isinstance(v, float) else v for k, v in row.items()}
    log.info("epoch %d: %s", epoch, json.dumps(shown))


# --- the model ---------------------------------------------------------------------------------------


def save_model(weights, state_dict: dict, card: dict, device, command: str, **extra) -> dict:
    """The one writer of a trained model: fp16 weights and the model card beside them. The card ends
    with the run's device, torch version and command (then ``extra``); returns it."""
    import torch

    card = {**card, "device": str(device), "torch": torch.__version__, "command": command, **extra}
    save_checkpoint(weights, state_dict, card, half=True)
    return card


# --- per-epoch pictures ------------------------------------------------------------------------------


def image_grid(rows: list[np.ndarray], pad: int = 2, columns: int | None = None) -> np.ndarray:
    """Rows of [n, h, w, c] uint8 images -> one grid with white gaps (``columns`` wide, default the
    first row's length)."""
    _, h, w, c = rows[0].shape
    columns = columns or len(rows[0])
    out = np.full((len(rows) * (h + pad) + pad, columns * (w + pad) + pad, c), 255, np.uint8)
    for r, imgs in enumerate(rows):
        for i, img in enumerate(imgs):
            y, x = pad + r * (h + pad), pad + i * (w + pad)
            out[y : y + h, x : x + w] = img
    return out


def tiled(images: np.ndarray, nrow: int = 8) -> np.ndarray:
    """A batch of [n, h, w, c] images as a grid ``nrow`` wide."""
    return image_grid([images[i : i + nrow] for i in range(0, len(images), nrow)], columns=nrow)


def plot_metrics(metrics: list[dict], path: Path) -> None:
    """The generator's losses per epoch, and its FID where measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ep = [m["epoch"] for m in metrics]
    ax.plot(ep, [m["loss_d"] for m in metrics], "o-", label="D / critic loss")
    ax.plot(ep, [np.nan if m.get("loss_g") is None else m["loss_g"] for m in metrics], "s-", label="G loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    fids = [(m["epoch"], m["fid"]) for m in metrics if m.get("fid") is not None]
    if fids:
        ax2 = ax.twinx()
        ax2.plot(*zip(*fids), "D--", color="tab:red", label="FID")
        ax2.set_ylabel("FID (lower is better)")
        ax2.legend(loc="upper right")
    ax.legend(loc="upper left")
    ax.set_title("generator training")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
