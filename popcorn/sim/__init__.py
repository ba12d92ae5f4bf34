"""Simulation: Verilog export, cocotb runner wrapper, stream drivers and monitors."""
