"""Training a compact ResNet on MNIST for digitcam (needs the `train` extra: torch)."""
