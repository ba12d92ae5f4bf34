"""``popcorn predict`` and the approximation table."""

import numpy as np
import pytest
from click.testing import CliRunner

from popcorn.cli import main
from popcorn.golden.approx_table import approximation_rows, reference_tensor, \
    trained_tensor, write_approximation_table
from popcorn.golden.examples import random_network
from popcorn.golden.integer_model import to_integer
from popcorn.golden.predict import predict
from popcorn.network import save_network


@pytest.fixture
def files(tmp_path):
    net = random_network("pa", seed=1, layout="dense")
    save_network(net, tmp_path / "net.npz")
    return net, tmp_path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_predict_takes_the_x_of_an_npz(files):
    """A test split as `popcorn train` writes it (x, y) is read as its x."""
    net, path = files
    x = np.random.default_rng(1).random((5, 12))
    np.savez(path / "split.npz", x=x, y=np.zeros(5, np.int64))
    np.savez(path / "other.npz", images=x)
    result = run("predict", path / "net.npz", path / "split.npz", "-o", path / "s.npz")
    assert result.exit_code == 0, result.output
    with np.load(path / "s.npz") as out:
        assert np.array_equal(out["scores"], predict(net, x).scores)
    result = run("predict", path / "net.npz", path / "other.npz", "-o", path / "s.npz")
    assert result.exit_code != 0
    assert "other.npz: an .npz archive without `x` (it has images)" in result.output


def test_predict_integer_and_float(files):
    net, path = files
    x = np.random.default_rng(0).random((7, 12))
    np.save(path / "x.npy", x)
    result = run("predict", path / "net.npz", path / "x.npy", "-o", path / "s.npz", "--frac-bits", 10)
    assert result.exit_code == 0, result.output
    assert "7 inputs, integer model, 10 fractional bits" in result.output
    with np.load(path / "s.npz") as out:
        expected = predict(net, x, frac_bits=10)
        assert out["scores"].dtype == np.int64 and int(out["frac_bits"]) == 10
        assert np.array_equal(out["scores"], expected.scores)
        assert np.array_equal(out["argmax"], expected.argmax)
    result = run("predict", path / "net.npz", path / "x.npy", "-o", path / "f.npz", "--float")
    assert result.exit_code == 0, result.output
    with np.load(path / "f.npz") as out:
        assert out["scores"].dtype == np.float64 and "frac_bits" not in out.files
        assert np.array_equal(out["argmax"], predict(net, x, use_float=True).argmax)


def test_integer_codes_equal_scaled_floats(files):
    net, _ = files
    codes = np.random.default_rng(1).integers(0, 256, (5, 12))
    assert np.array_equal(predict(net, codes).scores, predict(net, codes / 255).scores)
    assert np.array_equal(predict(net, codes[0]).scores, predict(net, codes[:1]).scores)


def test_wrong_input_shape(files):
    net, path = files
    np.save(path / "x.npy", np.zeros((2, 5)))
    result = run("predict", path / "net.npz", path / "x.npy", "-o", path / "s.npz")
    assert result.exit_code == 1
    assert "Error: inputs have shape (2, 5), but the network takes (batch, 12) or one sample (12,)" \
        in result.output


def test_codes_out_of_range(files):
    net, path = files
    np.save(path / "x.npy", np.full((1, 12), 256))
    result = run("predict", path / "net.npz", path / "x.npy", "-o", path / "s.npz")
    assert result.exit_code == 1
    assert "integer inputs are 8-bit codes and must lie in 0 .. 255, found [256, 256]" in result.output


def test_bad_network_file(tmp_path):
    np.savez(tmp_path / "net.npz", a=np.zeros(1))
    np.save(tmp_path / "x.npy", np.zeros((1, 12)))
    result = run("predict", tmp_path / "net.npz", tmp_path / "x.npy", "-o", tmp_path / "s.npz")
    assert result.exit_code == 1 and "not a popcorn network file" in result.output


def test_nan_inputs(files):
    net, _ = files
    with pytest.raises(ValueError, match="inputs contain NaN or infinity"):
        predict(net, np.full((1, 12), np.nan))


