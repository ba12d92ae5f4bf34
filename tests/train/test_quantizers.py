"""Forward of every quantizer against its formula, backward against its estimator."""

import numpy as np
import pytest

from . import require

torch = require("torch")

from popcorn.train import quantizers as q  # noqa: E402
from popcorn.train.models import QLinear, QuantNet  # noqa: E402


def t(values):
    return torch.tensor(values, dtype=torch.float64)


def grad_of(fn, x, weights=None):
    """d/dx of sum(weights * fn(x))."""
    x = x.clone().requires_grad_(True)
    out = fn(x)
    w = torch.ones_like(out) if weights is None else weights
    (out * w).sum().backward()
    return x.grad


# ---------------------------------------------------------------- sign, BNN, BinaryConnect


def test_sign_of_zero_is_plus_one():
    assert q.sign(t([-1.0, -0.0, 0.0, 2.0])).tolist() == [-1, 1, 1, 1]
    assert q.SignSTE.apply(t([0.0])).item() == 1
    bits, alpha, enc = q.BNNWeight().bases(t([-0.5, 0.0, 0.5]))
    assert bits.tolist() == [[0, 1, 1]] and alpha.tolist() == [1.0] and enc == "pm1"


def test_bnn_ste_is_cancelled_where_abs_x_exceeds_one():
    x = t([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5])
    g = grad_of(q.SignSTE.apply, x, weights=t([1, 2, 3, 4, 5, 6, 7]))
    assert g.tolist() == [0, 2, 3, 4, 5, 6, 0]
    assert grad_of(q.BNNWeight(), x).tolist() == [0, 1, 1, 1, 1, 1, 0]
    assert grad_of(q.SignActivation(), x).tolist() == [0, 1, 1, 1, 1, 1, 0]


def test_binaryconnect_deterministic_forward_and_identity_backward():
    # seed 002: +1 if w > 0, else -1 -- a zero weight is -1 (unlike sign)
    quant = q.BinaryConnectWeight()
    x = t([-3.0, -0.2, 0.0, 0.7, 5.0])
    assert quant(x).tolist() == [-1, -1, -1, 1, 1]
    assert quant.bases(x)[0].tolist() == [[0, 0, 0, 1, 1]]
    assert grad_of(quant, x).tolist() == [1, 1, 1, 1, 1]


def test_binaryconnect_stochastic_uses_hard_sigmoid_and_generator():
    assert q.hard_sigmoid(t([-2, -1, 0, 0.5, 1, 3])).tolist() == [0, 0, 0.5, 0.75, 1, 1]
    w = t([-1.0, 1.0, 0.0, 0.5]).repeat(20000, 1)
    quant = q.BinaryConnectWeight(stochastic=True,
                                  generator=torch.Generator().manual_seed(1)).train()
    b = quant(w)
    plus = (b == 1).double().mean(0)
    assert plus[0] == 0 and plus[1] == 1
    assert plus[2].item() == pytest.approx(0.5, abs=0.02)
    assert plus[3].item() == pytest.approx(0.75, abs=0.02)
    again = q.BinaryConnectWeight(stochastic=True,
                                  generator=torch.Generator().manual_seed(1)).train()(w)
    assert torch.equal(b, again)
    assert quant.eval()(w[:1]).tolist() == [[-1, 1, -1, 1]]  # evaluation: deterministic


def test_real_weights_are_clipped_after_an_update():
    for quant, clipped in ((q.BinaryConnectWeight(), True), (q.BNNWeight(), True),
                           (q.XNORWeight(), False)):
        layer = QLinear(2, 1, quant)
        with torch.no_grad():
            layer.weight.copy_(torch.tensor([[3.0, -0.5]]))
        QuantNet([layer], "x", {}).constrain()
        expected = [1.0, -0.5] if clipped else [3.0, -0.5]
        assert layer.weight.tolist() == [expected]


# ---------------------------------------------------------------- XNOR-Net


def test_xnor_alpha_is_mean_abs_per_filter():
    w = t([[0.5, -1.5, 0.0], [2.0, -2.0, 0.5]])
    out = q.XNORWeight()(w)
    assert out.tolist() == [[2 / 3, -2 / 3, 2 / 3], [1.5, -1.5, 1.5]]
    bits, alpha, enc = q.XNORWeight().bases(w)
    assert bits.tolist() == [[[1, 0, 1], [1, 0, 1]]]
    assert alpha.tolist() == [[2 / 3, 1.5]] and enc == "pm1"


