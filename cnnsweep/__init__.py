"""cnnsweep: sweep the hyperparameters of Keras CNNs with Hydra and Optuna.

One training run::

    python -m cnnsweep dataset=fashion_mnist model=cnn trainer.epochs=2

The package is light to import: TensorFlow/Keras and matplotlib load only when a
model is built or a plot is drawn.
"""

__version__ = "0.1.0"
