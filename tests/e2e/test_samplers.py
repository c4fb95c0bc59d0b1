"""Every sampler and pruner cnnsweep ships, each in a real sweep on digits that shows it did
its job: the sampler's own marks on its trials, the pruner's pruned trials."""

from __future__ import annotations

import importlib.util

import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState

from tests.helpers import assert_consistent, load_study, run_cli, sweep_args

pytestmark = pytest.mark.slow

# A space with a hopeless corner (2 filters at a learning rate of 1e-5) beside good models.
SPACE = ["model=seed", "model.kernel_size=3", "trainer.epochs=3", "model.filters=choice(2,16)"]


GOOD = "{model:{filters:16},trainer:{learning_rate:0.003}}"
HOPELESS = "{model:{filters:2},trainer:{learning_rate:1e-09}}"  # learns nothing at all


def _sweep(tmp_path, name, *extra):
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(*sweep_args(sweep_dir, *SPACE, f"hydra.sweeper.study_name={name}", *extra), cwd=tmp_path)
    return sweep_dir, proc


@pytest.mark.heavy  # five sweeps: with the pruners' four, about five minutes of make test
@pytest.mark.parametrize("sampler", ["tpe", "random", "grid", "cmaes", "nsga2"])
def test_each_sampler_runs_a_sweep_and_leaves_its_mark(tmp_path, sampler):
    extra = [
        f"hydra/sweeper/sampler={sampler}",
        "hydra.sweeper.n_trials=6",
        "hydra/sweeper/pruner=none",
        "trainer.learning_rate=tag(log, interval(0.0003, 0.01))",
    ]
    if sampler in ("tpe", "nsga2"):
        option = "n_startup_trials" if sampler == "tpe" else "population_size"
        extra.append(f"hydra.sweeper.sampler.{option}=2")
    if sampler == "grid":
        extra[-1] = "trainer.learning_rate=choice(0.001,0.003,0.01)"
    if sampler == "nsga2":
        extra += [
            "hydra.sweeper.direction=[maximize,minimize]",
            "hydra.sweeper.objectives=[objective,params_count]",
        ]
    sweep_dir, proc = _sweep(tmp_path, sampler, *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load_study(sweep_dir, sampler)
    if sampler == "nsga2":  # two objectives: no single value to compare with metrics.json
        assert len(pd.read_csv(sweep_dir / "trials.csv")) == 6
    else:
        assert len(assert_consistent(sweep_dir, study)) == 6
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    marks = set().union(*(t.system_attrs for t in trials))
    if sampler == "cmaes":  # trials after the first came from CMA-ES's own search distribution
        assert any(key.startswith("cma:") for key in marks), marks
    elif sampler == "nsga2":
        assert "NSGAIISampler:generation" in marks, marks
    elif sampler == "grid":  # each point of the 2x3 grid once
        points = {(t.params["model.filters"], t.params["trainer.learning_rate"]) for t in trials}
        assert len(points) == 6
    else:  # the sampler's mark is its choices: replayed with its class and seed, it proposes them again
        seed = yaml.safe_load((sweep_dir / "0" / ".hydra" / "config.yaml").read_text())["trainer"]["seed"]
        ran = study.get_trials()
        replays = {
            "tpe": optuna.samplers.TPESampler(
                seed=seed, n_startup_trials=2, multivariate=True, constant_liar=True
            ),
            "random": optuna.samplers.RandomSampler(seed=seed),
        }
        assert _replayed(replays[sampler], ran) == [t.params for t in ran]
        other = "random" if sampler == "tpe" else "tpe"
        other_seeded = _replayed(replays[other], ran)
        assert other_seeded[:2] == [t.params for t in ran][:2]  # TPE starts with random trials
        assert other_seeded != [t.params for t in ran]  # then they part: the mark is this sampler's


def _replayed(sampler, trials) -> list[dict]:
    """What ``sampler`` proposes for ``trials``' distributions, told their values in order."""
    study = optuna.create_study(direction="maximize", sampler=sampler)
    proposed = []
    for trial in sorted(trials, key=lambda t: t.number):
        asked = study.ask(trial.distributions)
        proposed.append(asked.params)
        if trial.state == TrialState.COMPLETE:
            study.tell(asked, trial.value)
        else:
            study.tell(asked, state=TrialState.FAIL)
    return proposed


def test_cmaes_on_a_space_of_choices_only_is_refused(tmp_path):
    _, proc = _sweep(
        tmp_path,
        "cma",
        "hydra/sweeper/sampler=cmaes",
        "hydra.sweeper.n_trials=2",
        "trainer.batch_size=choice(16,32)",
    )
    assert proc.returncode == 2
    assert "hydra/sweeper/sampler=cmaes models numeric ranges only" in proc.stderr
    assert "use hydra/sweeper/sampler=tpe" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="PyTorch is installed")
def test_gp_without_pytorch_says_how_to_install_it(tmp_path):
    sweep_dir, proc = _sweep(tmp_path, "gp", "hydra/sweeper/sampler=gp", "hydra.sweeper.n_trials=2")
    assert proc.returncode == 2
    assert (
        "hydra/sweeper/sampler=gp needs the torch package, which is not installed: "
        "pip install 'cnnsweep[gp]'" in proc.stderr
    )
    assert not (sweep_dir / "optuna.db").exists()  # refused before the study was touched


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="pip install 'cnnsweep[gp]'")
def test_gp_runs_a_sweep(tmp_path):
    sweep_dir, proc = _sweep(
        tmp_path,
        "gp",
        "hydra/sweeper/sampler=gp",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.sampler.n_startup_trials=2",
        "trainer.learning_rate=tag(log, interval(0.0003, 0.01))",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(assert_consistent(sweep_dir, load_study(sweep_dir, "gp"))) == 4


@pytest.mark.heavy
@pytest.mark.parametrize(
    ("pruner", "options"),
    [
        ("none", []),
        ("median", ["hydra.sweeper.pruner.n_startup_trials=1", "hydra.sweeper.pruner.n_warmup_steps=0"]),
        ("successive_halving", []),
        ("hyperband", ["hydra.sweeper.pruner.max_resource=3"]),
    ],
)
# (patient is left out: it hands over to its wrapped pruner only when a trial's value got worse
# within the patience window, and a hopeless trial's flat accuracy never does.)
def test_each_pruner_prunes_the_hopeless_trials(tmp_path, pruner, options):
    # Good models first (a baseline each), then the hopeless corner: a pruner must stop it.
    extra = [
        f"hydra/sweeper/pruner={pruner}",
        *options,
        "hydra.sweeper.n_trials=5",
        "hydra/sweeper/sampler=random",
        "trainer.learning_rate=choice(1e-09,0.003)",
        "hydra.sweeper.baselines=[" + ",".join([GOOD] * 2 + [HOPELESS] * 3) + "]",
    ]
    sweep_dir, proc = _sweep(tmp_path, pruner, *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load_study(sweep_dir, pruner)
    assert_consistent(sweep_dir, study)
    hopeless = [t for t in study.trials if t.params["trainer.learning_rate"] == 1e-09]
    pruned = [t for t in hopeless if t.state == TrialState.PRUNED]
    if pruner == "none":
        assert not pruned and all(len(t.intermediate_values) == 3 for t in hopeless)
    else:  # it stopped at least one hopeless trial, and no good one
        assert pruned, [(t.number, t.state, t.intermediate_values) for t in study.trials]
        assert all(t.state == TrialState.COMPLETE for t in study.trials if t not in hopeless)
