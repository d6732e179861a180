"""Search support used from inside a run: the trial's pruning callback (`pruning.OptunaPruning`),
opening the run's own trial from what its config names (`trial.open_trial`), and the study storages
both the run and the sweeper open (`storage`).

The search itself is the Hydra sweeper in `hydra_plugins.crescendo_sweeper`; a run never imports it.
Optuna is imported only when a run has a trial, so a plain `cr` run does not pay for it.
"""
