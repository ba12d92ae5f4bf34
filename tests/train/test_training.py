"""Short training runs per scheme on digits, reproducibility, the network file and the CLI.

Accuracy thresholds are the float test accuracy after 5 epochs on the digits test split
(360 images; chance is 0.1). They sit well below the lowest of 5 seeds measured on this
machine (in brackets), so they catch a broken quantizer, not noise.
"""

import json

import numpy as np
import pytest

from . import require

torch = require("torch")

from popcorn.train import data, export, loop  # noqa: E402
from popcorn.train.models import QConv2d, QLinear, build_model  # noqa: E402

from popcorn.golden import predict, quantizers as gq  # noqa: E402
from popcorn.network import load_network, save_network  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


CASES = [
    # scheme, arch, options, threshold  [lowest of seeds 0-4 measured]
    ("bnn", "mlp", {}, 0.90),                                 # [0.961]
    ("bnn", "mlp", {"shift_bn": True}, 0.88),                 # [0.950]
    ("binaryconnect", "mlp", {}, 0.93),                       # [0.978]
    ("binaryconnect", "mlp", {"stochastic": True}, 0.55),     # [0.694]
    ("xnor", "mlp", {}, 0.90),                                # [0.961]
    ("abc", "mlp", {}, 0.90),                                 # [0.953]
    ("pa", "mlp", {}, 0.93),                                  # [0.975]
    ("bnn", "cnn", {}, 0.70),                                 # [0.781]
    ("binaryconnect", "cnn", {}, 0.85),                       # [0.919]
    ("xnor", "cnn", {}, 0.85),                                # [0.911]
    ("abc", "cnn", {}, 0.85),                                 # [0.928]
    ("pa", "cnn", {}, 0.90),                                  # [0.969]
]


@pytest.fixture(scope="module")
def trained(digits):
    runs = {}
    for scheme, arch, options, _ in CASES:
        key = (scheme, arch, tuple(sorted(options.items())))
        runs[key] = loop.fit(scheme, digits, arch=arch, epochs=5, seed=0, progress=False,
                             **options)
    return runs


@pytest.mark.parametrize("scheme, arch, options, threshold", CASES)
def test_short_training_beats_threshold(trained, scheme, arch, options, threshold):
    _, result = trained[(scheme, arch, tuple(sorted(options.items())))]
    assert result.test_accuracy > threshold
    assert len(result.epochs) == 5 and all(e.seconds > 0 for e in result.epochs)


@pytest.mark.parametrize("scheme, arch, options, threshold", CASES)
def test_network_file_reproduces_model(trained, digits, tmp_path, scheme, arch, options,
                                       threshold):
    model, _ = trained[(scheme, arch, tuple(sorted(options.items())))]
    if scheme == "xnor":                                 # real first/last layers (real_ends)
        with pytest.raises(ValueError, match="train it with real_ends=False"):
            export.to_network(model)
        return
    save_network(export.to_network(model), tmp_path / "net.npz")
    network = load_network(tmp_path / "net.npz")
    model.eval()
    with torch.no_grad():
        scores = model(torch.as_tensor(digits.x_test)).double().numpy()
    ref = predict(network, digits.x_test[:, None], use_float=True)   # uint8 pixels = codes
    # float32 (model) and float64 (reference) may round a value sitting on a comparator
    # threshold differently; all but a few samples agree to float32 precision.
    close = np.isclose(ref.scores, scores, rtol=1e-4, atol=1e-4).all(axis=1)
    assert close.mean() >= 0.98, close.mean()
    assert (ref.argmax == scores.argmax(1)).mean() >= 0.99
    # The bases the golden model derives from the saved weights are the model's weights.
    ours = [layer for layer in model if isinstance(layer, (QLinear, QConv2d))]
    theirs = [layer for layer in network.layers if layer.kind in ("dense", "conv2d")]
    assert len(ours) == len(theirs)
    for layer, saved in zip(ours, theirs):
        bases = gq.quantize_weights(saved.weight, saved.quantizer)
        assert bases.bases == saved.quantizer.bases == layer.quantizer.bases_count
        with torch.no_grad():
            w_hat = layer.quantizer(layer.weight).double().numpy()
        np.testing.assert_allclose(bases.values(), w_hat, rtol=1e-6, atol=1e-7)


