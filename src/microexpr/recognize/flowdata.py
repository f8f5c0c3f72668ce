"""The flow dataset file: one ``.npz`` with x (N, 3, H, W) float32 u, v, strain (or (N, T, 3, H, W)
sequences), y (N,) int64, groups (N,) str (subject, for LOSO), classes (K,) str and optional ids (N,) str."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microexpr.errors import InputError
from microexpr.outputs import atomic_write_bytes


@dataclass(frozen=True)
class FlowDataset:
    """Flow features with labels and subjects (validated on construction)."""

    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    classes: tuple[str, ...]
    ids: np.ndarray

    def __post_init__(self) -> None:
        x = np.asarray(self.x)
        if x.ndim not in (4, 5) or x.shape[-3] != 3 or x.shape[-1] < 8 or x.shape[-2] < 8:
            raise ValueError(
                f"x must have shape (N, 3, H, W) or (N, T, 3, H, W), H, W >= 8, but got {x.shape}"
            )
        n = len(x)
        for name in ("y", "groups", "ids"):
            a = np.asarray(getattr(self, name))
            if a.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), but got {a.shape}")
        y = np.asarray(self.y)
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must be integers, but got {y.dtype}")
        if n and (y.min() < 0 or y.max() >= len(self.classes)):
            raise ValueError(
                f"y must be in [0, {len(self.classes)}) (one per class), but got {y.min()}..{y.max()}"
            )
        if not np.isfinite(x).all():
            raise ValueError("x holds NaN or infinite values")
        object.__setattr__(self, "x", np.ascontiguousarray(x, np.float32))
        object.__setattr__(self, "y", y.astype(np.int64))
        object.__setattr__(self, "groups", np.asarray(self.groups).astype(str))
        object.__setattr__(self, "ids", np.asarray(self.ids).astype(str))
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))

    @property
    def sequence(self) -> bool:
        """True for (N, T, 3, H, W) sequences."""
        return self.x.ndim == 5

    def subset(self, idx: np.ndarray) -> FlowDataset:
        """The samples at ``idx`` (same classes)."""
        return FlowDataset(self.x[idx], self.y[idx], self.groups[idx], self.classes, self.ids[idx])


def save_flow_dataset(path: Path | str, data: FlowDataset) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, then rename)."""
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        x=data.x,
        y=data.y,
        groups=data.groups.astype("U"),
        classes=np.asarray(data.classes, "U"),
        ids=data.ids.astype("U"),
    )
    return atomic_write_bytes(Path(path), buf.getvalue())


def load_flow_dataset(path: Path | str) -> FlowDataset:
    """Read and validate a flow dataset file.

    Raises:
        InputError: missing, not an npz, a missing array, or arrays of the wrong shape or type.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such flow dataset file")
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in ("x", "y", "groups", "classes") if k not in z.files]
            if missing:
                raise InputError(f"{p}: not a flow dataset file: missing {', '.join(missing)}")
            arrays = {k: z[k] for k in z.files}
    except InputError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise InputError(f"{p}: not a readable .npz file ({type(e).__name__}: {e})") from None
    n = len(arrays["x"])
    ids = arrays.get("ids", np.array([f"{i}" for i in range(n)]))
    try:
        return FlowDataset(arrays["x"], arrays["y"], arrays["groups"], tuple(arrays["classes"]), ids)
    except ValueError as e:
        raise InputError(f"{p}: {e}") from None
