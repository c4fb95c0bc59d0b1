"""Render benchmarks/RESULTS.md from results.json (every number comes from a run)."""

from __future__ import annotations

import json
import statistics

from benchmarks.measure.spread import median_interval
from benchmarks.methods import METHODS, ran

TARGETS = {
    "overhead": (
        "at most 150 ms per trial over the plain Keras loop, and below KerasTuner's, both "
        "measured on whole commands (start-up, data, report and exit included)"
    ),
    "throughput": (
        "at least 0.97x the images per second of plain Keras fit given the same model, recipe "
        "and augmentation (the default run: AdamW, cosine schedule with warm-up, label smoothing, "
        "flips as a tf.data map), measured side by side"
    ),
    "pruning": "at least 40% fewer epochs for a best accuracy within 0.3 points",
    "quality": (
        "over at least three rounds, the median of cnnsweep's answer's test accuracy >= 0.94 within "
        "20 minutes of measured wall time on 2 CPU cores, and a lead of at least 0.5 points whose 95% "
        "interval excludes zero over every other side given the same space, split, baseline, recipe "
        "and time box: a plain Optuna script (TPE with successive halving), KerasTuner Hyperband, "
        "and the default model trained for the whole time box"
    ),
    "scaling": (
        "at least 1.6x the trials per hour with n_jobs=2 as with n_jobs=1 on 2 cores, whole commands "
        "of at least three minutes each"
    ),
    "defaults": (
        "python -m cnnsweep dataset=fashion_mnist (default model and trainer) reaches >= 0.92 "
        "test accuracy in <= 5 minutes on 2 CPU cores"
    ),
    "trust": (
        "on real Fashion-MNIST, a sweep's top configurations confirmed with new seeds: how often "
        "the single-run winner is the confirmed winner, how much its single run overstates it, "
        "the seed-to-seed noise, and what the confirmation cost"
    ),
    "why": (
        "on real Fashion-MNIST, a seed_cnn sweep's ablation path from the lesson's model to the best "
        "configuration: which changes explain the gain, with their intervals, what the path cost, and "
        "how far the pruner's early epochs could be trusted"
    ),
    "levers": (
        "each lever toward 0.94 (cutout, flip averaging at test time, global average pooling, "
        "weight averaging, a residual block, two convolutions per block) on benchmark 6's default "
        "run, kept where it pays more than the seed-to-seed spread"
    ),
    "tracking": (
        "tracking=mlflow costs under 5% of a deep_cnn trial's time, whole sweep commands with "
        "and without it taking turns, the MLflow server on the same 2 cores"
    ),
    "gpu": (
        "on one NVIDIA GPU: the JAX path runs; n_jobs=4 sharing the GPU gives >= 3x the trials per hour "
        "of n_jobs=1 for small models; Fashion-MNIST >= 0.94 test accuracy within 15 minutes"
    ),
}

# Sections with no benchmark in benchmarks.run yet: why they have no numbers.
NOT_RUN = {
    "gpu": (
        "**NOT run**: no GPU machine has run `python -m benchmarks.run gpu` yet "
        "(`scripts/pack-device.sh` packs what a machine with JAX but without TensorFlow or "
        "cnnsweep's other packages needs). Its whole path runs on CPU in the tests (JAX, tiny)."
    )
}


def _machine(result: dict) -> str:
    m = result.get("machine", {})
    return (
        f"{m.get('date')}, {m.get('processor')} ({m.get('cpu_cores')} cores), Python {m.get('python')}, "
        f"TensorFlow {m.get('tensorflow')}, Keras {m.get('keras')}, Optuna {m.get('optuna')}, "
        f"hydra-core {m.get('hydra-core')}; {result.get('seconds')} s"
    )


OVERHEAD_TARGET_MS = 150