def test_xnor_first_and_last_layers_are_real(trained):
    model, _ = trained[("xnor", "mlp", ())]
    kinds = [layer.quantizer.scheme for layer in model if isinstance(layer, QLinear)]
    assert kinds == ["float", "xnor", "float"]


def test_same_seed_same_weights_other_seed_other_weights(digits):
    def weights(seed, scheme):
        model, _ = loop.fit(scheme, digits, epochs=1, seed=seed, progress=False,
                            hidden=(32,))
        return [p.detach().clone() for p in model.state_dict().values()]

    for scheme in ("bnn", "pa"):
        a, b, c = weights(1, scheme), weights(1, scheme), weights(2, scheme)
        assert all(torch.equal(x, y) for x, y in zip(a, b))
        assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_stochastic_binaryconnect_is_reproducible(digits):
    runs = [loop.fit("binaryconnect", digits, epochs=1, seed=3, progress=False, hidden=(32,),
                     stochastic=True)[0].state_dict() for _ in range(2)]
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_model_option_errors():
    with pytest.raises(ValueError, match="bnn has one weight base, not M = 3"):
        build_model("bnn", m=3)
    with pytest.raises(ValueError, match="scheme must be one of"):
        build_model("ternary")
    with pytest.raises(ValueError, match="shift-based batch norm is part of BNN"):
        build_model("pa", shift_bn=True)
    with pytest.raises(ValueError, match="binaryconnect's activation bases are its act_bits"):
        build_model("binaryconnect", n=3, act_bits=4)
    with pytest.raises(ValueError, match="PA-Net weight base count must be even"):
        build_model("pa", m=3)


