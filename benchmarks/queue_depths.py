"""Cycles per image of whole networks against the depth of the queues in front of their
convolutions and pools (the cycle model, popcorn.mapping.timing): why
popcorn.mapping.stages.input_queue_depth is two input rows.

    python benchmarks/queue_depths.py        # writes reports/mapping/queue_depths.{md,json}
"""

import json
from dataclasses import replace
from pathlib import Path

from popcorn.golden.examples import cnv_network, random_network
from popcorn.mapping.network_map import map_network

ROWS = (0, 1, 2, 3)
NETWORKS = {
    "CNV (random BNN weights), 30 000 target cycles": (lambda: cnv_network(), 30_000),
    "random conv (5 schemes' layout, BNN), 150 target cycles":
        (lambda: random_network("bnn", seed=1, layout="conv"), 150),
}


def with_rows(plan, rows):
    stages = [replace(s, queue=max(2, rows * s.width) if rows else 0)
              if getattr(s, "queue", 0) else s for s in plan.stages]
    return replace(plan, stages=tuple(stages))


def main(out=Path("reports/mapping")):
    rows = []
    for name, (build, target) in NETWORKS.items():
        plan = map_network(build(), target_cycles=target)
        bound = max(s.folding.cycles_per_vector * s.out_words for s in plan.stages
                    if hasattr(s, "folding"))
        for depth in ROWS:
            variant = with_rows(plan, depth)
            rows.append({"network": name, "queue_rows": depth, "slowest_engine": bound,
                         "cycles_per_image": variant.cycles_per_image,
                         "latency": variant.latency})
            print(rows[-1])
    out.mkdir(parents=True, exist_ok=True)
    (out / "queue_depths.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["# Queue depth in front of convolutions and pools", "",
             "Written by `python benchmarks/queue_depths.py` from the cycle model "
             "(`popcorn.mapping.timing`, asserted equal to the RTL in every whole-network "
             "test). Queue depth in input rows of the stage it feeds; the slowest engine's "
             "cycles per image (windows x cycles per window) bound the interval from below.",
             "", "| network | queue rows | cycles per image | slowest engine | latency |",
             "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['network']} | {r['queue_rows']} | {r['cycles_per_image']} | "
              f"{r['slowest_engine']} | {r['latency']} |" for r in rows]
    (out / "queue_depths.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