def overhead_verdict(rounds: list[int], tuner_ms: int | None = None) -> tuple[str, str]:
    """Benchmark 1's word and why: met only where the median's distribution-free interval over
    the rounds (:func:`median_interval`) lies at or below the target (and the median below
    KerasTuner's); NOT met where it lies above, or where the rounds cannot say (too few, or
    an interval on both sides: the machine's noise between rounds beat the gap)."""
    interval = median_interval(rounds)
    if interval is None:
        return "NOT met", f"{len(rounds)} round(s) too few for a 90% interval of the median (unsettled)"
    low, high, coverage = interval
    span = f"its {100 * coverage:.0f}% interval {low}..{high} ms"
    if high <= OVERHEAD_TARGET_MS:
        below_tuner = tuner_ms is None or statistics.median(rounds) < tuner_ms
        return ("met" if below_tuner else "NOT met"), f"{span} at or below {OVERHEAD_TARGET_MS}"
    if low > OVERHEAD_TARGET_MS:
        return "NOT met", f"{span} above {OVERHEAD_TARGET_MS}"
    return "NOT met", f"{span} on both sides of {OVERHEAD_TARGET_MS} (unsettled)"


def _verdict(which: str, r: dict) -> str:
    if which == "overhead":
        ours, tuner_ms = r["command_overhead_ms_per_trial"], r.get("tuner_command_overhead_ms_per_trial")
        phase_ms = r["trial_phase_overhead_ms_per_trial"]
        rounds = r.get("round_overheads_ms_per_trial")  # recorded since the rounds were paired
        paired = f" (the median of the rounds' {', '.join(map(str, rounds))} ms)" if rounds else ""
        word, settled = overhead_verdict(rounds or [], tuner_ms)
        text = (
            f"{word}: {ours} ms per trial over the plain loop, whole commands{paired}, {settled} "
            f"({r['command_ratio']:.2f}x; in the trial phase alone {phase_ms} ms)"
        )
        if tuner_ms is not None:
            text += f"; KerasTuner {tuner_ms} ms per trial ({r['tuner_command_ratio']:.2f}x)"
        return text
    if which == "throughput":
        # Recorded before each round's ratio was kept: the rounds' runs give them.
        ratios = r.get("round_ratios") or [
            round(ours / plain, 3) for ours, plain in zip(r["cnnsweep_runs"], r["plain_runs"], strict=True)
        ]
        ratio = statistics.median(ratios)
        return (
            f"{'met' if ratio >= 0.97 else 'NOT met'}: {ratio:.3f}x the images per second of plain fit "
            f"with the same recipe ({r.get('recipe', 'the lesson')}), the median of the rounds' ratios "
            f"({', '.join(f'{x:.3f}' for x in ratios)})"
        )
    if which == "pruning":
        met = r["epochs_saved_pct"] >= 40 and r["best_val_acc_diff_points"] >= -0.3
        return (
            f"{'met' if met else 'NOT met'}: {r['epochs_saved_pct']}% fewer epochs, best val_acc "
            f"{r['best_val_acc_diff_points']:+.2f} points"
        )
    if which == "defaults":
        met = r["test_acc"] >= 0.92 and r["command_s"] <= 300
        return (
            f"{'met' if met else 'NOT met'}: test accuracy {r['test_acc']} in {r['command_s'] / 60:.1f} "
            "minutes of measured wall time (the whole command)"
        )
    if which == "trust":
        same = "is" if r["single_run_winner_is_confirmed"] else "is not"
        return (
            f"measured: the single-run winner (trial {r['single_run_winner']}) {same} the confirmed "
            f"winner (trial {r['confirmed_winner']}); one run per configuration picks the confirmed "
            f"winner {100 * r['single_run_picks_confirmed_winner']:.0f}% of the time; the single-run "
            f"winner's run overstates the mean of its own {r['seeds']} new-seed runs by "
            f"{r['winner_overstatement_points']:+.2f} points; the confirmed winner's mean "
            f"{r['confirmed_winner_mean']} (95% {r['confirmed_winner_ci95']}, new seeds only); "
            f"seed-to-seed noise {r['noise_std_points']} points; clear winner: "
            f"{'yes' if r['clear_winner'] else 'no'}; the {r['confirm_runs']} confirmation runs took "
            f"{100 * r['confirm_share_of_training']:.0f}% of the training time"
        )
    if which == "why":
        early = r.get("early_epochs")
        trusted = (
            f"; epoch-{early['epoch']} scores against the final ones: rho {early['spearman']} "
            f"{early['ci95']}, {early['might_have_made_top_k']} of {early['pruned']} pruned trials "
            "might have made the top 3"
            if early
            else ""
        )
        return (
            f"measured: {r['in_words'] or 'no gain measured'}; the path's {r['path_runs']} runs took "
            f"{100 * r['path_share_of_training']:.0f}% of the training time ({r['path_train_s']} s)"
            f"{trusted}"
        )
    if which == "scaling":
        one, two = r["n_jobs=1"], r["n_jobs=2"]
        return (
            f"{'met' if r['command_speedup'] >= 1.6 else 'NOT met'}: {r['command_speedup']}x the trials "
            f"per hour with n_jobs=2 ({two['complete']} trials in {two['wall_s']} s against "
            f"{one['complete']} in {one['wall_s']} s, whole commands; in the trial phase alone "
            f"{r['trial_phase_speedup']}x)"
        )
    if which == "gpu":
        jobs, quality = r["jobs"], r["quality"]
        shared, alone = r[f"n_jobs={jobs}"], r["n_jobs=1"]
        speedup = r["sharing_speedup"]
        reached = quality["best_test_acc"] >= 0.94 and quality["wall_s"] <= 15 * 60
        return (
            f"on {r.get('device') or 'an unnamed GPU'}: n_jobs={jobs} sharing it "
            f"{'met' if speedup and speedup >= 3 else 'NOT met'} ({speedup}x the trials per hour of "
            f"n_jobs=1, whole commands; steady epochs {shared['steady_epoch_s']} s vs "
            f"{alone['steady_epoch_s']} s "
            f"after first epochs of {shared['first_epoch_s']} s vs {alone['first_epoch_s']} s); "
            f"Fashion-MNIST 0.94 in 15 minutes {'met' if reached else 'NOT met'}: "
            f"{quality['best_test_acc']} in {quality['wall_s'] / 60:.1f} minutes"
        )
    if which == "levers":
        base = r["levers"]["baseline"]
        spread = 100 * (max(base["test_acc"]) - min(base["test_acc"]))
        parts = [
            f"{name} {lever['gain_points']:+.2f} points ({lever['mean_test_acc']}{_per_seed(lever, base)})"
            for name, lever in r["levers"].items()
            if name != "baseline"
        ]
        return (
            f"measured over {r['seeds']} seed(s): baseline {base['mean_test_acc']} (seed spread "
            f"{spread:.2f} points); " + "; ".join(parts)
        )
    if which == "tracking":
        share = r["tracking_share_pct"]
        if "trial_own_s" not in r:  # recorded when the share was taken of the command per trial
            return (
                f"NOT measured as targeted: {r['tracking_ms_per_trial']} ms per trial is {share}% of the "
                f"whole untracked command per trial ({r['trial_s']} s), not of a trial's own time "
                f"(median whole commands over {r['rounds']} rounds of {r['n_trials']} trials)"
            )
        return (
            f"{'met' if share < 5 else 'NOT met'}: {r['tracking_ms_per_trial']} ms per trial, "
            f"{share}% of a trial's own {r['trial_own_s']} s (the difference of the median whole "
            f"commands over {r['rounds']} rounds of {r['n_trials']} trials)"
        )
    raise ValueError(f"no verdict for benchmark {which!r}")


