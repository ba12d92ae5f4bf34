"""Networks as graphs: named nodes whose layers read named tensors, so that branches, adds
(residual blocks) and concatenations can be written (issue 14).

A :class:`Graph` is an input (named :data:`INPUT`), its shape and quantizer, and
:class:`Node` s in topological order, each a layer of :mod:`popcorn.network.layers` or
one of the joins below with the names of the tensors it reads; the last node is the
:class:`~popcorn.network.layers.Scores`. Every tensor but the scores is read by some node.
A sequential :class:`~popcorn.network.layers.Network` is the graph whose nodes read the
node before them (:meth:`Graph.from_network`, :meth:`Graph.sequential`).

Joins (value semantics: the float reference, :mod:`popcorn.golden.float_ref`; the integer
model, :mod:`popcorn.golden.integer_graph`, says where an Add meets the comparators):

* :class:`Add`: the sum of two tensors of one shape, each either quantized activations
  (their values, an identity shortcut) or a pre-activation (a Dense/Conv2d output or its
  BatchNorm, e.g. a binarized 1 x 1 downsampling shortcut); the sum is a pre-activation
  that an Activation must quantize next, as in ABC-Net's and PA-Net's ResNet blocks (seed
  000 section 4, seed 004): ``sign(BN(conv(x)) + x)``.
* :class:`Concat`: quantized activations of one quantizer joined along the channel axis
  (axis 0), as seed 003's text model joins its n-gram branches before the linear layer.

Validation names the node (``"node 'block1.add' (add): ..."``).
"""

from dataclasses import dataclass

from .layers import LAYER_KINDS, Network, check_input
from .validate import _FIX, _GIVES, _NEEDS, NetworkError

__all__ = ["Add", "Concat", "Node", "Graph", "INPUT", "GRAPH_KINDS", "validate_graph",
           "same_quantizer"]

#: The name of the graph's input tensor.
INPUT = "input"


@dataclass(frozen=True)
class Add:
    """The sum of two tensors of one shape (see the module docstring)."""

    kind = "add"
    arity = 2

    def output_shape(self, *shapes):
        if len(set(shapes)) != 1:
            raise ValueError(f"adds tensors of shapes {' and '.join(map(str, shapes))}; they "
                             f"must be equal")
        return shapes[0]

    def to_json(self):
        return {"kind": self.kind}

    def arrays(self):
        return {}


@dataclass(frozen=True)
class Concat:
    """Quantized activations joined along the channel axis (axis 0)."""

    kind = "concat"
    arity = None                    # two or more

    def output_shape(self, *shapes):
        if len({shape[1:] for shape in shapes}) != 1:
            raise ValueError(f"concatenates tensors of shapes {', '.join(map(str, shapes))}; "
                             f"all but the channel axis must be equal")
        return (sum(shape[0] for shape in shapes),) + shapes[0][1:]

    def to_json(self):
        return {"kind": self.kind}

    def arrays(self):
        return {}


#: Every node kind of a graph: the sequential layers and the joins.
GRAPH_KINDS = dict(LAYER_KINDS, add=Add, concat=Concat)


@dataclass(frozen=True)
class Node:
    """``layer`` reading the tensors named ``inputs`` (:data:`INPUT` or earlier nodes);
    its output tensor is named ``name``."""

    name: str
    layer: object
    inputs: tuple

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(self.inputs))

    @property
    def where(self):
        return f"node {self.name!r} ({self.layer.kind})"


@dataclass(frozen=True, eq=False)
class Graph:
    """A validated graph network (see the module docstring).

    Raises
    ------
    NetworkError
        naming the first node that does not chain.
    """

    input_shape: tuple
    input_quantizer: object
    nodes: tuple

    def __post_init__(self):
        object.__setattr__(self, "input_shape",
                           check_input(self.input_shape, self.input_quantizer))
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "_shapes", validate_graph(self))

    @property
    def shapes(self):
        """``{tensor name: shape}``, the input's and every node's output."""
        return dict(self._shapes)

    @property
    def classes(self):
        return self._shapes[self.nodes[-1].name][0]

    @classmethod
    def from_network(cls, network):
        """The graph of a sequential network: node i is named ``layer<i>`` and reads node
        i - 1 (node 0 the input)."""
        names = [INPUT] + [f"layer{i}" for i in range(len(network.layers))]
        return cls(network.input_shape, network.input_quantizer,
                   tuple(Node(names[i + 1], layer, (names[i],))
                         for i, layer in enumerate(network.layers)))

    def sequential(self):
        """The :class:`~popcorn.network.layers.Network` of a graph whose every node reads
        the node before it; raise :class:`NetworkError` naming the first node that joins or
        forks, for the parts of popcorn that take sequential networks only."""
        previous = INPUT
        for node in self.nodes:
            if node.layer.kind not in LAYER_KINDS or node.inputs != (previous,):
                raise NetworkError(
                    f"{node.where} reads {', '.join(map(repr, node.inputs))}: a branch or a "
                    f"join, and this step takes sequential networks only (so far the golden "
                    f"models run graphs: popcorn predict)")
            previous = node.name
        return Network(self.input_shape, self.input_quantizer,
                       tuple(node.layer for node in self.nodes))


