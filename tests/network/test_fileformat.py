"""The .npz network file: round trip, and every load error names the layer and the problem."""

import numpy as np
import pytest

from popcorn.golden.examples import SCHEMES, random_network
from popcorn.golden.predict import predict
from ._files import edit_file
from popcorn.network import (FORMAT_VERSION, AbcActivation, Activation, Dense, FixedPointActivation,
                             Network, NetworkError, PaActivation, PaWeights, Scores, load_network,
                             network_to_json, save_network)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("layout", ["conv", "conv-zero", "dense", "gap", "sequence",
                                    "sequence-zero", "rect", "rect-zero"])
def test_round_trip(tmp_path, scheme, layout):
    layout, _, fill = layout.partition("-")
    net = random_network(scheme, seed=3, layout=layout, padding_fill=fill or "lowest")
    save_network(net, tmp_path / "net.npz")
    back = load_network(tmp_path / "net.npz")
    assert network_to_json(back) == network_to_json(net)
    for a, b in zip(net.layers, back.layers):
        assert a.arrays().keys() == b.arrays().keys()
        for name, value in a.arrays().items():
            assert np.array_equal(value, b.arrays()[name]) and value.dtype == b.arrays()[name].dtype
    x = np.random.default_rng(0).integers(0, 256, (4,) + net.input_shape)
    assert np.array_equal(predict(net, x).scores, predict(back, x).scores)


def test_padding_fill_in_the_file(tmp_path):
    """A Conv2d's "padding_fill" is written only when it is "zero", so files of the default
    (every file before it existed) are unchanged; a wrong value is named."""
    for fill in ("lowest", "zero"):
        net = random_network("bnn", seed=1, padding_fill=fill)
        convs = [layer for layer in network_to_json(net)["layers"] if layer["kind"] == "conv2d"]
        assert [c.get("padding_fill") for c in convs] == [None if fill == "lowest" else fill] * 2
    path = tmp_path / "net.npz"
    save_network(random_network("bnn", seed=1, padding_fill="zero"), path)
    edit_file(path, lambda meta: meta["layers"][0].update(padding_fill="reflect"))
    with pytest.raises(NetworkError, match=r"layer 0 \(conv2d\).*padding_fill must be one of "
                                           r"lowest, zero, not 'reflect'"):
        load_network(path)


def test_pairs_in_the_file(tmp_path):
    """A square Conv2d's stride and padding and a square MaxPool2d's kernel and stride are
    written as integers, as always; rectangular ones as [h, w] lists, and read back."""
    square = [layer for layer in network_to_json(random_network("bnn", seed=1))["layers"]
              if layer["kind"] in ("conv2d", "maxpool2d")]
    assert [(c.get("stride"), c.get("padding", c.get("kernel"))) for c in square] == \
        [(1, 1), (2, 2), (2, 1)]
    net = random_network("abc", seed=2, layout="sequence")
    layers = [layer for layer in network_to_json(net)["layers"]
              if layer["kind"] in ("conv2d", "maxpool2d")]
    assert [(c["stride"], c.get("padding", c.get("kernel"))) for c in layers] == \
        [(1, [0, 1]), ([1, 2], [0, 1]), ([1, 8], [1, 8])]
    save_network(net, tmp_path / "net.npz")
    back = load_network(tmp_path / "net.npz")
    assert [(b.stride, getattr(b, "padding", None)) for b in back.layers
            if b.kind in ("conv2d", "maxpool2d")] == [((1, 1), (0, 1)), ((1, 2), (0, 1)),
                                                      ((1, 8), None)]
    edit_file(tmp_path / "net.npz", lambda meta: meta["layers"][0].update(padding=[0, 1, 2]))
    with pytest.raises(NetworkError, match=r"layer 0 \(conv2d\).*padding must be a "
                                           r"non-negative integer or a pair \(h, w\) of them"):
        load_network(tmp_path / "net.npz")


def abc_net():
    return Network((4,), AbcActivation(np.array([0.0, 0.5]), np.array([1.0, 2.0])),
                   (Dense(np.ones((3, 4)), PaWeights.with_bases(2), np.zeros(3)),
                    Activation(FixedPointActivation(2, 0.5)),
                    Dense(np.ones((2, 3)), PaWeights.with_bases(2)), Scores()))


def rewrite(tmp_path, edit_meta=None, edit_arrays=None):
    """Save abc_net(), apply the edits to its JSON and arrays, and load it back."""
    path = tmp_path / "net.npz"
    save_network(abc_net(), path)
    edit_file(path, edit_meta, edit_arrays)
    return load_network(path)


def test_rewrite_without_edits_loads(tmp_path):
    assert network_to_json(rewrite(tmp_path)) == network_to_json(abc_net())


def set_item(path, value):
    def edit(obj):
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = value
    return edit


def test_newer_version(tmp_path):
    with pytest.raises(NetworkError, match=f"format version {FORMAT_VERSION + 1} is newer than this "
                                           f"popcorn reads \\({FORMAT_VERSION}\\); upgrade popcorn"):
        rewrite(tmp_path, set_item(["version"], FORMAT_VERSION + 1))


