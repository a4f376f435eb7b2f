"""Exporting trained checkpoints to ONNX for digitcam's server (needs the `train` extra)."""