def test_xnor_weight_gradient():
    w = t([[0.5, -1.5, 0.2], [2.0, -0.25, 0.5]])
    g = t([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    got = grad_of(q.XNORWeight(), w, weights=g)
    alpha = w.abs().mean(1, keepdim=True)
    s = q.sign(w)
    expected = g * alpha * (w.abs() <= 1) + s * (g * s).sum(1, keepdim=True) / 3
    assert torch.allclose(got, expected)


# ---------------------------------------------------------------- ABC-Net


def test_abc_shifts_are_evenly_spaced():
    assert q.abc_shifts(1).tolist() == [0.0]
    assert q.abc_shifts(3).tolist() == [-1.0, 0.0, 1.0]
    assert q.abc_shifts(5).tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]


def test_abc_weight_bases_by_hand():
    # mean 0, so B = sign(W + u std): with u = 0 the zero weight gets +1.
    bits, alpha, _ = q.ABCWeight(1).bases(t([-1.0, 0.0, 1.0]))
    assert bits.tolist() == [[0, 1, 1]]
    # least squares of w = alpha * [-1, 1, 1]: alpha = (1 + 0 + 1) / 3
    assert alpha.tolist() == pytest.approx([2 / 3])


@pytest.mark.parametrize("m", [1, 2, 3, 5])
def test_abc_weight_bases_and_alpha_match_numpy_lstsq(m):
    rng = np.random.default_rng(m)
    w = rng.normal(0.1, 0.5, size=(6, 7))
    quant = q.ABCWeight(m)
    bits, alpha, enc = quant.bases(torch.tensor(w))
    u = q.abc_shifts(m).numpy()
    expected_bits = np.stack([(w - w.mean() + ui * w.std() >= 0) for ui in u]).astype(np.uint8)
    assert np.array_equal(bits.numpy(), expected_bits) and enc == "pm1"
    basis = (2.0 * expected_bits.reshape(m, -1) - 1).T
    expected_alpha = np.linalg.lstsq(basis, w.reshape(-1), rcond=None)[0]
    np.testing.assert_allclose(alpha.numpy(), expected_alpha, rtol=1e-10, atol=1e-12)
    out = quant(torch.tensor(w))
    np.testing.assert_allclose(out.detach().numpy(), (basis @ expected_alpha).reshape(w.shape),
                               rtol=1e-10, atol=1e-12)


def test_abc_weight_backward_is_straight_through():
    w = t([[0.3, -2.0, 1.7], [0.0, 0.9, -0.4]])
    g = t([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert torch.equal(grad_of(q.ABCWeight(3), w, weights=g), g)


def test_abc_activation_forward_is_strict_threshold():
    # H_v(R) = 2 [clip(R + v, 0, 1) > 0.5] - 1: with v = 0.5 the threshold is R > 0 (strict).
    r = t([-3.0, -0.1, 0.0, 0.1, 3.0])
    assert q.ABCActivationFn.apply(r, t(0.5), "report").tolist() == [-1, -1, -1, 1, 1]
    assert q.ABCActivationFn.apply(r, t(0.25), "report").tolist() == [-1, -1, -1, -1, 1]
    assert q.ABCActivationFn.apply(r, t(0.65), "report").tolist() == [-1, 1, 1, 1, 1]


@pytest.mark.parametrize("window, expected", [
    ("report", [0, 1, 1, 1, 0, 0]),  # 0 <= R - v <= 1, v = 0.25
    ("clip", [1, 1, 1, 0, 0, 1]),    # 0 <= R + v <= 1
])
def test_abc_activation_backward_window(window, expected):
    r = t([0.2, 0.25, 0.7, 1.25, 1.3, -0.2])
    r.requires_grad_(True)
    v = t(0.25).requires_grad_(True)
    gout = t([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    (q.ABCActivationFn.apply(r, v, window) * gout).sum().backward()
    assert r.grad.tolist() == (gout * t(expected)).tolist()
    assert v.grad.item() == (gout * t(expected)).sum().item()


def test_abc_activation_sums_bases_with_beta():
    act = q.ABCActivation(3).double()
    assert (0.5 - act.shifts.detach()).tolist() == [-1.0, 0.0, 1.0]   # thresholds
    with torch.no_grad():
        act.beta.copy_(t([0.5, 0.25, 2.0]))
    r = t([-2.0, -0.5, 0.5, 1.5])
    # bases [R > -1], [R > 0], [R > 1] as +-1
    expected = [-0.5 - 0.25 - 2.0, 0.5 - 0.25 - 2.0, 0.5 + 0.25 - 2.0, 0.5 + 0.25 + 2.0]
    assert act(r).tolist() == pytest.approx(expected)
    r.requires_grad_(True)
    act(r).sum().backward()
    assert act.beta.grad.tolist() == [2.0, 0.0, -2.0]


# ---------------------------------------------------------------- PA-Net


def test_pa_table1_endpoints():
    assert q.pa_weight_endpoints(8) == (-1.5, -1.0, -0.5, -0.25, 0.25, 0.5, 1.0, 1.5)
    assert q.pa_weight_endpoints(2) == (-1.0, 1.0)
    assert q.pa_weight_endpoints(4) == (-1.5, -0.5, 0.5, 1.5)
    with pytest.raises(ValueError, match="PA-Net weight base count must be even"):
        q.pa_weight_endpoints(5)


U4 = [-1.0, -0.25, 0.25, 1.0]
W10 = [-2.0, -1.5, -0.5, -0.3, 0.0, 0.1, 0.3, 0.6, 1.0, 2.0]


def test_pa_weight_forward_alpha_is_piece_mean():
    w_hat = q.PAWeightFn.apply(t(W10), t(U4), 1.0)
    # pieces: < -1 | [-1, -0.25) | zero [-0.25, 0.25) | [0.25, 1) | >= 1
    alpha = [-1.75, -0.4, 0.45, 1.5]
    assert w_hat.tolist() == pytest.approx([alpha[0]] * 2 + [alpha[1]] * 2 + [0.0] * 2
                                           + [alpha[2]] * 2 + [alpha[3]] * 2)


def test_pa_weight_backward_slopes_eq8():
    # jumps at u_1..u_4: a2 - a1 = 1.35, 0 - a2 = 0.4, a3 - 0 = 0.45, a4 - a3 = 1.05;
    # regions split at s = (-0.625, 0, 0.625) (eq. 9); lambda_W = 2.
    w = t(W10).requires_grad_(True)
    q.PAWeightFn.apply(w, t(U4), 2.0).sum().backward()
    expected = [2.7, 2.7, 0.8, 0.8, 0.9, 0.9, 0.9, 0.9, 2.1, 2.1]
    assert w.grad.tolist() == pytest.approx(expected)


def test_pa_weight_module_endpoints_bits_and_alpha():
    rng = np.random.default_rng(3)
    w = rng.normal(0.05, 0.3, size=(5, 9))
    quant = q.PAWeight(8)
    bits, alpha, enc = quant.bases(torch.tensor(w))
    u = w.mean() + np.array(q.PA_TABLE1_M8) * w.std()
    np.testing.assert_allclose(quant.absolute_endpoints(torch.tensor(w)).numpy(), u)
    k = np.searchsorted(u, w, side="right")       # piece index 0..8, zero piece 4
    for i, piece in enumerate([0, 1, 2, 3, 5, 6, 7, 8]):
        members = w[k == piece]
        assert np.array_equal(bits[i].numpy(), (k == piece).astype(np.uint8))
        assert alpha[i].item() == pytest.approx(members.mean() if members.size else 0.0)
    assert enc == "zo" and bits.numpy().sum(0).max() <= 1
    w_hat = quant(torch.tensor(w)).detach().numpy()
    np.testing.assert_allclose(w_hat, np.einsum("m,m...->...", alpha.numpy(),
                                                bits.numpy().astype(float)))
    assert np.all(w_hat[k == 4] == 0)


V3, B3 = [0.5, 1.0, 2.0], [0.3, 0.8, 1.5]


def test_pa_activation_forward_eq10():
    a = t([-1.0, 0.4, 0.5, 0.99, 1.0, 1.9, 2.0, 5.0])
    out = q.PAActivationFn.apply(a, t(V3), t(B3), 2.0, 0.5, -1.0)
    assert out.tolist() == [0, 0, 0.3, 0.3, 0.8, 0.8, 1.5, 1.5]


@pytest.mark.parametrize("sign14", [-1.0, 1.0])
def test_pa_activation_backward_eqs11_to_14(sign14):
    # t_0 = 2 v_1 - t_1 = 0.25, t_1 = 0.75, t_2 = 1.5, t_3 = v_3 + lambda_delta = 2.5;
    # slopes lambda_A (beta_i - beta_{i-1}) = 0.6, 1.0, 1.4 on [t_0,t_1), [t_1,t_2), [t_2,t_3).
    a = t([0.2, 0.3, 0.7, 0.8, 1.4, 1.6, 2.4, 2.6]).requires_grad_(True)
    v = t(V3).requires_grad_(True)
    beta = t(B3).requires_grad_(True)
    g = t([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    (q.PAActivationFn.apply(a, v, beta, 2.0, 0.5, sign14) * g).sum().backward()
    slopes = t([0, 0.6, 0.6, 1.0, 1.0, 1.4, 1.4, 0])
    assert a.grad.tolist() == pytest.approx((g * slopes).tolist())
    # eq. 13: pieces of a: [0.5,1) = {0.7, 0.8}, [1,2) = {1.4, 1.6}, >= 2 = {2.4, 2.6}
    assert beta.grad.tolist() == pytest.approx([3 + 4, 5 + 6, 7 + 8])
    # eq. 14: regions [t_0,t_1) = {0.3, 0.7}, [t_1,t_2) = {0.8, 1.4}, [t_2,t_3) = {1.6, 2.4}
    assert v.grad.tolist() == pytest.approx([sign14 * 0.6 * (2 + 3), sign14 * 1.0 * (4 + 5),
                                             sign14 * 1.4 * (6 + 7)])


def test_pa_activation_single_piece_window_is_symmetric():
    a = t([0.4, 0.6, 1.4, 1.6]).requires_grad_(True)
    q.PAActivationFn.apply(a, t([1.0]), t([2.0]), 1.0, 0.5, -1.0).sum().backward()
    assert a.grad.tolist() == [0, 2, 2, 0]    # t_0 = 0.5, t_1 = 1.5


def test_pa_activation_constrain_keeps_a_nondecreasing_quantizer():
    act = q.PAActivation(3)
    assert act.endpoints.tolist() == [0.5, 1.0, 1.5] and act.beta.tolist() == [0.5, 1.0, 1.5]
    with torch.no_grad():
        act.endpoints.copy_(torch.tensor([0.5, 1.2, 0.9]))
        act.beta.copy_(torch.tensor([-0.1, 0.7, 0.4]))
    act.constrain()
    assert act.endpoints.tolist() == pytest.approx([0.5, 1.2, 1.2 + act.min_gap])
    assert act.beta.tolist() == pytest.approx([0.0, 0.7, 0.7])


def test_abc_activation_constrain_keeps_beta_positive():
    act = q.ABCActivation(2)
    with torch.no_grad():
        act.beta.copy_(torch.tensor([-0.5, 0.3]))
    act.constrain()
    assert act.beta.tolist() == pytest.approx([act.min_beta, 0.3])
    assert act.pad_value() == pytest.approx(-(act.min_beta + 0.3))


# ---------------------------------------------------------------- fixed point, shift-based


def test_fixed_point_relu():
    act = q.FixedPointReLU(bits=2, frac_bits=1)
    x = t([-1.0, 0.2, 0.25, 0.3, 0.74, 0.75, 1.4, 2.0])
    assert act(x).tolist() == [0, 0, 0.5, 0.5, 0.5, 1.0, 1.5, 1.5]
    assert grad_of(act, t([-1.0, 0.2, 1.4, 2.0])).tolist() == [0, 1, 1, 0]


def test_ap2():
    assert q.ap2(t([3.0, -0.3, 0.0, 1.5, 0.75])).tolist() == [4.0, -0.25, 0.0, 2.0, 1.0]


def test_shift_batch_norm_algorithm3():
    bn = q.ShiftBatchNorm(2).double()
    with torch.no_grad():
        bn.weight.copy_(t([3.0, -0.7]))
        bn.bias.copy_(t([0.1, 0.2]))
    x = t([[1.0, -2.0], [3.0, 0.0], [-1.0, 5.0], [0.5, 1.0]])
    y = bn.train()(x).detach().numpy()
    xn = x.numpy()
    c = xn - xn.mean(0)
    ap2 = lambda a: q.ap2(torch.tensor(a)).numpy()  # noqa: E731
    var = (c * ap2(c)).mean(0)
    expected = ap2(np.array([3.0, -0.7])) * c * ap2(1 / (np.sqrt(var) + bn.eps)) + [0.1, 0.2]
    np.testing.assert_allclose(y, expected)
    scale, shift = bn.eval().affine()
    np.testing.assert_allclose(bn(x).detach().numpy(), xn * scale.numpy() + shift.numpy())


def test_shift_adamax_step():
    p = torch.nn.Parameter(t([1.0]))
    opt = q.ShiftAdaMax([p], lr=0.002)
    p.grad = t([0.5])
    opt.step()
    # m = 0.05, v = 0.5, AP2(0.002 / 0.1) = 2^-6, AP2(1 / 0.5) = 2
    assert p.item() == pytest.approx(1.0 - 2 ** -6 * 0.05 * 2)


def test_conv_padding_inserts_activation_code_zero():
    from popcorn.train.models import QConv2d

    sign = q.SignActivation()
    conv = QConv2d(1, 1, 3, q.BNNWeight(), padding=1, pad_from=sign)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    out = conv(torch.ones(1, 1, 3, 3))
    # corner: 4 inputs of +1 and 5 padded -1; edge: 6 and 3; centre: 9 inputs of +1
    assert out[0, 0].tolist() == [[-1, 3, -1], [3, 9, 3], [-1, 3, -1]]
    first = QConv2d(1, 1, 3, q.BNNWeight(), padding=1)
    with torch.no_grad():
        first.weight.fill_(1.0)
    assert first(torch.ones(1, 1, 3, 3))[0, 0, 0, 0].item() == 4
