"""Trained models as popcorn networks: the golden float reference reproduces the model.

Needs ``popcorn.network`` and ``popcorn.golden`` (the network description and golden model);
skipped in a checkout without them.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="popcorn.train needs the train extra: "
                            "pip install 'popcorn[train]'")

from popcorn.train import data, export, loop  # noqa: E402

if not export.network_available():
    pytest.skip("popcorn.network is not in this checkout", allow_module_level=True)

from popcorn.golden.float_ref import float_forward  # noqa: E402
from popcorn.network import load_network, save_network  # noqa: E402

CASES = [
    ("bnn", "mlp", {}), ("bnn", "mlp", {"shift_bn": True}), ("binaryconnect", "mlp", {}),
    ("xnor", "mlp", {"real_ends": False}), ("abc", "mlp", {}), ("pa", "mlp", {}),
    ("bnn", "cnn", {}), ("binaryconnect", "cnn", {"stochastic": True}),
    ("xnor", "cnn", {"real_ends": False}), ("abc", "cnn", {}), ("pa", "cnn", {}),
]


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


@pytest.mark.parametrize("scheme, arch, options", CASES)
def test_golden_float_reference_reproduces_model(digits, tmp_path, scheme, arch, options):
    model, result = loop.fit(scheme, digits, arch=arch, epochs=2, seed=0, progress=False,
                             hidden=(64, 64), **options)
    save_network(export.to_network(model), tmp_path / "net.npz")
    network = load_network(tmp_path / "net.npz")
    x = digits.x_test
    model.eval()
    with torch.no_grad():
        scores = model(torch.as_tensor(x)).double().numpy()
    ref = float_forward(network, x[:, None].astype(np.float64) / digits.input_max)
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
