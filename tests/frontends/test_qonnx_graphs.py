"""Hand-built QONNX graphs for what Brevitas does not emit: FINN-style MultiThreshold,
Gemm with transB=0/alpha/beta, Reshape, Add, Identity; checked against ``execute_onnx``."""

import numpy as np
import pytest

from ._qonnx_helpers import check_float, check_integer, onnx, run_qonnx

from popcorn.frontends import QonnxImportError, UnsupportedNode, import_qonnx
from popcorn.golden.float_ref import float_forward
from popcorn.network import PaActivation, SignActivation

from onnx import TensorProto, helper, numpy_helper

QONNX = "qonnx.custom_op.general"
RNG = np.random.default_rng(11)


def _pm1(*shape):
    return np.where(RNG.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


class _Graph:
    def __init__(self, input_shape):
        self.nodes, self.inits = [], []
        self.current = "x"
        self.input = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_shape))
        self.count = 0

    def const(self, value, dtype=np.float32):
        self.count += 1
        name = f"c{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def add(self, op, *inputs, domain="", **attrs):
        self.count += 1
        out = f"t{self.count}"
        self.nodes.append(helper.make_node(op, [self.current, *inputs], [out],
                                           name=f"/{op.lower()}{self.count}", domain=domain,
                                           **attrs))
        self.current = out
        return self

    def save(self, path):
        graph = helper.make_graph(self.nodes, "g", [self.input],
                                  [helper.make_tensor_value_info(self.current, TensorProto.FLOAT,
                                                                 None)], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                        helper.make_opsetid(QONNX, 1)])
        onnx.save(model, str(path))
        return path


def _mlp_graph(batch):
    g = _Graph((batch, 16))
    g.add("MultiThreshold", g.const([[0.0]]), domain=QONNX, out_scale=2.0, out_bias=-1.0,
          out_dtype="BIPOLAR")
    g.add("MatMul", g.const(_pm1(16, 12)))
    g.add("MultiThreshold", g.const(RNG.integers(-3, 4, (12, 1))), domain=QONNX,
          out_scale=2.0, out_bias=-1.0, out_dtype="BIPOLAR")
    g.add("Gemm", g.const(_pm1(12, 8)), g.const(RNG.integers(-4, 5, 8) / 4), alpha=0.5, beta=2.0)
    shared = np.array([-2.0, 0.0, 1.5, 1.5])
    g.add("MultiThreshold", g.const(shared + RNG.integers(-2, 3, (8, 1))), domain=QONNX,
          out_scale=0.5, out_bias=0.0, out_dtype="UINT3")
    g.add("Identity")
    g.add("MatMul", g.const(_pm1(8, 4)))
    g.add("Add", g.const(RNG.integers(-4, 5, 4) / 8))
    return g


def test_multithreshold_gemm_mlp(tmp_path):
    x = RNG.normal(size=(64, 16)).astype(np.float32)
    path = _mlp_graph(64).save(tmp_path / "mt.onnx")
    net = import_qonnx(path)
    assert net.input_quantizer == SignActivation()
    kinds = [layer.kind for layer in net.layers]
    assert kinds == ["dense", "batchnorm", "activation", "dense", "batchnorm", "activation",
                     "dense", "scores"]
    pa = net.layers[5].quantizer
    assert isinstance(pa, PaActivation)
    np.testing.assert_array_equal(pa.endpoints, [0.0, 2.0, 3.5])   # shared - shared[0]
    np.testing.assert_array_equal(pa.betas, [0.5, 1.0, 2.0])        # 1.5 twice: two steps
    assert net.layers[3].quantizer.scheme == "bnn"                  # Gemm alpha 0.5 folded
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    assert check_integer(net, x, reference)[0] == 0


def _conv_graph():
    """BipolarQuant, Conv 2x2 stride 2, MultiThreshold, Reshape, MatMul on (32, 2, 4, 4)."""
    g = _Graph((32, 2, 4, 4))
    g.add("BipolarQuant", g.const(1.0), domain=QONNX)
    g.add("Conv", g.const(_pm1(3, 2, 2, 2)), g.const(RNG.integers(-2, 3, 3) / 2.0),
          kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0])
    g.add("MultiThreshold", g.const(RNG.integers(-2, 3, (3, 1)) + 0.5), domain=QONNX,
          out_scale=2.0, out_bias=-1.0, out_dtype="BIPOLAR")
    g.add("Reshape", g.const([32, -1], np.int64))
    g.add("MatMul", g.const(_pm1(12, 5)))
    return g