def test_cli_train_writes_network(tmp_path):
    from click.testing import CliRunner

    from popcorn.cli import main

    out = tmp_path / "bnn-digits"
    result = CliRunner().invoke(main, ["train", "--scheme", "bnn", "--data", "digits",
                                       "--epochs", "2", "--seed", "4", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bnn-digits.npz").stat().st_size > 0
    from popcorn.network import load_network

    record = json.loads((tmp_path / "bnn-digits.train.json").read_text())
    kinds = [layer.kind for layer in load_network(tmp_path / "bnn-digits.npz").layers]
    assert kinds == ["flatten", "dense", "batchnorm", "activation", "dense", "batchnorm",
                     "activation", "dense", "batchnorm", "scores"]
    assert record["scheme"] == "bnn" and record["seed"] == 4 and len(record["history"]) == 2
    assert record["float_test_accuracy"] > 0.8
    assert f"float test accuracy {record['float_test_accuracy']:.4f}" in result.output


def test_readme_own_network_sequence_runs_as_printed(tmp_path, monkeypatch):
    """README: `popcorn train ... -o mynet`, then `popcorn build mynet.npz --inputs
    mynet.test.npz` (here up to the RTL simulation): train writes the held-out split as
    the network takes it, and build's golden model gives the record's integer accuracy."""
    from click.testing import CliRunner

    from popcorn.cli import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["train", "--data", "digits", "--hidden", "16",
                                       "--epochs", "1", "-o", "mynet"])
    assert result.exit_code == 0, result.output
    assert "test split: mynet.test.npz (x: inputs, y: labels" in result.output
    digits = data.load("digits")
    with np.load("mynet.test.npz") as test:
        x, y = test["x"], test["y"]
    assert x.dtype == np.uint8 and x.shape == (360, 1, 8, 8)
    np.testing.assert_array_equal(x[:, 0], digits.x_test)
    np.testing.assert_array_equal(y, digits.y_test)

    result = CliRunner().invoke(main, ["build", "mynet.npz", "--inputs", "mynet.test.npz",
                                       "--steps", "estimate,golden,simulate",
                                       "--sim-images", "3"])
    assert result.exit_code == 0, result.output
    steps = tmp_path / "build/mynet-icebreaker/steps"
    record = json.loads((tmp_path / "mynet.train.json").read_text())
    with np.load(steps / "golden.npz") as golden:
        integer_argmax = golden["integer_argmax"]
    assert record["integer_test_accuracy"] > 0.3                   # chance is 0.1
    assert np.mean(integer_argmax == y) == record["integer_test_accuracy"]
    with np.load(steps / "simulate.npz") as rtl:
        np.testing.assert_array_equal(rtl["argmax"], integer_argmax[:3])


def test_cli_train_channels_sets_the_convolution_widths(tmp_path):
    from click.testing import CliRunner

    from popcorn.cli import main

    out = tmp_path / "cnn"
    result = CliRunner().invoke(main, ["train", "--scheme", "pa", "-m", "2", "-n", "2",
                                       "--arch", "cnn", "--channels", "3,5", "--epochs", "1",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    network = load_network(tmp_path / "cnn.npz")
    shapes = [layer.weight.shape for layer in network.layers if layer.kind in
              ("conv2d", "dense")]
    assert shapes == [(3, 1, 3, 3), (5, 3, 3, 3), (10, 5 * 2 * 2)]   # 8x8 -> 4x4 -> 2x2
    record = json.loads((tmp_path / "cnn.train.json").read_text())
    assert record["config"]["channels"] == [3, 5]
    # the record's integer accuracy is what the golden model gives on the test split
    digits = data.load("digits")
    x, y = digits.x_test[:, None], digits.y_test
    integer = predict(network, x, frac_bits=record["integer_frac_bits"])
    assert record["integer_test_accuracy"] == np.mean(integer.argmax == y)
    assert f"integer {record['integer_test_accuracy']:.4f} (8 fractional bits)" in result.output


@pytest.mark.parametrize("option, value", [("--channels", "8,x"), ("--channels", "8,0"),
                                           ("--hidden", ""), ("--hidden", "64;32")])
def test_cli_train_widths_must_be_positive_integers(tmp_path, option, value):
    from click.testing import CliRunner

    from popcorn.cli import main

    result = CliRunner().invoke(main, ["train", option, value, "-o", str(tmp_path / "x")])
    assert result.exit_code != 0
    assert f"Invalid value for {option}: must be comma-separated positive integers, " \
           f"not {value!r}" in result.output
    assert not (tmp_path / "x.npz").exists()


def test_cli_train_errors_name_the_fix(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from popcorn.cli import main

    monkeypatch.setattr(data, "FASHION_MNIST_DIR", tmp_path / "none")
    monkeypatch.setattr(data.load_fashion_mnist, "__defaults__", (tmp_path / "none",))
    result = CliRunner().invoke(main, ["train", "--data", "fashion-mnist", "-o",
                                       str(tmp_path / "x")])
    assert result.exit_code != 0
    assert "apt-get install dataset-fashion-mnist" in result.output
    result = CliRunner().invoke(main, ["train", "--scheme", "xnor", "-n", "2", "-o",
                                       str(tmp_path / "x")])
    assert result.exit_code != 0 and "xnor has one activation base, not N = 2" in result.output


def test_cli_train_without_torch_names_the_extra(monkeypatch, tmp_path):
    import sys

    from click.testing import CliRunner

    from popcorn.cli import main

    for name in [m for m in sys.modules if m == "torch" or m.startswith("popcorn.train")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)
    result = CliRunner().invoke(main, ["train", "-o", str(tmp_path / "x")])
    assert result.exit_code != 0
    assert "pip install 'popcorn[train]'" in result.output
