"""What a study says about itself to whoever opens it later: its metric names (Optuna's
`study.set_metric_names`), how it was made (study user attrs), and each trial's run dir and best
checkpoint (trial user attrs) — read back through optuna-dashboard's own web API."""

from __future__ import annotations

import json
import sys
import threading
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import optuna
import pytest
from fake_app import run_search

from crescendo import __version__

BASE = ["hparams_search=optuna", "x=interval(0.0, 1.0)", "+monitor=val/loss", "+mode=min"]
TESTS = Path(__file__).parents[1]


def test_the_study_names_its_metric_and_records_how_it_was_made(tmp_path, monkeypatch):
    sweep = tmp_path / "sweep"
    monkeypatch.setattr(sys, "argv", ["cr", *BASE, "hydra.sweeper.n_trials=2"])
    study = run_search([*BASE, "hydra.sweeper.n_trials=2"], sweep)
    assert study.metric_names == ["val/loss"]
    attrs = study.user_attrs
    assert attrs["command"] == "cr hparams_search=optuna 'x=interval(0.0, 1.0)' +monitor=val/loss +mode=min " \
                               "hydra.sweeper.n_trials=2"
    assert attrs["commands"] == [attrs["command"]]
    assert attrs["overrides"] == [*BASE, "hydra.sweeper.preload=[]", "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={sweep}"]
    assert (attrs["monitor"], attrs["mode"], attrs["crescendo_version"]) == ("val/loss", "min", __version__)
    assert "x" in attrs["search_space"]

    # resumed: the names stay, the latest command is recorded and added to the history
    monkeypatch.setattr(sys, "argv", ["cr", *BASE, "hydra.sweeper.n_trials=3"])
    study = run_search([*BASE, "hydra.sweeper.n_trials=3"], sweep)
    assert len(study.trials) == 3 and study.metric_names == ["val/loss"]
    assert study.user_attrs["command"].endswith("hydra.sweeper.n_trials=3")
    assert [c[-1] for c in study.user_attrs["commands"]] == ["2", "3"]


def test_a_resume_that_would_mix_another_metric_into_the_study_is_refused(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    run_search([*BASE, "hydra.sweeper.n_trials=1"], sweep)
    storage = f"sqlite:///{sweep / 'study.db'}"
    before = optuna.load_study(study_name="fake", storage=storage).user_attrs
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        run_search([*BASE[:2], "+monitor=train/loss", "+mode=min", "hydra.sweeper.n_trials=2"], sweep)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cr: error: monitor=train/loss: the study 'fake' in {storage} holds values of val/loss — "
                          "use monitor=val/loss to resume it, or another hydra.sweeper.study_name"), err
    study = optuna.load_study(study_name="fake", storage=storage)
    assert len(study.trials) == 1 and study.user_attrs == before  # nothing written


def test_several_objectives_are_named_after_hydra_sweeper_objectives(tmp_path):
    study = run_search([*BASE, "hydra.sweeper.n_trials=1", "hydra.sweeper.direction=[minimize,minimize]",
                        "hydra.sweeper.objectives=[val/loss,size]"], tmp_path / "sweep")
    assert study.metric_names == ["val/loss", "size"]


@contextmanager
def dashboard(storage: str):
    """optuna-dashboard's own WSGI app on 127.0.0.1, as `optuna-dashboard STORAGE` serves it."""
    from optuna_dashboard import wsgi

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = make_server("127.0.0.1", 0, wsgi(storage), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield lambda path: json.loads(urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}{path}",
                                                             timeout=60).read())
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_optuna_dashboard_shows_the_metric_name_the_study_attrs_and_each_trials_checkpoint(tmp_path):
    from helpers import run_cr

    sweep = tmp_path / "sweep"
    # a grid over the epoch at which a test callback prunes the run, as Optuna's pruning callback
    # does: one trial is pruned at epoch 1, the other completes
    done = run_cr("data=diabetes", "hparams_search=optuna", "trainer.max_epochs=3", "data.batch_size=64",
                  "hydra.sweeper.sampler=grid", "hydra.sweeper.n_trials=2",
                  "+callbacks.prune={_target_: helpers.PruneAtEpoch}", "+callbacks.prune.epoch=choice(1, 50)",
                  f"hydra.sweep.dir={sweep}", cwd=tmp_path, env={"PYTHONPATH": str(TESTS)})
    assert done.returncode == 0, done.stderr
    assert "best epoch:" not in done.stdout  # the trials print no run summary; the sweeper's lines do
    with dashboard(f"sqlite:///{sweep / 'study.db'}") as get:
        (listed,) = get("/api/studies")["study_summaries"]
        detail = get(f"/api/studies/{listed['study_id']}")
    assert detail["objective_names"] == ["val/loss"]
    attrs = {a["key"]: a["value"] for a in detail["user_attrs"]}
    assert attrs["monitor"] == "val/loss" and attrs["mode"] == "min" and attrs["crescendo_version"] == __version__
    assert attrs["command"].startswith("cr data=diabetes hparams_search=optuna trainer.max_epochs=3")
    assert "+callbacks.prune.epoch=choice(1, 50)" in attrs["overrides"]

    by_state = {t["state"]: t for t in detail["trials"]}
    assert sorted(by_state) == ["Complete", "Pruned"], [t["state"] for t in detail["trials"]]
    assert by_state["Pruned"]["intermediate_values"]  # the per-epoch values the pruner judged
    for trial in by_state.values():
        trial_attrs = {a["key"]: a["value"] for a in trial["user_attrs"]}
        run_dir = Path(trial_attrs["run_dir"])
        assert run_dir == sweep / str(trial["number"])
        assert Path(trial_attrs["best_checkpoint"]) == run_dir / "checkpoints" / "best.ckpt"
        assert Path(trial_attrs["best_checkpoint"]).is_file()


def test_a_failed_trial_keeps_the_best_checkpoint_its_run_recorded(tmp_path):
    from hydra.core.utils import JobReturn, JobStatus
    from optuna.trial import TrialState

    from hydra_plugins.crescendo_sweeper._worker import outcome_of

    run_dir = tmp_path / "3"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "best.ckpt").write_bytes(b"weights")
    # what crescendo.train writes before it re-raises a failure (a NaN loss at a later epoch)
    (run_dir / "result.json").write_text(json.dumps({"status": "failed", "best_checkpoint": "checkpoints/best.ckpt"}))
    job = JobReturn(status=JobStatus.FAILED, _return_value=RuntimeError("the loss is nan"), working_dir=str(run_dir))
    outcome = outcome_of(job, None)
    assert outcome.state == TrialState.FAIL and outcome.run_dir == str(run_dir)
    assert outcome.checkpoint == str(run_dir / "checkpoints" / "best.ckpt")

    (run_dir / "result.json").write_text(json.dumps({"status": "failed", "best_checkpoint": None}))
    assert outcome_of(job, None).checkpoint is None
