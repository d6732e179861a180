"""crescendo: train Lightning models from the command line (Hydra) and search them (Optuna).

Kept import-light on purpose: `cr --help` must answer fast, so torch and Lightning are imported
only where a model or a trainer is built.
"""

__version__ = "0.1.0"
