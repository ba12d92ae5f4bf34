"""What popcorn refuses to import, and the messages that say so (node name, op type,
attribute)."""

import re

import numpy as np
import pytest

from ._qonnx_helpers import (QuantIdentity, binary_conv, binary_linear, export, nn, onnx, sign,
                            torch)

from popcorn.frontends import QonnxImportError, UnsupportedNode, import_qonnx


def _export(tmp_path, model, shape):
    torch.manual_seed(0)
    return export(model.eval(), np.zeros((2,) + shape, dtype=np.float32), tmp_path / "m.onnx")


def _node(path, op_type):
    [node] = [n for n in onnx.load(str(path)).graph.node if n.op_type == op_type]
    return node.name


def test_sigmoid_is_an_unsupported_node(tmp_path):
    path = _export(tmp_path, nn.Sequential(sign(), binary_linear(8, 4), nn.Sigmoid()), (8,))
    name = _node(path, "Sigmoid")
    with pytest.raises(UnsupportedNode, match=re.escape(
            f"node '{name}' has op type 'Sigmoid', which popcorn cannot import; supported: Add, "
            f"AveragePool, BatchNormalization, BipolarQuant")):
        import_qonnx(path)


def test_every_op_with_a_mapping_is_listed_as_supported():
    """The ops the importer maps (a ``_map_<op>`` handler) are the ones the unsupported-node
    message lists, with the folded and joined ones (Constant, Concat, Add ...)."""
    from popcorn.frontends.qonnx import SUPPORTED_OPS, _Importer

    mapped = {name[len("_map_"):] for name in dir(_Importer)
              if name.startswith("_map_") and name[5].isupper()}
    assert mapped <= set(SUPPORTED_OPS), mapped - set(SUPPORTED_OPS)


def test_softmax_is_an_unsupported_node(tmp_path):
    path = _export(tmp_path, nn.Sequential(sign(), binary_linear(8, 4), nn.Softmax(dim=1)), (8,))
    with pytest.raises(UnsupportedNode, match=f"node '{_node(path, 'Softmax')}' has op type "
                                              f"'Softmax'"):
        import_qonnx(path)


def test_dilated_conv_names_dilations(tmp_path):
    model = nn.Sequential(sign(), binary_conv(2, 2, 2, dilation=2), nn.BatchNorm2d(2), sign(),
                          nn.Flatten(), binary_linear(2 * 2 * 2, 3))
    path = _export(tmp_path, model, (2, 4, 4))
    with pytest.raises(QonnxImportError, match=r"\(Conv\): dilations=\[2, 2\]"):
        import_qonnx(path)


def test_padded_conv_of_shifted_activations_is_refused(tmp_path):
    """A ternary signed Quant (values -s, 0, s) imports as codes shifted by -s, the shift in
    the next layer's bias: neither padding gives ONNX's 0 at the borders."""
    from brevitas.quant import Int8ActPerTensorFloat

    ternary = QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=2, narrow_range=True)
    model = nn.Sequential(sign(), binary_conv(2, 2, 1), nn.BatchNorm2d(2), ternary,
                          binary_conv(2, 2, 3, padding=1), nn.Flatten(), nn.BatchNorm1d(32))
    path = _export(tmp_path, model, (2, 4, 4))
    with pytest.raises(QonnxImportError, match=r"\(Conv\): pads=1 on pa activations shifted "
                                               r"by -[0-9.]+: ONNX pads with 0.* use padding 0"):
        import_qonnx(path)


def test_float_weights_without_a_quantizer_are_refused(tmp_path):
    path = _export(tmp_path, nn.Sequential(sign(), nn.Linear(8, 4)), (8,))
    with pytest.raises(QonnxImportError, match="weights are not binary or ternary"):
        import_qonnx(path)


def test_missing_input_quantizer(tmp_path):
    path = _export(tmp_path, nn.Sequential(binary_linear(8, 4)), (8,))
    with pytest.raises(QonnxImportError, match="the graph input reaches this MatMul unquantized; "
                                               "popcorn needs an input quantizer"):
        import_qonnx(path)


def test_final_quantizer_is_refused(tmp_path):
    path = _export(tmp_path, nn.Sequential(sign(), binary_linear(8, 4), sign()), (8,))
    with pytest.raises(QonnxImportError, match="the graph ends with quantized activations"):
        import_qonnx(path)


def test_pooling_of_pre_activations_is_refused(tmp_path):
    model = nn.Sequential(sign(), binary_conv(1, 2, 3), nn.BatchNorm2d(2), nn.MaxPool2d(2),
                          nn.Flatten(), sign(), binary_linear(8, 3))
    path = _export(tmp_path, model, (1, 6, 6))
    with pytest.raises(QonnxImportError, match=r"\(MaxPool\): max-pooling of pre-activations"):
        import_qonnx(path)


def test_residual_sum_that_is_the_output_is_refused(tmp_path):
    """An Add of branches whose sum is not quantized next (here: the scores)."""
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.fc = sign(), binary_linear(8, 8)

        def forward(self, x):
            x = self.q(x)
            return self.fc(x) + x

    path = _export(tmp_path, Residual(), (8,))
    with pytest.raises(QonnxImportError, match=re.escape(
            f"node '{_node(path, 'Add')}' (Add): its sum is the graph output; popcorn's "
            f"integer model folds an Add into the activation quantizer that reads its sum: "
            f"quantize the sum next")):
        import_qonnx(path)


def test_not_a_model(tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"\x00 not protobuf \xff" * 10)
    with pytest.raises(QonnxImportError, match="junk.onnx: not an ONNX model"):
        import_qonnx(tmp_path / "junk.onnx")
    with pytest.raises(QonnxImportError, match="nothing.onnx: no such file"):
        import_qonnx(tmp_path / "nothing.onnx")
