"""FINN's own test networks (``brevitas_examples.bnn_pynq``: TFC, SFC, CNV; w1a1 and the
ternary w2a2), trained briefly on the offline MNIST subset, exported with
``export_qonnx(..., dynamo=False)`` and imported unmodified: popcorn's float reference and
integer golden model against qonnx's ``execute_onnx``. The full CNVs are ``slow``; the default
run uses the same CNV class with fewer channels."""

import numpy as np
import pytest

from ._qonnx_helpers import check_float, check_integer, nn, onnx, run_qonnx, torch

from popcorn.frontends import QonnxImportError, bnn_pynq, import_qonnx
from popcorn.network import FixedPointActivation, PaActivation, load_network, save_network

SMALL_CNV = ((8, 8, 16, 16, 16, 16), (32, 32))


@pytest.fixture(scope="module")
def mnist():
    from popcorn.train.data import load_mnist_subset

    return load_mnist_subset()


def _roundtrip(tmp_path, mnist, name, shrink=None, steps=20, images=48):
    model = bnn_pynq.build(name, shrink)
    x = bnn_pynq.mnist_inputs(mnist.x_train[:1024], name)
    bnn_pynq.train(model, x, mnist.y_train[:1024], steps, batch=32)
    test = bnn_pynq.mnist_inputs(mnist.x_test[:images], name)
    path = bnn_pynq.export(model, test, tmp_path / f"{name}.onnx")
    net = import_qonnx(path)
    save_network(net, tmp_path / f"{name}.npz")
    net = load_network(tmp_path / f"{name}.npz")
    reference = run_qonnx(path, test)
    check_float(net, test, reference)
    wrong, near = check_integer(net, test, reference)
    assert wrong <= near
    return path, net


def _ops(path):
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def _weights(net):
    return [layer.quantizer.scheme for layer in net.layers if layer.kind in ("dense", "conv2d")]


def _activations(net):
    return [layer.quantizer.quantizer for layer in net.layers if layer.kind == "activation"]


def test_tfc_w1a1(tmp_path, mnist):
    path, net = _roundtrip(tmp_path, mnist, "tfc_1w1a")
    ops = _ops(path)
    # what FINN's export really contains: the raw reshape, 2x - 1, the final TensorNorm
    assert ops[:4] == ["Reshape", "Mul", "Sub", "BipolarQuant"]
    assert ops[-5:] == ["Sub", "Pow", "Div", "Mul", "Add"]
    assert net.input_shape == (1, 28, 28)
    # sign(2x - 1) = [x >= 1/2]: a 1-bit fixed point on the pixel, then the flatten
    assert net.input_quantizer == FixedPointActivation(1, 1.0)
    assert [layer.kind for layer in net.layers][:2] == ["flatten", "dense"]
    assert _weights(net) == ["bnn"] * 4
    assert _activations(net) == ["sign"] * 3
    assert [layer.kind for layer in net.layers][-3:] == ["dense", "batchnorm", "scores"]


def test_tfc_w2a2_is_ternary(tmp_path, mnist):
    path, net = _roundtrip(tmp_path, mnist, "tfc_2w2a")
    assert "Quant" in _ops(path) and "BipolarQuant" not in _ops(path)
    assert _weights(net) == ["ternary"] * 4
    for layer in net.layers:
        if layer.kind == "dense":
            assert set(np.unique(layer.weight)) <= {-1.0, 0.0, 1.0}
            assert (layer.weight == 0).any()
    # ternary activations: two zo pieces at (q - 1/2) scale, the -scale shift in the next bias
    for layer in net.layers:
        if layer.kind == "activation":
            np.testing.assert_array_equal(layer.quantizer.endpoints, [-0.5, 0.5])
            np.testing.assert_array_equal(layer.quantizer.betas, [1.0, 2.0])
    # the input: the 2-bit ternary Quant of 2x - 1, thresholds at x = 1/4 and 3/4
    assert isinstance(net.input_quantizer, PaActivation)
    np.testing.assert_array_equal(net.input_quantizer.endpoints, [0.25, 0.75])