def _sequence_graph(kernel, strides, pads, pool):
    """BipolarQuant, Conv of ``kernel``/``strides``/``pads``, MultiThreshold, MaxPool of
    ``pool`` (its kernel and stride), Reshape, MatMul on (16, 2, H, W) maps."""
    shape = (16, 2) + ((1, 12) if kernel[0] == 1 else (6, 5))
    g = _Graph(shape)
    g.add("BipolarQuant", g.const(1.0), domain=QONNX)
    g.add("Conv", g.const(_pm1(3, 2, *kernel)), g.const(RNG.integers(-2, 3, 3) / 2.0),
          kernel_shape=list(kernel), strides=list(strides), pads=list(pads))
    g.add("MultiThreshold", g.const(RNG.integers(-2, 3, (3, 1)) + 0.5), domain=QONNX,
          out_scale=2.0, out_bias=-1.0, out_dtype="BIPOLAR")
    g.add("MaxPool", kernel_shape=list(pool), strides=list(pool))
    h = (shape[2] + pads[0] + pads[2] - kernel[0]) // strides[0] + 1
    w = (shape[3] + pads[1] + pads[3] - kernel[1]) // strides[1] + 1
    g.add("Reshape", g.const([shape[0], -1], np.int64))
    g.add("MatMul", g.const(_pm1(3 * (h // pool[0]) * (w // pool[1]), 4)))
    return g, shape


@pytest.mark.parametrize("kernel, strides, pads, pool", [
    ((1, 3), (1, 2), (0, 1, 0, 1), (1, 6)),    # a 1-D conv over time, a global max over time
    ((1, 3), (1, 1), (0, 1, 0, 1), (1, 4)),
    ((3, 1), (2, 1), (1, 0, 1, 0), (2, 1)),
    ((2, 3), (1, 2), (0, 1, 0, 1), (1, 3)),
])
def test_rectangular_conv_and_pool(tmp_path, kernel, strides, pads, pool):
    """Non-square kernel_shape, strides, pads (the same at both ends of each axis) and
    MaxPool import per axis; ±1 maps padded with the value 0 import with padding_fill="zero"."""
    g, shape = _sequence_graph(kernel, strides, pads, pool)
    path = g.save(tmp_path / "seq.onnx")
    net = import_qonnx(path)
    conv, pooling = net.layers[0], net.layers[3]
    assert (conv.kernel, conv.stride, conv.padding, conv.padding_fill) == \
        (kernel, strides, pads[:2], "zero")
    assert (pooling.kind, pooling.kernel, pooling.stride) == ("maxpool2d", pool, pool)
    x = RNG.normal(size=shape).astype(np.float32)
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    assert check_integer(net, x, reference)[0] == 0


def test_asymmetric_pads_are_refused_by_name(tmp_path):
    g, _ = _sequence_graph((1, 3), (1, 1), (0, 1, 0, 2), (1, 1))
    with pytest.raises(QonnxImportError, match=r"node '/conv\d+' \(Conv\): pads=\[0, 1, 0, 2\]; "
                                               r"popcorn imports the same padding at both ends "
                                               r"of each axis"):
        import_qonnx(g.save(tmp_path / "asym.onnx"))


def test_conv_multithreshold_reshape(tmp_path):
    x = RNG.normal(size=(32, 2, 4, 4)).astype(np.float32)
    path = _conv_graph().save(tmp_path / "conv.onnx")
    net = import_qonnx(path)
    assert [layer.kind for layer in net.layers] == ["conv2d", "batchnorm", "activation",
                                                    "flatten", "dense", "scores"]
    assert net.layers[0].stride == (2, 2)
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    assert check_integer(net, x, reference)[0] == 0


def test_maxpool_before_multithreshold(tmp_path):
    """Conv -> MaxPool -> MultiThreshold (per-channel levels) is Conv -> levels -> MaxPool."""
    x = RNG.normal(size=(32, 2, 6, 6)).astype(np.float32)
    g = _Graph((32, 2, 6, 6))
    g.add("BipolarQuant", g.const(1.0), domain=QONNX)
    g.add("Conv", g.const(_pm1(3, 2, 3, 3)), kernel_shape=[3, 3])
    g.add("MaxPool", kernel_shape=[2, 2], strides=[2, 2])
    # per-channel levels that differ (a draw from the shared RNG could make them equal,
    # and then the importer rightly needs no batchnorm)
    g.add("MultiThreshold", g.const(np.array([-1.0, 1.0, 3.0]) + np.array([[-2], [0], [1]])),
          domain=QONNX, out_scale=1.0, out_bias=0.0, out_dtype="UINT2")
    g.add("Flatten", axis=1)
    g.add("MatMul", g.const(_pm1(12, 4)))
    path = g.save(tmp_path / "m.onnx")
    net = import_qonnx(path)
    assert [layer.kind for layer in net.layers] == ["conv2d", "batchnorm", "activation",
                                                    "maxpool2d", "flatten", "dense", "scores"]
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    assert check_integer(net, x, reference)[0] == 0


def test_multithreshold_with_a_bias(tmp_path):
    """ABC-like bipolar levels (out_bias = -out_scale * steps / 2): PA pieces, with out_bias
    moved into the next layer's bias (exact: W (a + o) = W a + o sum(W))."""
    x = RNG.normal(size=(64, 6)).astype(np.float32)
    g = _Graph((64, 6))
    g.add("BipolarQuant", g.const(1.0), domain=QONNX)
    g.add("MatMul", g.const(_pm1(6, 5)))
    g.add("MultiThreshold", g.const([[-2.0, 0.0, 2.0]] * 5), domain=QONNX, out_scale=1.0,
          out_bias=-1.5, out_dtype="FLOAT32")
    g.add("MatMul", g.const(_pm1(5, 3)))
    path = g.save(tmp_path / "m.onnx")
    net = import_qonnx(path)
    assert net.layers[1].quantizer.quantizer == "pa"
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    assert check_integer(net, x, reference)[0] == 0


def test_quant_with_floor_rounding_is_refused(tmp_path):
    g = _Graph((2, 4))
    g.add("Quant", g.const(0.25), g.const(0.0), g.const(4.0), domain=QONNX, signed=0, narrow=0,
          rounding_mode="FLOOR")
    g.add("MatMul", g.const(_pm1(4, 2)))
    with pytest.raises(QonnxImportError, match=r"\(Quant\): cannot import as a fixed-point "
                                               r"activation: rounding_mode='FLOOR'"):
        import_qonnx(g.save(tmp_path / "m.onnx"))


def test_fixed_point_rounding_ties(tmp_path):
    """The one documented mismatch: ROUND is half to even in qonnx, popcorn rounds half up;
    HALF_UP agrees everywhere. Inputs exactly on (k + 1/2) scale, scale a power of two."""
    x = np.array([[0.125, 0.375, 0.625, 0.875]], dtype=np.float32)   # codes 0.5 .. 3.5
    results = {}
    for rounding in ("ROUND", "HALF_UP"):
        g = _Graph((1, 4))
        g.add("Quant", g.const(0.25), g.const(0.0), g.const(3.0), domain=QONNX, signed=0,
              narrow=0, rounding_mode=rounding)
        g.add("MatMul", g.const(np.eye(4, dtype=np.float32)[:, :1] * 2 - 1))
        path = g.save(tmp_path / f"{rounding}.onnx")
        ours = import_qonnx(path)
        results[rounding] = run_qonnx(path, x), float_forward(ours, x).scores
    qonnx_round, ours = results["ROUND"]
    # codes: qonnx 0, 2, 2, 4 (half to even); popcorn 1, 2, 3, 4 (half up)
    assert qonnx_round.tolist() == [[0.25 * (0 - 2 - 2 - 4)]]
    assert ours.tolist() == [[0.25 * (1 - 2 - 3 - 4)]]
    qonnx_half_up, ours = results["HALF_UP"]
    assert qonnx_half_up.tolist() == ours.tolist()


def test_multithreshold_unrelated_channels_are_refused(tmp_path):
    g = _Graph((2, 4))
    g.add("BipolarQuant", g.const(1.0), domain=QONNX)
    g.add("MatMul", g.const(_pm1(4, 2)))
    g.add("MultiThreshold", g.const([[0.0, 1.0], [0.0, 3.0]]), domain=QONNX, out_scale=1.0,
          out_bias=0.0, out_dtype="UINT2")
    g.add("MatMul", g.const(_pm1(2, 2)))
    with pytest.raises(QonnxImportError, match="not one shared set shifted per channel"):
        import_qonnx(g.save(tmp_path / "m.onnx"))


def test_unknown_domain_op_is_unsupported(tmp_path):
    g = _Graph((2, 4))
    g.add("BipolarQuant", g.const(1.0), domain=QONNX)
    g.add("XnorPopcountMatMul", g.const(_pm1(4, 2)), domain=QONNX)
    with pytest.raises(UnsupportedNode, match=r"node '/xnorpopcountmatmul\d+' has op type "
                                              r"'XnorPopcountMatMul'"):
        import_qonnx(g.save(tmp_path / "m.onnx"))


def test_reshape_that_is_not_a_flatten_is_refused(tmp_path):
    g = _Graph((2, 1, 4, 4))
    g.add("BipolarQuant", g.const(1.0), domain=QONNX)
    g.add("Reshape", g.const([2, 4, 2, 2], np.int64))
    with pytest.raises(QonnxImportError, match=r"reshape of \(1, 4, 4\) to \[2, 4, 2, 2\]"):
        import_qonnx(g.save(tmp_path / "m.onnx"))


def test_per_class_tensornorm_and_input_preprocessing(tmp_path):
    """FINN-style ends: ``(x / 4 + 1/2)`` before a signed narrow 2-bit (ternary) input Quant,
    ternary weights, and a TensorNorm with per-class constants (one scale negative) after the
    last MatMul: folded into a BatchNorm before the scores."""
    x = RNG.uniform(-4, 4, size=(64, 12)).astype(np.float32)
    g = _Graph((64, 12))
    g.add("Div", g.const(4.0))
    g.add("Add", g.const(0.5))
    g.add("Quant", g.const(0.5), g.const(0.0), g.const(2.0), domain=QONNX, signed=1, narrow=1,
          rounding_mode="ROUND")
    g.add("MatMul", g.const(RNG.integers(-1, 2, (12, 8)).astype(np.float32)))
    g.add("BatchNormalization", *(g.const(v) for v in (
        RNG.uniform(0.5, 2, 8), RNG.normal(size=8), RNG.normal(size=8), RNG.uniform(0.5, 2, 8))))
    g.add("Quant", g.const(1.0), g.const(0.0), g.const(2.0), domain=QONNX, signed=1, narrow=1,
          rounding_mode="ROUND")
    g.add("MatMul", g.const(RNG.integers(-1, 2, (8, 5)).astype(np.float32)))
    g.add("Sub", g.const(RNG.normal(size=(1, 5))))
    g.add("Div", g.const(RNG.uniform(0.5, 2, size=5)))
    g.add("Mul", g.const(np.array([1.5, -0.5, 2.0, 1.0, 0.25])))
    g.add("Add", g.const(RNG.normal(size=5)))
    path = g.save(tmp_path / "tn.onnx")
    net = import_qonnx(path)
    # x / 4 + 1/2 >= (q - 1/2) / 2 for q = 0, 1  <=>  x >= -3, x >= -1
    assert isinstance(net.input_quantizer, PaActivation)
    np.testing.assert_array_equal(net.input_quantizer.endpoints, [-3.0, -1.0])
    assert [layer.kind for layer in net.layers] == ["dense", "batchnorm", "activation", "dense",
                                                    "batchnorm", "scores"]
    assert [net.layers[i].quantizer.scheme for i in (0, 3)] == ["ternary", "ternary"]
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    wrong, near = check_integer(net, x, reference)
    assert wrong <= near


def test_div_of_a_constant_by_the_data_is_refused(tmp_path):
    g = _Graph((4, 6))
    g.add("BipolarQuant", g.const(1.0), domain=QONNX)
    g.add("MatMul", g.const(_pm1(6, 3)))
    node = helper.make_node("Div", [g.const(1.0), g.current], ["inv"], name="/inv")
    g.nodes.append(node)
    g.current = "inv"
    path = g.save(tmp_path / "inv.onnx")
    with pytest.raises(QonnxImportError, match=r"node '/inv' \(Div\): a constant divided by the "
                                               r"data \(1/x\) is not an affine map"):
        import_qonnx(path)


@pytest.mark.parametrize("final_bn", [False, True])
def test_ternary_weights_with_per_output_scales(tmp_path, final_bn):
    """{-s_c, 0, +s_c} weights: TernaryWeights per output channel (no BatchNorm after them),
    or s_c folded into the BatchNorm and {-1, 0, +1} weights."""
    x = RNG.normal(size=(64, 10)).astype(np.float32)
    units = RNG.integers(-1, 2, (10, 6)).astype(np.float32)
    units[:, 3] = 0                                          # an all-zero output
    g = _Graph((64, 10))
    g.add("BipolarQuant", g.const(1.0), domain=QONNX)
    g.add("MatMul", g.const(units * np.array([0.5, 1.25, 2.0, 0.75, 0.5, 3.0], np.float32)))
    if final_bn:
        g.add("BatchNormalization", *(g.const(v) for v in (
            RNG.uniform(0.5, 2, 6), RNG.normal(size=6), RNG.normal(size=6),
            RNG.uniform(0.5, 2, 6))))
    path = g.save(tmp_path / "t.onnx")
    net = import_qonnx(path)
    dense = net.layers[0]
    assert dense.quantizer.scheme == "ternary"
    assert dense.quantizer.per_channel is not final_bn
    if final_bn:
        assert set(np.unique(dense.weight)) == {-1.0, 0.0, 1.0}
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    wrong, near = check_integer(net, x, reference)
    assert wrong <= near
