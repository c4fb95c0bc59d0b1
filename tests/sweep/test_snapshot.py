"""A study read once (:class:`Snapshot`): every reader answers from it as from the study, and
the sweep's hot paths read the study's trials once per step instead of once per question."""

from __future__ import annotations

import logging

import optuna
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnsweep.sweep import progress
from cnnsweep.sweep.loops import work
from cnnsweep.sweep.study import lifecycle as studies
from cnnsweep.sweep.study import records, reruns
from cnnsweep.sweep.study.snapshot import Snapshot
from tests.sweep.test_loop import make_sweep

SPACE = {"model.filters": optuna.distributions.CategoricalDistribution([8, 16, 32])}
OUTCOMES = ("complete", "pruned", "failed", "infeasible", "running", "waiting", "told", "surplus")


def _study(outcomes: list[tuple[str, float]], directions: list[str]) -> optuna.Study:
    """A study whose trials ended as ``outcomes`` say (each with an objective)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=directions, sampler=optuna.samplers.RandomSampler(seed=1))
    objectives = tuple(f"objective{i}" if i else "objective" for i in range(len(directions)))
    for state, value in outcomes:
        if state == "waiting":
            study.enqueue_trial({"model.filters": 8})
            continue
        trial = study.ask(SPACE)
        if state == "told":
            trial.set_user_attr(records.TOLD_ATTR, "elsewhere")
        if state == "surplus":
            studies.step_back(study, trial)
        elif state != "running":
            metrics = {
                "status": "complete" if state == "told" else state,
                **{name: value + i for i, name in enumerate(objectives)},
                "first_epoch_seconds": value * 10,
                "test_acc": value / 2,
            }
            studies.tell(study, trial, metrics, objectives, constrained=True)
    study.set_user_attr(reruns.CONFIRM_RUNS_ATTR, {"0:1": {"trial": 0, "seed": 1, "status": "complete"}})
    return study


def _answers(view, single: bool) -> dict[str, object]:
    answers: dict[str, object] = {
        "rows": records.trial_rows(view, ["model.filters"]),
        "counts": records.state_counts(view),
        "best": [t.number for t in records.best_trials(view)],
        "budget": studies.budget_of(view),
        "failures": studies.too_many_failures(view, 0.2),
        "first epoch": studies.longest_first_epoch_seconds(view),
        "best text": studies.best_value_text(view),
        "confirm runs": reruns.confirm_runs(view),
        "frozen": [studies.frozen(view, t.number) for t in view.get_trials(deepcopy=False)],
    }
    if single:
        best = records.the_best(view)
        answers["the best"] = (best.trial.number, best.value, best.test_acc) if best else None
        answers["stalled for"] = records.stalled_for(view, 0.01)
    return answers


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    outcomes=st.lists(st.tuples(st.sampled_from(OUTCOMES), st.floats(0.0, 1.0)), max_size=12),
    objectives=st.sampled_from([["maximize"], ["minimize"], ["maximize", "minimize"]]),
)
def test_a_snapshot_answers_every_reader_as_the_study_does(outcomes, objectives):
    study = _study(outcomes, objectives)
    single = len(objectives) == 1
    assert _answers(Snapshot(study), single) == _answers(study, single)


def test_a_snapshot_is_the_moment_it_was_taken():
    study = _study([("complete", 0.5)], ["maximize"])
    seen = Snapshot(study)
    studies.tell(study, study.ask(SPACE), {"status": "complete", "objective": 0.9}, ("objective",), False)
    assert studies.budget_of(seen).done == 1 and studies.budget_of(study).done == 2
    seen.user_attrs["changed"] = True  # a reader's change stays its own
    assert "changed" not in seen.user_attrs


def _count_reads(study: optuna.Study) -> list[int]:
    """Count cnnsweep's reads of the study's trials (Optuna's own go another way) and of its
    attributes (a second count)."""
    reads = [0, 0]
    read, attrs = study.get_trials, study._storage.get_study_user_attrs

    def counted(*args, **kwargs):
        reads[0] += 1
        return read(*args, **kwargs)

    def counted_attrs(*args, **kwargs):
        reads[1] += 1
        return attrs(*args, **kwargs)

    study.get_trials = counted  # type: ignore[method-assign]
    study._storage.get_study_user_attrs = counted_attrs
    return reads


def test_a_workers_step_reads_the_trials_once_and_the_budget_once_more(tmp_path):
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=5", "hydra.sweeper.patience=20")
    reads = _count_reads(sweep.study)
    work(sweep)
    # each of the five steps: one snapshot, and the asked trial's budget check afresh; then
    # the step that finds the budget spent
    assert reads == [5 * 2 + 1, 0]  # and no study attribute: the step asks for none
    assert studies.budget_of(sweep.study).done == 5


def test_a_progress_line_and_its_records_read_the_trials_once(tmp_path, caplog):
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=3")
    shown = progress.Progress(sweep)
    work(sweep)
    reads = _count_reads(sweep.study)
    with caplog.at_level(logging.INFO, logger="cnnsweep"):
        shown.report(2)
    assert reads == [1, 1]
    assert "[trial 2] complete" in caplog.text and "best 0.5200 (trial 2)" in caplog.text
    assert (tmp_path / records.TRIALS_FILE).read_text().count("\n") == 4  # the header and 3 trials
    assert (tmp_path / records.RESULTS_FILE).exists()
