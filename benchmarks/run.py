"""cnnsweep's benchmarks: one command, results in benchmarks/RESULTS.md.

    python -m benchmarks.run                 # 1-3: overhead, throughput, pruning (~15 min, 2 cores)
    python -m benchmarks.run quality         # 4: a 20-minute sweep against two peers (~60 min a round)
    python -m benchmarks.run quality --no-sweep --peers train_longer  # 4: a peer's rounds alone
    python -m benchmarks.run scaling         # 5: trials per hour with n_jobs 1 and 2
    python -m benchmarks.run defaults        # 6: the default run on Fashion-MNIST, timed (~5 min)
    python -m benchmarks.run trust           # 7: the winner's curse: a sweep confirmed with new seeds
    python -m benchmarks.run gpu             # 8: JAX on one NVIDIA GPU (scripts/pack-device.sh packs it)
    python -m benchmarks.run levers          # 9: the default run with each lever toward 0.94, 2 seeds
    python -m benchmarks.run tracking        # 10: what tracking=mlflow costs a deep_cnn trial (~15 min)
    python -m benchmarks.run why             # 11: a seed_cnn sweep's ablation path: why is the best best?
    python -m benchmarks.run --quick         # every benchmark on a tiny setting (the tests use it)

Every figure is measured in this run on this machine; ratios compare runs made
back to back. Results are kept per benchmark in results.json, and RESULTS.md is
rebuilt from it, so benchmark 4's last result stays next to a fresh 1-3. Benchmark 4
adds one round per --rounds to results.json's quality_runs, written as each round ends.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measure.common import HERE
from benchmarks.measure.defaults import defaults
from benchmarks.measure.gpu import GPU_SCALING_BUDGET_S, gpu
from benchmarks.measure.levers import LEVERS, levers, recorded_lever_runs
from benchmarks.measure.overhead import overhead
from benchmarks.measure.pruning import pruning
from benchmarks.measure.quality import (
    MAIN_PEERS,
    PEERS,
    SWEEP_JOBS,
    VARIANTS,
    quality,
    quality_run,
    recorded_quality_runs,
)
from benchmarks.measure.results import machine, write_results
from benchmarks.measure.scaling import SCALING_BUDGET_S, scaling
from benchmarks.measure.throughput import throughput
from benchmarks.measure.tracking import tracking
from benchmarks.measure.trust import trust
from benchmarks.measure.why import why


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "which",
        nargs="*",
        metavar="BENCHMARK",
        help="overhead, throughput, pruning, quality, scaling, defaults, trust, gpu, "
        "levers, tracking (default: the first three)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks that each runs")
    parser.add_argument("--results", type=Path, default=HERE, help="where results.json/RESULTS.md go")
    parser.add_argument("--minutes", type=float, default=20.0, help="benchmark 4's time box")
    parser.add_argument(
        "--no-tuner", action="store_true", help="skip KerasTuner in benchmark 1 and every peer in benchmark 4"
    )
    parser.add_argument(
        "--peers",
        nargs="*",
        default=list(MAIN_PEERS),
        metavar="PEER",
        choices=[name for name, _, _ in PEERS],
        help=f"benchmark 4's peers to run (default: {' '.join(MAIN_PEERS)}; also "
        f"{' '.join(name for name, _, _ in PEERS if name not in MAIN_PEERS)})",
    )
    parser.add_argument("--rounds", type=int, default=1, help="benchmark 4: rounds of every side")
    parser.add_argument(
        "--no-sweep",
        action="store_true",
        help="benchmark 4: rounds of the peers alone (after a peer's protocol changed)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=SWEEP_JOBS,
        choices=[SWEEP_JOBS, *VARIANTS.values()],
        help=f"benchmark 4: the sweep's hydra.sweeper.n_jobs (default {SWEEP_JOBS}; another count's "
        "rounds are kept as a side of their own)",
    )
    parser.add_argument("--gpu-jobs", type=int, default=4, help="benchmark 8: workers sharing the GPU")
    parser.add_argument(
        "--levers",
        nargs="*",
        default=[n for n in LEVERS if n != "baseline"],
        metavar="LEVER",
        choices=list(LEVERS),
        help="benchmark 9's levers (default: each on its own)",
    )
    parser.add_argument("--seeds", type=int, default=2, help="benchmark 9: seeds per lever")
    parser.add_argument("--gpu-minutes", type=float, default=15.0, help="benchmark 8's deep_cnn time box")
    args = parser.parse_args(argv)
    known = (
        "overhead",
        "throughput",
        "pruning",
        "quality",
        "scaling",
        "defaults",
        "trust",
        "gpu",
        "levers",
        "tracking",
        "why",
    )
    if unknown := [w for w in args.which if w not in known]:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(known)}")
    args.which = args.which or list(known[:3])
    if args.no_sweep and (args.no_tuner or not args.peers):
        parser.error("--no-sweep runs the peers alone: name them with --peers (and drop --no-tuner)")
    command = " ".join(["python -m benchmarks.run", *(sys.argv[1:] if argv is None else argv)])
    quick = args.quick
    updates: dict = {}
    with tempfile.TemporaryDirectory(prefix="cnnsweep-bench-") as tmp:
        workdir = Path(tmp)
        for which in args.which:
            started = time.perf_counter()
            print(f"benchmark {which} ...", flush=True)
            if which == "overhead":
                result = overhead(
                    workdir,
                    2 if quick else 30,
                    1 if quick else 2,
                    with_tuner=not (quick or args.no_tuner),
                    rounds=1 if quick else 5,
                )
            elif which == "throughput":
                result = throughput(1 if quick else 2, 2000 if quick else 20000, 1 if quick else 3)
            elif which == "pruning":
                result = pruning(workdir, 2 if quick else 20, 2 if quick else 10)
            elif which == "quality":
                tiny = ("dataset.train_limit=1000", "dataset.test_limit=500", "trainer.epochs=2")
                for round_ in range(1 if quick else args.rounds):
                    # The quick budget leaves time for a trial after the 5 s kept for the report.
                    result = quality(
                        workdir / f"round-{round_}",
                        0.75 if quick else args.minutes,
                        1 if quick else args.jobs,
                        *(tiny if quick else ()),
                        peers=() if args.no_tuner else tuple(args.peers),
                        peer_minutes=0.15 if quick else None,
                        sweep=not args.no_sweep,
                    )
                    result["machine"] = machine()
                    result["command"] = command
                    result["seconds"] = round(time.perf_counter() - started, 1)
                    started = time.perf_counter()
                    runs = recorded_quality_runs(args.results) + [quality_run(result)]
                    # A round of the peers alone adds its rounds; "quality" stays the last sweep's.
                    latest = {"quality": result} if result["side"] is not None else {}
                    write_results(args.results, {**latest, "quality_runs": runs})
                    print(json.dumps(result, indent=2), flush=True)
                continue
            elif which == "defaults":
                tiny = ("dataset.train_limit=1000", "dataset.test_limit=500", "trainer.epochs=1")
                result = defaults(workdir, *(tiny if quick else ()))
            elif which == "trust":
                tiny = ("dataset=digits", "dataset.train_limit=400", "dataset.test_limit=100")
                full = ("dataset.train_limit=12000",)  # 9,600 training and 2,400 validation images
                result = trust(
                    workdir,
                    4 if quick else 16,
                    1 if quick else 5,
                    2 if quick else 3,
                    1 if quick else 3,
                    *(tiny if quick else full),
                )
            elif which == "why":
                tiny = ("dataset=digits", "dataset.train_limit=400", "dataset.test_limit=100")
                full = ("dataset.train_limit=12000",)  # 9,600 training and 2,400 validation images
                result = why(
                    workdir,
                    4 if quick else 16,
                    1 if quick else 5,
                    1 if quick else 2,
                    *(tiny if quick else full),
                )
            elif which == "levers":
                tiny = ("dataset.train_limit=1000", "dataset.test_limit=500", "trainer.epochs=1")
                result = (
                    levers(workdir, ["average"], 1, *tiny)
                    if quick
                    else levers(workdir, args.levers, args.seeds)
                )
            elif which == "tracking":
                tiny = ("dataset.train_limit=600", "dataset.test_limit=200", "trainer.epochs=1")
                result = tracking(workdir, 2, 1, *tiny) if quick else tracking(workdir, 8, 2)
            elif which == "gpu":
                # --quick: the whole JAX path on this machine's CPU, tiny (the tests use it).
                tiny = ("dataset.train_limit=400", "dataset.test_limit=100", "trainer.epochs=1")
                result = (
                    gpu(workdir, 2, None, 0.5, "dataset=digits", *tiny, scaling_trials=2)
                    if quick
                    else gpu(
                        workdir,
                        args.gpu_jobs,
                        GPU_SCALING_BUDGET_S,
                        args.gpu_minutes,
                        "dataset=fashion_mnist",
                    )
                )
            else:
                result = (
                    scaling(workdir, 1, n_trials=2)
                    if quick
                    else scaling(workdir, 3, seconds=SCALING_BUDGET_S)
                )
            result["machine"] = machine()
            result["command"] = command
            result["seconds"] = round(time.perf_counter() - started, 1)
            updates[which] = result
            if which == "levers":
                updates["lever_runs"] = recorded_lever_runs(args.results) + [result]
            print(json.dumps(result, indent=2), flush=True)
    target = write_results(args.results, updates)
    print(f"results: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
