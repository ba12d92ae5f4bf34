"""Property-based fuzz of the QONNX importer: hand-built FINN-style graphs (an MLP of
MultiThreshold, MatMul, Gemm, Identity, Add; a convolution with BipolarQuant, Conv,
MultiThreshold, Reshape) with one thing changed at random (an attribute's value, an
initializer's values or shape, a node removed, a node's op type, the input's shape):
``import_qonnx`` returns a network or raises popcorn's own error, never another
exception."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ._qonnx_helpers import onnx

from popcorn.frontends import QonnxImportError, UnsupportedNode, import_qonnx
from popcorn.network import NetworkError

from onnx import helper, numpy_helper

from .test_qonnx_graphs import QONNX, _conv_graph, _mlp_graph


def _model(graph):
    out = helper.make_tensor_value_info(graph.current, onnx.TensorProto.FLOAT, None)
    return helper.make_model(
        helper.make_graph(graph.nodes, "g", [graph.input], [out], graph.inits),
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)])


VALUES = st.one_of(st.integers(-5, 40), st.floats(-4, 4), st.sampled_from(
    [float("nan"), float("inf"), "BIPOLAR", "INT2", "", "ROUND"]),
    st.lists(st.integers(-3, 9), min_size=1, max_size=5))
OPS = st.sampled_from(["MatMul", "Gemm", "Conv", "Add", "Mul", "Sub", "Div", "Identity",
                       "Reshape", "MultiThreshold", "BipolarQuant", "Quant", "Relu",
                       "MaxPool", "Flatten", "Transpose", "Softmax", "LSTM"])


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(which=st.sampled_from(["mlp", "conv"]), mutation=st.sampled_from(
    ["attribute", "initializer values", "initializer shape", "drop node", "op type",
     "input shape"]), where=st.integers(0, 1000), value=VALUES, op=OPS)
def test_a_changed_graph_imports_or_is_refused_by_name(which, mutation, where, value, op):
    graph = _mlp_graph(32) if which == "mlp" else _conv_graph()
    model = _model(graph)
    nodes, inits = model.graph.node, model.graph.initializer
    node = nodes[where % len(nodes)]
    if mutation == "attribute" and node.attribute:
        attribute = node.attribute[where % len(node.attribute)]
        node.attribute.remove(attribute)
        node.attribute.append(helper.make_attribute(attribute.name, value))
    elif mutation == "initializer values":
        init = inits[where % len(inits)]
        array = numpy_helper.to_array(init).copy()
        if array.size and isinstance(value, (int, float)) and (
                np.issubdtype(array.dtype, np.floating) or float(value).is_integer()):
            array.flat[where % array.size] = value         # NaN only into float arrays
        init.CopyFrom(numpy_helper.from_array(array, init.name))
    elif mutation == "initializer shape":
        init = inits[where % len(inits)]
        array = numpy_helper.to_array(init)
        init.CopyFrom(numpy_helper.from_array(
            np.resize(array, (where % 5 + 1,) + array.shape[1:]), init.name))
    elif mutation == "drop node":
        nodes.remove(node)
    elif mutation == "op type":
        node.op_type = op
    elif mutation == "input shape":
        dims = model.graph.input[0].type.tensor_type.shape.dim
        dims[where % len(dims)].dim_value = where % 7
    try:
        import_qonnx(model)
    except (UnsupportedNode, QonnxImportError, NetworkError):
        pass
