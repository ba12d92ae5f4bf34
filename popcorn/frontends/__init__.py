"""Importers: trained networks from other tools into :class:`popcorn.network.Network` (or
:class:`popcorn.network.Graph` where they branch).

* :func:`popcorn.frontends.qonnx.import_qonnx`: QONNX graphs exported by Brevitas
  (``pip install 'popcorn[qonnx]'``).

This package imports nothing heavy: ``onnx`` and ``qonnx`` are loaded by
:mod:`popcorn.frontends.qonnx` only.
"""

from .errors import QonnxImportError, UnsupportedNode, MissingExtra, QONNX_EXTRA_HINT
from .summary import layer_summary, network_summary

__all__ = ["QonnxImportError", "UnsupportedNode", "MissingExtra", "QONNX_EXTRA_HINT",
           "layer_summary", "network_summary", "import_qonnx"]


def import_qonnx(model, **options):
    """Import a QONNX model; see :func:`popcorn.frontends.qonnx.import_qonnx`."""
    from .qonnx import import_qonnx as _import_qonnx

    return _import_qonnx(model, **options)
