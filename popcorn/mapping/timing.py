"""Cycle models of the streaming blocks, and of a chain of them: the exact cycle model.

Every block of the dataflow accelerator has a model here of its control (counters,
``valid`` registers and the combinational ``ready``) that reproduces, cycle for cycle, when
it takes an input word and when it offers an output word; payloads are not modelled. The
models follow the RTL of :mod:`popcorn.hdl` (one register-slice handshake per block) and
are checked against it: every whole-network test asserts that the handshake cycles the RTL
shows equal :func:`chain_cycles`'s.

A model has

* ``out_valid``: the block's ``o.valid`` register;
* ``in_ready(out_ready)``: its ``i.ready`` given the ``ready`` of its consumer (a
  combinational path in some blocks);
* ``clock(in_valid, out_ready)``: the state after the next clock edge.

Why a simulation rather than one formula: a chain of blocks with one-word output
registers couples their timing (a window waits while the engine behind it is busy, an
engine starves while the window walks padding), so the cycles per image of a whole
network are not simply the slowest block's. The per-block formulas (the window's
``Hp*Wp``, an engine's ``NF*SF``) remain the bounds the folding aims at.
"""

__all__ = ["WindowTiming", "PoolTiming", "FlattenTiming", "EngineTiming",
           "GatherEngineTiming", "ResidualEngineTiming", "ArgmaxTiming", "QueueTiming",
           "RegisterSliceTiming", "ShortcutTiming", "ConcatTiming", "chain_cycles",
           "ChainCycles"]

from dataclasses import dataclass

from ..hwmath import pool_uses_window
from ..network.validate import check_pair


class WindowTiming:
    """:class:`popcorn.hdl.window.SlidingWindow`: one step per padded position, a padding
    step needs no input, a step that completes a window offers it the next cycle.
    ``kernel``, ``stride``, ``padding``: integers (square) or pairs ``(h, w)``."""

    def __init__(self, *, height, width, kernel, stride, padding):
        self.kh, self.kw = check_pair(kernel, "kernel")
        self.sh, self.sw = check_pair(stride, "stride")
        self.ph, self.pw = check_pair(padding, "padding", minimum=0)
        self.h, self.w = height, width
        self.hp, self.wp = height + 2 * self.ph, width + 2 * self.pw
        self.phase_y, self.phase_x = (-(self.kh - 1)) % self.sh, (-(self.kw - 1)) % self.sw
        self.py = self.px = 0
        self.cy, self.cx = self.phase_y, self.phase_x
        self.out_valid = False

    def _real(self):
        return self.ph <= self.py < self.ph + self.h and self.pw <= self.px < self.pw + self.w

    def in_ready(self, out_ready):
        return (out_ready or not self.out_valid) and self._real()

    def clock(self, in_valid, out_ready):
        out_free = out_ready or not self.out_valid
        step = out_free and (in_valid or not self._real())
        if out_free:
            self.out_valid = step and self.py >= self.kh - 1 and self.px >= self.kw - 1 \
                and self.cy == 0 and self.cx == 0
        if step:
            if self.px == self.wp - 1:
                self.px, self.cx = 0, self.phase_x
                if self.py == self.hp - 1:
                    self.py, self.cy = 0, self.phase_y
                else:
                    self.py, self.cy = self.py + 1, (0 if self.cy == self.sh - 1 else self.cy + 1)
            else:
                self.px, self.cx = self.px + 1, (0 if self.cx == self.sw - 1 else self.cx + 1)


