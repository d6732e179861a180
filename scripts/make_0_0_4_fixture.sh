#!/usr/bin/env bash
# Remakes tests/analysis/crescendo_0_0_4: result directories written by the ORIGINAL Crescendo 0.0.4
# (a run, and a 2-trial search with Hydra's Optuna sweeper) on tiny data, plus 0.0.4's own
# predictions for the validation inputs (expected.npz). Needs a throwaway venv with 0.0.4:
#   python3 -m venv /tmp/cr004-venv && /tmp/cr004-venv/bin/pip install torch==2.13.0
#   /tmp/cr004-venv/bin/pip install --no-deps crescendo==0.0.4   # its torch==2.0.0 pin is a CUDA build
#   /tmp/cr004-venv/bin/pip install lightning==2.0.2 torchmetrics==0.11.4 hydra-core==1.3.2 \
#       hydra-colorlog==1.2.0 hydra-optuna-sweeper==1.2.0 pandas scikit-learn rich loguru filelock \
#       lightning-cloud==0.5.37 'numpy<2'
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-/tmp/cr004-venv}
OUT=tests/analysis/crescendo_0_0_4
WORK=$(mktemp -d /tmp/cr004-fixture.XXXX)
"$VENV/bin/python" - "$WORK/data" <<'PY'
import sys
from pathlib import Path
import numpy as np
out = Path(sys.argv[1]); out.mkdir(parents=True)
rng = np.random.default_rng(0)
w = rng.normal(size=(3, 1))
for split, n in (("train", 40), ("val", 10), ("test", 10)):
    x = rng.normal(size=(n, 3)).astype(np.float32) * 4 + 2
    np.save(out / f"X_{split}.npy", x)
    np.save(out / f"Y_{split}.npy", np.tanh((x - 2) / 4 @ w).astype(np.float32))
PY
COMMON=(data=regression "+data.data_dir=$WORK/data" model=mlp 'model.architecture=[4]'
        data.dataloader_kwargs.batch_size=8 trainer.min_epochs=1 trainer.max_epochs=2 seed=0
        callbacks.model_summary=null)
(cd "$WORK" && "$VENV/bin/cr" "${COMMON[@]}" paths.run_dir="$WORK/run/2024-06-01_12-00-00")
(cd "$WORK" && "$VENV/bin/cr" -m hparams_search=optuna "${COMMON[@]}" hydra.sweeper.n_trials=2 \
    'model.optimizer.lr=interval(0.001, 0.05)' paths.sweep_run_dir="$WORK/search/2024-06-01_12-05-00")
# 0.0.4's own analysis: its Estimator.predict takes SCALED inputs (its loader predates torch's
# weights_only default: under its pinned torch 2.0 it unpickled fully, as this variable makes 2.13 do)
export TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1
"$VENV/bin/python" - "$WORK" <<'PY'
import sys
from pathlib import Path
import numpy as np
import yaml
from crescendo.analysis import Estimator
work = Path(sys.argv[1])
run = Estimator.from_root(work / "run", verbose=False)
results = yaml.safe_load(open(next((work / "search").iterdir()) / "optimization_results.yaml"))
best = Estimator(results["best_model"], verbose=False)
np.savez(work / "expected.npz", run_val=run.predict(run.X_val_scaled), best_val=best.predict(best.X_val_scaled),
         best_value=np.float64(results["best_value"]))
PY
find "$WORK" -name warnings.yaml -delete
rm -rf "$OUT" && mkdir -p "$OUT" && cp -r "$WORK/data" "$WORK/run" "$WORK/search" "$WORK/expected.npz" "$OUT/"
rm -rf "$WORK"
du -sh "$OUT"
