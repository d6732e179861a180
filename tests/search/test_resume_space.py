"""A resumed study must search the space it was made for: the space is recorded in the study, a resume
with other keys, choices or ranges is refused naming each difference (nothing written to the study),
and `hydra.sweeper.extend_space=true` extends it on purpose. Real SQLite studies."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from fake_app import run_search
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from crescendo.errors import ConfigError
from hydra_plugins.crescendo_sweeper._resume import (
    SPACE_ATTR,
    check_resume,
    record_space,
    recorded_space,
)

BASE = ["hparams_search=optuna", "x=interval(0.0, 1.0)", "y=choice(a, b, c)"]
LR = FloatDistribution(0.001, 0.01)


def sqlite_study(tmp_path: Path, space: dict | None, trials: int = 1) -> optuna.Study:
    """A study with `trials` complete trials in `space`, recorded as cr records it (None: an older study
    without the record)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}", study_name="s")
    given = space or {"lr": LR}
    if space is not None:
        record_space(study, space)
    for k in range(trials):
        params = {n: d.choices[0] if isinstance(d, CategoricalDistribution) else d.low for n, d in given.items()}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=given, value=float(k)))
    return study


def snapshot(storage: str) -> tuple:
    """Everything the study holds that a refused resume could have written."""
    study = optuna.load_study(study_name="fake", storage=storage)
    trials = study.get_trials(deepcopy=False)
    return study.user_attrs, [(t.number, t.state, t.params, t.user_attrs, t.system_attrs, t.datetime_complete)
                              for t in trials]


def refusal(study: optuna.Study, new: dict, extend: bool = False) -> str:
    with pytest.raises(ConfigError) as error:
        check_resume(study, new, study_name="s", storage_url="sqlite:///x/study.db", extend=extend)
    return str(error.value)


@pytest.mark.parametrize("old, new, difference", [
    ({"lr": LR}, {"lr": LR, "dropout": FloatDistribution(0.0, 0.5)}, "dropout: added (float [0.0, 0.5])"),
    ({"lr": LR, "dropout": FloatDistribution(0.0, 0.5)}, {"lr": LR}, "dropout: removed (was float [0.0, 0.5])"),
    ({"lr": FloatDistribution(0.001, 0.01)}, {"lr": FloatDistribution(0.001, 0.1)}, "lr: range [0.001, 0.01] → [0.001, 0.1]"),
    ({"n": IntDistribution(16, 64)}, {"n": IntDistribution(8, 64)}, "n: range [16, 64] → [8, 64]"),
    ({"n": IntDistribution(16, 64)}, {"n": IntDistribution(16, 64, step=16)}, "n: step 1 → 16"),
])
def test_a_space_optuna_could_mix_is_refused_unless_extended(tmp_path, old, new, difference):
    study = sqlite_study(tmp_path, old)
    message = refusal(study, new)
    assert message.startswith("hydra.sweeper.study_name=s: the study in sqlite:///x/study.db searched another space")
    assert difference in message and "hydra.sweeper.extend_space=true" in message and "\n" not in message
    assert study.user_attrs[SPACE_ATTR] == {n: optuna.distributions.distribution_to_json(d) for n, d in old.items()}
    assert check_resume(study, new, study_name="s", storage_url="sqlite:///x/study.db", extend=True)


@pytest.mark.parametrize("old, new, difference", [
    ({"a": CategoricalDistribution([1, 2])}, {"a": CategoricalDistribution([1, 2, 3])}, "a: choices 1, 2 → 1, 2, 3"),
    ({"lr": LR}, {"lr": FloatDistribution(0.001, 0.01, log=True)}, "lr: log scale off → on"),
    ({"n": CategoricalDistribution([16, 32])}, {"n": IntDistribution(16, 32)}, "n: choice(16, 32) → int [16, 32]"),
])
def test_a_space_optuna_cannot_mix_is_refused_even_extended(tmp_path, old, new, difference):
    study = sqlite_study(tmp_path, old)
    for extend in (False, True):
        message = refusal(study, new, extend)
        assert difference in message and "Optuna keeps a key's kind, log scale and choices" in message
        assert "extend_space" not in message


