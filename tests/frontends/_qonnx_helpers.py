"""Shared by the QONNX import tests: tiny Brevitas models, training, export, and the two
checks (float reference vs qonnx's ``execute_onnx``; integer golden model vs qonnx).

Brevitas, qonnx and torch are the ``qonnx`` extra: without them these tests fail (they are
never skipped) with the install hint.
"""

import numpy as np

from popcorn.frontends import QONNX_EXTRA_HINT

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    import torch
    from torch import nn
    from brevitas.export import export_qonnx
    from brevitas.nn import QuantConv1d, QuantConv2d, QuantIdentity, QuantLinear
    from brevitas.quant import Uint8ActPerTensorFloat
    from brevitas.quant.binary import SignedBinaryActPerTensorConst, \
        SignedBinaryWeightPerTensorConst
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes
except ImportError as error:
    raise ImportError(f"the QONNX import tests need torch, brevitas and qonnx ({error}); "
                      f"install them with: {QONNX_EXTRA_HINT}") from error

from popcorn.golden.float_ref import float_forward
from popcorn.golden.predict import predict

__all__ = ["onnx", "torch", "nn", "QuantConv1d", "QuantConv2d", "QuantIdentity", "QuantLinear",
           "Uint8ActPerTensorFloat", "SignedBinaryActPerTensorConst",
           "SignedBinaryWeightPerTensorConst", "sign", "binary_linear", "binary_conv",
           "train", "randomize_batchnorms", "export", "run_qonnx", "check_float", "check_integer",
           "OnnxGraph", "RTOL", "BATCH", "QONNX"]

#: Scores of popcorn's float reference (float64) and qonnx (float32) agree to this relative
#: tolerance, measured against the largest score magnitude of the batch.
RTOL = 1e-4
BATCH = 64
#: The domain of qonnx's custom ops (BipolarQuant, Quant, MultiThreshold).
QONNX = "qonnx.custom_op.general"


def sign():
    return QuantIdentity(act_quant=SignedBinaryActPerTensorConst)


def binary_linear(inputs, outputs, scale=1.0, bias=False):
    return QuantLinear(inputs, outputs, bias=bias, weight_quant=SignedBinaryWeightPerTensorConst,
                       weight_scaling_const=scale)


def binary_conv(inputs, outputs, kernel, scale=1.0, **options):
    options.setdefault("bias", False)
    return QuantConv2d(inputs, outputs, kernel, weight_quant=SignedBinaryWeightPerTensorConst,
                       weight_scaling_const=scale, **options)


def train(model, x, classes, steps=5, seed=0):
    """A few Adam steps on random labels: enough to move weights and BN statistics."""
    torch.manual_seed(seed)
    y = torch.randint(0, classes, (x.shape[0],))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return model


def randomize_batchnorms(model, x, seed=0):
    """Non-trivial batch norms that still split the data: running statistics of ``x``
    (momentum 1, one pass), then the mean moved by up to half a standard deviation, the
    variance scaled by 0.5 .. 2, gamma random with every third one negative, beta random."""
    gen = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for module in norms:
        module.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(torch.as_tensor(x, dtype=torch.float32))
        for module in norms:
            c = module.num_features
            std = module.running_var.sqrt()
            module.running_mean.add_((torch.rand(c, generator=gen) - 0.5) * std)
            module.running_var.mul_(torch.rand(c, generator=gen) * 1.5 + 0.5)
            gamma = torch.rand(c, generator=gen) + 0.2
            gamma[::3] *= -1
            module.weight.copy_(gamma)
            module.bias.copy_(torch.randn(c, generator=gen) * 0.3)
    return model.eval()


def export(model, x, path):
    model.eval()
    export_qonnx(model, torch.as_tensor(x, dtype=torch.float32), str(path), dynamo=False)
    return path


def run_qonnx(path, x):
    """qonnx's own execution of the exported graph: float32 scores (B, classes)."""
    wrapper = ModelWrapper(str(path)).transform(InferShapes())
    name = wrapper.graph.input[0].name
    out = execute_onnx(wrapper, {name: np.asarray(x, dtype=np.float32)})
    return np.asarray(out[wrapper.graph.output[0].name], dtype=np.float64)


class OnnxGraph:
    """An ONNX graph built node by node, each node reading named tensors; its input ``x`` is
    (BATCH, *shape)."""

    def __init__(self, shape):
        self.input = helper.make_tensor_value_info("x", TensorProto.FLOAT, [BATCH, *shape])
        self.nodes, self.inits, self.count = [], [], 0

    def const(self, value, dtype=np.float32):
        self.count += 1
        name = f"c{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op, name, *inputs, domain="", **attrs):
        self.nodes.append(helper.make_node(op, list(inputs), [name], name=f"/{name}",
                                           domain=domain, **attrs))
        return name

    def sign(self, name, data, scale=1.0):
        return self.node("BipolarQuant", name, data, self.const(scale), domain=QONNX)

    def matmul(self, name, data, inputs, outputs, seed):
        weight = np.random.default_rng(seed).choice([-1.0, 1.0], (inputs, outputs))
        return self.node("MatMul", name, data, self.const(weight))

    def conv(self, name, data, inputs, outputs, seed, kernel=1):
        weight = np.random.default_rng(seed).choice([-1.0, 1.0],
                                                    (outputs, inputs, kernel, kernel))
        return self.node("Conv", name, data, self.const(weight))

    def save(self, path, output, opset=13):
        graph = helper.make_graph(self.nodes, "g", [self.input],
                                  [helper.make_tensor_value_info(output, TensorProto.FLOAT,
                                                                 None)], self.inits)
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                          helper.make_opsetid(QONNX, 1)]),
                  str(path))
        return path


