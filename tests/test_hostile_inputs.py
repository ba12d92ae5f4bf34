"""A catalogue of hostile inputs: each ends in a one-line message naming the file, layer or
argument (exit status 1 or click's usage status 2), never a traceback."""

import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from popcorn.cli import main
from popcorn.golden.examples import random_network, sign_mlp
from popcorn.network import save_network


def _network_file(tmp_path, edit=None, arrays=None):
    """A valid network file, its JSON description passed through ``edit`` and its arrays
    through ``arrays`` (name -> array or None to drop)."""
    path = tmp_path / "net.npz"
    save_network(random_network("bnn", seed=0, layout="conv"), path)
    with np.load(path) as archive:
        content = {name: archive[name] for name in archive.files}
    meta = json.loads(content["popcorn.json"].tobytes())
    if edit:
        edit(meta)
    content["popcorn.json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    for name, value in (arrays(content) if arrays else {}).items():
        if value is None:
            content.pop(name)
        else:
            content[name] = value
    np.savez(path, **content)
    return path


def _first_weight(content):
    return next(name for name in content if name.startswith("layers.0.") and "weight" in name)


def _setup(tmp_path, kind):
    """Files of the hostile case ``kind``; returns the network path (or another path)."""
    net = tmp_path / "net.npz"
    if kind == "text":
        net.write_text("not a network")
    elif kind == "truncated":
        save_network(random_network("bnn", seed=0), net)
        net.write_bytes(net.read_bytes()[:300])
    elif kind == "single array":
        np.save(tmp_path / "net.npy", np.zeros(3))
        (tmp_path / "net.npy").rename(net)
    elif kind == "no description":
        np.savez(net, weights=np.zeros(3))
    elif kind == "zip of garbage":
        with zipfile.ZipFile(net, "w") as archive:
            archive.writestr("popcorn.json.npy", b"garbage")
    elif kind == "newer version":
        _network_file(tmp_path, lambda m: m.update(version=99))
    elif kind == "version not a number":
        _network_file(tmp_path, lambda m: m.update(version="one"))
    elif kind == "other format":
        _network_file(tmp_path, lambda m: m.update(format="onnx"))
    elif kind == "unknown layer":
        _network_file(tmp_path, lambda m: m["layers"][0].update(kind="lstm"))
    elif kind == "layers not a list":
        _network_file(tmp_path, lambda m: m.update(layers={"0": 1}))
    elif kind == "no layers":
        _network_file(tmp_path, lambda m: m.update(layers=[]),
                      arrays=lambda c: {name: None for name in c if name.startswith("layers.")})
    elif kind == "unknown key":
        _network_file(tmp_path, lambda m: m["layers"][0].update(colour="red"))
    elif kind == "NaN weight":
        _network_file(tmp_path, arrays=lambda c: {
            _first_weight(c): np.full_like(c[_first_weight(c)], np.nan)})
    elif kind == "infinite weight":
        _network_file(tmp_path, arrays=lambda c: {
            _first_weight(c): np.full_like(c[_first_weight(c)], np.inf)})
    elif kind == "missing array":
        _network_file(tmp_path, arrays=lambda c: {_first_weight(c): None})
    elif kind == "integer weights":
        _network_file(tmp_path, arrays=lambda c: {
            _first_weight(c): c[_first_weight(c)].astype(np.int64)})
    elif kind == "wrong weight shape":
        _network_file(tmp_path, arrays=lambda c: {
            _first_weight(c): np.zeros((4, 2, 3, 3))})
    else:
        save_network(random_network("bnn", seed=0, layout="conv"), net)
    x = tmp_path / "x.npz"
    np.savez(x, x=np.random.default_rng(0).random((3, 1, 8, 8)), y=np.zeros(3, np.int64))
    return net


NETWORK_CASES = [
    ("text", "net.npz: not a popcorn network file (neither an .npz archive nor an array; "
             "popcorn never loads pickled data)"),
    ("truncated", "net.npz: not a readable popcorn network file (damaged or truncated"),
    ("single array", "net.npz: not a popcorn network file (a single array, not an .npz)"),
    ("no description", "net.npz: not a popcorn network file (no 'popcorn.json' entry)"),
    ("zip of garbage", "net.npz: not a readable popcorn network file"),
    ("newer version", "format version 99 is newer than this popcorn reads"),
    ("version not a number", "format version must be a positive integer, not 'one'"),
    ("other format", "not a popcorn network file (format 'onnx'"),
    ("unknown layer", "layer 0: unknown layer kind 'lstm'"),
    ("layers not a list", "'layers' must be a JSON list"),
    ("no layers", "a network needs at least one layer, ending with Scores"),
    ("unknown key", "layer 0 (conv2d): unknown field(s) 'colour'"),
    ("NaN weight", "contains NaN or infinity"),
    ("infinite weight", "contains NaN or infinity"),
    ("missing array", "layer 0 (conv2d): missing array"),
    ("integer weights", "must be a float32 or float64 array, not int64"),
    ("wrong weight shape", "layer 0 (conv2d): weight has 2 input channels"),
]


@pytest.mark.parametrize("kind, message", NETWORK_CASES, ids=[c[0] for c in NETWORK_CASES])
@pytest.mark.parametrize("command", ["build", "predict"])
def test_hostile_network_files(tmp_path, monkeypatch, kind, message, command):
    monkeypatch.chdir(tmp_path)
    _setup(tmp_path, kind)
    args = ["build", "net.npz", "--inputs", "x.npz", "--steps", "estimate"] \
        if command == "build" else ["predict", "net.npz", "x.npz", "-o", "s.npz"]
    if command == "predict":
        np.save(tmp_path / "x.npy", np.random.default_rng(0).random((3, 1, 8, 8)))
        args[2] = "x.npy"
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "s.npz").exists()


