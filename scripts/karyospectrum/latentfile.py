"""The latents file (results/latents/{cohort}/{chrom}.npz): :class:`Latents`, its writer and its one reader.

Written by rule hash_latents (``latents.hash_genotypes``); read by painting, sketches and kinship. This
module imports no genotype parser, so the steps that only read latents do not depend on one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .io import save_npz


@dataclass
class Latents:
    samples: list[str]
    latents: np.ndarray  # float32 [samples, copies, dim]
    copy_present: np.ndarray  # bool [samples, copies]
    n_variants: int
    chrom: str
    key_id: str
    centering: str
    alpha: float
    # per sample, the problem of its broken VCF column ("" when sound; [] when no sample has one): such a
    # sample's latents are zero and absent, and its batch fails (optional array; older files have none)
    broken: list[str] = field(default_factory=list)

    @property
    def dim(self) -> int:
        return int(self.latents.shape[-1])

    def save(self, path: str | Path) -> None:
        save_npz(
            path,
            samples=np.array(self.samples, dtype=str),
            latents=self.latents.astype(np.float32),
            copy_present=self.copy_present,
            n_variants=np.int64(self.n_variants),
            dim=np.int64(self.dim),
            chrom=np.array(self.chrom),
            key_id=np.array(self.key_id),
            centering=np.array(self.centering),
            alpha=np.float64(self.alpha),
            **({"broken": np.array(self.broken, dtype=str)} if any(self.broken) else {}),
        )


# what hash_latents writes beside ``latents`` and ``samples``
_METADATA = ("copy_present", "chrom", "n_variants", "key_id", "centering", "alpha")


def load_latents(path: str | Path, metadata: bool = True) -> Latents:
    """A latents file (written by ``Latents.save``), checked: ``latents`` [samples, copies, dim],
    finite, ``copy_present`` of shape [samples, copies], sample ids that can name a tile folder.

    ``metadata=False`` also reads a file of only ``latents`` and ``samples`` (painting needs no more):
    every copy present, ``chrom`` from the file name, and the hash_latents metadata left empty.
    """
    path = Path(path)
    data = _read_npz(path)
    for key in ("latents", "samples") + (_METADATA if metadata else ()):
        if key not in data:
            raise InputError(path, f"latents file has no {key!r} array")
    lat = data["latents"]
    samples = [str(s) for s in data["samples"]]
    if lat.ndim != 3 or lat.shape[0] != len(samples):
        raise InputError(path, f"latents must be [samples, copies, dim]; got shape {tuple(lat.shape)}")
    if not np.isfinite(lat).all():
        raise InputError(path, "latents contain NaN or infinite values")
    present = data.get("copy_present", np.ones(lat.shape[:2], bool))
    if "broken" in data and data["broken"].shape != (len(samples),):
        raise InputError(path, f"broken shape {data['broken'].shape} does not match {len(samples)} samples")
    if present.shape != lat.shape[:2]:
        raise InputError(path, f"copy_present shape {present.shape} does not match latents {lat.shape[:2]}")
    for s in samples:
        if not s or "/" in s or s in (".", ".."):
            raise InputError(path, f"sample id {s!r} cannot name a tile folder")
    try:
        return Latents(
            samples=samples,
            latents=lat,
            copy_present=present.astype(bool),
            n_variants=int(data.get("n_variants", 0)),
            chrom=str(data["chrom"]) if "chrom" in data else path.stem,
            key_id=str(data.get("key_id", "")),
            centering=str(data.get("centering", "")),
            alpha=float(data.get("alpha", np.nan)),
            broken=[str(b) for b in data["broken"]] if "broken" in data else [],
        )
    except (TypeError, ValueError) as err:
        raise InputError(path, f"not a latents file of hash_latents ({err})") from None


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise InputError(path, "latents file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as err:
        raise InputError(path, f"not a readable .npz latents file ({err})") from err
