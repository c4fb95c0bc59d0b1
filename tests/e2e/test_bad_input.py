"""The bad-input table: malformed configs, sweeper settings and data files.

Every case runs the real command against a sweep that already finished, and
must end with a clear error that names the problem (one ``cnnsweep: error:``
line, or Hydra's own message for a value of the wrong type), a non-zero exit
status, no traceback, and every file of the finished sweep byte-identical.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.datafiles import write_cifar_dir, write_cifar_tar, write_idx, write_mnist_idx, write_mnist_npz
from tests.helpers import FAST, run_cli

STUDY = "existing"


# ---------------------------------------------------------------- data files
def truncated_idx(d: Path) -> str:
    path = write_mnist_idx(d / "m", gz=False) / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    return str(path.parent)


def corrupt_gzip(d: Path) -> str:
    path = write_mnist_idx(d / "m") / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:15])
    return str(path.parent)


def not_idx(d: Path) -> str:
    directory = write_mnist_idx(d / "m")
    with gzip.open(directory / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"<html>not found</html>")
    return str(directory)


def label_count(d: Path) -> str:
    directory = write_mnist_idx(d / "m")
    write_idx(directory / "train-labels-idx1-ubyte.gz", np.zeros(59, dtype=np.uint8))
    return str(directory)


def missing_idx_file(d: Path) -> str:
    directory = write_mnist_idx(d / "m")
    (directory / "t10k-images-idx3-ubyte.gz").unlink()
    return str(directory)


def wrong_shape(d: Path) -> str:
    return str(write_mnist_npz(d / "m.npz", x_train=np.zeros((60, 32, 32), np.uint8)))


def labels_out_of_range(d: Path) -> str:
    return str(write_mnist_npz(d / "m.npz", y_test=np.full(20, 12, np.uint8)))


def empty_split(d: Path) -> str:
    return str(
        write_mnist_npz(d / "m.npz", x_test=np.zeros((0, 28, 28), np.uint8), y_test=np.zeros(0, np.uint8))
    )


def npz_missing_arrays(d: Path) -> str:
    np.savez(d / "a.npz", images=np.zeros(3))
    return str(d / "a.npz")


def corrupt_npz(d: Path) -> str:
    (d / "b.npz").write_bytes(b"PK\x03\x04garbage")
    return str(d / "b.npz")


def npz_with_pickled_objects(d: Path) -> str:
    arrays = {
        "x_train": np.array([object()] * 3, dtype=object),
        "y_train": np.zeros(3),
        "x_test": np.zeros((2, 28, 28)),
        "y_test": np.zeros(2),
    }
    np.savez(d / "obj.npz", **arrays)
    return str(d / "obj.npz")


def text_file(d: Path) -> str:
    (d / "notes.txt").write_text("not a dataset")
    return str(d / "notes.txt")


def truncated_cifar_tar(d: Path) -> str:
    path = write_cifar_tar(d / "c.tar.gz")
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    return str(path)


def cifar_missing_batch(d: Path) -> str:
    directory = write_cifar_dir(d)
    (directory / "data_batch_3").unlink()
    return str(directory)


def cifar_truncated_batch(d: Path) -> str:
    directory = write_cifar_dir(d)
    batch = directory / "data_batch_2"
    batch.write_bytes(batch.read_bytes()[:500])
    return str(directory)


def cifar_pickle_with_code(d: Path) -> str:
    directory = write_cifar_dir(d)

    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    (directory / "test_batch").write_bytes(pickle.dumps({b"data": Exploit()}, protocol=2))
    return str(directory)


Case = tuple[str, Callable[[Path], list[str]], str]


def data(name: str, build: Callable[[Path], str]) -> Callable[[Path], list[str]]:
    return lambda d: [f"dataset={name}", f"dataset.path={build(d)}"]


def fixed(*overrides: str) -> Callable[[Path], list[str]]:
    return lambda d: list(overrides)


CASES: list[Case] = [
    # configs: unknown options, wrong types, values out of range
    ("unknown dataset", fixed("dataset=imagenet"), "dataset=imagenet is not a known dataset"),
    ("unknown model", fixed("model=resnet"), "model=resnet is not a known model"),
    (
        "unknown key",
        fixed("model.filtrs=8"),
        "model.filtrs is not a key of the model config. Did you mean model.filters?",
    ),
    (
        "type: filters=abc",
        fixed("model.filters=abc"),
        "model.filters=abc cannot be used: model.filters takes a whole number.",
    ),
    (
        "type: epochs=ten",
        fixed("trainer.epochs=ten"),
        "trainer.epochs=ten cannot be used: trainer.epochs takes a whole number.",
    ),
    ("negative epochs", fixed("trainer.epochs=-1"), "trainer.epochs=-1 must be a positive integer"),
    ("zero batch", fixed("trainer.batch_size=0"), "trainer.batch_size=0 must be a positive integer"),
    ("zero learning rate", fixed("trainer.learning_rate=0"), "must be positive"),
    ("validation split", fixed("trainer.validation_split=1.5"), "must be between 0 and 1"),
    ("monitor", fixed("trainer.early_stopping.monitor=acc"), "is not a validation metric"),
    ("memory limit", fixed("trainer.memory_limit_mb=0"), "trainer.memory_limit_mb=0 must be a positive"),
    ("padding pinned bad", fixed("model.padding=full"), "model.padding='full' is not a padding mode"),
    ("train_limit", fixed("dataset.train_limit=0"), "dataset.train_limit=0 must be a positive number"),
    # sweeper settings and search spaces
    ("unknown sampler", fixed("hydra/sweeper/sampler=annealing"), "is not a known sampler"),
    ("unknown pruner", fixed("hydra/sweeper/pruner=fast"), "is not a known pruner"),
    ("unknown sweep", fixed("+sweep=nope"), "+sweep=nope is not a known sweep"),
    ("searched typo", fixed("model.filtrs=choice(8,16)"), "Did you mean model.filters?"),
    ("reversed range", fixed("model.filters=range(8,2)"), "is empty or reversed"),
    ("reversed interval", fixed("trainer.learning_rate=interval(0.1,0.01)"), "is empty or reversed"),
    (
        "grid of an interval",
        fixed("hydra/sweeper/sampler=grid", "trainer.learning_rate=interval(0.001,0.01)"),
        "a grid sampler cannot enumerate",
    ),
    ("n_trials", fixed("hydra.sweeper.n_trials=0"), "hydra.sweeper.n_trials=0 must be an integer >= 1"),
    ("n_jobs", fixed("hydra.sweeper.n_jobs=0"), "hydra.sweeper.n_jobs=0 must be an integer >= 1"),
    (
        "too many workers",
        fixed("hydra.sweeper.n_jobs=1000"),
        "hydra.sweeper.n_jobs=1000 would start 1000 worker processes of about 900 MB each",
    ),
    (
        "timeout",
        fixed("hydra.sweeper.timeout=-5"),
        "hydra.sweeper.timeout=-5.0 must be a positive number of seconds, or null for none",
    ),
    ("failure rate", fixed("hydra.sweeper.max_failure_rate=2"), "must be between 0 and 1"),
    (
        "direction vs monitor",
        fixed("hydra.sweeper.direction=minimize"),
        "contradicts trainer.early_stopping.monitor=val_acc",
    ),
    (
        "direction vs study",
        fixed("hydra.sweeper.direction=minimize", "trainer.early_stopping.monitor=val_loss"),
        "optimises ['maximize']",
    ),
    ("storage path", fixed("hydra.sweeper.storage=sqlite:////proc/no/such/dir/x.db"), "cannot be opened"),
    (
        "storage refuses",
        fixed("hydra.sweeper.storage=postgresql://alice:s3cret@127.0.0.1:9/db"),
        "hydra.sweeper.storage=postgresql://alice:***@127.0.0.1:9/db cannot be opened",
    ),
    # data files
    ("path missing", fixed("dataset=mnist", "dataset.path=/no/such/place"), "does not exist"),
    ("truncated IDX", data("mnist", truncated_idx), "is truncated or corrupt"),
    ("corrupt gzip IDX", data("mnist", corrupt_gzip), "cannot be read as IDX data"),
    ("not IDX", data("mnist", not_idx), "bad magic number"),
    ("IDX file missing", data("mnist", missing_idx_file), "lacks t10k-images-idx3-ubyte"),
    ("label count", data("mnist", label_count), "60 train images but 59 labels"),
    ("image shape", data("fashion_mnist", wrong_shape), "train images have shape (32, 32, 1)"),
    ("label range", data("mnist", labels_out_of_range), "test labels span 12..12"),
    ("empty split", data("mnist", empty_split), "test split is empty"),
    ("npz arrays", data("mnist", npz_missing_arrays), "lacks the arrays x_train, y_train"),
    ("corrupt npz", data("mnist", corrupt_npz), "cannot be read as a .npz archive"),
    (
        "npz of objects",
        data("mnist", npz_with_pickled_objects),
        "obj.npz cannot be read as a .npz archive (ValueError: Object arrays cannot be loaded when allow_pickle=False)",
    ),
    ("wrong format", data("mnist", text_file), "is not a mnist source"),
    (
        "truncated CIFAR tar",
        data("cifar10", truncated_cifar_tar),
        "c.tar.gz cannot be read as a tar archive (Compressed file ended before the end-of-stream marker was reached). The file is corrupt or truncated; download cifar-10-python.tar.gz again",
    ),
    ("CIFAR batch missing", data("cifar10", cifar_missing_batch), "lacks the CIFAR-10 batch data_batch_3"),
    (
        "CIFAR batch truncated",
        data("cifar10", cifar_truncated_batch),
        "data_batch_2 is not a CIFAR-10 python batch (UnpicklingError: pickle data was truncated). The file is corrupt or truncated; download it again",
    ),
    (
        "CIFAR pickle with code",
        data("cifar10", cifar_pickle_with_code),
        "test_batch is not a CIFAR-10 python batch (UnpicklingError: refusing to load __builtin__.print)",
    ),
]


def digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("existing")
    sweep_dir = root / "sweep"
    proc = run_cli(
        "--multirun",
        "+sweep=seed_cnn",
        *FAST,
        f"hydra.sweep.dir={sweep_dir}",
        "trainer.epochs=1",
        "hydra.sweeper.n_trials=2",
        f"hydra.sweeper.study_name={STUDY}",
        cwd=root,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (sweep_dir / "optuna.db").is_file() and (sweep_dir / "report.html").is_file()
    return sweep_dir, digest(sweep_dir)


@pytest.mark.parametrize(("name", "arguments", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_fails_clearly_and_leaves_the_study_untouched(
    tmp_path, finished_sweep, name, arguments, message
):
    sweep_dir, before = finished_sweep
    proc = run_cli(
        "--multirun",
        "+sweep=seed_cnn",
        *FAST,
        f"hydra.sweep.dir={sweep_dir}",
        f"hydra.sweeper.study_name={STUDY}",
        *arguments(tmp_path),
        cwd=tmp_path,
        env={"CNNSWEEP_DATA_DIR": str(tmp_path)},
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-2000:]
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in output and "pwned" not in output
    if proc.returncode == 2:  # cnnsweep's own check: exactly one line
        errors = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(errors) == 1 and errors[0].startswith("cnnsweep: error: "), proc.stderr
    assert "s3cret" not in output
    assert digest(sweep_dir) == before