def check_float(network, x, reference):
    """popcorn's float reference equals qonnx: scores within RTOL of the largest score, and
    the same argmax except on ties: where popcorn's two best scores are within that
    tolerance (equal in exact arithmetic, e.g. sums of the same +-alpha terms), float32
    rounding in qonnx picks either class; qonnx's class must then be one of the tied ones.
    Returns the number of such ties."""
    result = float_forward(network, x)
    tolerance = RTOL * np.abs(reference).max()
    np.testing.assert_allclose(result.scores, reference, rtol=0, atol=tolerance)
    theirs = np.argmax(reference, axis=1)
    top2 = np.sort(result.scores, axis=1)[:, -2:]
    tie = top2[:, 1] - top2[:, 0] <= tolerance
    differ = result.argmax != theirs
    assert not (differ & ~tie).any(), (
        f"argmax differs from qonnx on inputs {np.flatnonzero(differ & ~tie).tolist()}, which "
        f"are not ties")
    picked = result.scores[np.arange(len(x)), theirs]
    assert (picked >= top2[:, 1] - tolerance).all()
    error = np.abs(result.scores - reference).max() / np.abs(reference).max()
    print(f"float reference: max score difference {error:.2g} of the largest score "
          f"(tolerance {RTOL:g}); argmax equal on "
          f"{int((~differ).sum())} of {len(x)}, the other {int(differ.sum())} are exact ties "
          f"({int(tie.sum())} ties in all)")
    return int(differ.sum())


def _score_bound(last, frac_bits):
    """Bound on |integer score - float score| from the last layer's (integer stage
    ``last``) rounding alone: 0.5 ulp on each Phi times the largest dot product magnitudes,
    plus 0.5 ulp of bias."""
    m, n = last.coefficients.shape[1:]
    return 0.5 * 2.0 ** -frac_bits * (m * n * last.fan_in + 1)


def _integer_run(network, x, frac_bits):
    """The integer golden model on ``x``: (argmax, [(threshold stage, its codes, the float
    reference's values there)], the last linear stage); a Network or a Graph, over maps or
    sequences (run as the graph over maps, :func:`~popcorn.network.sequences.as_2d`)."""
    from popcorn.golden.integer_graph import run_integer_graph, to_integer_graph
    from popcorn.golden.integer_model import run_integer, to_integer
    from popcorn.golden.predict import input_thermometer
    from popcorn.network import Graph
    from popcorn.network.sequences import as_2d, inputs_2d

    float_trace = float_forward(network, x).trace
    x, network = inputs_2d(network, x), as_2d(network)   # sequences: over (C, 1, T) maps
    thermo = input_thermometer(network, x)
    if isinstance(network, Graph):
        integer = to_integer_graph(network, frac_bits)
        result = run_integer_graph(integer, thermo)
        index = {node.name: i for i, node in enumerate(network.nodes)}
        stages = [(stage, float_trace[index[name]]) for name, stage, _ in integer.steps]
    else:
        integer = to_integer(network, frac_bits)
        result = run_integer(integer, thermo)
        stages = [(stage, float_trace[stage.layer] if stage.kind == "threshold" else None)
                  for stage in integer.stages]
    thresholds = [(stage, codes, real) for (stage, real), codes in zip(stages, result.trace)
                  if stage.kind in ("threshold", "residual")]
    last = [stage for stage, _ in stages if stage.kind in ("dense", "conv2d")][-1]
    return result.argmax, thresholds, last


def check_integer(network, x, reference, frac_bits=8):
    """The integer golden model's argmax equals qonnx's except on near ties (a Network, or a
    Graph: :mod:`popcorn.golden.integer_graph`).

    An input is a near tie if qonnx's top-two score margin is within twice the last layer's
    rounding bound, or if some hidden activation of the integer model differs from the float
    reference's (a pre-activation within coefficient rounding of a threshold). Returns
    ``(disagreements, near_ties)``; every disagreement must be a near tie.
    """
    from popcorn.golden.quantizers import bases_to_values, thermometer_to_bases

    argmax, thresholds, last = _integer_run(network, x, frac_bits)
    hidden_flip = np.zeros(len(x), dtype=bool)
    for stage, codes, real in thresholds:
        values = bases_to_values(thermometer_to_bases(codes, stage.quantizer), stage.quantizer)
        differs = values != real
        hidden_flip |= differs.reshape(len(x), -1).any(axis=1)
    top2 = np.sort(reference, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    near = hidden_flip | (margin <= 2 * _score_bound(last, frac_bits))
    wrong = argmax != np.argmax(reference, axis=1)
    assert not (wrong & ~near).any(), (
        f"integer argmax differs from qonnx on inputs {np.flatnonzero(wrong & ~near).tolist()} "
        f"that are not near a tie")
    assert predict(network, x, frac_bits=frac_bits).argmax.tolist() == argmax.tolist()
    print(f"integer model ({frac_bits} fractional bits): {int(wrong.sum())} of {len(x)} argmax "
          f"differ from qonnx, {int(near.sum())} inputs near a tie "
          f"({int(hidden_flip.sum())} with a hidden activation flipped by rounding)")
    return int(wrong.sum()), int(near.sum())
