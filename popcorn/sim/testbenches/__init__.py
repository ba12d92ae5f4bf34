"""cocotb test modules, run by :func:`popcorn.sim.runner.run_testbench`."""