class PoolTiming:
    """:class:`popcorn.hdl.pool.MaxPool`: one pixel per cycle; an output the cycle after the
    last pixel of its window. ``kernel``, ``stride``: integers or pairs ``(h, w)``. A pool
    built on a sliding window (:func:`~popcorn.hwmath.pool_uses_window`: overlapping
    windows, or one column over several rows) has :class:`WindowTiming`'s timing without padding."""

    def __new__(cls, *, height, width, kernel, stride):
        if pool_uses_window(check_pair(kernel, "kernel"), check_pair(stride, "stride")):
            return WindowTiming(height=height, width=width, kernel=kernel, stride=stride,
                                padding=(0, 0))
        return super().__new__(cls)

    def __init__(self, *, height, width, kernel, stride):
        self.kh, self.kw = check_pair(kernel, "kernel")
        self.sh, self.sw = check_pair(stride, "stride")
        self.h, self.w = height, width
        self.oh = (height - self.kh) // self.sh + 1
        self.ow = (width - self.kw) // self.sw + 1
        self.x = self.rx = self.ox = self.y = self.ry = self.oy = 0
        self.out_valid = False

    def in_ready(self, out_ready):
        return out_ready or not self.out_valid

    def clock(self, in_valid, out_ready):
        out_free = out_ready or not self.out_valid
        step = in_valid and out_free
        if out_free:
            self.out_valid = step and self.rx == self.kw - 1 and self.ry == self.kh - 1 \
                and self.ox < self.ow and self.oy < self.oh
        if not step:
            return
        x, rx, y, ry = self.x, self.rx, self.y, self.ry
        self.x, self.rx = x + 1, rx + 1
        if rx == self.sw - 1:
            self.rx, self.ox = 0, self.ox + 1
        if x == self.w - 1:
            self.x, self.rx, self.ox, self.y, self.ry = 0, 0, 0, y + 1, ry + 1
            if ry == self.sh - 1:
                self.ry, self.oy = 0, self.oy + 1
            if y == self.h - 1:
                self.y, self.ry, self.oy = 0, 0, 0


class FlattenTiming:
    """:class:`popcorn.hdl.flatten.Flatten`: gathers ``pixels`` words, offers the vector
    the cycle after the last."""

    def __init__(self, *, pixels):
        self.n = pixels
        self.count = 0
        self.out_valid = False

    def in_ready(self, out_ready):
        return out_ready or not self.out_valid

    def clock(self, in_valid, out_ready):
        fire = in_valid and (out_ready or not self.out_valid)
        if out_ready:
            self.out_valid = False
        if fire:
            if self.count == self.n - 1:
                self.count, self.out_valid = 0, True
            else:
                self.count += 1


class EngineTiming:
    """:class:`popcorn.hdl.mva.MatrixVectorActivation`: a vector is issued over
    ``cycles_per_vector`` folds; the fold that completes it travels through ``stages``
    registers (the weight ROM read, the popcount tree's pipeline, the accumulator, the
    compare stage) and then sets ``o.valid``. The whole engine holds while a finished
    vector waits for the output register (empty, with more than one fold; or taken in this
    cycle, with one)."""

    def __init__(self, *, cycles_per_vector, stages):
        self.cpv = cycles_per_vector
        self.slots = [False] * stages
        self.busy = False
        self.fold = 0
        self.out_valid = False

    def _advance(self, out_ready):
        stall = self.slots[-1] and self.out_valid and (self.cpv > 1 or not out_ready)
        return not stall

    def in_ready(self, out_ready):
        return self._advance(out_ready) and (not self.busy or self.fold == self.cpv - 1)

    def _issue(self, out_ready, busy):
        """One clock of the output register, the stages and the fold walk of a vector in
        issue (``busy``); True when its last fold was issued."""
        advance = self._advance(out_ready)
        done = self.slots[-1]
        if out_ready:
            self.out_valid = False
        if not advance:
            return False
        if done:
            self.out_valid = True
        last = busy and self.fold == self.cpv - 1
        self.slots = [last] + self.slots[:-1]
        if busy:
            self.fold = 0 if last else self.fold + 1
        return last

    def clock(self, in_valid, out_ready):
        fire = in_valid and self.in_ready(out_ready)
        if self._issue(out_ready, self.busy):
            self.busy = False
        if fire:
            self.busy = True


class GatherEngineTiming(EngineTiming):
    """:class:`popcorn.hdl.mva.MatrixVectorActivation` with ``gather``: the words fill a
    bank of the input buffer (``words_per_fold`` words per element fold, ``folds`` folds)
    whenever that bank is not full, whatever the engine does; a full bank is issued as
    :class:`EngineTiming` issues a vector, and is free again after its last fold."""

    def __init__(self, *, words_per_fold, folds, cycles_per_vector, stages):
        super().__init__(cycles_per_vector=cycles_per_vector, stages=stages)
        self.words = words_per_fold * folds
        self.full = [False, False]
        self.wb = self.rb = self.count = 0

    def in_ready(self, out_ready):
        return not self.full[self.wb]

    def clock(self, in_valid, out_ready):
        fire = in_valid and not self.full[self.wb]
        if self._issue(out_ready, self.full[self.rb]):
            self.full[self.rb] = False
            self.rb ^= 1
        if fire:
            if self.count == self.words - 1:
                self.count = 0
                self.full[self.wb] = True
                self.wb ^= 1
            else:
                self.count += 1


