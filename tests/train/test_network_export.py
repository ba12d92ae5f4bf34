"""Trained models as popcorn networks: the golden float reference reproduces the model.

Needs ``popcorn.network`` and ``popcorn.golden`` (the network description and golden model);
skipped in a checkout without them.
"""

import numpy as np
import pytest

from . import require

torch = require("torch")

from popcorn.train import data, export, loop  # noqa: E402

from popcorn.golden.float_ref import float_forward  # noqa: E402
from popcorn.network import Graph, load_graph, save_network  # noqa: E402

CASES = [
    ("bnn", "mlp", {}), ("bnn", "mlp", {"shift_bn": True}), ("binaryconnect", "mlp", {}),
    ("xnor", "mlp", {"real_ends": False}), ("abc", "mlp", {}), ("pa", "mlp", {}),
    ("bnn", "cnn", {}), ("binaryconnect", "cnn", {"stochastic": True}),
    ("xnor", "cnn", {"real_ends": False}), ("abc", "cnn", {}), ("pa", "cnn", {}),
    ("bnn", "resnet", {}), ("binaryconnect", "resnet", {}),
    ("xnor", "resnet", {"real_ends": False}), ("abc", "resnet", {}), ("pa", "resnet", {}),
    ("bnn", "textcnn", {}), ("binaryconnect", "textcnn", {}),
    ("xnor", "textcnn", {"real_ends": False}), ("abc", "textcnn", {}), ("pa", "textcnn", {}),
    ("bnn", "mobilenet", {}), ("binaryconnect", "mobilenet", {}),
    ("xnor", "mobilenet", {"real_ends": False}), ("abc", "mobilenet", {}),
    ("pa", "mobilenet", {}),
]


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


@pytest.mark.parametrize("scheme, arch, options", CASES)
def test_golden_float_reference_reproduces_model(digits, tmp_path, scheme, arch, options):
    model, result = loop.fit(scheme, digits, arch=arch, epochs=2, seed=0, progress=False,
                             hidden=(64, 64), channels=(8, 12), **options)
    save_network(export.to_network(model), tmp_path / "net.npz")
    network = load_graph(tmp_path / "net.npz")
    assert isinstance(network, Graph) == (arch in ("resnet", "textcnn"))
    x = digits.x_test
    model.eval()
    with torch.no_grad():
        scores = model(torch.as_tensor(x)).double().numpy()
    inputs = export.network_inputs(model.config, x)
    assert inputs.shape[1:] == network.input_shape
    ref = float_forward(network, inputs.astype(np.float64) / digits.input_max)
    # float32 (model) and float64 (reference) may round a value sitting on a comparator
    # threshold differently; all but a few samples agree to float32 precision.
    close = np.isclose(ref.scores, scores, rtol=1e-4, atol=1e-4).all(axis=1)
    assert close.mean() >= 0.98, close.mean()
    assert (ref.argmax == scores.argmax(1)).mean() >= 0.99


def test_unmappable_models_are_refused_with_the_fix(digits):
    model, _ = loop.fit("xnor", digits, epochs=1, seed=0, progress=False, hidden=(16,))
    with pytest.raises(ValueError, match="train it with real_ends=False"):
        export.to_network(model)
    model, _ = loop.fit("binaryconnect", digits, epochs=1, seed=0, progress=False,
                        hidden=(16,), act_bits=None)
    with pytest.raises(ValueError, match="fixed-point activations"):
        export.to_network(model)


# ---------------------------------------------------------------- same bases as popcorn.golden

from hypothesis import example, given, settings, strategies as st  # noqa: E402

from popcorn.golden import quantizers as gq  # noqa: E402
from popcorn.network import schemes as ns  # noqa: E402
from popcorn.train import quantizers as q  # noqa: E402

WEIGHT_PAIRS = [
    (q.BNNWeight(), ns.BnnWeights()),
    (q.BinaryConnectWeight(), ns.BinaryConnectWeights()),
    (q.XNORWeight(), ns.XnorWeights()),
    (q.ABCWeight(1), ns.AbcWeights.with_bases(1)),
    (q.ABCWeight(3), ns.AbcWeights.with_bases(3)),
    (q.ABCWeight(5), ns.AbcWeights.with_bases(5)),
    (q.PAWeight(2), ns.PaWeights.with_bases(2)),
    (q.PAWeight(4), ns.PaWeights.with_bases(4)),
    (q.PAWeight(8), ns.PaWeights.with_bases(8)),
    (q.FixedPointWeight(4), ns.FixedPointWeights(4, per_channel=True)),
    (q.FixedPointWeight(3, per_channel=False), ns.FixedPointWeights(3)),
]


@pytest.mark.parametrize("ours, theirs", WEIGHT_PAIRS, ids=lambda p: type(p).__name__)
@pytest.mark.parametrize("seed", range(3))
def test_weight_bases_equal_golden(ours, theirs, seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(0.02, 0.2, size=(6, 3, 3, 3)).astype(np.float32)
    w[0, 0, 0, 0] = 0.0                                  # sign(0) / BinaryConnect's w > 0
    bits, alpha, encoding = ours.bases(torch.tensor(w))
    golden = gq.quantize_weights(w, theirs)
    assert encoding == golden.encoding
    assert np.array_equal(bits.numpy().reshape(golden.bits.shape), golden.bits)
    np.testing.assert_allclose(ours(torch.tensor(w)).detach().numpy(), golden.values(),
                               rtol=1e-6, atol=1e-7)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-4, 4, width=32), min_size=1, max_size=40),
       st.lists(st.floats(-1.5, 2.5, width=32), min_size=1, max_size=5, unique=True),
       st.integers(0, 3))
@example(xs=[1.401298464324817e-45], points=[0.5], kind=1)     # x + v rounds onto ABC's 0.5
def test_activation_values_equal_golden(xs, points, kind):
    x = np.array(xs, dtype=np.float64)
    points = np.sort(np.array(points, dtype=np.float64))
    betas = np.cumsum(np.linspace(0.25, 1.0, len(points)))
    if kind == 0:
        ours, theirs = q.SignActivation(), ns.SignActivation()
    elif kind == 1:
        ours = q.ABCActivation(len(points)).double()
        with torch.no_grad():
            ours.shifts.copy_(torch.tensor(points))
            ours.beta.copy_(torch.tensor(betas))
        theirs = ns.AbcActivation(points, betas)
    elif kind == 2:
        ours = q.PAActivation(len(points)).double()
        with torch.no_grad():
            ours.endpoints.copy_(torch.tensor(points))
            ours.beta.copy_(torch.tensor(betas))
        theirs = ns.PaActivation(points, betas)
    else:
        ours, theirs = q.FixedPointReLU(3, 2), ns.FixedPointActivation(3, 0.25)
    with torch.no_grad():
        got = ours(torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, gq.quantize_activations(x, theirs), rtol=0, atol=1e-12)
