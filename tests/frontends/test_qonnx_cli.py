"""``popcorn import MODEL.onnx -o NETWORK.npz``."""

import sys

import numpy as np
from click.testing import CliRunner

from ._qonnx_helpers import binary_linear, export, nn, randomize_batchnorms, run_qonnx, sign, torch

from popcorn.cli import main
from popcorn.golden.float_ref import float_forward
from popcorn.network import load_network


def _model_file(tmp_path, *tail):
    torch.manual_seed(0)
    model = nn.Sequential(sign(), binary_linear(12, 8), nn.BatchNorm1d(8), sign(),
                          binary_linear(8, 3), *tail)
    randomize_batchnorms(model, np.random.default_rng(1).normal(size=(16, 12)))
    return export(model, np.zeros((4, 12), dtype=np.float32), tmp_path / "model.onnx")


def test_import_writes_the_network_and_prints_the_layers(tmp_path):
    path = _model_file(tmp_path)
    result = CliRunner().invoke(main, ["import", str(path), "-o", str(tmp_path / "net.npz")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:2] == ["input", "(12,)"] and lines[0].endswith("sign")
    assert [line.split()[0] for line in lines[1:-1]] == ["dense", "batchnorm", "activation",
                                                         "dense", "scores"]
    assert "(12,) -> (8,)" in lines[1] and "bnn weights" in lines[1]
    assert lines[-1] == f"5 layers, 3 classes: written to {tmp_path / 'net.npz'}"
    net = load_network(tmp_path / "net.npz")
    x = np.random.default_rng(0).normal(size=(4, 12)).astype(np.float32)
    reference = run_qonnx(path, x)
    np.testing.assert_allclose(float_forward(net, x).scores, reference, rtol=0,
                               atol=1e-4 * np.abs(reference).max())


def test_import_keep_scales(tmp_path):
    out = tmp_path / "net.npz"
    torch.manual_seed(0)
    model = nn.Sequential(sign(), binary_linear(12, 8, scale=0.1), nn.BatchNorm1d(8), sign(),
                          binary_linear(8, 3))
    path = export(model, np.zeros((4, 12), dtype=np.float32), tmp_path / "scaled.onnx")
    result = CliRunner().invoke(main, ["import", str(path), "-o", str(out), "--keep-scales"])
    assert result.exit_code == 0, result.output
    assert "xnor weights (alpha 0.1)" in result.output.splitlines()[1]


def test_import_error_names_the_node(tmp_path):
    path = _model_file(tmp_path, nn.Softmax(dim=1))
    result = CliRunner().invoke(main, ["import", str(path), "-o", str(tmp_path / "net.npz")])
    assert result.exit_code == 1
    assert f"Error: {path}: node '/5/Softmax' has op type 'Softmax', which popcorn cannot " \
           f"import" in result.output
    assert not (tmp_path / "net.npz").exists()


def test_import_without_the_extra_says_what_to_install(tmp_path, monkeypatch):
    path = _model_file(tmp_path)
    for name in [n for n in sys.modules if n == "qonnx" or n.startswith("qonnx.")]:
        monkeypatch.setitem(sys.modules, name, None)   # as if qonnx were not installed
    monkeypatch.delitem(sys.modules, "popcorn.frontends.qonnx")
    result = CliRunner().invoke(main, ["import", str(path), "-o", str(tmp_path / "net.npz")])
    assert result.exit_code == 1
    assert "install them with: pip install 'popcorn[qonnx]'" in result.output


def test_import_of_a_file_that_is_not_onnx(tmp_path):
    (tmp_path / "junk.onnx").write_text("not a model")
    result = CliRunner().invoke(main, ["import", str(tmp_path / "junk.onnx"), "-o",
                                       str(tmp_path / "net.npz")])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {tmp_path / 'junk.onnx'}: not an ONNX model (")
