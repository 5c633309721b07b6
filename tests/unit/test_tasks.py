"""The task table and the declared capabilities: one place each, read by the rules, the steps and the report."""

import re
from pathlib import Path

import numpy as np
import pytest

from lifedl import steps
from lifedl.models import ARCHITECTURES, CAPABILITIES, Architecture
from lifedl.tl.regression import binned_calibration
from lifedl.tl.tasks import TASKS, measures_of

REPO = Path(__file__).resolve().parents[2]


def test_every_architecture_has_a_known_task_and_every_task_scored_on_rows_has_a_scorer():
    assert {arch.task for arch in ARCHITECTURES.values()} <= set(TASKS)
    assert {name for name, task in TASKS.items() if task.scored_on_rows} == set(steps.SCORERS)
    assert all(task.curves for task in TASKS.values() if task.scored_on_rows)  # the score rule writes one each


def test_an_undeclared_capability_or_task_is_refused_when_the_entry_is_made():
    with pytest.raises(Exception, match="unknown capabilities \\['embeds_twice'\\]"):
        Architecture("x", "lifedl.models.pca", "", {}, capabilities=frozenset({"embeds_twice"}))
    with pytest.raises(Exception, match="task 'clustering'"):
        Architecture("x", "lifedl.models.pca", "", {}, task="clustering")
    with pytest.raises(Exception, match="unknown capability 'sings'"):
        ARCHITECTURES["vae"].can("sings")


def test_capabilities_match_the_hyper_parameters_they_rest_on():
    for name, arch in ARCHITECTURES.items():
        # gradient norms are logged, and clipped, by the plans of networks with a gradient_clip
        assert arch.can("gradient_norms") == ("gradient_clip" in arch.defaults), name
        # probability draws: the classifiers with mc_samples (dropout passes; 0 for the deterministic baselines)
        assert arch.can("probability_draws") == ("mc_samples" in arch.defaults), name
        assert set(arch.compared_with) <= set(ARCHITECTURES), name
    assert set(CAPABILITIES) == {c for arch in ARCHITECTURES.values() for c in arch.capabilities}  # none unused


def test_over_seeds_measures_come_from_the_tasks_predicting_tasks_first():
    measures = measures_of(["representation", "classifier"], "seed_measures")
    assert measures[: len(TASKS["classifier"].seed_measures)] == list(TASKS["classifier"].seed_measures)
    assert measures[-1] == TASKS["representation"].seed_measures[-1] and len(measures) == len(set(measures))
    assert measures_of(["regressor"], "compared_measures") == ["rmse", "mae", "pearson_r"]


def test_the_rules_steps_and_figures_name_no_architecture_and_guess_no_capability():
    """Which model does what is declared on its registry entry (lifedl.models), never spelled in the workflow, the
    steps or the figure code: a quoted name ("vae") or a path part (models/vae/, embeddings/vae.h5ad)."""
    spelled = re.compile(r"(?<!init=)[\"']([a-z][a-z0-9_]*)[\"']|/([a-z][a-z0-9_]*)[/.]")
    src = REPO / "src/lifedl"
    files = [*REPO.glob("workflow/**/*.smk"), *REPO.glob("workflow/**/*.py"), REPO / "Snakefile"]
    files += [*src.glob("steps/*.py"), src / "report.py", src / "figures.py", *src.glob("pl/*.py")]
    named = {
        (f.name, m) for f in files for found in spelled.findall(f.read_text()) for m in found if m in ARCHITECTURES
    }
    assert not named, f"architecture names in the workflow or figures: {sorted(named)}; declare it on the entry"
    assert len(list(src.glob("steps/*.py"))) >= 8  # the package is where the test looks
    for path in files:
        assert "hasattr(" not in path.read_text(), f"{path.name} guesses a model's capability with hasattr"


def test_binned_calibration_is_the_diagonal_for_calibrated_predictions():
    rng = np.random.default_rng(0)
    predicted = rng.normal(size=20000)
    observed = predicted + rng.normal(scale=0.5, size=predicted.size)  # unbiased given the prediction
    curve = binned_calibration(observed, predicted)
    assert len(curve) == 10 and sum(row["share"] for row in curve) == pytest.approx(1.0)
    assert max(abs(row["observed"] - row["predicted"]) for row in curve) < 0.05
    shifted = binned_calibration(observed + 1.0, predicted)  # a regressor 1 too low everywhere
    assert all(row["observed"] - row["predicted"] == pytest.approx(1.0, abs=0.05) for row in shifted)


def test_the_default_run_is_the_registry_s_and_the_docs_say_which_entries_are_left_out():
    from lifedl.config import read_yaml, validate_config
    from lifedl.models import BATCH_BASELINES, default_architectures

    schema = REPO / "workflow/schemas/config.schema.yaml"
    default = validate_config(read_yaml(REPO / "config/config.yaml"), schema)
    assert default["architectures"] == default_architectures() and "scvi" not in default["architectures"]
    every = validate_config({**read_yaml(REPO / "config/config.yaml"), "architectures": "all"}, schema)
    assert every["architectures"] == list(ARCHITECTURES)
    rows = {line.split("`")[1]: line for line in (REPO / "docs/architectures.md").read_text().splitlines()
            if line.startswith("| `")}  # fmt: skip
    for name, arch in ARCHITECTURES.items():
        if name not in BATCH_BASELINES:  # those run beside every batch-aware model, wherever there are batches
            assert ("make reproduce" in rows[name]) == (not arch.default_run), name


def test_the_fast_test_settings_come_from_the_registry_for_every_architecture():
    """tests/fast_training.py derives them from each entry's defaults: a new architecture needs no entry there."""
    from fast_training import FAST_PARAMS

    from lifedl.models.registry import EPOCHS_DECAY_CELLS, with_epochs

    assert set(FAST_PARAMS) == set(ARCHITECTURES)
    for name, params in FAST_PARAMS.items():
        resolved = ARCHITECTURES[name].resolve_params(params, where=f"fast_training {name}")  # known names, types
        cap = with_epochs(ARCHITECTURES[name].defaults, EPOCHS_DECAY_CELLS).get("max_epochs", 0)  # auto: its cap
        assert resolved.get("max_epochs", 0) <= cap, name
        assert not resolved.get("search"), name  # no validation search in a fast fit
