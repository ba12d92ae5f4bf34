"""NumPy golden models: the integer semantics the hardware is checked against, bit for bit."""
