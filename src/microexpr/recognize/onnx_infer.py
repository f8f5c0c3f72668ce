"""ONNX recogniser at analysis time (onnxruntime only; no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from microexpr.errors import InputError


class OnnxRecognizer:
    """A model exported by ``microexpr export``: flow maps in, class names out.

    Args:
        path: the .onnx file (fp32 or int8).
    """

    def __init__(self, path: Path | str) -> None:
        import onnxruntime as ort

        p = Path(path)
        if not p.is_file():
            raise InputError(f"{p}: no such recogniser file")
        try:
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            so.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])
            meta = self._session.get_modelmeta().custom_metadata_map
            self.classes: tuple[str, ...] = tuple(json.loads(meta["classes"]))
            self.input_shape: tuple[int, ...] = tuple(int(s) for s in json.loads(meta["input_shape"]))
        except Exception as e:  # onnxruntime raises its own types for a corrupt or foreign file
            raise InputError(f"{p}: not a microexpr recogniser ({type(e).__name__}: {e})") from None
        self._input = self._session.get_inputs()[0].name
        self.path = p

    @property
    def size(self) -> int:
        """Side of the flow maps the model takes."""
        return self.input_shape[-1]

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(N, K) logits of (N, *input_shape) float32 flow maps."""
        x = np.ascontiguousarray(x, np.float32)
        if x.shape[1:] != self.input_shape:
            raise ValueError(
                f"x must have shape (N, {', '.join(map(str, self.input_shape))}), but got {x.shape}"
            )
        return self._session.run(None, {self._input: x})[0]

    def predict(self, x: np.ndarray) -> list[str]:
        """Class names of (N, *input_shape) flow maps."""
        if len(x) == 0:
            return []
        return [self.classes[i] for i in self.logits(x).argmax(1)]
