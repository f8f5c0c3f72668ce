"""Recognition models (PyTorch; import this module only where torch is installed: the ``train`` extra).

Every model normalises its input inside ``forward`` (per sample and channel, min-max to 0-1, as the published
shallow three-stream CNN does with its 0-255 scaling), so the exported ONNX graph needs no preprocessing.
"""

from __future__ import annotations

import torch
from torch import nn

MODELS: tuple[str, ...] = ("cnn", "cnn_gru")


def minmax(x: torch.Tensor) -> torch.Tensor:
    """Per sample, per channel min-max scaling of (N, C, H, W) maps to 0-1."""
    lo = x.amin(dim=(2, 3), keepdim=True)
    hi = x.amax(dim=(2, 3), keepdim=True)
    return (x - lo) / (hi - lo + 1e-6)


class FlowCNN(nn.Module):
    """Small CNN on (N, 3, H, W) u, v, strain maps: three conv blocks, global pooling, one linear layer.

    About 32k parameters for 3 classes (any H, W >= 8).
    """

    def __init__(self, n_classes: int, *, width: int = 24, dropout: float = 0.3) -> None:
        super().__init__()
        w = int(width)
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * w, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(minmax(x)))


class FlowCNNGRU(nn.Module):
    """CNN per time step on (N, T, 3, H, W) flow sequences (onset to each sampled frame), then a GRU."""

    def __init__(self, n_classes: int, *, width: int = 16, hidden: int = 32) -> None:
        super().__init__()
        w = int(width)
        self.cnn = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.gru = nn.GRU(2 * w, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t = x.shape[0], x.shape[1]
        f = self.cnn(minmax(x.reshape(n * t, *x.shape[2:]))).reshape(n, t, -1)
        _, h = self.gru(f, f.new_zeros(1, n, self.gru.hidden_size))
        return self.head(h[-1])


def build_model(name: str, n_classes: int, *, sequence: bool) -> nn.Module:
    """The model ``name`` ("cnn" for (N, 3, H, W) data, "cnn_gru" for (N, T, 3, H, W) sequences)."""
    from microexpr.errors import OptionError

    if name == "cnn":
        if sequence:
            raise OptionError(
                "--model cnn takes (N, 3, H, W) flow maps; this data holds sequences: use cnn_gru"
            )
        return FlowCNN(n_classes)
    if name == "cnn_gru":
        if not sequence:
            raise OptionError("--model cnn_gru takes (N, T, 3, H, W) sequences; this data holds single maps")
        return FlowCNNGRU(n_classes)
    raise OptionError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")


def n_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