class ResidualEngineTiming(EngineTiming):
    """:class:`popcorn.hdl.mva.MatrixVectorActivation` with a shortcut port: as
    :class:`EngineTiming`, but a vector is taken only with the shortcut word at the head
    of the queue of the :class:`ShortcutTiming` before it in the chain (``shortcut``, set
    by :func:`chain_cycles`), which it pops in the same cycle; the queue's ``ready`` is
    the engine's own (``take``) while ``i`` is valid."""

    shortcut = None

    def in_ready(self, out_ready):
        return super().in_ready(out_ready) and self.shortcut.queue.out_valid

    def clock(self, in_valid, out_ready):
        take = super().in_ready(out_ready) and in_valid
        super().clock(in_valid, out_ready)
        queue = self.shortcut.queue
        queue.clock(self.shortcut.written, take)
        self.shortcut.peak = max(self.shortcut.peak, queue.level)


class ShortcutTiming:
    """:class:`popcorn.hdl.shortcut.Shortcut`: a word passes to the main branch and into
    the shortcut branch in one handshake, when both are ready; the branch is the models
    ``side`` (a chain, none for an identity shortcut) ending in a :class:`QueueTiming`
    (``queue``). The fork's ``valid`` is its input's while the branch is ready
    (combinational: :meth:`offer`). The queue is clocked by the engine that pops it
    (:class:`ResidualEngineTiming`), with ``written``; that engine keeps ``peak``: the most
    words the queue's memory has held (besides the output register)."""

    def __init__(self, *, depth, side=()):
        self.queue = QueueTiming(depth=depth)
        self.side = list(side)
        self.cpv = max([getattr(model, "cpv", 0) for model in self.side] + [0])
        self.written = False
        self.peak = 0

    def _readies(self):
        readies = [False] * len(self.side) + [self.queue.in_ready(True)]
        for s in range(len(self.side) - 1, -1, -1):
            readies[s] = self.side[s].in_ready(readies[s + 1])
        return readies

    def offer(self, in_valid):
        return in_valid and self._readies()[0]

    def in_ready(self, out_ready):
        return out_ready and self._readies()[0]

    def clock(self, in_valid, out_ready):
        readies = self._readies()
        valids = [in_valid and out_ready and readies[0]] + \
            [model.out_valid for model in self.side]
        self.written = valids[-1] and readies[-1]
        for s, model in enumerate(self.side):
            model.clock(valids[s], readies[s + 1])


class ConcatTiming:
    """:class:`popcorn.hdl.concat.Concat`: a word enters every branch (``branches``: a chain
    of models each, none for the stream itself) in one handshake, when all are ready (the
    fork offers it to each branch while the others are ready); each branch ends in a
    :class:`QueueTiming` of ``depths[b]`` words; the join offers a word while every queue
    does (``out_valid``) and pops them all in the cycle it is taken. ``peaks``: the most
    words each queue's memory has held (besides the output register)."""

    def __init__(self, *, branches, depths):
        self.branches = [list(branch) for branch in branches]
        self.queues = [QueueTiming(depth=depth) for depth in depths]
        self.cpv = max([getattr(model, "cpv", 0) for branch in self.branches
                        for model in branch] + [0])
        self.peaks = [0] * len(self.queues)

    @property
    def out_valid(self):
        return all(queue.out_valid for queue in self.queues)

    def _readies(self, b):
        chain = self.branches[b]
        readies = [False] * len(chain) + [self.queues[b].in_ready(True)]
        for s in range(len(chain) - 1, -1, -1):
            readies[s] = chain[s].in_ready(readies[s + 1])
        return readies

    def in_ready(self, out_ready):
        return all(self._readies(b)[0] for b in range(len(self.branches)))

    def clock(self, in_valid, out_ready):
        readies = [self._readies(b) for b in range(len(self.branches))]
        take = self.out_valid and out_ready
        for b, (chain, queue) in enumerate(zip(self.branches, self.queues)):
            others = all(r[0] for c, r in enumerate(readies) if c != b)
            valids = [in_valid and others] + [model.out_valid for model in chain]
            for s, model in enumerate(chain):
                model.clock(valids[s], readies[b][s + 1])
            queue.clock(valids[-1], take)
            self.peaks[b] = max(self.peaks[b], queue.level)


