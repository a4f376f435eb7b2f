"""digitcam's serving side: the reading pipeline, the web app and the `digitcam` command.

Importing this package loads no model and never imports torch.
"""
__version__ = "0.1.0"
