"""Checkpoints: our own format (atomic, resumable) and the official CoHiClust layout.

Our checkpoint (``checkpoint.pt``) is a plain dict of tensors, numbers and strings, so it loads with
``torch.load(weights_only=True)``::

    {"format": "l2h-train-checkpoint", "version": 1, "config": {...}, "epoch": int (epochs done),
     "model": state_dict (the tree head's "tree.leaf_mask" buffer included), "optimizer": ..., "scaler": ...,
     "rng": {"torch": ByteTensor, "cuda": [ByteTensor, ...], "mps": ByteTensor or None},
     "history": [{"epoch": ..., "loss": ...}, ...]}
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "load_official_cohiclust"]

FORMAT = "l2h-train-checkpoint"


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or not in a layout we read."""


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` atomically (temporary file, then rename): an interrupted save keeps the old file."""
    from l2h.io import write_atomic

    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": 1, **state}, buffer)
    write_atomic(path, buffer.getvalue())


def _torch_load(path: Path) -> Any:
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        # map_location: tensors saved on a CUDA device load on any machine
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unreadable or unsafe pickles are all "not a checkpoint"
        raise CheckpointError(f"cannot read checkpoint {path}: {_load_failure(exc)}") from None


def _load_failure(exc: BaseException) -> str:
    """Our own words for a failed weights-only load.  torch's message for a file holding other objects
    advises ``weights_only=False``, which would run the file's code: that advice is never repeated."""
    text = str(exc).strip()
    if "Unsupported global" in text:
        return "it holds Python objects other than tensors and plain containers, which l2h does not unpickle"
    if "weights_only" in text or "Weights only load failed" in text:
        return "corrupt, truncated or not a torch file"
    first = text.splitlines()[0].split(". ")[0] if text else type(exc).__name__
    if len(first) > 160:
        first = first[:157] + "..."
    return f"corrupt, truncated or not a torch file ({first})"


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read one of our checkpoints (CPU tensors); :class:`CheckpointError` on anything else."""
    path = Path(path)
    state = _torch_load(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        hint = (
            " (it looks like an official CoHiClust checkpoint: use load_official_cohiclust)"
            if (isinstance(state, dict) and any(str(k).startswith(("f.", "tree_model.")) for k in state))
            else ""
        )
        raise CheckpointError(f"{path} is not an l2h training checkpoint{hint}")
    for key, kind in (("config", dict), ("epoch", int), ("model", dict)):
        if key not in state:
            raise CheckpointError(f"{path} is an incomplete l2h checkpoint: no {key!r} entry")
        if not isinstance(state[key], kind) or isinstance(state[key], bool):
            raise CheckpointError(f"{path} is a damaged l2h checkpoint: {key!r} is a {type(state[key]).__name__}")
    return state


def _resnet_children(backbone: torch.nn.Module) -> list[str]:
    net = getattr(backbone, "net", None)
    if net is None:
        return []
    return [
        name
        for name, mod in net.named_children()
        if not isinstance(mod, (torch.nn.Linear, torch.nn.MaxPool2d, torch.nn.Identity)) or name == "avgpool"
    ]


def _official_masks(masks: Any, depth: int) -> torch.Tensor | None:
    if masks is None:
        return None
    if isinstance(masks, dict):
        values = list(masks.values())
    elif isinstance(masks, (list, tuple)):
        values = list(masks)
    else:
        values = [masks]
    for value in values:
        t = torch.as_tensor(value).reshape(-1)
        if t.numel() == 2**depth:
            return t.to("cpu") != 0
    raise CheckpointError(f"the masks hold no leaf-level mask of 2^{depth} = {2**depth} entries")


def load_official_cohiclust(
    model: torch.nn.Module, weights: str | os.PathLike[str], masks: str | os.PathLike[str] | None = None
) -> dict[str, list[str]]:
    """Load a checkpoint of the official CoHiClust code into a :class:`~cohiclust_extra.models.CoHiClustModel`.

    The layout read: a state dict (optionally under ``"model"``/``"state_dict"``) with the backbone under
    ``f.*`` (either torchvision names, ``f.conv1.weight``, or a ``Sequential`` of the ResNet's children
    without its max-pool and classifier, ``f.0.weight`` ... ``f.6.*``), the R2 projection under ``g.*``,
    and the tree head under ``tree_model.0.*`` (a linear layer followed by a sigmoid); profiler
    leftovers (keys ending in ``total_ops``/``total_params``) are dropped.  The pruning masks, a dict
    ``{level: 0/1 tensor over the level's nodes}`` that the official code saves from a CUDA device, come
    either from the same file (key ``"masks"``/``"masks_for_level"``) or from ``masks``; every file is
    read with ``map_location="cpu"`` and ``weights_only=True``, so no GPU is needed.

    ``g.*`` is loaded only when it matches the model's projection head key for key and shape for shape
    (it is unused at inference).

    Returns
    -------
    dict with ``"skipped"``: the keys not loaded.
    """
    raw = _torch_load(Path(weights))
    if not isinstance(raw, dict):
        raise CheckpointError(f"{weights} does not hold a state dict")
    mask_obj = None
    for key in ("masks", "masks_for_level"):
        if key in raw:
            mask_obj = raw.pop(key)
    for key in ("model", "state_dict"):
        if isinstance(raw.get(key), dict):
            raw = raw[key]
    if masks is not None:
        mask_obj = _torch_load(Path(masks))
    state = {k: v for k, v in raw.items() if not str(k).endswith(("total_ops", "total_params"))}
    if not any(k.startswith("f.") for k in state) or not any(k.startswith("tree_model.") for k in state):
        raise CheckpointError(f"{weights} is not an official CoHiClust checkpoint (no f.* / tree_model.* keys)")

    children = _resnet_children(model.backbone)
    ours = model.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    projection: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    for key, value in state.items():
        if key.startswith("f."):
            rest = key[2:]
            head, _, tail = rest.partition(".")
            if head.isdigit() and children:
                index = int(head)
                if index >= len(children):
                    raise CheckpointError(f"backbone key {key} has no counterpart in a {type(model.backbone).__name__}")
                rest = f"{children[index]}.{tail}"
            target = f"backbone.net.{rest}" if hasattr(model.backbone, "net") and children else f"backbone.{rest}"
        elif key.startswith("tree_model.0."):
            target = "tree.net." + key[len("tree_model.0.") :]
        elif key.startswith("g."):
            projection[key] = value
            continue
        else:
            skipped.append(key)
            continue
        mapped[target] = value
    # φ comes as a whole or not at all (the official φ has a BatchNorm ours lacks; a half-loaded head is useless)
    wanted = {k for k in ours if k.startswith("projection.")}
    renamed = {"projection.net." + k[2:]: v for k, v in projection.items()}
    if set(renamed) == wanted and all(ours[k].shape == v.shape for k, v in renamed.items()):
        mapped.update(renamed)
    else:
        skipped += list(projection)
    missing = [k for k in ours if k not in mapped and not k.startswith("projection.") and k != "tree.leaf_mask"]
    unexpected = [k for k in mapped if k not in ours]
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise CheckpointError(
            f"{weights} does not match the model (backbone or depth differ? the official tree "
            f"head is one linear layer: build the model with tree_hidden=None): {detail}"
        )
    for k, v in mapped.items():
        if ours[k].shape != v.shape:
            raise CheckpointError(
                f"{weights}: {k} has shape {tuple(v.shape)}, the model expects {tuple(ours[k].shape)}"
            )
    model.load_state_dict(mapped, strict=False)
    leaf_mask = _official_masks(mask_obj, model.tree.depth)
    if leaf_mask is not None:
        if int(leaf_mask.sum()) < 2:
            raise CheckpointError("the masks leave fewer than 2 live leaves")
        model.tree.leaf_mask.copy_(leaf_mask)
    return {"skipped": skipped}