class ArgmaxTiming:
    """:class:`popcorn.hdl.argmax.Argmax`: ``stages`` registers advancing together while
    the output is free (taken, or empty). One word at a time (default): a word is taken
    only when none is inside (busy until its result is taken). ``pipelined``: a word
    whenever the stages advance."""

    def __init__(self, *, stages, pipelined=False):
        self.slots = [False] * stages
        self.pipelined = pipelined
        self.busy = False

    @property
    def out_valid(self):
        return self.slots[-1]

    def in_ready(self, out_ready):
        if self.pipelined:
            return out_ready or not self.slots[-1]
        return not self.busy

    def clock(self, in_valid, out_ready):
        accept = in_valid and self.in_ready(out_ready)
        if out_ready and self.slots[-1]:
            self.busy = False
        if out_ready or not self.slots[-1]:
            self.slots = [accept] + self.slots[:-1]
        if accept and not self.pipelined:
            self.busy = True


class QueueTiming:
    """:class:`popcorn.hdl.queue.Queue` (Amaranth's ``SyncFIFOBuffered``): ``depth - 1``
    words in block RAM behind an output register; ``i.ready`` is "not full" (no path from
    ``o.ready``); a word written into an empty queue is offered two cycles later."""

    def __init__(self, *, depth):
        self.inner_depth = depth - 1
        self.level = 0
        self.out_valid = False

    def in_ready(self, out_ready):
        return self.level != self.inner_depth

    def clock(self, in_valid, out_ready):
        write = in_valid and self.level != self.inner_depth
        read = self.level != 0 and (not self.out_valid or out_ready)
        self.level += int(write) - int(read)
        if read:
            self.out_valid = True
        elif out_ready:
            self.out_valid = False


class RegisterSliceTiming:
    """:class:`popcorn.hdl.handshake.RegisterSlice`: ``i.ready`` is "the skid register is
    empty" (no path from ``o.ready``); a word is offered the cycle after its handshake; a
    word taken while ``o`` stalls waits in the skid register and leaves first."""

    def __init__(self):
        self.out_valid = False
        self.skid = False

    def in_ready(self, out_ready):
        return not self.skid

    def clock(self, in_valid, out_ready):
        if out_ready or not self.out_valid:
            self.out_valid = self.skid or in_valid
            self.skid = False
        elif in_valid and not self.skid:
            self.skid = True


@dataclass(frozen=True)
class ChainCycles:
    """Handshake cycles of a free-running run: ``inputs`` every input word's, ``outputs``
    every output word's, counted from the cycle the source first offers a word."""
    inputs: tuple
    outputs: tuple


def chain_cycles(models, *, input_words, output_words, max_cycles=None):
    """Run ``models`` (a chain, source side first) with a source that offers ``input_words``
    words back to back and a sink that is always ready; return the :class:`ChainCycles`
    once ``output_words`` words have left. Raises ``RuntimeError`` when no word has moved
    between any two blocks for longer than an engine can work on one vector (twice the
    longest ``cycles_per_vector``, and 10 000 cycles more): a chain that hangs; or after
    ``max_cycles`` in all, if given. A :class:`ResidualEngineTiming` pops the queue of
    the last :class:`ShortcutTiming` before it; a model with ``offer`` passes its input's
    ``valid`` on (combinationally) instead of holding an ``out_valid`` register.
    """
    shortcut = None
    for model in models:
        if isinstance(model, ShortcutTiming):
            shortcut = model
        elif isinstance(model, ResidualEngineTiming):
            model.shortcut = shortcut
    idle_limit = 10_000 + 2 * max([getattr(model, "cpv", 0) for model in models] + [0])
    inputs, outputs = [], []
    cycle = last_move = 0
    n = len(models)
    while len(outputs) < output_words:
        if cycle - last_move > idle_limit or (max_cycles is not None and cycle >= max_cycles):
            raise RuntimeError(f"the chain produced {len(outputs)} of {output_words} output "
                               f"words in {cycle} cycles")
        readies = [False] * (n + 1)
        readies[n] = True
        for s in range(n - 1, -1, -1):
            readies[s] = models[s].in_ready(readies[s + 1])
        valids = [len(inputs) < input_words]
        for model in models:
            valids.append(model.offer(valids[-1]) if hasattr(model, "offer")
                          else model.out_valid)
        if valids[0] and readies[0]:
            inputs.append(cycle)
        if valids[n]:
            outputs.append(cycle)
        if any(valid and ready for valid, ready in zip(valids, readies)):
            last_move = cycle
        for s, model in enumerate(models):
            model.clock(valids[s], readies[s + 1])
        cycle += 1
    return ChainCycles(tuple(inputs), tuple(outputs))