def _per_seed(lever: dict, base: dict) -> str:
    """Each seed's gain over the baseline's run of the same seed, and its command time against
    the baseline's: what a mean over two seeds hides."""
    pairs = list(zip(lever.get("test_acc", []), base.get("test_acc", []), strict=False))
    if len(pairs) < 2:
        return ""
    gains = ", ".join(f"{100 * (ours - theirs):+.2f}" for ours, theirs in pairs)
    timed = list(zip(lever.get("command_s", []), base.get("command_s", []), strict=False))
    times = ", ".join(f"{ours / theirs:.2f}x" for ours, theirs in timed)
    return f"; per seed {gains} points" + (f", command time {times} the baseline's" if timed else "")


def _lever_runs(runs: list[dict]) -> list[str]:
    """Every recorded run of benchmark 9, each against the baseline of its own machine."""
    if len(runs) < 2:
        return []
    lines = ["Every run recorded, each lever against the baseline of the same run and machine:", ""]
    for run in runs:
        m = run.get("machine", {})
        observed = f" Observed while it ran: {run['observed']}" if run.get("observed") else ""
        lines.append(f"- {m.get('date')}, {m.get('processor')}: {_verdict('levers', run)}.{observed}")
    return [*lines, ""]


PEER_NAMES = {
    "keras_tuner_cnnsweep_recipe": "KerasTuner Hyperband, cnnsweep's recipe",
    "optuna_cnnsweep_recipe": "Optuna TPE + successive halving, cnnsweep's recipe",
    "keras_tuner_plain": "KerasTuner Hyperband, Keras defaults",
    "optuna_plain": "Optuna TPE + successive halving, Keras defaults",
    "train_longer": "the default model trained for the whole time box",
    "cnnsweep_n_jobs_1": "cnnsweep with one worker (n_jobs=1)",
}


