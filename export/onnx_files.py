"""Torch-free steps on exported ONNX files: metadata and int8 quantisation.

`digitcam export` (which needs torch) and `digitcam ensemble` (which does not) share them, so a
single model and an averaged one are labelled and quantised the same way.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from train import data as mnist
from train.evaluate import accuracy, ms_per_digit
from webapp.recognizer import Recognizer

DOC = "digitcam handwritten digit classifier: pixels [N,1,28,28] in [0,1] -> probs [N,10]"
QUANTIZATION = "int8 static QDQ, per-channel, calibrated on training digits"
INPUT_CONTRACT = {"input_size": "28", "input_range": "0..1", "polarity": "white-on-black"}  # metadata every
#   exported file carries (the digit networks and the letter detector): what the reader must feed it
CALIBRATION_DIGITS = 1000  # training digits, drawn with a fixed seed, that calibrate the int8 ranges


def add_metadata(path: Path, meta: dict[str, str]) -> None:
    """Replace the file's metadata with `meta` and check the whole model."""
    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=str(value))
    model.doc_string = DOC
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def quantize_int8(src: Path, dst: Path, calibration: np.ndarray, meta: dict[str, str]) -> None:
    """Static int8 quantisation (QDQ, per-channel) calibrated on training digits [N, 28, 28] uint8."""
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
    add_metadata(dst, {**meta, "quantization": QUANTIZATION})


def int8_copy(out: Path, data_dir: Path, meta: dict[str, str], x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """Write OUT-int8.onnx beside the float file `out`, labelled with its own measured MNIST accuracy.

    Returns its entry for the model card: file, accuracy, ms per digit, bytes."""
    q_path = int8_path(out)
    quantize_int8(out, q_path, calibration_digits(data_dir), meta)
    return label_int8(q_path, meta, x_test, y_test)


def int8_path(out: Path) -> Path:
    return out.with_name(out.stem + "-int8.onnx")


def calibration_digits(data_dir: Path) -> np.ndarray:
    """CALIBRATION_DIGITS training digits drawn with a fixed seed: the int8 ranges' calibration."""
    x_train, _ = mnist.load_split(data_dir, "train")
    return x_train[np.random.default_rng(0).choice(len(x_train), CALIBRATION_DIGITS, replace=False)]


def label_int8(q_path: Path, meta: dict[str, str], x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """Write the int8 file's metadata with its own measured MNIST accuracy; its model card entry."""
    add_metadata(q_path, {**meta, "quantization": QUANTIZATION})
    q_rec = Recognizer(q_path, provider="cpu", threads=1)
    q_acc, _ = accuracy(q_rec, x_test, y_test)
    add_metadata(q_path, {**meta, "quantization": QUANTIZATION, "mnist_test_accuracy": f"{q_acc:.5f}"})
    return {"file": q_path.name, "mnist_test_accuracy": round(q_acc, 5),
            "ms_per_digit": round(ms_per_digit(q_rec, x_test), 4), "bytes": q_path.stat().st_size}
