"""scripts/compare_runs.py: the check that a refactor moved no number."""

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def compare():
    spec = importlib.util.spec_from_file_location("compare_runs", REPO / "scripts/compare_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _run(root: Path, ari: float, seconds: float, curves: str = "curves/dqn.tsv") -> Path:
    (root / "d/metrics").mkdir(parents=True)
    (root / "d/metrics/vae.tsv").write_text(f"arch\tari\ttrain_seconds\nvae\t{ari}\t{seconds}\n")
    (root / "d/models/vae").mkdir(parents=True)
    (root / "d/models/vae/run.json").write_text(json.dumps({"final_metrics": {"val_loss": 1.5, "epochs": 3}}))
    (root / "d" / curves).parent.mkdir(parents=True, exist_ok=True)
    (root / "d" / curves).write_text("method\tbest\nrandom\t0.5\n")
    (root / "d/logs").mkdir()
    (root / "d/logs/x.tsv").write_text("anything\n1\n")  # logs are not compared
    return root


def test_equal_runs_pass_and_a_moved_number_fails_naming_where(compare, tmp_path, capsys):
    before = _run(tmp_path / "a", 0.5, seconds=10.0, curves="design/dqn_curves.tsv")
    same = _run(tmp_path / "b", 0.5, seconds=99.0)  # times differ: not a result
    moved = ["d/design/dqn_curves.tsv=d/curves/dqn.tsv"]
    assert compare([str(before), str(same), "--moved", *moved]) == 0
    assert "3 tables and run records, 4 numbers compared; largest |difference| 0" in capsys.readouterr().out
    assert compare([str(before), str(same)]) == 1  # the table moved without saying so
    assert "d/design/dqn_curves.tsv: missing from" in capsys.readouterr().out
    shifted = _run(tmp_path / "c", 0.5 + 1e-4, seconds=10.0)
    assert compare([str(before), str(shifted), "--moved", *moved]) == 1
    assert "largest |difference| 0.0001 (d/metrics/vae.tsv: ari)" in capsys.readouterr().out
    assert compare([str(before), str(shifted), "--moved", *moved, "--tolerance", "1e-3"]) == 0
