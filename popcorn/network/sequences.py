"""Sequences as maps: the golden models and the mapper run a network over ``(C, T)``
sequences (seed 003's text model: n-gram convolutions over token embeddings, a max over
time) as the same network over ``(C, 1, T)`` maps, the graph :func:`as_2d` gives.

A sequence of T steps of C channels is the map of height 1 and width T, its steps in
order; a :class:`~popcorn.network.layers.Conv1d` is the Conv2d of kernel ``(1, k)``,
stride ``(1, s)`` and padding ``(0, p)`` (its :meth:`~popcorn.network.layers.Conv1d.as_2d`),
a :class:`~popcorn.network.layers.MaxPool1d` the MaxPool2d of kernel ``(1, k)``, a
:class:`~popcorn.network.layers.GlobalMaxPool` the MaxPool2d over the whole map and a
Flatten of its ``(C, 1, 1)`` output. Flatten is C-major on both, so every tensor holds the
same numbers in the same order; inputs ``(B, C, T)`` are reshaped to ``(B, C, 1, T)``.
"""

from .graph import INPUT, Graph, Node
from .layers import Network

__all__ = ["SEQUENCE_KINDS", "has_sequences", "as_2d", "inputs_2d"]

#: The layer kinds that the 2-D form replaces.
SEQUENCE_KINDS = ("conv1d", "maxpool1d", "globalmaxpool")


def has_sequences(network):
    """Whether ``network`` (a Network or a Graph) takes a sequence or has a layer of
    :data:`SEQUENCE_KINDS`."""
    layers = network.layers if isinstance(network, Network) else \
        [node.layer for node in network.nodes]
    return len(network.input_shape) == 2 or any(layer.kind in SEQUENCE_KINDS
                                                for layer in layers)


def as_2d(network):
    """``network`` unchanged if it has no sequences (:func:`has_sequences`), else the
    equivalent :class:`~popcorn.network.graph.Graph` over maps (the module docstring): its
    nodes keep their names; a GlobalMaxPool ``g`` becomes the pool ``g.pool`` and the
    Flatten ``g``."""
    if not has_sequences(network):
        return network
    graph = Graph.from_network(network) if isinstance(network, Network) else network
    shapes = graph.shapes
    nodes = []
    for node in graph.nodes:
        kind = node.layer.kind
        if kind in ("conv1d", "maxpool1d"):
            nodes.append(Node(node.name, node.layer.as_2d(), node.inputs))
        elif kind == "globalmaxpool":
            pool, flatten = node.layer.as_2d(shapes[node.inputs[0]])
            name = node.name + ".pool"
            while name in shapes:
                name += "_"
            nodes += [Node(name, pool, node.inputs), Node(node.name, flatten, (name,))]
        else:
            nodes.append(node)
    shape = graph.input_shape
    if len(shape) == 2:
        shape = (shape[0], 1, shape[1])
    return Graph(shape, graph.input_quantizer, nodes)


def inputs_2d(network, inputs):
    """Checked ``inputs`` (B, *network.input_shape) as the inputs of :func:`as_2d`'s graph."""
    if len(network.input_shape) != 2:
        return inputs
    return inputs.reshape(len(inputs), network.input_shape[0], 1, network.input_shape[1])
