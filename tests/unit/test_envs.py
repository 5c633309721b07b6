"""The per-stage conda environments pin the same versions as requirements.lock, inside pyproject's ranges."""

import re
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement


@pytest.fixture(scope="module")
def lock(repo):
    lines = (repo / "requirements.lock").read_text().splitlines()
    return {name.lower(): version for name, version in (line.split("==") for line in lines if "==" in line)}


def _env_pins(path):
    dependencies = yaml.safe_load(path.read_text())["dependencies"]
    pip = next(d["pip"] for d in dependencies if isinstance(d, dict))
    return dict(line.split("==") for line in pip), dependencies


def test_every_env_pins_the_locked_versions(repo, lock):
    envs = sorted((repo / "envs").glob("*.yaml"))
    assert {p.stem for p in envs} == {"data", "train", "report"}
    for path in envs:
        pins, dependencies = _env_pins(path)
        assert "python=3.11" in dependencies
        for name, version in pins.items():
            assert lock.get(name.lower()) == version, (
                f"{path.name}: {name}=={version}, lock has {lock.get(name.lower())}"
            )


def test_envs_cover_pyproject_and_satisfy_its_ranges(repo, lock):
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    pinned = {}
    for path in (repo / "envs").glob("*.yaml"):
        pinned.update({k.lower(): v for k, v in _env_pins(path)[0].items()})
    for requirement in requirements:
        name = requirement.name.lower()
        assert name in lock, f"{name} (pyproject) is not in requirements.lock"
        # tests only (pytest; import-linter, the layer contracts `make test` checks); Snakemake runs the jobs
        # and lends them its own package: none of them is needed inside a job's environment
        if name in ("pytest", "import-linter", "snakemake"):
            assert requirement.specifier.contains(re.sub(r"\+.*", "", lock[name])), (name, lock[name])
            continue
        assert name in pinned, f"{name} (pyproject) is in no envs/*.yaml"
        assert requirement.specifier.contains(re.sub(r"\+.*", "", pinned[name])), (name, pinned[name])
        assert requirement.specifier.contains(re.sub(r"\+.*", "", lock[name]))


def test_every_rule_names_an_existing_env(repo):
    for rule_file in (repo / "workflow/rules").glob("*.smk"):
        text = rule_file.read_text()
        for env in re.findall(r'conda:\n\s+"\.\./\.\./envs/(\w+)\.yaml"', text):
            assert (repo / "envs" / f"{env}.yaml").is_file()
        assert text.count("conda:") == len(re.findall(r"^rule ", text, flags=re.MULTILINE)), rule_file.name
