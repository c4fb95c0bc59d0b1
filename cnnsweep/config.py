"""Typed configuration: the schema behind ``conf/``.

The YAML files under ``conf/`` fill these dataclasses; Hydra checks types when it
composes them (``model.filters=abc`` fails before anything runs). Rules that
types cannot express (positive sizes, a kernel that fits the feature map) live in
:mod:`cnnsweep.validation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DATASET_NAMES = ("mnist", "fashion_mnist", "cifar10", "digits")
PADDINGS = ("valid", "same")
ACTIVATIONS = ("relu", "elu", "gelu", "selu", "swish", "silu", "tanh", "sigmoid", "leaky_relu")


@dataclass
class DatasetConfig:
    name: str = "mnist"
    # A local file or directory in the dataset's official format; None searches
    # the usual places and finally downloads through Keras.
    path: str | None = None
    # Keep only the first N training / test images (quick runs and tests).
    train_limit: int | None = None
    test_limit: int | None = None


@dataclass
class ModelConfig:
    name: str = "cnn"
    conv_blocks: int = 2  # blocks of [Conv2D (+BatchNorm)] x convs_per_block -> MaxPooling2D
    convs_per_block: int = 1
    filters: int = 32  # filters of the first block's convolutions
    filter_growth: float = 2.0  # each later block multiplies the filters by this
    kernel_size: int = 3  # square kernel, pixels
    strides: int = 1  # stride of each block's first convolution
    padding: str = "same"  # valid shrinks the map by kernel_size-1; same keeps it
    activation: str = "relu"
    batch_norm: bool = False  # Conv2D -> BatchNormalization -> activation
    pool_size: int = 2  # MaxPooling2D window and stride; 1 = no pooling
    dense_units: int = 128  # hidden Dense layer before the head; 0 = none
    dropout: float = 0.0  # Dropout rate before the softmax head; 0 = none


@dataclass
class EarlyStoppingConfig:
    monitor: str = "val_acc"  # validation metric watched, and the run's objective
    patience: int = 3  # epochs without improvement before stopping
    min_delta: float = 0.0  # smallest change that counts as an improvement
    restore_best_weights: bool = True  # keep the best epoch's weights, not the last


@dataclass
class AugmentConfig:
    shift: float = 0.0  # random shifts up to this fraction of the image side; 0 = none
    flip: bool = False  # random horizontal flips, only for datasets whose classes survive mirroring


@dataclass
class TrainerConfig:
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3  # the optimizer's (peak) step size
    optimizer: str = "adam"  # adam | adamw | sgd (with momentum)
    weight_decay: float = 0.0  # decoupled weight decay (adamw, sgd); 0 = none
    momentum: float = 0.9  # sgd only
    lr_schedule: str = "constant"  # constant | cosine (after warm-up) | one_cycle
    warmup_epochs: float = 0.0  # linear warm-up from 0 before cosine decay
    label_smoothing: float = 0.0  # mix one-hot targets with the uniform distribution
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    validation_split: float = 0.2  # last fraction of the training set, as Keras does
    seed: int = 0  # seeds Python, NumPy and the backend
    quiet: bool = False  # True: no per-epoch lines, only the final summary
    save_model: bool = True  # write model.keras (the best epoch's weights)
    memory_limit_mb: int | None = None  # skip models estimated to need more; None: half the RAM
    backend: str | None = None  # tensorflow | jax | torch; None: $KERAS_BACKEND, else tensorflow
    precision: str = "float32"  # a Keras dtype policy: float32 | mixed_float16 | mixed_bfloat16
    steps_per_execution: int = 1  # batches per compiled call (larger keeps a GPU fed)
    # Shares of the training images the first epochs train on (a sweep's fidelity sets it
    # through its hooks; a best trial's command sets it here). Empty: every epoch on all.
    subset_epochs: list[float] = field(default_factory=list)
    tensorboard: bool = False  # event files in <run dir>/tensorboard; a sweep adds each trial's HParams
    # Train on every training image (no validation split) for exactly this many epochs, with
    # no early stopping; set by hydra.sweeper.refit for the best trial. null: a normal run.
    refit_epochs: int | None = None
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)


@dataclass
class Config:
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def register_configs() -> None:
    """Register the schema that ``conf/config.yaml`` lists first (idempotent).

    The entry point calls this before Hydra composes; the sweeper's own groups
    and the sweep files are registered by the sweep package.
    """
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="cnnsweep_schema", node=Config)


def compose(*overrides: str) -> dict:
    """The run config from ``conf/`` as the command line composes it, as plain dicts.

    For notebooks, tests and benchmarks: ``train(compose("dataset=digits"), run_dir)``.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from cnnsweep.paths import config_dir

    register_configs()

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = hydra_compose(config_name="config", overrides=list(overrides))
    return {key: OmegaConf.to_container(cfg[key], resolve=True) for key in ("dataset", "model", "trainer")}
