"""Pick the torch device: CUDA when present, else the CPU with one warning line."""

from __future__ import annotations

import logging
import os

log = logging.getLogger("karyospectrum.devices")


def pick_device(requested: str = "auto"):
    """Return a ``torch.device``.

    ``auto`` takes ``cuda`` when available (the job's own GPU: Snakemake and SLURM set
    ``CUDA_VISIBLE_DEVICES`` per job) and otherwise falls back to the CPU with one warning.
    """
    import torch

    if requested not in ("auto", None, ""):
        dev = torch.device(requested)
        if dev.type == "cuda" and not torch.cuda.is_available():
            log.warning("CUDA was requested but is not available; using the CPU")
            return torch.device("cpu")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    log.warning("no CUDA device found; running on the CPU")
    return torch.device("cpu")


def set_threads(threads: int | None) -> None:
    """Bound torch's intra-op threads to the job's ``threads``."""
    import torch

    if threads:
        torch.set_num_threads(max(1, int(threads)))
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
