"""Property-based fuzz of the network file loader: whatever the bytes (a valid file
truncated, bytes flipped, its JSON description edited at random), ``load_network`` returns
a network or raises popcorn's own :class:`NetworkError`, never another exception; and the
loader never unpickles (``allow_pickle`` off)."""

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from popcorn.golden.examples import random_network
from popcorn.network import NetworkError, load_network, save_network

_FILES = {}


def _valid(scheme):
    if scheme not in _FILES:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "net.npz"
            save_network(random_network(scheme, seed=1, layout="conv"), path)
            _FILES[scheme] = path.read_bytes()
    return _FILES[scheme]


def _loads_or_refuses(tmp_path, data):
    path = tmp_path / "fuzz.npz"
    path.write_bytes(data)
    try:
        load_network(path)
    except NetworkError:
        pass


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(scheme=st.sampled_from(["bnn", "abc", "pa"]), cut=st.floats(0, 1),
       flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), max_size=4))
def test_damaged_bytes_are_refused_by_name(tmp_path, scheme, cut, flips):
    data = bytearray(_valid(scheme))
    for where, mask in flips:
        data[int(where * (len(data) - 1))] ^= mask
    _loads_or_refuses(tmp_path, bytes(data[:max(1, int(cut * len(data)))] if cut < 1
                                       else data))


def _json_values():
    return st.recursive(st.none() | st.booleans() | st.integers(-3, 1 << 40)
                        | st.floats(allow_nan=True) | st.text(max_size=8),
                        lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                        max_leaves=6)


@SETTINGS
@given(path=st.lists(st.integers(0, 40), min_size=1, max_size=4), value=_json_values())
def test_edited_descriptions_are_refused_by_name(tmp_path, path, value):
    """One value anywhere in the file's JSON description replaced by an arbitrary one."""
    source = zipfile.ZipFile(io.BytesIO(_valid("abc")))
    names = source.namelist()
    meta_name = "popcorn.json.npy"
    meta = json.loads(np.load(io.BytesIO(source.read(meta_name))).tobytes())
    node = meta
    for step in path[:-1]:
        children = list(node.values()) if isinstance(node, dict) else node
        if not isinstance(children, list) or not children:
            break
        child = children[step % len(children)]
        if not isinstance(child, (dict, list)):
            break
        node = child
    if isinstance(node, dict) and node:
        node[sorted(node)[path[-1] % len(node)]] = value
    elif isinstance(node, list) and node:
        node[path[-1] % len(node)] = value
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in names:
            if name == meta_name:
                raw = io.BytesIO()
                np.save(raw, np.frombuffer(json.dumps(meta).encode(), np.uint8))
                target.writestr(name, raw.getvalue())
            else:
                target.writestr(name, source.read(name))
    _loads_or_refuses(tmp_path, out.getvalue())
