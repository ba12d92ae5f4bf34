"""Tests of popcorn.train: they need the ``train`` extra and fail, naming it, without it."""

import importlib


def require(module):
    """Import ``module`` or fail with the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"{module} is missing: popcorn.train needs the train extra, "
                          f"`pip install 'popcorn[train]'` (make test installs it)") from error
