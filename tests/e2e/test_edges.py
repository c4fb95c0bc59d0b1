"""The edges of a sweep on real commands: passwords in every form masked in every line and
file, a planted link in place of the sweep dir's lock, the ETA within the time budget."""

from __future__ import annotations

import re

import pytest

from tests.helpers import run_cli, sweep_args

TINY = ["model=seed", "trainer.epochs=1", "model.filters=choice(4,8)", "hydra/sweeper/pruner=none"]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://:s3cret@127.0.0.1:1/db",  # no user
        "postgresql://ann:s3c/ret@127.0.0.1:1/db",  # an unescaped "/"
        "postgresql://ann@127.0.0.1:1/db?password=s3cret",  # libpq's query parameter
    ],
)
def test_an_unreachable_database_names_no_password_in_any_line_or_file(tmp_path, url):
    proc = run_cli(*sweep_args(tmp_path / "sweep", *TINY, f"hydra.sweeper.storage='{url}'"), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "cannot be opened" in proc.stderr and "***" in proc.stderr
    secret = "s3c/ret" if "s3c/ret" in url else "s3cret"
    assert secret not in proc.stdout + proc.stderr
    assert [p for p in tmp_path.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()] == []


def test_a_link_planted_as_the_lock_is_refused_and_its_target_kept(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("the user's own notes")
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    (sweep_dir / ".cnnsweep.lock").symlink_to(target)
    proc = run_cli(*sweep_args(sweep_dir, *TINY, "hydra.sweeper.n_trials=1"), cwd=tmp_path)
    assert proc.returncode == 2 and "symbolic link" in proc.stderr, proc.stderr[-2000:]
    assert target.read_text() == "the user's own notes"


@pytest.mark.slow
def test_the_eta_of_a_budget_too_small_for_n_trials_is_the_budget(tmp_path):
    proc = run_cli(
        *sweep_args(
            tmp_path / "sweep",
            *TINY,
            "hydra.sweeper.n_trials=1000",
            "hydra.sweeper.timeout=40",
            "hydra.sweeper.report=false",
        ),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    etas = re.findall(r"ETA (\S+)( \(the time budget\))?", proc.stdout + proc.stderr)
    assert etas and all(bound for _, bound in etas), etas  # 1000 trials would take hours
    assert all("h" not in eta for eta, _ in etas), etas