def _quality_verdict(r: dict, runs: list[dict]) -> str:
    from benchmarks.measure.quality import PEERS, PROTOCOLS, SWEEP_JOBS, VARIANTS
    from benchmarks.measure.spread import ACCURACY_TARGET, LEAD_TARGET_POINTS, pooled, side_protocol, summary

    if "protocol" not in r:  # a run of the first protocol: one round, no refit, no train-longer side
        return (
            f"0.94 NOT met: test accuracy {r['best_test_acc']} in {r['wall_s'] / 60:.1f} minutes of "
            "measured wall time (one round of an earlier protocol; no spread)"
        )
    # Every side given cnnsweep's recipe must be led: one without a round here is a lead not shown.
    required = [name for name, _, recipe in PEERS if recipe == "cnnsweep"]
    found = summary(runs, PROTOCOLS, variants=VARIANTS, required=required)
    if "cnnsweep" not in found["sides"]:
        text = f"NOT met: no round of cnnsweep's current protocol ({PROTOCOLS['cnnsweep']}) is recorded yet"
        if last := [run for run in runs if "cnnsweep" in run.get("wall_s", {})][-1:]:
            run = last[0]
            text += (
                f"; its last round (protocol {side_protocol(run, 'cnnsweep')}) scored "
                f"{run['test_acc']['cnnsweep']} in {run['wall_s']['cnnsweep'] / 60:.1f} minutes"
            )
        return text
    ours, machine = found["sides"]["cnnsweep"], found["machine"]
    walls = [run["wall_s"]["cnnsweep"] for run in runs if pooled(run, "cnnsweep", PROTOCOLS, machine)]
    within = max(walls) <= 60 * r["minutes"]
    text = (
        f"{ACCURACY_TARGET} {'met' if found['accuracy_met'] and within else 'NOT met'}: cnnsweep's answer "
        f"scored a median {ours['median']} (range {ours['range'][0]}-{ours['range'][1]}) over "
        f"{ours['rounds']} round{'s' * (ours['rounds'] > 1)} of {r['minutes']:g} minutes on "
        f"{r['machine']['cpu_cores']} cores ({machine}), "
        + (
            f"each whole command within {max(walls) / 60:.1f} minutes"
            if within
            else f"a whole command taking up to {max(walls) / 60:.1f} minutes, past its time box"
        )
        + f"; a lead of {LEAD_TARGET_POINTS} points over every side "
        + ("met" if found["lead_met"] else "NOT met")
    )
    for side, result in found["leads"].items():
        theirs = found["sides"][side]["median"]
        text += f"; over {PEER_NAMES.get(side, side)} (median {theirs}) {_lead_text(result)}"
        if overrun := _time_box_overrun_s(runs, side, machine, r["minutes"]):
            text += f" (its whole command overran the time box by up to {overrun:.0f} s)"
    for side in found["missing"]:
        text += (
            f"; over {PEER_NAMES.get(side, side)}: no round of its current protocol "
            f"({PROTOCOLS[side]}) on {machine} yet"
        )
    for variant, result in found["variant_leads"].items():
        text += (
            f"; {SWEEP_JOBS} workers over {VARIANTS[variant]} (median {found['sides'][variant]['median']}) "
            + _lead_text(result)
        )
    return text