def test_not_a_network_file(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(1))
    with pytest.raises(NetworkError, match="not a popcorn network file \\(no 'popcorn.json' entry\\)"):
        load_network(tmp_path / "x.npz")
    with pytest.raises(NetworkError, match="not a popcorn network file \\(format 'other'"):
        rewrite(tmp_path, set_item(["format"], "other"))


@pytest.mark.parametrize("edit, message", [
    (set_item(["layers", 0, "weights", "scheme"], "quaternary"),
     "layer 0 (dense) weights: unknown weight scheme 'quaternary'; known schemes are bnn, "
     "binaryconnect, xnor, abc, pa, ternary"),
    (set_item(["layers", 1, "activation", "quantizer"], "relu"),
     "layer 1 (activation): unknown activation quantizer 'relu'"),
    (set_item(["layers", 1, "kind"], "dropout"),
     "layer 1: unknown layer kind 'dropout'; known kinds are dense, conv2d"),
    (set_item(["layers", 0, "weights", "bases"], 4),
     "layer 0 (dense) weights: declares 4 weight bases but has 2 endpoints"),
    (set_item(["input", "activation", "bases"], 3),
     "input: declares 3 activation bases but array 'input.shifts' has shape (2,)"),
    (set_item(["layers", 0, "weights", "endpoints"], [1.0, -1.0]),
     "layer 0 (dense): PA-Net weight endpoints must be strictly increasing, not [1.0, -1.0]"),
    (set_item(["layers", 0, "stride"], 2),
     "layer 0 (dense): unknown field(s) 'stride'; the file may come from a newer popcorn"),
    (set_item(["layers", 1, "activation", "bits"], 0),
     "layer 1 (activation): fixed-point bit width must be a positive integer, not 0"),
])
def test_metadata_errors(tmp_path, edit, message):
    with pytest.raises(NetworkError) as info:
        rewrite(tmp_path, edit)
    assert message in str(info.value)


def drop(key):
    return lambda arrays: arrays.pop(key)


def put(key, value):
    return lambda arrays: arrays.__setitem__(key, value)


@pytest.mark.parametrize("edit, message", [
    (drop("layers.0.bias"), "layer 0 (dense): missing array 'layers.0.bias'"),
    (put("layers.2.bias", np.zeros(2)),
     "unexpected array(s) 'layers.2.bias' not declared by the metadata"),
    (put("layers.0.weight", np.ones((3, 4), dtype=np.int32)),
     "layer 0 (dense): array 'layers.0.weight' must be a float32 or float64 array, not int32"),
    (put("layers.0.weight", np.full((3, 4), np.inf)),
     "layer 0 (dense): array 'layers.0.weight' contains NaN or infinity (first at index (0, 0))"),
    (put("input.betas", np.array([1.0, np.nan])),
     "input: array 'input.betas' contains NaN or infinity"),
    (put("input.betas", np.array([1.0, 2.0, 3.0])),
     "input: declares 2 activation bases but array 'input.betas' has shape (3,)"),
    (put("layers.2.weight", np.ones((2, 5))),
     "layer 2 (dense): weight has 5 inputs but the input has shape (3,)"),
])
def test_array_errors(tmp_path, edit, message):
    with pytest.raises(NetworkError) as info:
        rewrite(tmp_path, edit_arrays=edit)
    assert message in str(info.value)


def test_pa_activation_endpoints_in_file(tmp_path):
    net = Network((2,), FixedPointActivation(1, 1.0),
                  (Dense(np.ones((2, 2)), PaWeights.with_bases(2)),
                   Activation(PaActivation(np.array([0.0, 1.0]), np.array([1.0, 2.0]))),
                   Dense(np.ones((2, 2)), PaWeights.with_bases(2)), Scores()))
    save_network(net, tmp_path / "pa.npz")
    with np.load(tmp_path / "pa.npz") as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["layers.1.endpoints"] = np.array([1.0, 1.0])
    np.savez(tmp_path / "pa.npz", **arrays)
    with pytest.raises(NetworkError, match=r"layer 1 \(activation\): PA-Net activation endpoints must "
                                           r"be strictly increasing, not \[1.0, 1.0\]"):
        load_network(tmp_path / "pa.npz")


def test_broken_metadata(tmp_path):
    with pytest.raises(NetworkError, match="format version must be a positive integer, not '1'"):
        rewrite(tmp_path, set_item(["version"], "1"))
    with pytest.raises(NetworkError, match="'layers' must be a JSON list, not 3"):
        rewrite(tmp_path, set_item(["layers"], 3))
    with pytest.raises(NetworkError, match=r"layer 2 \(dense\): missing field 'bias'"):
        rewrite(tmp_path, lambda meta: meta["layers"][2].pop("bias"))
    with pytest.raises(NetworkError, match=r"layer 0 \(dense\) weights: expected a JSON object, not 'pa'"):
        rewrite(tmp_path, set_item(["layers", 0, "weights"], "pa"))
    np.savez(tmp_path / "bad.npz", **{"popcorn.json": np.frombuffer(b"{not json", dtype=np.uint8)})
    with pytest.raises(NetworkError, match="'popcorn.json' is not valid JSON"):
        load_network(tmp_path / "bad.npz")