def test_several_differences_are_named_in_one_line(tmp_path):
    study = sqlite_study(tmp_path, {"lr": LR, "dropout": FloatDistribution(0.0, 0.5)})
    message = refusal(study, {"lr": FloatDistribution(0.0001, 0.01, log=True), "a": CategoricalDistribution([1, 2])})
    assert "lr: log scale off → on, range [0.001, 0.01] → [0.0001, 0.01]; a: added (choice(1, 2)); " \
           "dropout: removed (was float [0.0, 0.5])" in message
    assert "\n" not in message


def test_an_older_study_without_the_record_is_compared_with_its_trials(tmp_path):
    study = sqlite_study(tmp_path, None)
    assert SPACE_ATTR not in study.user_attrs and recorded_space(study) == {"lr": LR}
    assert "lr: range [0.001, 0.01] → [0.001, 0.02]" in refusal(study, {"lr": FloatDistribution(0.001, 0.02)})
    # the same space resumes, and is recorded from then on
    assert check_resume(study, {"lr": LR}, study_name="s", storage_url="u", extend=False)


def test_the_same_space_resumes_without_writing(tmp_path):
    study = sqlite_study(tmp_path, {"lr": LR, "a": CategoricalDistribution(["x", "y"])})
    assert not check_resume(study, {"a": CategoricalDistribution(["x", "y"]), "lr": LR}, study_name="s",
                            storage_url="u", extend=False)


def test_a_search_records_its_space_and_a_refused_resume_writes_nothing(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    run_search([*BASE, "hydra.sweeper.n_trials=2"], sweep)
    storage = f"sqlite:///{sweep / 'study.db'}"
    study = optuna.load_study(study_name="fake", storage=storage)
    assert set(recorded_space(study)) == {"x", "y"} and SPACE_ATTR in study.user_attrs
    before = snapshot(storage), (sweep / "trials.csv").read_text()
    with pytest.raises(SystemExit) as exit_:
        run_search(["hparams_search=optuna", "x=interval(0.0, 2.0)", "y=choice(a, b, c)", "hydra.sweeper.n_trials=4"],
                   sweep)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("cr: error:") == 1 and "x: range [0.0, 1.0] → [0.0, 2.0]" in err
    assert (snapshot(storage), (sweep / "trials.csv").read_text()) == before
    assert sorted(p.name for p in sweep.iterdir() if p.name.isdigit()) == ["0", "1"]


def test_extend_space_resumes_and_the_study_holds_both(tmp_path):
    sweep = tmp_path / "sweep"
    run_search([*BASE, "hydra.sweeper.n_trials=2", "seed=0"], sweep)
    wider = ["hparams_search=optuna", "x=interval(0.0, 2.0)", "y=choice(a, b, c)", "n=interval(1, 5)", "seed=0"]
    study = run_search([*wider, "hydra.sweeper.n_trials=4", "hydra.sweeper.extend_space=true"], sweep)
    trials = study.get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    assert [set(t.params) for t in trials] == [{"x", "y"}] * 2 + [{"x", "y", "n"}] * 2
    assert recorded_space(study) == {"x": FloatDistribution(0.0, 2.0), "y": CategoricalDistribution(["a", "b", "c"]),
                                     "n": IntDistribution(1, 5)}
    header = (sweep / "trials.csv").read_text().splitlines()[0].split(",")
    assert "n" in header and len((sweep / "trials.csv").read_text().splitlines()) == 5
    # the extended space is now the study's: the same command resumes without the opt-in
    study = run_search([*wider, "hydra.sweeper.n_trials=5"], sweep)
    assert len(study.get_trials(deepcopy=False)) == 5
