"""Model checkpoints: ``*.safetensors`` weights plus a JSON model card beside them.

The card (``<name>.json``) records the architecture and its hyper-parameters, the
training data, the metrics and the command that made the model. Loading checks the
card's ``kind`` and ``arch`` and the tensor names/shapes, so a checkpoint of another
architecture, or a corrupt file, is refused with one clear line.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError
from .io import atomic_path, write_json


def card_path(weights: str | Path) -> Path:
    weights = Path(weights)
    return weights.with_name(weights.name.removesuffix(".safetensors") + ".json")


def save_checkpoint(weights: str | Path, state_dict: dict, card: dict, half: bool = False) -> None:
    """Write weights (fp16 when ``half``) and the model card, both atomically."""
    import torch
    from safetensors.torch import save_file

    tensors = {}
    for name, t in state_dict.items():
        t = t.detach().to("cpu").contiguous()
        if half and t.is_floating_point():
            t = t.to(torch.float16)
        tensors[name] = t
    meta = {"kind": str(card.get("kind", "")), "arch": str(card.get("arch", ""))}
    with atomic_path(weights, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    write_json(card_path(weights), card)


def read_card(weights: str | Path) -> dict:
    path = card_path(weights)
    if not path.exists():
        raise InputError(path, "model card not found beside the weights")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(path, f"model card is not valid JSON ({getattr(err, 'msg', err)})") from None


def load_checkpoint(weights: str | Path, kind: str, arch: str | None = None) -> tuple[dict, dict]:
    """Return ``(state_dict, card)`` in float32, refusing a wrong or corrupt checkpoint.

    ``kind`` is ``generator``, ``discriminator`` or ``classifier``; ``arch`` when given
    must match the card's architecture name.
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights = Path(weights)
    if not weights.exists():
        raise InputError(weights, "checkpoint not found")
    card = read_card(weights)
    if card.get("kind") != kind:
        raise InputError(weights, f"is a {card.get('kind') or 'unknown'} checkpoint, expected a {kind}")
    if arch is not None and card.get("arch") != arch:
        raise InputError(weights, f"architecture is {card.get('arch')!r}, expected {arch!r}")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise InputError(weights, f"corrupt safetensors file ({str(err).splitlines()[0]})") from None
    state = {k: (v.to(torch.float32) if v.is_floating_point() else v) for k, v in tensors.items()}
    return state, card


def load_into(model, state: dict, path: str | Path) -> None:
    """``model.load_state_dict`` with one clear line when names or shapes disagree."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or wrong:
        detail = (missing or unexpected or wrong)[0]
        raise InputError(
            path,
            f"weights do not fit this architecture ({len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(wrong)} mis-shaped tensors; first: {detail})",
        )
    model.load_state_dict(state)


def check_resume_config(
    path, saved: dict, current: dict, keep, what: str = "config", defaults: dict | None = None
) -> None:
    """A training resumes only with the config (or recipe) it was started with (keys in `keep` may change).
    A key missing from ``saved`` (a state written before the key existed) counts as its value in ``defaults``."""
    saved = {**{k: v for k, v in (defaults or {}).items() if k not in saved}, **saved}
    old = {k: v for k, v in saved.items() if k not in keep}
    new = {k: v for k, v in current.items() if k not in keep}
    if old != new:
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise InputError(
            path, f"resume state was trained with another {what} (differs in: {', '.join(diff)})"
        )
