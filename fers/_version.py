"""The package version (one home; read by pyproject.toml and written into ONNX metadata)."""

__version__ = "0.2.0"
