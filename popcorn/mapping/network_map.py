"""Mapping a whole network onto a streaming dataflow accelerator: one engine per layer.

:func:`map_network` takes a :class:`~popcorn.network.Network`, maps it to the integer model
(:func:`~popcorn.golden.integer_model.to_integer`) and folds each Dense layer onto a
:class:`~popcorn.mapping.linear.LinearFolding`; the last one emits the scores, followed by
an argmax. Cycles follow from the folding exactly: the accelerator accepts an image every
``max_l NF_l*SF_l`` cycles and the first image's result leaves the sum of the engines' and
the argmax's latencies after its input.

Convolutions are not mapped yet: a network with Conv2d or MaxPool2d layers gets an error
naming the layer.
"""

from dataclasses import dataclass

import numpy as np

from ..golden.binary import pack_words
from ..golden.integer_model import IntLinear, IntThreshold, run_integer, to_integer
from ..golden.predict import input_thermometer
from ..golden.quantizers import thermometer_to_bases
from ..hdl.argmax import argmax_stages, class_width
from ..network.validate import NetworkError
from .linear import LinearFolding


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def choose_folding(channels, fan_in, target_cycles):
    """The least parallel (pe, simd) whose NF*SF is at most ``target_cycles``, preferring
    wide SIMD (cheap: one popcount tree) over many PEs; the fully parallel (C, K) when no
    folding meets the target."""
    best = None
    for pe in _divisors(channels):
        for simd in _divisors(fan_in):
            cycles = (channels // pe) * (fan_in // simd)
            if cycles > target_cycles:
                continue
            key = (pe * simd, pe)
            if best is None or key < best[0]:
                best = (key, pe, simd)
    return (channels, fan_in) if best is None else best[1:]


@dataclass(frozen=True, eq=False)
class NetworkPlan:
    """A mapped network: ``foldings`` one per Dense layer in order; ``integer`` the
    integer model it implements; ``network`` the source."""
    network: object
    integer: object
    foldings: tuple

    @property
    def classes(self):
        return self.foldings[-1].channels

    @property
    def cycles_per_image(self):
        """Initiation interval of the pipeline: the slowest engine's NF*SF."""
        return max(f.cycles_per_vector for f in self.foldings)

    @property
    def latency(self):
        """Cycles from an idle accelerator's input handshake to its output: every engine's
        latency plus the argmax's."""
        return sum(f.latency for f in self.foldings) + argmax_stages(self.classes)

    @property
    def needs_dsp(self):
        """True when a layer's multiplies should go to DSP blocks."""
        return any(f.needs_dsp for f in self.foldings)

    @property
    def in_width(self):
        return self.foldings[0].in_width

    @property
    def score_width(self):
        return self.foldings[-1].score_width

    @property
    def out_width(self):
        return self.classes * self.score_width + class_width(self.classes)

    def input_bases(self, inputs):
        """The first engine's input bases ``uint8`` (B, K, N) of raw inputs."""
        thermo = input_thermometer(self.network, inputs)
        bases = thermometer_to_bases(thermo, self.network.input_quantizer)
        return bases.reshape(len(bases), -1, bases.shape[-1])   # a leading Flatten: C-major

    def reference(self, inputs):
        """(scores ``int64`` (B, classes), argmax (B,)) of the integer golden model."""
        thermo = input_thermometer(self.network, inputs)
        result = run_integer(self.integer, thermo)
        return result.scores, result.argmax

    def pack_inputs(self, inputs):
        return pack_words(self.input_bases(inputs), axes=2)

    def pack_outputs(self, scores, argmax):
        w = self.score_width
        top = self.classes * w
        return [sum((int(v) & ((1 << w) - 1)) << (c * w) for c, v in enumerate(row)) |
                (int(k) << top) for row, k in zip(scores, argmax)]

    def unpack_outputs(self, words):
        """(scores, argmax) from the accelerator's output words."""
        w, n = self.score_width, self.classes
        scores = np.array([[((word >> (c * w)) & ((1 << w) - 1)) - (
            (1 << w) if (word >> (c * w + w - 1)) & 1 else 0) for c in range(n)]
            for word in words], dtype=np.int64).reshape(len(words), n)
        argmax = np.array([word >> (n * w) for word in words], dtype=np.int64)
        return scores, argmax


def linear_pairs(integer_network):
    """(IntLinear, the IntThreshold right after it or None) for every linear stage."""
    stages = list(integer_network.stages)
    pairs = []
    for n, stage in enumerate(stages):
        if isinstance(stage, IntLinear):
            after = stages[n + 1] if n + 1 < len(stages) else None
            pairs.append((stage, after if isinstance(after, IntThreshold) else None))
    return pairs


def map_network(network, *, frac_bits=8, target_cycles=64, folding=None, pipeline="auto",
                bases="parallel", multiply="shift-add"):
    """Fold every layer of ``network``.

    ``folding`` optionally fixes (pe, simd) per Dense layer (a list, in order); otherwise
    :func:`choose_folding` meets ``target_cycles`` per image where it can. ``pipeline`` is
    the register stages of every popcount tree, or ``"auto"``: one stage per two logic
    levels of the tree. ``bases`` and ``multiply`` are passed to every
    :class:`~popcorn.mapping.linear.LinearFolding`.
    """
    for index, layer in enumerate(network.layers):
        if layer.kind in ("conv2d", "maxpool2d"):
            raise NetworkError(f"layer {index} ({layer.kind}): the dataflow mapper places "
                               f"dense networks only so far; convolutions are not mapped yet")
    first = network.layers[0].kind if network.layers else None
    if len(network.input_shape) != 1 and first != "flatten":
        raise NetworkError(f"input: the dataflow mapper takes vector inputs (K,) or a "
                           f"Flatten first, not {network.input_shape} into {first}")
    integer = to_integer(network, frac_bits)
    pairs = linear_pairs(integer)
    if folding is not None and len(folding) != len(pairs):
        raise ValueError(f"folding gives {len(folding)} (pe, simd) pairs for "
                         f"{len(pairs)} dense layers")
    foldings = []
    for n, (linear, activation) in enumerate(pairs):
        channels, fan_in = linear.weight_bits.shape[1:]
        pe, simd = folding[n] if folding is not None else \
            choose_folding(channels, fan_in, target_cycles)
        options = dict(bases=bases, multiply=multiply)
        if pipeline == "auto":
            levels = LinearFolding(linear, activation, pe=pe, simd=simd, **options).tree_levels
            options["pipeline"] = levels // 2
        else:
            options["pipeline"] = pipeline
        foldings.append(LinearFolding(linear, activation, pe=pe, simd=simd, **options))
    return NetworkPlan(network, integer, tuple(foldings))
