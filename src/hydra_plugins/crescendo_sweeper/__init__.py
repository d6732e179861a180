"""crescendo's Hydra sweeper: Optuna 5 studies with pruning, persistent storage, resume and results.

Selected by `hparams_search=optuna` (conf/hparams_search/optuna.yaml), or directly with
`hydra/sweeper=crescendo`. Hydra imports every module here at start-up, so none imports Optuna;
the work lives in `_impl.py`, imported when a sweep starts.
"""

__version__ = "0.1.0"
