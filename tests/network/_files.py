"""Editing a saved network file's JSON and arrays in place, for the load-error tests."""

import json

import numpy as np


def edit_file(path, edit_meta=None, edit_arrays=None):
    """Apply ``edit_meta(meta dict)`` and ``edit_arrays(arrays dict)`` to the network file
    at ``path`` and write it back."""
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(arrays.pop("popcorn.json").tobytes())
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        edit_arrays(arrays)
    arrays["popcorn.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
