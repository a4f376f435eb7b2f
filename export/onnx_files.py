"""Torch-free steps on exported ONNX files: metadata and int8 quantisation.

`digitcam export` (which needs torch) and `digitcam ensemble` (which does not) share them, so a
single model and an averaged one are labelled and quantised the same way.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

DOC = "digitcam handwritten digit classifier: pixels [N,1,28,28] in [0,1] -> probs [N,10]"
QUANTIZATION = "int8 static QDQ, per-channel, calibrated on training digits"


def add_metadata(path: Path, meta: dict[str, str]) -> None:
    """Replace the file's metadata with `meta` and check the whole model."""
    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=str(value))
    model.doc_string = DOC
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def quantize_int8(src: Path, dst: Path, calibration: np.ndarray, meta: dict[str, str]) -> dict[str, str]:
    """Static int8 quantisation (QDQ, per-channel) calibrated on training digits [N, 28, 28] uint8.

    Returns the metadata written; the caller replaces its accuracy with the quantised file's own."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    input_name = onnx.load(str(src), load_external_data=False).graph.input[0].name

    class Digits(CalibrationDataReader):
        def __init__(self) -> None:
            x = calibration.astype(np.float32)[:, None] / 255.0
            self.batches = iter([{input_name: x[i : i + 50]} for i in range(0, len(x), 50)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(src), str(dst), Digits(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    q_meta = {**meta, "quantization": QUANTIZATION}
    add_metadata(dst, q_meta)
    return q_meta