def test_sfc_w2a2_through_the_command_line(tmp_path, mnist):
    """``popcorn import model.onnx -o net.npz`` then ``popcorn predict`` (integer and --float)
    on the images, as a FINN user runs them, against qonnx."""
    from click.testing import CliRunner

    from popcorn.cli import main

    model = bnn_pynq.build("sfc_2w2a", shrink=(48, 48, 48))
    bnn_pynq.train(model, bnn_pynq.mnist_inputs(mnist.x_train[:512], "sfc_2w2a"),
                   mnist.y_train[:512], 10, batch=32)
    x = bnn_pynq.mnist_inputs(mnist.x_test[:32], "sfc_2w2a")
    path = bnn_pynq.export(model, x, tmp_path / "sfc.onnx")
    np.save(tmp_path / "x.npy", x)
    runner = CliRunner()
    result = runner.invoke(main, ["import", str(path), "-o", str(tmp_path / "net.npz")])
    assert result.exit_code == 0, result.output
    assert "ternary weights" in result.output
    reference = run_qonnx(path, x)
    net = load_network(tmp_path / "net.npz")
    for extra, name in (["--float"], "float.npz"), ([], "integer.npz"):
        result = runner.invoke(main, ["predict", str(tmp_path / "net.npz"), str(tmp_path / "x.npy"),
                                      "-o", str(tmp_path / name), *extra])
        assert result.exit_code == 0, result.output
    with np.load(tmp_path / "float.npz") as out:
        np.testing.assert_allclose(out["scores"], reference, rtol=0,
                                   atol=1e-4 * np.abs(reference).max())
    with np.load(tmp_path / "integer.npz") as out:
        wrong = out["argmax"] != reference.argmax(axis=1)
    assert wrong.sum() == check_integer(net, x, reference)[0]


@pytest.mark.parametrize("name", ["cnv_1w1a", "cnv_2w2a"])
def test_small_cnv(tmp_path, mnist, name):
    path, net = _roundtrip(tmp_path, mnist, name, SMALL_CNV, steps=8, images=24)
    ops = _ops(path)
    assert ops[:3] == ["Mul", "Sub", "Quant"] and "MaxPool" in ops and "Reshape" in ops
    # the signed 8-bit Q1.7 input of 2x - 1 is an unsigned 8-bit fixed point of x, scale 2**-8
    assert net.input_quantizer == FixedPointActivation(8, 2.0 ** -8)
    kinds = [layer.kind for layer in net.layers]
    assert kinds.count("conv2d") == 6 and kinds.count("maxpool2d") == 2
    assert _weights(net) == (["bnn"] if name == "cnv_1w1a" else ["ternary"]) * 9
    assert set(_activations(net)) == ({"sign"} if name == "cnv_1w1a" else {"pa"})


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cnv_1w1a", "cnv_2w2a"])
def test_full_cnv(tmp_path, mnist, name):
    _, net = _roundtrip(tmp_path, mnist, name, steps=20, images=16)
    assert [layer.out_channels for layer in net.layers if layer.kind == "conv2d"] == \
        [64, 64, 128, 128, 256, 256]


# -- what lies between a MaxPool and its quantizer

class _Affine(nn.Module):
    def __init__(self, scale, shift):
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x):
        return x * self.scale + self.shift


def _pool_model(between):
    from ._qonnx_helpers import binary_conv, binary_linear, sign

    return nn.Sequential(sign(), binary_conv(2, 4, 3), nn.BatchNorm2d(4), nn.MaxPool2d(2),
                         *between, sign(), nn.Flatten(), binary_linear(4 * 2 * 2, 3))


def _pool_export(tmp_path, model, x):
    from ._qonnx_helpers import export, randomize_batchnorms

    randomize_batchnorms(model, x)
    for module in model.modules():   # gamma > 0 before the pool: max commutes with the map
        if isinstance(module, nn.BatchNorm2d):
            with torch.no_grad():
                module.weight.abs_()
    return export(model, x, tmp_path / "pool.onnx")


