"""The plain peer of the seed search: Optuna + a plain PyTorch loop on in-memory tensors.

What a capable user would write by hand to do the same work as the `cr` seed command
(benchmarks/seed_search.py): TPE over architecture, batch size, batch norm and learning rate,
median pruning on the validation loss, an MLP built like crescendo's, Adam (fused), MSE.
No crescendo, Hydra or Lightning here (except `--import-lightning`, which only imports it).
`--sqlite PATH` keeps the study in an SQLite file set up as cr's default storage is (WAL, Optuna's
cached storage) instead of in memory: with `--import-lightning`, the floor of what the libraries cr
must stand on (Lightning, an SQLite study) cost before cr does anything of its own.

    python benchmarks/plain_search.py DATA_DIR [--trials 20] [--epochs 10] [--seed 0] [--import-lightning]
                                      [--sqlite PATH]

Prints one JSON line at the end: {"best": ..., "params": {...}, "states": {...}, "seconds": ...,
"trial_seconds": [...]} (seconds: since the script started, the torch/Optuna imports included).
"""

import argparse
import json
import time

started = time.perf_counter()
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("data_dir")
parser.add_argument("--trials", type=int, default=20)
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--import-lightning", action="store_true", help="import lightning.pytorch, unused")
parser.add_argument("--sqlite", metavar="PATH", help="keep the study in this SQLite file (as cr does), not in memory")
args = parser.parse_args()

if args.import_lightning:
    import lightning.pytorch  # noqa: F401  (the floor: what cr pays for the import alone)
import numpy as np
import optuna
import torch

torch.set_num_threads(1)
optuna.logging.set_verbosity(optuna.logging.WARNING)

# data: loaded once; inputs standardised with the training rows' mean and (population) std
arrays = {name: np.load(f"{args.data_dir}/{name}.npy") for name in ("X_train", "Y_train", "X_val", "Y_val")}
mean, std = arrays["X_train"].mean(0, dtype=np.float64), arrays["X_train"].std(0, dtype=np.float64)
std[std == 0] = 1.0
x_train, x_val = (torch.from_numpy(((arrays[k] - mean) / std).astype(np.float32)) for k in ("X_train", "X_val"))
y_train, y_val = (torch.from_numpy(arrays[k].astype(np.float32)) for k in ("Y_train", "Y_val"))
n_in, n_out, n_train, n_val = x_train.shape[1], y_train.shape[1], len(x_train), len(x_val)


def hidden_widths(n_hidden):
    """N hidden layers ramping linearly from the input to the output width (N + 2 points, interior ones)."""
    return [max(1, int(w)) for w in np.linspace(n_in, n_out, n_hidden + 2)[1:-1].astype(np.int64)]  # truncated, as cr


def mlp(widths, batch_norm):
    """Linear → [BatchNorm1d] → ReLU per hidden layer, then Linear → Sigmoid."""
    layers = []
    for fan_in, fan_out in zip([n_in, *widths], widths):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if batch_norm:
            layers.append(torch.nn.BatchNorm1d(fan_out))
        layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers, torch.nn.Linear([n_in, *widths][-1], n_out), torch.nn.Sigmoid())


def objective(trial):
    architecture = trial.suggest_categorical("model.architecture", [3, 6, 9, 12, 15])
    batch_size = trial.suggest_categorical("data.batch_size", [32, 64, 128, 256])
    batch_norm = trial.suggest_categorical("model.batch_norm", [True, False])
    lr = trial.suggest_float("model.optimizer.lr", 0.001, 0.01)

    torch.manual_seed(args.seed)
    net = mlp(hidden_widths(architecture), batch_norm)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, fused=True)
    loss_fn = torch.nn.MSELoss()
    # BatchNorm cannot train on one row: drop a final batch of exactly one
    used = n_train - 1 if batch_size > 1 and n_train > batch_size and n_train % batch_size == 1 else n_train
    best = float("inf")
    for epoch in range(args.epochs):
        net.train()
        for index in torch.randperm(n_train)[:used].split(batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(net(x_train[index]), y_train[index]).backward()
            optimizer.step()
        net.eval()
        total = torch.zeros(())
        with torch.no_grad():
            for start in range(0, n_val, batch_size):
                xb, yb = x_val[start:start + batch_size], y_val[start:start + batch_size]
                total += loss_fn(net(xb), yb) * len(xb)  # row-weighted: the epoch's mean over all rows
        val = float(total) / n_val
        best = min(best, val)
        trial.report(val, epoch)
        if epoch < args.epochs - 1 and trial.should_prune():  # never prune the last epoch
            raise optuna.TrialPruned()
    return best


class ReadOncePerTrial(optuna.storages._CachedStorage):
    """The least database traffic a persistent study needs, as cr's storage has it: every write (each
    epoch's report, ask, tell) goes to the file; the study is read at most once per trial."""

    def __init__(self, backend):
        super().__init__(backend)
        self.read = set()

    def _read_trials_from_remote_storage(self, study_id):
        if study_id not in self.read:
            super()._read_trials_from_remote_storage(study_id)
            self.read.add(study_id)


def sqlite_storage(path):
    """An SQLite study as cr's default storage opens it: WAL journal, no sync per commit, one read per trial."""
    from sqlalchemy import event

    rdb = optuna.storages.RDBStorage(f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": 60}})

    def pragmas(connection, record):
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(rdb.engine, "connect", pragmas)
    rdb.engine.dispose()
    return ReadOncePerTrial(rdb)


study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=args.seed),
                            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
                            storage=sqlite_storage(args.sqlite) if args.sqlite else None)
# a serial study changes only through this script: read it again once per trial, after its tell
study.optimize(objective, n_trials=args.trials,
               callbacks=[lambda study, trial: study._storage.read.clear()] if args.sqlite else None)
states = {s: sum(t.state.name == s for t in study.trials) for s in ("COMPLETE", "PRUNED", "FAIL")}
print(json.dumps({"best": study.best_value, "params": study.best_params, "states": states,
                  "seconds": time.perf_counter() - started,
                  "trial_seconds": [t.duration.total_seconds() for t in study.trials]}))
