"""Errors of the importers (no third-party imports, so the CLI can name them cheaply)."""

from popcorn.network.validate import NetworkError

__all__ = ["QONNX_EXTRA_HINT", "MissingExtra", "QonnxImportError", "UnsupportedNode"]

QONNX_EXTRA_HINT = "pip install 'popcorn[qonnx]'"


class MissingExtra(ImportError):
    """An optional dependency of an importer is not installed; the message says what to
    install."""


class QonnxImportError(NetworkError):
    """A QONNX graph that popcorn cannot turn into a network; the message names the node
    (its name and op type) and what to change."""


class UnsupportedNode(QonnxImportError):
    """A node whose op type popcorn does not import at all."""
