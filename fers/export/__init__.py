"""Export-only code: the FENs and the detector graph to ONNX, and the torch/ONNX parity checks.

Needs PyTorch (and ``onnx``/``onnxscript``). Used by ``export/`` (the command line), ``training/``
and the tests; inference never imports it. Its one door from the runtime is
:func:`fers.enhance.first_use.export_on_first_use` (a user's ``.pt`` run on the ONNX backend), which
imports :func:`fers.export.exporter.ensure_onnx` lazily (tests/test_layout.py).
"""
