"""Registers whose power-up value does not matter.

A reset-less register merged into a block RAM's read port carries its initial value into
the port, and Yosys emulates it where the block RAM has none (a flip-flop set by the first
read and a LUT4 input on every data bit: 80 on the UP5K demo's first engine, one high-fanout
net into all its popcount trees). A signal with the attributes :data:`NO_INIT` (one read only
after a valid flag that is reset says its word arrived) loses its initial value in synthesis:
every flow runs :data:`DROP_NO_INIT` right after reading the design. RTL simulation keeps
Amaranth's initial value, which no output depends on.
"""

NO_INIT = {"popcorn_no_init": 1}
"""Attributes of a signal whose initial value synthesis drops."""

DROP_NO_INIT = "proc; setattr -unset init a:popcorn_no_init"
"""The Yosys commands that drop it (on wires carrying :data:`NO_INIT`; after ``proc``, which
turns a Verilog initializer into the wire's ``init``)."""