def test_approximation_table(tmp_path):
    rows = approximation_rows(reference_tensor())
    for scheme in ("ABC-Net (seed 000)", "PA-Net (seed 004)"):
        errors = [e for label, _, e in rows if label == scheme]
        assert all(a > b for a, b in zip(errors, errors[1:])), (scheme, errors)
    xnor = next(e for label, _, e in rows if label.startswith("XNOR"))
    assert xnor < next(e for label, _, e in rows if label.startswith("BNN"))
    path = write_approximation_table(tmp_path / "reports" / "table.md")
    text = path.read_text()
    assert "| PA-Net (seed 004) | 8 |" in text and "## Trained layer" in text
    assert text.count("\n| ") == 2 * (len(rows) + 2)
    trained = approximation_rows(trained_tensor())
    pa = [e for label, _, e in trained if label == "PA-Net (seed 004)"]
    assert all(a > b for a, b in zip(pa, pa[1:])), pa


def test_predict_chunks_and_workers_do_not_change_the_file(tmp_path):
    net = random_network("abc", seed=3, layout="conv")
    save_network(net, tmp_path / "net.npz")
    x = np.random.default_rng(4).integers(0, 256, (9,) + net.input_shape)
    np.save(tmp_path / "x.npy", x)
    outputs = []
    for n, options in enumerate([(), ("--chunk", 2), ("--chunk", 4, "--workers", 2)]):
        result = run("predict", tmp_path / "net.npz", tmp_path / "x.npy", "-o",
                     tmp_path / f"s{n}.npz", *options)
        assert result.exit_code == 0, result.output
        with np.load(tmp_path / f"s{n}.npz") as out:
            outputs.append({k: out[k] for k in out.files})
    expected = predict(net, x)
    for out in outputs:
        assert sorted(out) == ["argmax", "frac_bits", "scores"]
        assert np.array_equal(out["scores"], expected.scores)
        assert np.array_equal(out["argmax"], expected.argmax)
        assert int(out["frac_bits"]) == expected.frac_bits
    assert expected.frac_bits == to_integer(net).score_frac_bits >= 8
    assert np.array_equal(predict(net, x, chunk=2, workers=3).scores, expected.scores)


def test_workers_checked(files):
    net, _ = files
    with pytest.raises(ValueError, match="workers must be a positive integer, not 0"):
        predict(net, np.zeros((1, 12)), workers=0)


def test_real_inputs_far_above_a_fixed_point_input_warn():
    """0 .. 255 images given as floats to a network whose 8-bit input takes 0 .. 1 would
    nearly all saturate: a warning says so; inputs in range, and integer codes, do not."""
    import warnings

    from popcorn.golden.predict import InputRangeWarning, check_inputs
    from popcorn.network import Network
    from popcorn.network.schemes import FixedPointActivation

    network = random_network("bnn", seed=0, layout="dense")
    assert network.input_quantizer.quantizer == "fixedpoint"
    network = Network(network.input_shape, FixedPointActivation(bits=8, scale=1 / 256),
                      network.layers)
    images = np.random.default_rng(0).integers(0, 256, (3,) + network.input_shape)
    with pytest.warns(InputRangeWarning, match=r"saturates at 0\.996.*integer codes 0 \.\. 255"):
        check_inputs(network, images.astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_inputs(network, images.astype(np.float32) / 256)
        check_inputs(network, images)


def test_cli_prints_the_range_warning_once_on_one_line(files):
    import warnings

    net, path = files
    assert net.input_quantizer.quantizer == "fixedpoint"
    top = (2 ** net.input_quantizer.bits - 1) * net.input_quantizer.scale
    np.save(path / "x.npy", np.full((3, 12), 10 * top))
    with warnings.catch_warnings():          # the CLI's own filter and display apply
        result = run("predict", path / "net.npz", path / "x.npy", "-o", path / "s.npz")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "saturates" in line]
    assert len(lines) == 1 and lines[0].startswith("Warning: real inputs reach"), result.output
