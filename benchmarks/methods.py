"""How each benchmark measures, as its code does it: RESULTS.md prints this beside each result,
with the facts the run recorded of itself (its command, commit and machine)."""

METHODS = {
    "overhead": (
        "Three whole commands on the same configurations, taking turns for five rounds: the cnnsweep "
        "sweep (+sweep=seed_cnn on digits, the random sampler seeded, no pruner), the plain Keras loop "
        "(benchmarks/plain_keras.py: build, compile, fit with EarlyStopping, evaluate, no files) and "
        "KerasTuner handed the sweep's own configurations one per trial through its oracle "
        "(benchmarks/keras_tuner_loop.py); every side scores each trial's model on the test split. "
        "Each round's sweep is set against that round's plain loop, and the median of those paired "
        "differences is the figure; it is met only where the median's distribution-free interval over "
        "the rounds (for five rounds their whole range, 94%) lies at or below the target, and an "
        "interval on both sides of it settles nothing. Every run is listed. All three train the lesson's way "
        "(the sweep with trainer=seed: Adam at a constant rate, no label smoothing or augmentation), "
        "so the difference is the framework, not a recipe. The per-trial figure is the difference "
        "of the whole commands over the trials: it spreads cnnsweep's fixed costs (Hydra's start-up, "
        "the report) over these very short trials. The trial phase (storage timestamps against the "
        "plain loop's own clock) is a diagnosis, not the result."
    ),
    "throughput": (
        "cnnsweep's default run (trainer.epochs=2 on the first 20,000 training images of "
        "Fashion-MNIST where it is installed: 16,000 train, 4,000 validation) against plain Keras fit "
        "of the same layers, AdamW with the same cosine schedule and one-epoch warm-up, label "
        "smoothing 0.1 and random horizontal flips as a tf.data map, on the same split and batch "
        "size; three rounds, the two sides back to back in each, and the median of the rounds' "
        "ratios. cnnsweep's images per second are its metrics.json figure (all images of its epochs "
        "over its fit calls, validation included); the plain side's are the same images over its "
        "fit call."
    ),
    "pruning": (
        "The same seeded seed_cnn sweep with and without its pruner (successive halving, rungs at "
        "epochs 1, 3 and 9), both with the default recipe: the epochs trained and the best "
        "validation accuracy of each. On digits an epoch takes a fraction of a second, so each "
        "trial's fixed costs (building, tracing, writing files) are a large share of its time and "
        "wall time falls less than epochs."
    ),
    "quality": (
        "Each round runs every side one after another, alone on the machine, each in the same time box "
        "measured as its whole command: cnnsweep's deep_cnn sweep (its flags below: the chosen "
        "configuration is trained again on training plus validation images in the share of the budget "
        "kept for it, and that refit is cnnsweep's answer), Optuna TPE with successive halving and "
        "KerasTuner Hyperband on the same space, split and baseline with cnnsweep's recipe written in "
        "plain Keras (benchmarks/peers.py), and the default model trained once for the whole time box "
        "(benchmarks/train_longer.py: its epochs sized from its measured ones). Each side's time box "
        "starts with its process and keeps back what follows training (cnnsweep: its records and "
        "report; a peer: 15 s for its test scoring): a trial ends after the epoch past which the next "
        "would not fit, and a peer's epoch still running near training's end stops at the batch after "
        "which the next batch and a validation pass would not fit. Every side scores each test image "
        "with its mirror. The lead is the difference of the "
        "mean test accuracies with Welch's 95% interval over the rounds; a side with one round has no "
        "interval."
    ),
    "scaling": (
        "Two whole sweep commands, one after the other: seed_cnn on digits, no pruning, each given "
        "the same hydra.sweeper.timeout and more trials than fit, with n_jobs=1 (trials in the "
        "sweep's own process) and n_jobs=2 (two worker processes). Both take seed_cnn's "
        "configurations from one seeded list, queued in order (same_configurations: how many of "
        "the list's first entries both completed). Trials per hour are complete trials over the "
        "whole command's wall time, the workers' start-up, the trials the deadline stops and the "
        "report included."
    ),
    "defaults": (
        "The whole command python -m cnnsweep dataset=fashion_mnist with the default model and "
        "trainer, data loading and the test evaluation included."
    ),
    "trust": (
        "One seed_cnn sweep on real Fashion-MNIST (the first 12,000 training images: 9,600 train, "
        "2,400 validation), no pruning, the TPE sampler seeded; then its best configurations "
        "trained again with new seeds (hydra.sweeper.confirm). single_run_picks_confirmed_winner "
        "counts, over every way of keeping one run per configuration, how often the best kept run "
        "is the confirmed winner's. One sweep on one machine: the numbers say how large the noise "
        "was here, not how often a winner is lucky in general."
    ),
    "why": (
        "A seed_cnn sweep on real Fashion-MNIST with its ablation path (hydra.sweeper.ablation): "
        "from the lesson's model to the best configuration one setting at a time, each step run "
        "with new seeds, and the pruner's early epochs against the final ones."
    ),
    "levers": (
        "Benchmark 6's default run once per lever and seed, the levers taking turns within each "
        "seed. trainer.flip_test changes only how the test images are scored, so a flip_test run "
        "trains the same model as the baseline run of its seed (the same val_acc). So does "
        "trainer.average_epochs: its run keeps the mean of the last epochs' weights instead of the "
        "best epoch's only where the mean validates at least as well (average_kept, per seed)."
    ),
    "tracking": (
        "An mlflow server (SQLite, local artifacts) on this machine, then the same seeded deep_cnn "
        "sweep (6,000 Fashion-MNIST training images, 3 epochs) without and with tracking=mlflow, "
        "taking turns; the cost is the difference of the median whole commands over the trials, so "
        "it includes the sweep's end (curves, the best model as an MLflow model, the report) and "
        "the server's own CPU. The share is of a trial's own time (its start to its end in the "
        "study, untracked side)."
    ),
    "gpu": (
        "python -m benchmarks.run gpu: seed_cnn on Fashion-MNIST with n_jobs=1 and --gpu-jobs "
        "sharing one GPU in the same budget, then a --gpu-minutes deep_cnn sweep; first and "
        "steady-state epochs apart. scripts/pack-device.sh packs the wheels and data such a machine "
        "lacks; the tests run the whole path on CPU with the JAX backend and TensorFlow made "
        "unimportable."
    ),
}


def ran(result: dict) -> str:
    """The run's own facts: the command that produced it and the checkout it ran."""
    machine = result.get("machine", {})
    command = result.get("command")
    if command is None:
        return "Ran: recorded before benchmarks kept their command and commit."
    return f"Ran: `{command}` at commit {machine.get('commit') or 'unknown'}."
