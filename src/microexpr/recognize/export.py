"""``model.pt`` -> ONNX (legacy TorchScript exporter, no onnxscript needed), optionally int8 (dynamic
quantisation with onnxruntime). Class names and input shape go into the ONNX metadata."""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

from microexpr.errors import InputError, OutputError


def load_checkpoint(path: Path | str) -> tuple[object, dict]:
    """The torch model and its metadata from ``model.pt`` (loaded with weights_only=True)."""
    import torch

    from microexpr.recognize.models import build_model

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such model file")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
        meta = {k: ck[k] for k in ("model", "classes", "input_shape")}
        model = build_model(str(meta["model"]), len(meta["classes"]), sequence=len(meta["input_shape"]) == 4)
        model.load_state_dict(ck["state_dict"])
    except InputError:
        raise
    except Exception as e:  # a pickle, zip or key error: all mean "not our checkpoint"
        raise InputError(f"{p}: not a microexpr model.pt ({type(e).__name__}: {e})") from None
    model.eval()
    return model, meta


def export_onnx(checkpoint: Path | str, out: Path | str, *, int8: bool = False) -> Path:
    """Export ``checkpoint`` to ``out`` (written atomically); ``int8`` quantises weights dynamically.

    Returns:
        The written path.
    """
    import onnx
    import torch

    model, meta = load_checkpoint(checkpoint)
    out = Path(out)
    if not out.parent.exists():
        raise OutputError(f"{out.parent}: no such folder")
    tmpdir = Path(tempfile.mkdtemp(prefix=".export.", dir=out.parent))
    try:
        fp32 = tmpdir / "fp32.onnx"
        dummy = torch.zeros(1, *meta["input_shape"])
        with warnings.catch_warnings():  # the legacy exporter (no onnxscript needed) announces its age
            warnings.simplefilter("ignore", DeprecationWarning)
            # the GRU's initial state is built from the input's batch size (tested with batches > 1)
            warnings.filterwarnings("ignore", "Exporting a model to ONNX with a batch_size other than 1")
            warnings.simplefilter(
                "ignore", torch.jit.TracerWarning
            )  # no data-dependent branches in our models
            torch.onnx.export(
                model,
                (dummy,),
                str(fp32),
                input_names=["flow"],
                output_names=["logits"],
                dynamic_axes={"flow": {0: "n"}, "logits": {0: "n"}},
                opset_version=17,
                dynamo=False,
            )
        m = onnx.load(str(fp32))
        for k, v in (
            ("classes", json.dumps(meta["classes"])),
            ("input_shape", json.dumps(meta["input_shape"])),
            ("model", str(meta["model"])),
        ):
            p = m.metadata_props.add()
            p.key, p.value = k, v
        onnx.save(m, str(fp32))
        final = fp32
        if int8:
            import logging

            from onnxruntime.quantization import QuantType, quantize_dynamic

            final = tmpdir / "int8.onnx"
            logging.disable(logging.WARNING)  # its advice to pre-process goes to the root logger
            try:
                quantize_dynamic(
                    str(fp32),
                    str(final),
                    weight_type=QuantType.QInt8,
                    op_types_to_quantize=["MatMul", "Gemm", "Conv", "GRU"],
                )
            finally:
                logging.disable(logging.NOTSET)
        final.replace(out)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return out
