"""Design-space exploration on one board: every (architecture, cycles per image target)
point of a sweep built by the flow's steps (:mod:`popcorn.flow`), each a task on Dask (a
local cluster, or the scheduler of a cluster of many machines), and the Pareto front of
accuracy x LUT4 x images/s.

The sweep starts from a network file, or from a training run's record (``NAME.train.json``,
what ``popcorn train`` writes): then each :class:`Variant` (a scheme with M x N bases) is
first trained as the record was (its data set, architecture, epochs, seed, learning rate,
batch size and options; a Dask task each, written to ``out_dir/networks/``), and every
variant's points are built on its own test split. A variant already trained is reused.

A point is pruned before any tool runs when its mapping is refused or its estimate does not
fit the board (:func:`popcorn.boards.fit.check_fit`). A point's row is saved in
``out_dir/points/<key>.json`` once built, so a later sweep reuses it and an interrupted one
resumes. The row holds the figures of the last step run: LUT4 and fmax from nextpnr after
the bitstream step (``"source": "nextpnr"``), else the estimate's LUT4 and the board clock
(``"estimate"``); cycles per image measured in RTL after the simulate step, else the plan's;
accuracy of the RTL on the simulated images after the simulate step, else of the integer
golden model after the golden step.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import write_text

ARCHS = ("dataflow", "folded")


@dataclass(frozen=True)
class Point:
    arch: str
    target_cycles: int
    variant: str = ""

    @property
    def key(self):
        return f"{self.variant + '-' if self.variant else ''}{self.arch}-{self.target_cycles}"


MULTI_BASE = ("abc", "pa")
"""The schemes with M weight and N activation bases; the others have one of each
(BinaryConnect: its activation bits)."""


@dataclass(frozen=True)
class Variant:
    """A network to train: ``scheme`` with ``m`` x ``n`` bases (1 x 1 for the schemes
    without, :data:`MULTI_BASE`)."""
    scheme: str
    m: int = 1
    n: int = 1

    @property
    def key(self):
        return f"{self.scheme}-{self.m}x{self.n}"


def variants(schemes, bases):
    """Every scheme of ``schemes`` with every (M, N) of ``bases`` for the multi-base
    schemes, 1 x 1 for the others; in order, without repeats."""
    out = []
    for scheme in schemes:
        for m, n in (bases if scheme in MULTI_BASE else [(1, 1)]):
            if Variant(scheme, m, n) not in out:
                out.append(Variant(scheme, m, n))
    return out


_DATA_KEYS = ("scheme", "arch", "input_shape", "classes", "input_max")


def train_variant(record, variant, out_dir):
    """Train ``variant`` as the run record ``record`` (a ``.train.json`` dict) was trained
    (a task for a Dask worker); return the paths of its network file and test split in
    ``out_dir/networks/``, already there when it was trained before."""
    from .train.run import train_network

    base = Path(out_dir) / "networks" / variant.key
    network, test = base.with_name(base.name + ".npz"), base.with_name(base.name + ".test.npz")
    if network.is_file() and test.is_file():
        return str(network), str(test)
    base.parent.mkdir(parents=True, exist_ok=True)
    options = {k: v for k, v in record["config"].items() if k not in _DATA_KEYS}
    multi = variant.scheme in MULTI_BASE
    options.update(m=variant.m if multi else None, n=variant.n if multi else None,
                   shift_bn=options.get("shift_bn", False) and variant.scheme == "bnn",
                   stochastic=options.get("stochastic", False)
                   and variant.scheme == "binaryconnect",
                   real_ends=False if variant.scheme == "xnor" else options.get("real_ends"))
    if options["real_ends"] is None:
        options.pop("real_ends")
    train_network(variant.scheme, data=record["data"], output=str(base), arch=record["arch"],
                  epochs=record["epochs"], seed=record["seed"], lr=record["lr"],
                  batch_size=record["batch_size"], progress=False, **options)
    return str(network), str(test)


def plan_point(network, point, board, frac_bits=8):
    """The plan of ``point`` as ``popcorn build`` makes it for ``board``: the dataflow
    mapping at ``target_cycles`` with its weight ROMs placed
    (:func:`~popcorn.boards.fit.place_weight_roms`), or the cheapest folded engine meeting
    it (:func:`~popcorn.mapping.folded.choose_folded`)."""
    from .boards.fit import place_weight_roms
    from .mapping.folded import choose_folded
    from .mapping.network_map import map_network

    if point.arch == "folded":
        return choose_folded(network, point.target_cycles, frac_bits=frac_bits)
    return place_weight_roms(map_network(network, frac_bits=frac_bits,
                                         target_cycles=point.target_cycles), board)


def prune(network, points, board, frac_bits=8):
    """``(kept, pruned)``: the points whose mapping and estimate fit ``board``, and
    ``{key: reason}`` of the others."""
    from .boards.fit import DesignTooLarge, check_fit, estimate_design
    from .network import NetworkError

    kept, pruned = [], {}
    for point in points:
        try:
            check_fit(estimate_design(plan_point(network, point, board, frac_bits), board))
            kept.append(point)
        except (NetworkError, ValueError, DesignTooLarge) as error:
            pruned[point.key] = str(error).splitlines()[0]
    return kept, pruned


def run_point(network_path, inputs_path, point, *, board, out_dir, steps, sim_images,
              frac_bits=8):
    """Build ``point`` (a task for a Dask worker: everything from files) and return its
    row, also saved in ``out_dir/points/<key>.json``."""
    from .boards.boards import get_board
    from .flow import FlowConfig, run_steps
    from .network import load_network

    network = load_network(network_path)
    data = np.load(inputs_path)
    labels = data["y"] if "y" in data.files else None
    plan = plan_point(network, point, board, frac_bits)
    out_dir = Path(out_dir)
    config = FlowConfig(name=point.key, inputs=data["x"], labels=labels, board=board,
                        build_dir=out_dir / "build", report_dir=out_dir / "reports",
                        sim_images=sim_images)
    results = run_steps(plan, config, steps)
    row = {"key": point.key, "variant": point.variant, "arch": point.arch,
           "target_cycles": point.target_cycles, "source": "estimate",
           "cycles_per_image": plan.cycles_per_image}
    if "estimate" in results:
        row["lut4"] = results["estimate"]["estimate"]["total"]["lut4"]
    clock = get_board(board).clock_hz / 1e6
    if "bitstream" in results:
        impl = results["bitstream"]["implementation"]
        row.update(lut4=impl["lut4"], source="nextpnr")
        clock = impl["fmax_mhz"]
    if "golden" in results and labels is not None:
        row["accuracy"] = float(np.mean(results["golden"]["integer_argmax"] == labels))
    if "simulate" in results:
        sim = results["simulate"]
        row["cycles_per_image"] = sim["measured"]["interval"] or plan.cycles_per_image
        if labels is not None:
            row["accuracy"] = float(np.mean(sim["argmax"] == labels[:len(sim["argmax"])]))
    row["clock_mhz"] = clock
    row["images_per_s"] = round(clock * 1e6 / row["cycles_per_image"], 1)
    path = out_dir / "points" / f"{point.key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(row, indent=1) + "\n")
    return row


def pareto(rows):
    """The rows no other row beats: at least as accurate, as small in LUT4 and as fast in
    images/s, and better in one of them."""
    def key(row):
        return (row.get("accuracy", 0.0), -row.get("lut4", float("inf")), row["images_per_s"])

    def beats(a, b):
        ka, kb = key(a), key(b)
        return all(x >= y for x, y in zip(ka, kb)) and ka != kb
    return [row for row in rows if not any(beats(other, row) for other in rows)]


def explore(network_path, inputs_path, *, board, targets, archs=ARCHS, out_dir, steps,
            sim_images=20, frac_bits=8, scheduler=None, workers=1, progress=None,
            record=None, train=()):
    """Sweep ``archs`` x ``targets`` on Dask; return ``(rows, pruned, front)`` and write
    ``out_dir/pareto.md`` and ``pareto.png``. Points with a saved row are not built again.
    ``scheduler``: the address of a running Dask scheduler, else a local cluster of
    ``workers`` processes. ``progress(done, total)`` is called as points finish.

    With ``record`` (a run record, :func:`train_variant`) and ``train`` (:class:`Variant`
    s), the variants are trained first and each one's points built on its test split;
    ``network_path`` and ``inputs_path`` are then unused."""
    from distributed import Client, LocalCluster, as_completed

    from .network import load_network

    out_dir = Path(out_dir)
    cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1,
                                                  processes=True, dashboard_address=None)
    rows, pruned = [], {}
    try:
        with Client(scheduler or cluster) as client:
            if record is not None:
                futures = [client.submit(train_variant, record, v, str(out_dir),
                                         key=f"popcorn-train-{v.key}-{out_dir.name}")
                           for v in train]
                networks = [(v.key, *f.result()) for v, f in zip(train, futures)]
            else:
                networks = [("", str(network_path), str(inputs_path))]
            todo, kept = [], 0
            for variant, net_path, data_path in networks:
                network = load_network(net_path)
                points = [Point(arch, int(t), variant) for arch in archs for t in targets]
                mine, refused = prune(network, points, board, frac_bits)
                pruned.update(refused)
                kept += len(mine)
                for point in mine:
                    saved = out_dir / "points" / f"{point.key}.json"
                    if saved.is_file():
                        rows.append(json.loads(saved.read_text()))
                    else:
                        todo.append((point, net_path, data_path))
            if progress:
                progress(len(rows), kept)
            futures = [client.submit(run_point, net_path, data_path, point, board=board,
                                     out_dir=str(out_dir), steps=tuple(steps),
                                     sim_images=sim_images, frac_bits=frac_bits,
                                     key=f"popcorn-{point.key}-{out_dir.name}")
                       for point, net_path, data_path in todo]
            for future in as_completed(futures):
                rows.append(future.result())
                if progress:
                    progress(len(rows), kept)
    finally:
        if cluster is not None:
            cluster.close()
    rows.sort(key=lambda row: (row.get("variant", ""), row["arch"], row["target_cycles"]))
    front = pareto(rows)
    _write_front(out_dir, rows, pruned, front, board)
    return rows, pruned, front


def _write_front(out_dir, rows, pruned, front, board):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = {row["key"] for row in front}
    lines = [f"# Design-space exploration on {board}", "",
             "Written by `popcorn explore`: LUT4 from nextpnr (or the estimate, as the "
             "source column says), cycles per image measured in RTL, images/s at fmax (or "
             "at the board clock without a bitstream), accuracy of the RTL on the simulated "
             "images (or of the integer golden model). Pareto points are marked *.", "",
             "| point | network | architecture | target cycles | LUT4 | source | "
             "cycles per image | images/s | accuracy |",
             "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: |"]
    for row in rows:
        lines.append(f"| {row['key']}{' *' if row['key'] in keys else ''} | "
                     f"{row.get('variant') or 'as given'} | {row['arch']} | "
                     f"{row['target_cycles']} | {row.get('lut4', '')} | {row['source']} | "
                     f"{row['cycles_per_image']} | {row['images_per_s']} | "
                     f"{row.get('accuracy', '')} |")
    if pruned:
        lines += ["", "Pruned before any tool ran:", ""]
        lines += [f"- {key}: {reason}" for key, reason in pruned.items()]
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text(out_dir / "pareto.md", "\n".join(lines) + "\n")
    figure = Figure(figsize=(6, 4))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for arch, marker in zip(ARCHS, "os"):
        mine = [r for r in rows if r["arch"] == arch and "lut4" in r]
        axes.scatter([r["lut4"] for r in mine], [r["images_per_s"] for r in mine],
                     marker=marker, label=arch)
    best = [r for r in front if "lut4" in r]
    axes.scatter([r["lut4"] for r in best], [r["images_per_s"] for r in best], s=120,
                 facecolors="none", edgecolors="k", label="Pareto")
    axes.set_xlabel("LUT4")
    axes.set_ylabel("images/s")
    axes.set_yscale("log")
    axes.legend()
    figure.savefig(out_dir / "pareto.png", dpi=100)