def _inputs(tmp_path, kind):
    if kind == "text .npy":
        (tmp_path / "in.npy").write_text("no array")
        return "in.npy"
    if kind == "truncated .npz":
        np.savez(tmp_path / "in.npz", x=np.zeros((2, 1, 8, 8)))
        data = (tmp_path / "in.npz").read_bytes()
        (tmp_path / "in.npz").write_bytes(data[:len(data) // 2])
        return "in.npz"
    if kind == "npz without x":
        np.savez(tmp_path / "in.npz", images=np.zeros((2, 1, 8, 8)))
        return "in.npz"
    if kind == "wrong shape":
        np.save(tmp_path / "in.npy", np.zeros((2, 8, 8)))
        return "in.npy"
    if kind == "strings":
        np.save(tmp_path / "in.npy", np.array([["a"] * 64] * 2).reshape(2, 1, 8, 8))
        return "in.npy"
    if kind == "NaN pixels":
        np.save(tmp_path / "in.npy", np.full((2, 1, 8, 8), np.nan))
        return "in.npy"
    if kind == "object array":
        np.save(tmp_path / "in.npy", np.array([None, 1], dtype=object), allow_pickle=True)
        return "in.npy"
    raise ValueError(kind)


INPUT_CASES = [
    ("text .npy", "in.npy: not a NumPy .npy array (neither an .npz archive nor an array; "
                  "popcorn never loads pickled data)"),
    ("truncated .npz", "in.npz: not a readable .npz archive (NumPy cannot read it"),
    ("npz without x", "in.npz: an .npz archive without `x` (it has images)"),
    ("wrong shape", "inputs have shape (2, 8, 8), but the network takes"),
    ("strings", "inputs must be an integer or float array, not <U1"),
    ("NaN pixels", "NaN"),
    ("object array", "in.npy"),
]


def test_build_with_truncated_inputs_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_network(random_network("bnn", seed=0, layout="conv"), tmp_path / "net.npz")
    result = CliRunner().invoke(main, ["build", "net.npz", "--inputs",
                                       _inputs(tmp_path, "truncated .npz"), "--steps",
                                       "estimate"])
    assert result.exit_code == 1, result.output
    assert "in.npz: not an .npz of inputs (NumPy cannot read it" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.parametrize("kind, message", INPUT_CASES, ids=[c[0] for c in INPUT_CASES])
def test_hostile_inputs(tmp_path, monkeypatch, kind, message):
    monkeypatch.chdir(tmp_path)
    save_network(random_network("bnn", seed=0, layout="conv"), tmp_path / "net.npz")
    result = CliRunner().invoke(main, ["predict", "net.npz", _inputs(tmp_path, kind),
                                       "-o", "s.npz"])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


MISUSE = [
    (["build", "--board", "de10"], "Invalid value for '--board'"),
    (["build", "--target-cycles", "many"], "must be a positive integer or `auto`, not 'many'"),
    (["build", "--target-cycles", "0"], "must be a positive integer or `auto`, not '0'"),
    (["build", "--pipeline", "deep"], "must be an integer or `auto`, not 'deep'"),
    (["build", "--target-fps", "5", "--target-cycles", "9"], "not both"),
    (["build", "--target-fps", "-3"], "--target-fps"),
    (["build", "--steps", "estimate,polish"], "unknown step 'polish'"),
    (["build", "net.npz"], "--inputs is required"),
    (["build", "--frac-bits", "99"], "--frac-bits"),
    (["build", "--sim-images", "0"], "--sim-images"),
    (["predict", "net.npz", "x.npy", "-o", "s.npz", "--rtl", "--float"],
     "--rtl runs the integer accelerator; drop --float"),
    (["build", "--target-cycles", "1", "--arch", "dataflow"],
     "the design does not fit icebreaker"),
    (["build", "net.npz", "--inputs", "x.npz", "--arch", "folded", "--board", "ulx3s-85f"],
     "SPRAM"),
]


@pytest.mark.parametrize("args, message", MISUSE, ids=[" ".join(a) for a, _ in MISUSE])
def test_command_line_misuse(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    save_network(sign_mlp((16, 8, 4)), tmp_path / "net.npz")
    np.savez(tmp_path / "x.npz", x=np.ones((2, 16)))
    np.save(tmp_path / "x.npy", np.ones((2, 16)))
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (1, 2), result.output
    assert message in result.output and "Traceback" not in result.output, result.output


def test_the_catalogue_holds_at_least_thirty_cases():
    assert len(NETWORK_CASES) * 2 + len(INPUT_CASES) + len(MISUSE) >= 30