def _time_box_overrun_s(runs: list[dict], side: str, machine: str | None, minutes: float) -> float:
    """How far ``side``'s longest pooled whole command ran past the time box (0 when every one
    ended within it): a lead over a side that had more time says so."""
    from benchmarks.measure.quality import PROTOCOLS
    from benchmarks.measure.spread import pooled

    walls = [
        run["wall_s"][side]
        for run in runs
        if side in (run.get("wall_s") or {}) and pooled(run, side, PROTOCOLS, machine)
    ]
    return max([0.0, *(wall - 60 * minutes for wall in walls)])


def _lead_text(result: dict) -> str:
    interval = result["ci95_points"]
    return (
        f"{result['points']:+.2f} points "
        + (f"(95% {interval[0]:+.2f} to {interval[1]:+.2f}" if interval else "(no interval")
        + f", {result['rounds'][0]} vs {result['rounds'][1]} rounds)"
    )


def _quality_rounds(runs: list[dict]) -> list[str]:
    """Each side's rounds of its current protocol on the pooled machine as a table, the facts
    of those rounds, the rounds whose sweep averaged an ensemble, and the other rounds."""
    from benchmarks.measure import spread
    from benchmarks.measure.quality import PROTOCOLS, VARIANTS
    from benchmarks.measure.spread import side_accuracies, side_protocol

    machine = spread.pooled_machine(runs, PROTOCOLS)

    def pooled(run: dict, side: str) -> bool:
        return spread.pooled(run, side, PROTOCOLS, machine)

    lines = []
    if sides := side_accuracies(runs, PROTOCOLS, machine):
        lines += [
            "| side | rounds | median | range | test accuracy of each round | its whole command, s |",
            "|---|---|---|---|---|---|",
        ]
        for side, accs in sides.items():
            walls = [
                run["wall_s"][side] for run in runs if pooled(run, side) and side in run.get("wall_s", {})
            ]
            lines.append(
                f"| {PEER_NAMES.get(side, side)} | {len(accs)} | {statistics.median(accs):.4f} "
                f"| {min(accs):.4f}-{max(accs):.4f} | {', '.join(f'{acc:.4f}' for acc in accs)} "
                f"| {', '.join(f'{wall:.0f}' for wall in walls)} |"
            )
        lines.append("")
    counted = [run for run in runs if any(pooled(run, side) for side in run.get("test_acc", {}))]
    if counted:
        facts = sorted(
            {f"{run['date']} on {run['processor']} (commit {run.get('commit')})" for run in counted}
        )
        lines += ["Rounds pooled: " + "; ".join(facts) + ".", ""]
        ours = ("cnnsweep", *VARIANTS)
        described = [run for run in counted if "cnnsweep" in run and any(pooled(run, s) for s in ours)]
        if did := [_sweep_facts(run) for run in described]:
            lines += ["What cnnsweep's sweep did in each round: " + "; ".join(did) + ".", ""]
        peers_did = [
            f"{run['date']}: {PEER_NAMES.get(side, side)} {_peer_facts(facts)}"
            for run in counted
            for side, facts in (run.get("peer_facts") or {}).items()
            if facts and pooled(run, side)
        ]
        if peers_did:
            lines += ["What each peer did in each round: " + "; ".join(peers_did) + ".", ""]
    lines += _ensemble_rounds(runs)
    older = []
    for run in runs:
        accs = run.get("test_acc") or run.get("best_test_acc") or {}
        if left := {side: acc for side, acc in accs.items() if not pooled(run, side)}:
            elsewhere = f", on {run.get('processor')}" if run.get("processor") != machine else ""
            sides_text = ", ".join(
                f"{PEER_NAMES.get(side, side)} {acc}"
                + (f" (protocol {side_protocol(run, side)}{elsewhere})" if "protocol" in run else "")
                for side, acc in left.items()
            )
            older.append(f"{run['date']}: {sides_text}")
    if older:
        lines += [
            "Sides' rounds of another protocol or machine (listed, not pooled): " + "; ".join(older) + ".",
            "",
        ]
    return lines


