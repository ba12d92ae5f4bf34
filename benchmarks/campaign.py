"""A randomized whole-network campaign (:mod:`popcorn.sim.campaign`): ``--size`` random
networks from ``--seed`` on, every scheme and both architectures, each simulated (Icarus, or
Verilator for long runs) under random stalls against the golden model with its cycle model
checked; counts per scheme and architecture, and every failure with its traceback, into
reports/campaign/campaign-<seed>-<size>.{json,md}.

    python benchmarks/campaign.py --size 1000 --seed 0 --jobs 2
    python benchmarks/campaign.py --summarize reports/campaign/campaign-0-1000.jsonl

(the second writes the summary of the cases an interrupted campaign logged)

A failure is reproduced with ``popcorn.sim.campaign.run_case(seed, build_dir)``; each one
found becomes a regression case in tests/sim/test_campaign.py.
"""

import argparse
import json
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rich.progress import Progress

from popcorn.golden.examples import SCHEMES
from popcorn.sim.campaign import run_case


def _run(seed):
    with tempfile.TemporaryDirectory(prefix=f"campaign{seed}-") as build_dir:
        return run_case(seed, build_dir)


def summary_markdown(cases, seed, size):
    counts = Counter((c["scheme"], c["arch"], c["result"] == "pass") for c in cases)
    lines = [f"# Randomized campaign: {size} networks from seed {seed}", "",
             "Written by `benchmarks/campaign.py`: each network simulated (Icarus, Verilator for "
             "long runs) under "
             "random stalls against the integer golden model, every image's scores and class "
             "compared and every handshake of a free-running burst against the cycle model.",
             "", "| scheme | architecture | networks | passed | failed |",
             "| --- | --- | ---: | ---: | ---: |"]
    for scheme in SCHEMES:
        for arch in ("dataflow", "folded"):
            ok, bad = counts[(scheme, arch, True)], counts[(scheme, arch, False)]
            if ok + bad:
                lines.append(f"| {scheme} | {arch} | {ok + bad} | {ok} | {bad} |")
    total = sum(c["result"] == "pass" for c in cases)
    lines += ["", f"**{total} of {len(cases)} passed** in "
              f"{sum(c['seconds'] for c in cases) / 60:.1f} CPU minutes."]
    failures = [c for c in cases if c["result"] != "pass"]
    if failures:
        lines += ["", "## Failures", ""]
        lines += [f"- seed {c['seed']} ({c['scheme']}, {c['arch']}): {c['result']}"
                  for c in failures]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("reports/campaign"))
    parser.add_argument("--summarize", type=Path, default=None,
                        help="Only write the summary of the cases an interrupted campaign "
                             "logged (its .jsonl)")
    args = parser.parse_args()
    if args.summarize:
        cases = [json.loads(line) for line in args.summarize.read_text().splitlines()]
        stem = args.summarize.with_suffix("")
        stem.with_suffix(".json").write_text(json.dumps(cases, indent=1))
        stem.with_suffix(".md").write_text(summary_markdown(cases, cases[0]["seed"],
                                                            len(cases)))
        print(stem.with_suffix(".md").read_text())
        return
    seeds = range(args.seed, args.seed + args.size)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"campaign-{args.seed}-{args.size}"
    cases = []
    with Progress() as progress, ProcessPoolExecutor(args.jobs) as pool, \
            open(stem.with_suffix(".jsonl"), "w") as log:        # kept if interrupted
        task = progress.add_task("networks", total=args.size)
        for case in pool.map(_run, seeds):
            cases.append(case)
            log.write(json.dumps(case) + "\n")
            log.flush()
            if case["result"] != "pass":
                progress.console.print(f"seed {case['seed']}: {case['result']}")
            progress.advance(task)
    stem.with_suffix(".json").write_text(json.dumps(cases, indent=1))
    stem.with_suffix(".jsonl").unlink()
    stem.with_suffix(".md").write_text(summary_markdown(cases, args.seed, args.size))
    print(stem.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
