"""All GAN networks in one place, as pytorch-CycleGAN-and-pix2pix keeps them.

Generators (``keras-reference``, ``dcgan``, ``resizeconv``), the matching discriminators
or critics, weight init, ``GANLoss`` (vanilla, lsgan, wgangp) and the gradient penalty.
Images are NCHW in [-1, 1]; resolution is ``(height, width)`` and may be non-square (16:9).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import init

from .errors import InputError

GENERATOR_ARCHS = ("keras-reference", "dcgan", "resizeconv", "cips")
NORMS = ("batch", "layer", "none", "spectral")


def base_grid(resolution) -> tuple[int, int, int]:
    """``(h0, w0, n_up)``: the smallest grid (sides >= 4) that doubles ``n_up`` times to ``resolution``.

    The grid keeps the exact aspect (16:9 at 144x256 starts from 9x16), so every layer uses the
    same square kernels at every scale and nothing is stretched: the cause of blurred 16:9 output.
    """
    h, w = int(resolution[0]), int(resolution[1])
    if h < 8 or w < 8:
        raise ValueError(f"resolution {h}x{w} is too small (sides >= 8)")
    n = 0
    while h % 2 ** (n + 1) == 0 and w % 2 ** (n + 1) == 0 and min(h, w) // 2 ** (n + 1) >= 4:
        n += 1
    if n < 1:
        raise ValueError(f"resolution {h}x{w} must be a grid of sides >= 4 doubled at least once")
    return h // 2**n, w // 2**n, n


def _channels(ngf: int, level: int, n_up: int, cap: int = 512) -> int:
    """Channels at ``level`` (0 = base grid, ``n_up`` = full resolution): halve per doubling."""
    return int(min(ngf * 2 ** (n_up - level), cap))


def _norm2d(norm: str, ch: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(ch)
    if norm == "layer":  # LayerNorm over (C, H, W): safe for the WGAN-GP critic (per-sample)
        return nn.GroupNorm(1, ch)
    if norm in ("none", "spectral"):  # spectral: no norm layer; the convs are spectrally normalised
        return nn.Identity()
    raise ValueError(f"unknown norm {norm!r} (one of {', '.join(NORMS)})")


class GeneratorBase(nn.Module):
    """Shared by all generators: ``latent_dim``, ``resolution`` and ``sample_latents``."""

    latent_dim: int
    resolution: tuple[int, int]

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, generator=generator)

    def post_init(self) -> GeneratorBase:
        """Re-initialise what :func:`init_weights` (DCGAN's N(0, 0.02)) should not touch."""
        return self


class KerasReferenceGenerator(GeneratorBase):
    """The original Karyospectrum (Keras) generator, reproduced layer for layer at 256x256.

    Dense(latent -> 64*64*24) + BN + ReLU -> 24x64x64 -> Dropout -> Up -> ConvT(12, 5) + BN + ReLU
    -> Up -> ConvT(6, 5) + BN + ReLU -> ConvT(3, 5) + BN + ReLU -> ConvT(3, 5) -> tanh.
    The final tanh maps to our [-1, 1] image range (the Keras model left it linear).
    """

    def __init__(self, latent_dim: int = 400, dropout: float = 0.3):
        super().__init__()
        self.latent_dim, self.resolution = int(latent_dim), (256, 256)
        self.fc = nn.Sequential(
            nn.Linear(latent_dim, 64 * 64 * 24), nn.BatchNorm1d(64 * 64 * 24), nn.ReLU(True)
        )

        def up(cin, cout, bn=True, act=True, upsample=False):
            layers = [nn.Upsample(scale_factor=2, mode="nearest")] if upsample else []
            layers.append(nn.ConvTranspose2d(cin, cout, 5, stride=1, padding=2))
            if bn:
                layers.append(nn.BatchNorm2d(cout))
            if act:
                layers.append(nn.ReLU(True))
            return layers

        self.body = nn.Sequential(
            nn.Dropout(dropout),
            *up(24, 12, upsample=True),
            *up(12, 6, upsample=True),
            *up(6, 3),
            *up(3, 3, bn=False, act=False),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.body(self.fc(z).view(-1, 24, 64, 64))


class DCGANGenerator(GeneratorBase):
    """Radford et al.: a ConvTranspose (k4, s2) stack with BatchNorm and ReLU, tanh out."""

    def __init__(self, latent_dim: int = 128, resolution=(64, 64), ngf: int = 64):
        super().__init__()
        self.latent_dim, self.resolution = int(latent_dim), (int(resolution[0]), int(resolution[1]))
        h0, w0, n = base_grid(self.resolution)
        ch = _channels(ngf, 0, n)
        layers = [
            nn.ConvTranspose2d(latent_dim, ch, (h0, w0), 1, 0, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
        ]
        for level in range(1, n):
            out = _channels(ngf, level, n)
            layers += [nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU(True)]
            ch = out
        layers += [nn.ConvTranspose2d(ch, 3, 4, 2, 1), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z):
        return self.main(z.view(z.shape[0], -1, 1, 1))


class ResizeConvGenerator(GeneratorBase):
    """Upsample (nearest) + 3x3 conv instead of transposed conv: no checkerboard artefacts.

    Odena et al. 2016. A linear layer makes the base grid, then each block doubles it.
    """

    def __init__(self, latent_dim: int = 128, resolution=(64, 64), ngf: int = 32, norm: str = "batch"):
        super().__init__()
        self.latent_dim, self.resolution = int(latent_dim), (int(resolution[0]), int(resolution[1]))
        h0, w0, n = base_grid(self.resolution)
        self.base = (_channels(ngf, 0, n), h0, w0)
        ch = self.base[0]
        self.fc = nn.Linear(latent_dim, ch * h0 * w0)
        layers: list[nn.Module] = [_norm2d(norm, ch), nn.ReLU(True)]
        for level in range(1, n + 1):
            out = _channels(ngf, level, n)
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(ch, out, 3, 1, 1, bias=norm == "none"),
                _norm2d(norm, out),
                nn.ReLU(True),
            ]
            ch = out
        layers += [nn.Conv2d(ch, 3, 3, 1, 1), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z):
        return self.main(self.fc(z).view(z.shape[0], *self.base))


class KerasReferenceDiscriminator(nn.Module):
    """The original discriminator: Conv 32/64/128/256 (5x5, strides 2,2,2,1, LeakyReLU + Dropout), Dense(1)."""

    def __init__(self, resolution=(256, 256), dropout: float = 0.3):
        super().__init__()
        h, w = int(resolution[0]), int(resolution[1])
        layers, cin = [], 3
        for cout, stride in ((32, 2), (64, 2), (128, 2), (256, 1)):
            layers += [nn.Conv2d(cin, cout, 5, stride, 2), nn.LeakyReLU(0.2, True), nn.Dropout(dropout)]
            cin = cout
        self.main = nn.Sequential(*layers, nn.Flatten(), nn.Linear(256 * (h // 8) * (w // 8), 1))

    def forward(self, x):
        return self.main(x).view(-1)


class ConvDiscriminator(nn.Module):
    """DCGAN discriminator / WGAN-GP critic: Conv (k4, s2) + norm + LeakyReLU down to the base grid.

    ``norm="batch"`` for DCGAN; WGAN-GP needs a per-sample norm ("layer") or none, because the
    gradient penalty is taken per sample. ``refine`` adds that many 3x3 stride-1 convolutions after
    each downsampling one (the depth of SNGAN's "standard CNN" discriminator, Miyato et al. 2018).
    """

    def __init__(self, resolution=(64, 64), ndf: int = 64, norm: str = "batch", refine: int = 0):
        super().__init__()
        h0, w0, n = base_grid(resolution)
        ch = _channels(ndf, n - 1, n)  # mirror of the generator's widths
        bias = norm in ("none", "spectral")

        def refined(c):
            return [
                m
                for _ in range(int(refine))
                for m in (nn.Conv2d(c, c, 3, 1, 1, bias=bias), _norm2d(norm, c), nn.LeakyReLU(0.2, True))
            ]

        layers = [nn.Conv2d(3, ch, 4, 2, 1), nn.LeakyReLU(0.2, True), *refined(ch)]
        for level in range(n - 2, -1, -1):
            out = _channels(ndf, level, n)
            layers += [nn.Conv2d(ch, out, 4, 2, 1, bias=bias), _norm2d(norm, out), nn.LeakyReLU(0.2, True)]
            layers += refined(out)
            ch = out
        self.main = nn.Sequential(*layers, nn.Flatten(), nn.Linear(ch * h0 * w0, 1))
        if norm == "spectral":  # Miyato et al. 2018: every conv and the linear head are 1-Lipschitz
            for name, m in list(self.main.named_children()):
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    setattr(self.main, name, nn.utils.parametrizations.spectral_norm(m))

    def forward(self, x):
        return self.main(x).view(-1)


def upsample_conv(x, weight):
    """``conv2d(nearest_upsample_x2(x), weight, padding=1)`` without painting the upsampled picture.

    Each output pixel's 3x3 window covers only 2x2 input pixels, so the four output phases are 2x2
    convolutions of ``x`` whose taps are sums of the 3x3 taps. They run as one 3x3 convolution with
    4x the output channels (each phase's 2x2 kernel set in its corner), then a pixel shuffle: the
    same result to float rounding, in half the time, since the input has a quarter of the pixels.
    """
    pad = nn.functional.pad

    def phases_along(k, dim):
        # phase 0 sees input (i-1, i) with taps (k0, k1 + k2); phase 1 sees (i, i+1) with (k0 + k1, k2)
        k0, k1, k2 = k.unbind(dim)
        # zero third / first tap: pad (after, before) on `dim`, given from the last dim backwards
        ends = [(0, 1), (1, 0)]
        lead = (0, 0) * (k.dim() - 1 - dim)
        return [pad(torch.stack(t, dim), lead + e) for t, e in zip([(k0, k1 + k2), (k0 + k1, k2)], ends)]

    phases = [col for row in phases_along(weight, 2) for col in phases_along(row, 3)]
    k = torch.stack(phases, 1).flatten(0, 1)  # [out * 4, in, 3, 3], out-major as pixel_shuffle reads it
    return nn.functional.pixel_shuffle(nn.functional.conv2d(x, k.to(x.dtype), padding=1), 2)


class _ModulatedNorm(nn.Module):
    """BatchNorm without affine, then a per-sample scale and shift from the style vector (BigGAN)."""

    def __init__(self, ch: int, style_dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(ch, affine=False)
        self.film = nn.Linear(style_dim, 2 * ch)

    def textbook(self, x, w):
        """BatchNorm's own forward, then the style's scale and shift (training always runs this)."""
        gamma, beta = self.film(w)[:, :, None, None].chunk(2, dim=1)
        return self.bn(x) * (1 + gamma) + beta

    def forward(self, x, w):
        bn = self.bn
        if bn.training or bn.running_mean is None:
            return self.textbook(x, w)
        # Painting: the running statistics and the style's scale and shift are one affine map per
        # sample and channel, applied in one pass over the picture (the same numbers to float rounding).
        gamma, beta = self.film(w)[:, :, None, None].chunk(2, dim=1)
        scale = (1 + gamma) * torch.rsqrt(bn.running_var + bn.eps)[None, :, None, None]
        return torch.addcmul(beta - bn.running_mean[None, :, None, None] * scale, x, scale)


class CoordGenerator(GeneratorBase):
    """CIPS-style coordinate painter (Anokhin et al. 2021): one latent paints any size and aspect.

    The latent is mapped to a style vector ``w``; Fourier features of each pixel's canvas coordinate
    (with latent-dependent phases) go through a per-pixel MLP whose layers are modulated by ``w``
    (conditional BatchNorm). For CPU speed the MLP runs on a grid 4x coarser than the output and
    two resize-conv blocks (also modulated) paint the pixel-scale detail. Coordinates are in
    "painting units": one training window of ``resolution`` pixels spans 1 unit at ``units_per_px
    = 1 / resolution``. Training draws each window at a random offset of an unbounded canvas, so a
    chromosome-shaped canvas of any aspect is simply a larger window: no stretching, no repetition.
    """

    UP = 2  # resize-conv doublings after the coordinate MLP
    # The noise strengths are stored / NOISE_GAIN: Adam then moves them 10x faster (StyleGAN's learning-rate
    # multipliers). At the trainer's lr of 2e-4 they had grown to only ~0.01 after 2,000 steps.
    NOISE_GAIN = 10.0

    def __init__(
        self,
        latent_dim: int = 128,
        resolution=(64, 64),
        ngf: int = 16,
        hidden: int = 64,
        mlp_layers: int = 3,
        n_freq: int = 64,
        offset_range: float = 6.0,
        noise: bool = False,
    ):
        super().__init__()
        self.latent_dim, self.resolution = int(latent_dim), (int(resolution[0]), int(resolution[1]))
        self.offset_range = float(offset_range)
        self.units_per_px = 1.0 / min(self.resolution)
        style = self.latent_dim
        self.mapping = nn.Sequential(
            nn.Linear(latent_dim, style), nn.LeakyReLU(0.2, True), nn.Linear(style, style), nn.LeakyReLU(0.2)
        )
        # Frequencies (cycles per unit) log-spread from 1/4 to 8, random directions; learnt.
        gen = torch.Generator().manual_seed(0)
        mags = torch.logspace(math.log10(0.25), math.log10(8.0), n_freq)
        angle = torch.rand(n_freq, generator=gen) * 2 * math.pi
        self.freq = nn.Parameter(2 * math.pi * mags[:, None] * torch.stack([angle.cos(), angle.sin()], 1))
        self.phase = nn.Linear(style, n_freq)
        self.mlp = nn.ModuleList()
        self.mlp_norm = nn.ModuleList()
        cin = n_freq
        for _ in range(mlp_layers):
            self.mlp.append(nn.Conv2d(cin, hidden, 1, bias=False))
            self.mlp_norm.append(_ModulatedNorm(hidden, style))
            cin = hidden
        self.up = nn.ModuleList()
        self.up_norm = nn.ModuleList()
        for level in range(self.UP):
            out = int(ngf * 2 ** (self.UP - 1 - level))
            self.up.append(nn.Conv2d(cin, out, 3, 1, 1, bias=False))
            self.up_norm.append(_ModulatedNorm(out, style))
            cin = out
        self.to_rgb = nn.Conv2d(cin, 3, 3, 1, 1)
        self.act = nn.LeakyReLU(0.2, True)
        # Per-pixel noise (Karras et al. 2019, StyleGAN): each resize-conv level adds a noise picture, one learnt
        # strength per channel, zero at the start (so a painter without noise loads as one with zero noise).
        # The noise is canvas_noise(): a function of the latent and of where on the canvas a pixel lies, so a
        # latent still paints one picture, and any window or aspect of it paints that same picture.
        self.noise = (
            nn.ParameterList(nn.Parameter(torch.zeros(c.out_channels)) for c in self.up) if noise else None
        )

    def post_init(self) -> CoordGenerator:
        # The mapping keeps unit scale (Kaiming) and the latent moves each Fourier phase by ~1 rad from
        # the first step: with N(0, 0.02) weights every latent would start out painting the same picture.
        for m in self.mapping:
            if isinstance(m, nn.Linear):
                init.kaiming_normal_(m.weight, a=0.2)
                init.zeros_(m.bias)
        init.normal_(self.phase.weight, 0.0, 1.0 / math.sqrt(self.phase.in_features))
        return self

    def widened(self, state: dict, seed: int = 0) -> dict:
        """A narrower painter's ``state`` widened to this one's shape, painting the same pictures (Net2WiderNet,
        Chen et al. 2016): each new channel copies a random old one (its incoming weights, BatchNorm
        statistics and style modulation), and the next layer's weights from a channel and its copies are
        split in random proportions that sum to one, so the output is unchanged and the copies learn apart.
        Only ``hidden`` and ``ngf`` may differ (the latent, Fourier features and depth must match). A painter
        without per-pixel noise loads into one with it at zero noise strength: the same pictures."""
        gen = torch.Generator().manual_seed(seed)
        own = self.state_dict()
        new = dict(state)
        stages = [f"mlp.{i}" for i in range(len(self.mlp))] + [f"up.{i}" for i in range(len(self.up))]
        pick = None  # the previous stage's channel map: new input channel -> (old channel, share)
        for conv in stages + ["to_rgb"]:
            norm = conv.replace(".", "_norm.") if conv != "to_rgb" else None  # mlp.0 -> mlp_norm.0
            w = state[f"{conv}.weight"]
            if pick is not None:  # this layer's inputs were widened: split each old input's weights
                src, share = pick
                w = w[:, src] * share[None, :, None, None]
            n_old, n_new = w.shape[0], own[f"{conv}.weight"].shape[0]
            if norm is None or n_new == n_old:
                src = torch.arange(n_old)
            elif n_new < n_old:
                raise ValueError(f"{conv}: {n_old} channels cannot be narrowed to {n_new}")
            else:
                src = torch.cat([torch.arange(n_old), torch.randint(n_old, (n_new - n_old,), generator=gen)])
            new[f"{conv}.weight"] = w[src]
            if norm is not None:
                for stat in ("running_mean", "running_var"):
                    new[f"{norm}.bn.{stat}"] = state[f"{norm}.bn.{stat}"][src]
                film = [state[f"{norm}.film.{p}"].chunk(2) for p in ("weight", "bias")]
                for (gamma, beta), p in zip(film, ("weight", "bias")):
                    new[f"{norm}.film.{p}"] = torch.cat([gamma[src], beta[src]])
                raw = torch.rand(len(src), generator=gen) + 0.5
                total = torch.zeros(n_old).index_add_(0, src, raw)
                pick = (src, raw / total[src])
                if conv.startswith("up.") and self.noise is not None:
                    key = f"noise.{conv.split('.')[1]}"
                    # a painter without noise is one whose noise strengths are zero
                    new[key] = state[key][src] if key in state else torch.zeros(len(src))
        return new

    def coords(self, n: int, h0: int, w0: int, units_per_px: float, offset=None) -> torch.Tensor:
        """Canvas coordinates ``[n, h0, w0, 2]`` (y, x) of the coarse grid's cell centres."""
        step = units_per_px * 2**self.UP
        dev = self.freq.device
        ys = (torch.arange(h0, device=dev, dtype=torch.float32) - (h0 - 1) / 2) * step
        xs = (torch.arange(w0, device=dev, dtype=torch.float32) - (w0 - 1) / 2) * step
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), -1)[None].expand(n, h0, w0, 2)
        if offset is not None:
            grid = grid + offset.to(dev, torch.float32)[:, None, None, :]
        return grid

    def forward(self, z, size=None, units_per_px: float | None = None, offset=None, supersample: int = 1):
        """Paint ``[N, 3, H, W]``; ``size`` (H, W) defaults to ``resolution``, at ``units_per_px``.

        ``supersample`` s > 1 paints the same picture with s x s more pixels: s*s renders at the
        training density, each shifted by a sub-pixel offset, interleaved (a print stays the picture
        the screen shows, only sharper). In training mode each sample's window sits at a random
        offset in ``+-offset_range`` units.
        """
        s = int(supersample)
        if s > 1:
            h, w = self.resolution if size is None else (int(size[0]), int(size[1]))
            upp = self.units_per_px if units_per_px is None else float(units_per_px)
            hr, wr = -(-h // s), -(-w // s)
            base = torch.zeros(z.shape[0], 2, device=z.device) if offset is None else offset.to(z.device)
            out = torch.empty(z.shape[0], 3, hr * s, wr * s, device=z.device)
            for i in range(s):
                for j in range(s):
                    d = torch.tensor(
                        [(i - (s - 1) / 2) / s * upp, (j - (s - 1) / 2) / s * upp], device=z.device
                    )
                    out[:, :, i::s, j::s] = self.forward(z, (hr, wr), upp, base + d)
            top, left = (hr * s - h) // 2, (wr * s - w) // 2
            return out[:, :, top : top + h, left : left + w]
        n = z.shape[0]
        h, w = self.resolution if size is None else (int(size[0]), int(size[1]))
        upp = self.units_per_px if units_per_px is None else float(units_per_px)
        k = 2**self.UP
        h0, w0 = -(-h // k), -(-w // k)
        if offset is None and self.training:
            offset = (torch.rand(n, 2, device=z.device) * 2 - 1) * self.offset_range
        style = self.mapping(z.reshape(n, -1))
        grid = self.coords(n, h0, w0, upp, offset)
        # [n, h0, w0, freq] viewed as NCHW is channels-last already: the layout oneDNN convolves fastest
        # In fp32 even under autocast: the phases reach ~300 rad, where bf16 (8 significant bits) is off by
        # more than a radian and the Fourier features would be noise (the CUDA trainer's bf16 autocast).
        with torch.autocast(z.device.type, enabled=False):
            phase = self.phase(style.float())[:, None, None, :]
            x = torch.sin(grid @ self.freq.t().float() + phase).permute(0, 3, 1, 2)
        for conv, norm in zip(self.mlp, self.mlp_norm):
            x = self.act(norm(conv(x), style))
        if self.noise is not None:  # the same for every level
            seed = latent_seed(z.reshape(n, -1))
            centre = torch.zeros(n, 2, device=z.device) if offset is None else offset.to(z.device).float()
        for level, (conv, norm) in enumerate(zip(self.up, self.up_norm)):
            x = norm(upsample_conv(x, conv.weight), style)
            if self.noise is not None:
                pitch = upp * 2 ** (self.UP - 1 - level)  # this level's pixel pitch in painting units
                lattice = self.units_per_px * 2 ** (self.UP - 1 - level)  # ... at the training density
                size = torch.tensor(x.shape[2:], device=z.device, dtype=torch.float32)
                corner = centre - (size - 1) / 2 * pitch  # the top-left pixel's centre
                nz = canvas_noise(seed, corner / lattice, x.shape[2:], pitch / lattice)
                strength = self.noise[level] * self.NOISE_GAIN
                x = torch.addcmul(x, strength[None, :, None, None].to(x.dtype), nz[:, None].to(x.dtype))
            x = self.act(x)
        x = torch.tanh(self.to_rgb(x))
        top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
        return x[:, :, top : top + h, left : left + w]


_M31 = (1 << 31) - 1


def _hash31(x: torch.Tensor) -> torch.Tensor:
    """An integer hash of int64 values in [0, 2**31) to [0, 2**31) (a murmur-style finaliser; every product
    stays below 2**62, so nothing overflows and CPU and GPU agree bit for bit)."""
    x = x & _M31
    x = (((x >> 16) ^ x) * 0x2C1B3C6D) & _M31
    x = (((x >> 15) ^ x) * 0x297A2D39) & _M31
    return (x >> 16) ^ x


def latent_seed(z: torch.Tensor) -> torch.Tensor:
    """One 31-bit seed per latent row ``[N, D]`` from its float32 bits: the same latent, the same seed."""
    bits = z.detach().float().contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    dim = torch.arange(z.shape[1], device=z.device, dtype=torch.int64)
    mixed = _hash31((bits >> 16) ^ _hash31((bits & 0xFFFF) + dim * 0x10001))
    seed = torch.zeros(z.shape[0], device=z.device, dtype=torch.int64)
    for col in mixed.unbind(1):  # order-dependent fold: a permuted latent gets another seed
        seed = _hash31(seed * 31 + col)
    return seed


def canvas_noise(seed: torch.Tensor, origin: torch.Tensor, shape, step: float = 1.0) -> torch.Tensor:
    """Value noise ``[N, H, W]`` of the pixels at lattice coordinates ``origin + (i, j) * step`` (``origin``
    ``[N, 2]``, y and x): one value (uniform, mean 0, variance 1) per integer lattice point of the canvas,
    keyed by ``seed`` ``[N]``, read bilinearly and scaled back to unit variance. At integer coordinates it
    is white noise; between them (a poster's finer pixels), the same lattice smoothly."""
    h, w = int(shape[0]), int(shape[1])
    dev = origin.device
    origin = origin.double()
    if step == 1.0:  # every pixel sits at the same fraction of its lattice cell: one mix of shifted lattices
        base = origin.floor()
        frac = (origin - base).float()[:, :, None, None]
        iy = base[:, 0, None].long() + torch.arange(h, device=dev)
        ix = base[:, 1, None].long() + torch.arange(w, device=dev)
    else:
        py = origin[:, 0, None] + torch.arange(h, device=dev, dtype=torch.float64) * step
        px = origin[:, 1, None] + torch.arange(w, device=dev, dtype=torch.float64) * step
        iy, ix = py.floor().long(), px.floor().long()
        frac = torch.stack(
            [(py - py.floor())[:, :, None].expand(-1, h, w), (px - px.floor())[:, None, :].expand(-1, h, w)],
            1,
        ).float()
    y0, x0 = iy[:, :1], ix[:, :1]
    hh, ww = int((iy[:, -1:] - y0).max()) + 2, int((ix[:, -1:] - x0).max()) + 2
    # canvases sit within +-2**24 lattice cells of the origin
    rows = _hash31(_hash31(y0 + (1 << 24) + torch.arange(hh, device=dev)) ^ seed[:, None])  # [N, hh]
    cols = x0 + (1 << 24) + torch.arange(ww, device=dev)  # [N, ww]
    values = (_hash31(rows[:, :, None] * 0x3D4D51CB + cols[:, None, :]).float() / 2**31 - 0.5) * math.sqrt(
        12.0
    )
    fy, fx = frac[:, 0], frac[:, 1]
    if step == 1.0:
        c00, c01 = values[:, :h, :w], values[:, :h, 1 : w + 1]
        c10, c11 = values[:, 1 : h + 1, :w], values[:, 1 : h + 1, 1 : w + 1]
    else:
        ry, rx = (iy - y0)[:, :, None], (ix - x0)[:, None, :]
        flat = values.flatten(1)

        def corner(dy, dx):
            return flat.gather(1, ((ry + dy) * ww + rx + dx).flatten(1)).view(-1, h, w)

        c00, c01, c10, c11 = corner(0, 0), corner(0, 1), corner(1, 0), corner(1, 1)
    top = c00 + (c01 - c00) * fx
    bottom = c10 + (c11 - c10) * fx
    # unit variance wherever it is read (a mix of independent values has sum(w^2) of their variance)
    spread = torch.sqrt(((1 - fx) ** 2 + fx**2) * ((1 - fy) ** 2 + fy**2))
    return (top + (bottom - top) * fy) / spread


def define_G(
    arch: str, latent_dim: int = 128, resolution=(64, 64), ngf: int = 32, norm: str = "batch", **kw
) -> GeneratorBase:
    """Build a generator by architecture name (the name a model card records)."""
    if arch == "keras-reference":
        if tuple(resolution) != (256, 256):
            raise ValueError("keras-reference is fixed at 256x256")
        return KerasReferenceGenerator(latent_dim)
    if arch == "dcgan":
        return DCGANGenerator(latent_dim, resolution, ngf)
    if arch == "resizeconv":
        return ResizeConvGenerator(latent_dim, resolution, ngf, norm)
    if arch == "cips":
        return CoordGenerator(latent_dim, resolution, ngf, **kw)
    raise ValueError(f"unknown generator architecture {arch!r} (one of {', '.join(GENERATOR_ARCHS)})")


def define_D(
    arch: str, resolution=(64, 64), ndf: int = 32, norm: str = "batch", refine: int = 0
) -> nn.Module:
    """The discriminator (or critic) that matches a generator ``arch``."""
    if arch == "keras-reference":
        return KerasReferenceDiscriminator(resolution)
    if arch in ("dcgan", "resizeconv", "cips"):
        return ConvDiscriminator(resolution, ndf, norm, refine)
    raise ValueError(f"unknown discriminator architecture {arch!r}")


def init_weights(net: nn.Module, init_type: str = "normal", gain: float = 0.02) -> nn.Module:
    """DCGAN init: conv/linear ~ N(0, 0.02) (or xavier/kaiming), norm weights ~ N(1, 0.02)."""

    def init_func(m):
        name = m.__class__.__name__
        if hasattr(m, "weight") and m.weight is not None and ("Conv" in name or "Linear" in name):
            if init_type == "normal":
                init.normal_(m.weight, 0.0, gain)
            elif init_type == "xavier":
                init.xavier_normal_(m.weight, gain=gain)
            elif init_type == "kaiming":
                init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            else:
                raise ValueError(f"unknown init {init_type!r}")
            if getattr(m, "bias", None) is not None:
                init.zeros_(m.bias)
        elif ("BatchNorm" in name or "GroupNorm" in name) and m.weight is not None:
            init.normal_(m.weight, 1.0, gain)
            init.zeros_(m.bias)

    net.apply(init_func)
    return net


class GANLoss(nn.Module):
    """GAN objectives on raw discriminator outputs: ``vanilla`` (BCE), ``lsgan`` (MSE), ``wgangp``."""

    def __init__(self, gan_mode: str = "vanilla"):
        super().__init__()
        if gan_mode not in ("vanilla", "lsgan", "wgangp"):
            raise ValueError(f"unknown gan_mode {gan_mode!r}")
        self.gan_mode = gan_mode
        self.loss = {"vanilla": nn.BCEWithLogitsLoss(), "lsgan": nn.MSELoss()}.get(gan_mode)

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        if self.gan_mode == "wgangp":
            return -prediction.mean() if target_is_real else prediction.mean()
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        return self.loss(prediction, target)


def gradient_penalty(
    netD: nn.Module, real: torch.Tensor, fake: torch.Tensor, lambda_gp: float = 10.0
) -> torch.Tensor:
    """Gulrajani et al.: ``lambda * (||grad D(x_hat)||_2 - 1)^2`` on random interpolates."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = netD(x_hat)
    grads = torch.autograd.grad(out.sum(), x_hat, create_graph=True)[0]
    return lambda_gp * ((grads.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def r1_penalty(netD: nn.Module, real: torch.Tensor, gamma: float) -> torch.Tensor:
    """Mescheder et al. 2018: ``gamma / 2 * E ||grad_x D(x)||^2`` on real images (no target norm)."""
    x = real.detach().requires_grad_(True)
    grads = torch.autograd.grad(netD(x).sum(), x, create_graph=True)[0]
    return 0.5 * gamma * grads.pow(2).flatten(1).sum(1).mean()


DIFFAUG_POLICIES = ("color", "translation", "cutout")


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout") -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020): differentiable augmentations applied to real AND fake before D.

    ``color``: random brightness, saturation and contrast; ``translation``: shift by up to 1/8 of
    the size (zero padding); ``cutout``: zero a random square of half the size. Images in [-1, 1].
    """
    for p in [p for p in policy.split(",") if p]:
        if p not in DIFFAUG_POLICIES:
            raise ValueError(f"unknown DiffAugment policy {p!r} (of {', '.join(DIFFAUG_POLICIES)})")
        n, dev, dt = x.shape[0], x.device, x.dtype
        if p == "color":
            x = x + (torch.rand(n, 1, 1, 1, device=dev, dtype=dt) - 0.5)
            mean = x.mean(dim=1, keepdim=True)
            x = (x - mean) * (torch.rand(n, 1, 1, 1, device=dev, dtype=dt) * 2) + mean
            mean = x.mean(dim=[1, 2, 3], keepdim=True)
            x = (x - mean) * (torch.rand(n, 1, 1, 1, device=dev, dtype=dt) + 0.5) + mean
        elif p == "translation":
            h, w = x.shape[2], x.shape[3]
            sy, sx = int(h * 0.125 + 0.5), int(w * 0.125 + 0.5)
            ty = torch.randint(-sy, sy + 1, (n, 1, 1), device=dev)
            tx = torch.randint(-sx, sx + 1, (n, 1, 1), device=dev)
            gy, gx = torch.meshgrid(torch.arange(h, device=dev), torch.arange(w, device=dev), indexing="ij")
            gy = torch.clamp(gy[None] + ty + 1, 0, h + 1)
            gx = torch.clamp(gx[None] + tx + 1, 0, w + 1)
            padded = nn.functional.pad(x, [1, 1, 1, 1])
            x = padded.permute(0, 2, 3, 1).contiguous()[torch.arange(n, device=dev)[:, None, None], gy, gx]
            x = x.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
        else:
            h, w = x.shape[2], x.shape[3]
            ch, cw = int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
            oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=dev)
            ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=dev)
            gy, gx = torch.meshgrid(torch.arange(ch, device=dev), torch.arange(cw, device=dev), indexing="ij")
            gy = torch.clamp(gy[None] + oy - ch // 2, 0, h - 1)
            gx = torch.clamp(gx[None] + ox - cw // 2, 0, w - 1)
            mask = torch.ones(n, h, w, device=dev, dtype=dt)
            mask[torch.arange(n, device=dev)[:, None, None], gy, gx] = 0
            x = x * mask[:, None]
    return x


def generator_from_checkpoint(weights, device="cpu") -> tuple[GeneratorBase, dict]:
    """Load a generator checkpoint (refusing a wrong kind, an unknown arch or a corrupt file)."""
    from .checkpoints import load_checkpoint, load_into

    state, card = load_checkpoint(weights, "generator")
    if card.get("arch") not in GENERATOR_ARCHS:
        raise InputError(weights, f"unknown generator architecture {card.get('arch')!r} in its model card")
    try:
        net = define_G(
            card["arch"],
            latent_dim=int(card["latent_dim"]),
            resolution=tuple(card["resolution"]),
            **card.get("generator", {}),
        )
    except (KeyError, ValueError, TypeError) as err:
        raise InputError(weights, f"model card does not describe a buildable generator ({err})") from err
    load_into(net, state, weights)
    return net.to(device).eval(), card


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """A network's NCHW float in [-1, 1] -> NHWC uint8 (round half up, clamped): what paints a picture."""
    x = ((x.detach().float() + 1) * 127.5).clamp_(0, 255).add_(0.5).floor_().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


# --- pix2pix ---
# Isola et al. 2017, as junyanz/pytorch-CycleGAN-and-pix2pix builds it: a U-Net generator with skip
# connections and dropout as its noise, and a 70x70 PatchGAN that judges (sketch, image) pairs.
# Instance norm (norm="instance") equals the paper's batch-size-1 BatchNorm at test time, and makes a
# painting independent of what else is in its batch. GANLoss above is the shared loss.

PIX2PIX_NORMS = ("instance", "batch")


def _pix2pix_norm(norm: str):
    if norm == "instance":
        return lambda ch: nn.InstanceNorm2d(ch, affine=False, track_running_stats=False)
    if norm == "batch":
        return nn.BatchNorm2d
    raise ValueError(f"unknown pix2pix norm {norm!r} (one of {', '.join(PIX2PIX_NORMS)})")


class UnetSkipConnectionBlock(nn.Module):
    """x -> [x, up(submodule(down(x)))]: one level of the U-Net (the outermost one returns only up)."""

    def __init__(
        self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False,
        norm="instance", use_dropout=False, dropout=0.5,
    ):  # fmt: skip
        super().__init__()
        self.outermost = outermost
        norm_layer = _pix2pix_norm(norm)
        use_bias = norm == "instance"  # BatchNorm has its own shift
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, 4, 2, 1, bias=use_bias)
        downrelu, uprelu = nn.LeakyReLU(0.2, True), nn.ReLU(True)
        if outermost:
            down = [downconv]
            up = [uprelu, nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1), nn.Tanh()]
            layers = down + [submodule] + up
        elif innermost:
            down = [downrelu, downconv]
            up = [
                uprelu,
                nn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=use_bias),
                norm_layer(outer_nc),
            ]
            layers = down + up
        else:
            down = [downrelu, downconv, norm_layer(inner_nc)]
            up = [
                uprelu,
                nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, bias=use_bias),
                norm_layer(outer_nc),
            ]
            layers = down + [submodule] + up + ([nn.Dropout(dropout)] if use_dropout else [])
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """The pix2pix U-Net: ``num_downs`` halvings (7 for 128 px, 8 for 256 px: ``unet_128``/``unet_256``).

    Channels ngf, 2ngf, 4ngf, then 8ngf for every deeper level; dropout (p=0.5) in the up path of the
    ``num_downs - 5`` inner 8ngf levels is the generator's only noise, as in the paper.
    """

    def __init__(self, input_nc=3, output_nc=3, num_downs=7, ngf=64, norm="instance", use_dropout=True):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"the pix2pix U-Net needs num_downs >= 5, not {num_downs}")
        self.input_nc, self.output_nc, self.num_downs = int(input_nc), int(output_nc), int(num_downs)
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(
                ngf * 8, ngf * 8, submodule=block, norm=norm, use_dropout=use_dropout
            )
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm=norm)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm=norm)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm=norm)
        self.model = UnetSkipConnectionBlock(
            output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True, norm=norm
        )

    @property
    def multiple(self) -> int:
        """Image sides must be multiples of this (2 ** num_downs)."""
        return 2**self.num_downs

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: ``n_layers=3`` gives the 70x70 receptive field; one logit per overlapping patch."""

    def __init__(self, input_nc=6, ndf=64, n_layers=3, norm="instance"):
        super().__init__()
        norm_layer = _pix2pix_norm(norm)
        use_bias = norm == "instance"
        layers = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=use_bias),
                norm_layer(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [
            nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=use_bias),
            norm_layer(ndf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * mult, 1, 4, 1, 1),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def patch_receptive_field(n_layers: int = 3) -> int:
    """Receptive field in pixels of one PatchGAN output (70 for n_layers=3)."""
    rf = 1
    for stride in [1, 1] + [2] * n_layers:  # the two stride-1 convs, then the stride-2 ones (walking back)
        rf = (rf - 1) * stride + 4
    return rf


def define_pix2pix_G(resolution=128, ngf=64, norm="instance", use_dropout=True, input_nc=3) -> UnetGenerator:
    """``unet_<resolution>``: the U-Net whose bottleneck is 1x1 at ``resolution`` (a power of two >= 32)."""
    res = int(resolution)
    if res < 32 or res & (res - 1):
        raise ValueError(f"pix2pix resolution must be a power of two >= 32, not {res}")
    return UnetGenerator(input_nc, 3, res.bit_length() - 1, ngf, norm, use_dropout)


def define_pix2pix_D(ndf=64, n_layers=3, norm="instance", input_nc=3) -> NLayerDiscriminator:
    """The conditional PatchGAN: it sees the sketch and the image stacked (input_nc + 3 channels)."""
    return NLayerDiscriminator(input_nc + 3, ndf, n_layers, norm)


def pix2pix_from_checkpoint(weights, device="cpu") -> tuple[UnetGenerator, dict]:
    """Load a pix2pix generator checkpoint (refusing a wrong kind, arch or a corrupt file)."""
    from .checkpoints import load_checkpoint, load_into

    state, card = load_checkpoint(weights, "pix2pix", arch="unet")
    try:
        net = define_pix2pix_G(**card["generator"])
    except (KeyError, ValueError, TypeError) as err:
        raise InputError(weights, f"model card does not describe a buildable pix2pix U-Net ({err})") from err
    load_into(net, state, weights)
    return net.to(device).eval(), card