# Which states a join reads and gives (the states of popcorn.network.validate).
_JOIN_NEEDS = {"add": ("codes", "linear", "normalized"), "concat": ("codes",)}
_JOIN_GIVES = {"add": "sum", "concat": "codes"}


def validate_graph(graph):
    """Check that ``graph``'s nodes chain; return ``{tensor name: shape}``.

    Every name is unique and not :data:`INPUT`; a node reads earlier tensors only (the
    nodes are in topological order), as many as its layer takes (one, two for Add, two or
    more for Concat); the states chain as in a sequential network
    (:func:`~popcorn.network.validate.validate_network`), an Add's sum is read by an
    Activation, a Concat joins activations of one quantizer; the last node is the Scores
    and every other tensor is read.
    """
    if not graph.nodes:
        raise NetworkError("a graph needs at least one node, ending with Scores")
    shapes = {INPUT: tuple(graph.input_shape)}
    states = {INPUT: "codes"}
    quantizers = {INPUT: graph.input_quantizer}
    readers = {INPUT: 0}
    for node in graph.nodes:
        if not isinstance(node, Node):
            raise NetworkError(f"not a node: {node!r}")
        kind = getattr(node.layer, "kind", None)
        if GRAPH_KINDS.get(kind) is not type(node.layer):
            raise NetworkError(f"node {node.name!r}: not a layer: {node.layer!r}")
        where = node.where
        if not isinstance(node.name, str) or not node.name or node.name in shapes:
            raise NetworkError(f"{where}: the name must be a new non-empty string "
                               f"({'taken' if node.name in shapes else 'not one'})")
        unknown = [name for name in node.inputs if name not in shapes]
        if unknown:
            raise NetworkError(f"{where} reads {unknown[0]!r}, which is not the input or an "
                               f"earlier node: list nodes in the order they compute")
        arity = getattr(node.layer, "arity", 1)
        count = len(node.inputs)
        if (arity is None and count < 2) or (arity is not None and count != arity):
            raise NetworkError(f"{where} reads {count} tensor(s); it takes "
                               f"{'two or more' if arity is None else arity}")
        for name in node.inputs:
            readers[name] += 1
        ins = [states[name] for name in node.inputs]
        needs = _JOIN_NEEDS[kind] if kind in _JOIN_NEEDS else \
            _NEEDS[kind] + (("sum",) if kind == "activation" else ())
        bad = [name for name, state in zip(node.inputs, ins) if state not in needs]
        if bad:
            state = states[bad[0]]
            hint = "an Add's sum must be quantized by an Activation next" if state == "sum" \
                else _FIX.get(kind, "a Concat joins quantized activations")
            raise NetworkError(f"{where} cannot read {bad[0]!r} ({state}): {hint}")
        if kind == "add" and ins.count("codes") == 2:
            raise NetworkError(f"{where} adds two quantized tensors; one branch must be a "
                               f"pre-activation (a Dense/Conv2d output or its BatchNorm)")
        if kind == "concat":
            first = quantizers[node.inputs[0]]
            for name in node.inputs[1:]:
                if not same_quantizer(first, quantizers[name]):
                    raise NetworkError(f"{where} joins activations of different quantizers "
                                       f"({node.inputs[0]!r} and {name!r}); quantize every "
                                       f"branch alike")
        try:
            shape = node.layer.output_shape(*[shapes[name] for name in node.inputs])
        except ValueError as error:
            raise NetworkError(f"{where}: {error}") from None
        shapes[node.name] = shape
        readers[node.name] = 0
        states[node.name] = _JOIN_GIVES.get(kind) or _GIVES[kind]
        quantizers[node.name] = node.layer.quantizer if kind == "activation" else \
            quantizers[node.inputs[0]] if kind in ("maxpool2d", "maxpool1d", "globalmaxpool",
                                                  "flatten", "concat") else None
        if kind == "activation" and getattr(node.layer.quantizer, "mean_scaling", False):
            raise NetworkError(f"{where}: XNOR-Net input scaling (mean_scaling) is not taken "
                               f"in graphs; use SignActivation()")
    if getattr(graph.input_quantizer, "mean_scaling", False):
        raise NetworkError("input: XNOR-Net input scaling (mean_scaling) is not taken in "
                           "graphs; use SignActivation()")
    last = graph.nodes[-1]
    if last.layer.kind != "scores":
        raise NetworkError(f"{last.where}: the last node must be Scores (integer scores and "
                           f"argmax); append one")
    for node in graph.nodes[:-1]:
        if node.layer.kind == "scores":
            raise NetworkError(f"{node.where}: Scores must be the last node")
    unread = [name for name, count in readers.items() if count == 0 and name != last.name]
    if unread:
        raise NetworkError(f"tensor {unread[0]!r} is computed but never read; remove its "
                           f"node or read it")
    return shapes


def same_quantizer(a, b):
    """Whether activation quantizers ``a`` and ``b`` are equal (kind, parameters, arrays)."""
    if type(a) is not type(b) or a.to_json() != b.to_json():
        return False
    return all((getattr(a, name) == getattr(b, name)).all() for name in type(a).arrays)

