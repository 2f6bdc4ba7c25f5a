"""The latent hashing key: where it comes from, and the fingerprint that is stored instead of it.

The key reaches a step from a key file or the environment, never from the command line or rule params,
so it stays out of `ps`, logs and `.snakemake/metadata`. Only its salted scrypt fingerprint is stored.
Standard library only: the Snakefile imports this module to fingerprint the key at DAG time.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from .errors import InputError

DEFAULT_KEY = "karyospectrum-public-key-v1"  # PUBLIC: latents made with it can be compared by anyone
KEY_ENV = "KARYOSPECTRUM_KEY"
# scrypt cost: ~0.1 s and 32 MB per guess on one core, so a list attack on the stored fingerprint of a
# weak key runs at ~10 guesses/s instead of millions. The salt is fixed so that the same key always has
# the same fingerprint (two latent files made with one key can be matched without the key).
_SALT = b"karyospectrum/latent-key-id/v2"
_N, _R, _P = 2**15, 8, 1


def read_key(key_file: str | os.PathLike | None = None, environ=os.environ) -> str:
    """The key: the first line of `key_file`, else $KARYOSPECTRUM_KEY, else the public default key."""
    if key_file:
        path = Path(key_file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(path, f"cannot read the key file ({e.__class__.__name__})") from None
        key = text.splitlines()[0].strip() if text.strip() else ""
        if not key:
            raise InputError(path, "the key file is empty")
        return key
    return environ.get(KEY_ENV) or DEFAULT_KEY


@functools.lru_cache(maxsize=16)
def key_id(key: str) -> str:
    """A public fingerprint of the key (salted scrypt), stored with the latents; the key itself never is."""
    digest = hashlib.scrypt(key.encode(), salt=_SALT, n=_N, r=_R, p=_P, maxmem=64 * 1024 * 1024, dklen=12)
    return "scrypt:" + digest.hex()