def _ensemble_rounds(runs: list[dict]) -> list[str]:
    """Every round whose sweep averaged an ensemble: what it and the refit alone scored, and the
    mean difference (the ensemble's gain over the refit it contains, round by round)."""
    pairs = [
        (run, run["cnnsweep"]["ensemble_test_acc"], run["cnnsweep"]["refit_test_acc"])
        for run in runs
        if run.get("cnnsweep", {}).get("ensemble_test_acc") is not None
        and run["cnnsweep"].get("refit_test_acc") is not None
    ]
    if not pairs:
        return []
    each = "; ".join(
        f"{run['date']} (protocol {run['protocol'].get(run.get('side', 'cnnsweep'))}): "
        f"ensemble {ensemble} against the refit alone {refit} "
        f"({', '.join(run['cnnsweep']['ensemble_members'] or [])})"
        for run, ensemble, refit in pairs
    )
    gain = 100 * statistics.mean(ensemble - refit for _, ensemble, refit in pairs)
    return [
        f"The ensemble against the refit it averages, in the same round: {each}; "
        f"mean {gain:+.2f} points over {len(pairs)} round{'s' * (len(pairs) > 1)}.",
        "",
    ]


def _peer_facts(facts: dict) -> str:
    """``2 trials (2 complete, 0 pruned)``, or ``27 epochs`` for the model trained for the whole box."""
    if "epochs_trained" in facts:
        return f"{facts['epochs_trained']} epochs"
    counts = ", ".join(f"{facts[key]} {key}" for key in ("complete", "pruned") if key in facts)
    return f"{facts.get('trials')} trials" + (f" ({counts})" if counts else "")


def _sweep_facts(run: dict) -> str:
    facts = run["cnnsweep"]
    refit = f"a refit of {facts['refit_epochs']} epochs" if facts.get("refit_epochs") else "no refit"
    workers = f"{run['n_jobs']} worker{'s' * (run['n_jobs'] > 1)}"
    text = (
        f"{run['date']}: {workers}, {facts['trials']} trials ({facts['complete']} complete), "
        f"best trial {facts['best_trial']}, {refit}"
    )
    # What each part of the answer scored alone (rounds of protocol 6 on keep it).
    scored = [
        f"{name} {facts[key]}"
        for name, key in (
            ("best trial alone", "best_test_acc"),
            ("refit alone", "refit_test_acc"),
            ("ensemble", "ensemble_test_acc"),
        )
        if facts.get(key) is not None
    ]
    if scored:
        text += " (" + ", ".join(scored) + ")"
    if facts.get("ensemble_members"):
        text += f"; the ensemble averaged {', '.join(facts['ensemble_members'])}"
    return text


def render(data: dict) -> str:
    lines = [
        "# cnnsweep benchmarks",
        "",
        "Generated by `python -m benchmarks.run` (1-3: `make bench`) from `results.json`. "
        "Every number below was measured by that command on the machine named with it; "
        "ratios compare runs made back to back in the same command.",
        "",
    ]
    titles = {
        "overhead": "1. Framework overhead per trial",
        "throughput": "2. Training throughput",
        "pruning": "3. Pruning and early stopping",
        "quality": "4. Time to quality on Fashion-MNIST",
        "scaling": "5. Parallel scaling",
        "defaults": "6. A good single run by default",
        "trust": "7. Trust: the winner's curse",
        "gpu": "8. On a GPU",
        "levers": "9. Levers toward 0.94",
        "tracking": "10. The cost of MLflow tracking",
        "why": "11. Why is the best configuration best?",
    }
    for which, title in titles.items():
        lines += [f"## {title}", "", f"Target: {TARGETS[which]}.", ""]
        result = data.get(which)
        if not result:
            lines += [NOT_RUN.get(which, "No completed run recorded."), ""]
            if which in METHODS:
                lines += [METHODS[which], ""]
            continue
        verdict = (
            _quality_verdict(result, data.get("quality_runs", []))
            if which == "quality"
            else _verdict(which, result)
        )
        lines += [
            f"**{verdict}**",
            "",
            f"Machine: {_machine(result)}",
            "",
            "```json",
            json.dumps({k: v for k, v in result.items() if k not in ("machine", "seconds")}, indent=2),
            "```",
            "",
        ]
        if which == "quality":
            lines += _quality_rounds(data.get("quality_runs", []))
        if which == "levers":
            lines += _lever_runs(data.get("lever_runs", []))
        lines += [METHODS[which], "", ran(result), ""] if which in METHODS else [ran(result), ""]
    return "\n".join(lines)
