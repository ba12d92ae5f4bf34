"""popcorn: FPGA accelerators for binary neural networks on open toolchains.

The flow, one subpackage per step: ``network`` (IR) -> ``golden`` (NumPy reference)
-> ``mapping`` (folding, ROM images) -> ``hdl`` (Amaranth components) -> ``sim``
(cocotb against the golden model) / ``boards`` (Yosys + nextpnr) -> ``reports``.
"""