def test_increasing_maps_between_pool_and_quantizer_are_moved_exactly(tmp_path):
    x = np.random.default_rng(3).normal(size=(64, 2, 6, 6)).astype(np.float32)
    model = _pool_model([_Affine(torch.tensor([0.5, 2.0, 1.0, 3.0])[:, None, None], -0.25),
                         nn.BatchNorm2d(4)])
    path = _pool_export(tmp_path, model, x)
    assert _ops(path)[_ops(path).index("MaxPool") + 1:][:4] == ["Mul", "Add",
                                                                "BatchNormalization",
                                                                "BipolarQuant"]
    net = import_qonnx(path)
    kinds = [layer.kind for layer in net.layers]
    assert kinds[:4] == ["conv2d", "batchnorm", "activation", "maxpool2d"]
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    check_integer(net, x, reference)


def test_decreasing_map_between_pool_and_quantizer_pools_by_the_minimum(tmp_path):
    x = np.random.default_rng(4).normal(size=(64, 2, 6, 6)).astype(np.float32)
    path = _pool_export(tmp_path, _pool_model([_Affine(torch.tensor(
        [1.0, -2.0, 1.0, -0.5])[:, None, None], 0.0)]), x)
    net = import_qonnx(path)
    [pool] = [layer for layer in net.layers if layer.kind == "maxpool2d"]
    assert pool.minimum == (1, 3)
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    check_integer(net, x, reference)


def test_negative_gamma_between_pool_and_quantizer_pools_by_the_minimum(tmp_path):
    # BinaryNet's order: Conv, MaxPool, BatchNorm, sign; a trained gamma may be negative
    x = np.random.default_rng(5).normal(size=(64, 2, 6, 6)).astype(np.float32)
    model = _pool_model([nn.BatchNorm2d(4), _Affine(torch.tensor(
        [1.0, 1.0, -1.0, 1.0])[:, None, None], 0.5)])
    path = _pool_export(tmp_path, model, x)
    graph = onnx.load(str(path))
    [scale] = [i for i in graph.graph.initializer if i.name.endswith("4.weight")]
    values = onnx.numpy_helper.to_array(scale).copy()
    values[1:3] = -abs(values[1:3])   # channel 2 decreases twice: the maximum again
    scale.CopyFrom(onnx.numpy_helper.from_array(values, scale.name))
    onnx.save(graph, str(path))
    net = import_qonnx(path)
    [pool] = [layer for layer in net.layers if layer.kind == "maxpool2d"]
    assert pool.minimum == (1,)
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    check_integer(net, x, reference)


# -- input preprocessing

def _preprocessed(tmp_path, scale, shift):
    from ._qonnx_helpers import binary_linear, export, sign

    model = nn.Sequential(_Affine(scale, shift), sign(), binary_linear(6, 3))
    return export(model, np.zeros((2, 6), dtype=np.float32), tmp_path / "pre.onnx")


def test_preprocessing_is_folded_into_the_input_thresholds(tmp_path):
    path = _preprocessed(tmp_path, 4.0, -1.0)             # sign(4x - 1) = [x >= 1/4]
    net = import_qonnx(path)
    assert net.input_quantizer == FixedPointActivation(1, 0.5)
    x = np.random.default_rng(6).uniform(-1, 1, (2, 6)).astype(np.float32)
    check_float(net, x, run_qonnx(path, x))


def test_per_element_preprocessing_is_refused(tmp_path):
    path = _preprocessed(tmp_path, torch.arange(1.0, 7.0), 0.0)
    with pytest.raises(QonnxImportError, match=r"\(Mul\): a constant of shape \(6,\) on the raw "
                                               r"input; popcorn folds input preprocessing into "
                                               r"the input quantizer"):
        import_qonnx(path)


def test_negative_preprocessing_scale_is_refused(tmp_path):
    path = _preprocessed(tmp_path, -2.0, 0.5)
    with pytest.raises(QonnxImportError, match=r"\(BipolarQuant\): the input is multiplied by "
                                               r"-2 before this quantizer"):
        import_qonnx(path)
