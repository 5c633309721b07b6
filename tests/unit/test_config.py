import copy

import pandas as pd
import pytest

from lifedl.config import load_datasets_sheet, read_yaml, selected_datasets, validate_config
from lifedl.errors import LifedlError
from lifedl.models import get_architecture


@pytest.fixture
def schemas(repo):
    return repo / "workflow/schemas/config.schema.yaml", repo / "workflow/schemas/datasets.schema.yaml"


@pytest.fixture
def default_config(repo):
    return read_yaml(repo / "config/config.yaml")


def test_the_benchmark_config_and_sheet_are_valid(repo, schemas, default_config):
    """make bench's real-size workflow run (benchmarks/workflow_scale.py) merges these over the default config."""
    scale = read_yaml(repo / "benchmarks/workflow_scale.yaml")
    config = validate_config({**copy.deepcopy(default_config), **scale, "datasets": ["sim_10k"]}, schemas[0])
    sheet = load_datasets_sheet(repo / scale["datasets_sheet"], schemas[1])
    assert selected_datasets(config, sheet, scale["datasets_sheet"]) == ["sim_10k"]
    assert set(sheet) == {"sim_10k", "sim_100k"} and set(config["qc_per_dataset"]) == set(sheet)


def test_default_config_and_sheet_are_valid(repo, schemas, default_config):
    config = validate_config(copy.deepcopy(default_config), schemas[0])
    assert config["architectures"][0] == "pca"
    sheet = load_datasets_sheet(repo / "config/datasets.tsv", schemas[1])
    assert selected_datasets(config, sheet, "config/datasets.tsv") == [
        "pbmc68k_reduced",
        "sim_batches",
        "sim_perturbation",
        "sim_motif",
        "sim_citeseq",
        "cell_images",
        "sim_atac",
        "sim_multiome",
    ]
    # make run's caps name default rows only, and hyper-parameters their architectures have
    import yaml

    from lifedl.models import get_architecture

    capped = yaml.safe_load((repo / "config/make_run.yaml").read_text())["params_per_dataset"]
    assert set(capped) <= set(selected_datasets(config, sheet, "config/datasets.tsv"))
    for overrides in capped.values():
        for arch, params in overrides.items():
            get_architecture(arch).resolve_params(params, where="config/make_run.yaml")
    assert sheet["sim_citeseq"]["kind"] == "cells+protein"
    assert sheet["sim_motif"]["kind"] == "sequences" and sheet["pbmc68k_reduced"]["kind"] == "cells"
    # the real public data sets are listed but not in the default run
    assert {"pbmc3k", "zheng68k"} <= {id_ for id_, row in sheet.items() if row["default_run"] == "no"}
    assert sheet["pbmc3k"]["checksum"].startswith("sha256:")
    assert sheet["pbmc3k"]["split"] == ""  # a column the row leaves empty is there, empty


def test_make_reproduce_adds_the_experiments_the_default_run_leaves_out(repo, schemas, default_config):
    """config/reproduce.yaml (merged over config.yaml by `make reproduce`) is valid and turns them on."""
    assert default_config["likelihood_comparison"]["enabled"] is False  # kept out of the 10-minute run
    reproduce = read_yaml(repo / "config/reproduce.yaml")
    merged = copy.deepcopy(default_config)
    for key, value in reproduce.items():
        merged[key] = {**merged[key], **value} if isinstance(value, dict) else value
    assert validate_config(merged, schemas[0])["likelihood_comparison"]["enabled"] is True


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.update(epochs=3), "'epochs' was unexpected"),
        (lambda c: c["qc"].update(min_gene=3), "'min_gene' was unexpected"),
        (lambda c: c.update(seed="zero"), "'zero' is not of type 'integer'"),
        (lambda c: c.update(architectures=["../vae"]), "does not match"),
    ],
)
def test_schema_rejects_bad_config_with_a_clear_message(schemas, default_config, change, message):
    config = copy.deepcopy(default_config)
    change(config)
    with pytest.raises(LifedlError, match="config/config.yaml") as error:
        validate_config(config, schemas[0])
    assert message in str(error.value)


def _write_sheet(path, rows, columns=("id", "source", "labels")):
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, sep="\t", index=False)
    return path


def test_sheet_rejects_unknown_column_duplicate_ids_and_bad_ids(tmp_path, schemas):
    bad_column = _write_sheet(tmp_path / "a.tsv", [["x", "builtin:pbmc68k_reduced", "y"]], ("id", "source", "lables"))
    with pytest.raises(LifedlError, match=r"a\.tsv.*'lables' was unexpected"):
        load_datasets_sheet(bad_column, schemas[1])
    duplicated = _write_sheet(tmp_path / "b.tsv", [["x", "simulated:", ""], ["x", "simulated:", ""]])
    with pytest.raises(LifedlError, match=r"\['x'\] appear more than once"):
        load_datasets_sheet(duplicated, schemas[1])
    bad_id = _write_sheet(tmp_path / "c.tsv", [["../x", "simulated:", ""]])
    with pytest.raises(LifedlError, match="does not match"):
        load_datasets_sheet(bad_id, schemas[1])
    extra = tmp_path / "e.tsv"
    extra.write_text("id\tsource\nx\tsimulated:\tstray\n")
    with pytest.raises(LifedlError, match=r"e\.tsv: the row of 'x' has more tab-separated fields than the header"):
        load_datasets_sheet(extra, schemas[1])
    empty = tmp_path / "d.tsv"
    empty.write_text("id\tsource\n")
    with pytest.raises(LifedlError, match="no rows"):
        load_datasets_sheet(empty, schemas[1])


@pytest.mark.parametrize(
    "arch, bad, message",
    [
        ("vae", {"max_epochs": 0}, r"'max_epochs' of 'vae' must be in \[1, inf\) or 'auto', got 0"),
        ("vae", {"max_epochs": "many"}, r"'max_epochs' of 'vae' must be of type int \(default 'auto'\), got 'many'"),
        ("vae", {"dropout": -0.5}, r"'dropout' of 'vae' must be in \[0, 1\), got -0.5"),
        ("vae", {"patience": 0}, r"'patience' of 'vae' must be in \[1, inf\)"),
        ("ae", {"dropout": 1.0}, r"'dropout' of 'ae' must be in \[0, 1\), got 1.0"),
        ("vae", {"learning_rate": 0}, r"'learning_rate' of 'vae' must be in \(0, 1\]"),
        (
            "vae",
            {"likelihood": "gamma"},
            r"'likelihood' of 'vae' must be one of \['nb', 'zinb', 'poisson', 'gaussian'\]",
        ),
        ("dgd", {"covariance": "full"}, r"'covariance' of 'dgd' must be one of \['diagonal', 'isotropic'\]"),
        ("pca", {"n_components": 0}, r"'n_components' of 'pca' must be in \[1, inf\)"),
    ],
)
def test_hyper_parameter_ranges_are_checked_with_the_types(arch, bad, message):
    with pytest.raises(LifedlError, match=message + r".*'params:'"):
        get_architecture(arch).resolve_params(bad)


def test_max_epochs_auto_is_the_cap_up_to_20000_cells_and_fewer_in_proportion_above(capsys):
    from lifedl.models.registry import EPOCHS_CAP, epochs_for, with_epochs

    vae = get_architecture("vae").resolve_params({})
    assert vae["max_epochs"] == "auto"
    assert [epochs_for(n) for n in (700, 20_000, 40_000, 99_418, 1_300_000, 10**9)] == [300, 300, 150, 60, 5, 1]
    assert with_epochs(vae, 700)["max_epochs"] == EPOCHS_CAP and capsys.readouterr().err == ""
    assert with_epochs(vae, 99_418)["max_epochs"] == 60
    assert "max_epochs auto: 60 for 99,418 cells" in capsys.readouterr().err
    # a number set by hand stays, on any architecture, and so does one whose own default is a number
    assert with_epochs(get_architecture("vae").resolve_params({"max_epochs": 500}), 99_418)["max_epochs"] == 500
    assert with_epochs(get_architecture("dgd").resolve_params({}), 99_418)["max_epochs"] == 200
    assert with_epochs(get_architecture("dgd").resolve_params({"max_epochs": "auto"}), 40_000)["max_epochs"] == 150


def test_every_default_is_in_its_range_and_the_named_choices_match_the_models():
    from lifedl.models import ARCHITECTURES, PARAM_RANGES
    from lifedl.nn.likelihoods import LIKELIHOODS
    from lifedl.nn.mixture import COVARIANCES

    for architecture in ARCHITECTURES.values():
        assert architecture.resolve_params(dict(architecture.defaults)) == dict(architecture.defaults)
    assert PARAM_RANGES["likelihood"].choices == tuple(LIKELIHOODS)
    assert PARAM_RANGES["covariance"].choices == COVARIANCES


def test_seed_and_default_resolution_are_checked_at_parse(default_config, schemas):
    config = copy.deepcopy(default_config)
    config["seed"] = 2**32
    with pytest.raises(LifedlError, match="4294967295"):
        validate_config(config, schemas[0])
    config = copy.deepcopy(default_config)
    config["clustering"] = {"resolutions": [0.5, 1.5], "default_resolution": 1.0}
    with pytest.raises(LifedlError, match=r"default_resolution 1.0 is not one of clustering.resolutions \[0.5, 1.5\]"):
        validate_config(config, schemas[0])


def test_qc_per_dataset_overrides_one_data_set_and_is_checked(repo, schemas, default_config, tmp_path):
    from lifedl.config import check_dataset_keys, dataset_qc

    config = validate_config(copy.deepcopy(default_config), schemas[0])
    config["qc_per_dataset"] = {"pbmc68k_reduced": {"min_genes": 50, "outlier_mads": 5}}
    assert dataset_qc(config, "pbmc68k_reduced")["min_genes"] == 50
    assert dataset_qc(config, "pbmc68k_reduced")["outlier_mads"] == 5
    assert dataset_qc(config, "sim_batches") == config["qc"]  # the others keep 'qc'
    sheet = load_datasets_sheet(repo / "config/datasets.tsv", schemas[1])

    def check(config):
        check_dataset_keys(config, sheet, "config/datasets.tsv", schemas[0])

    check(config)
    config["qc_per_dataset"] = {"pbmc68k_reduced": {"min_genez": 50}}
    with pytest.raises(LifedlError, match=r"qc_per_dataset.pbmc68k_reduced' has unknown key\(s\) \['min_genez'\]"):
        check(config)
    config["qc_per_dataset"] = {"pbmc": {"min_genes": 50}}
    with pytest.raises(LifedlError, match=r"'qc_per_dataset' names \['pbmc'\], not in config/datasets.tsv"):
        check(config)
    # the values 'qc' refuses are refused per data set too (a negative, a string), naming the key and the range
    for bad, message in ((-5, "-5 is less than the minimum of 0"), ("fifty", "'fifty' is not of type 'integer'")):
        config["qc_per_dataset"] = {"pbmc68k_reduced": {"min_genes": bad}}
        with pytest.raises(LifedlError, match=rf"qc_per_dataset.pbmc68k_reduced.min_genes' is .*{message}.*minimum 0"):
            check(config)


def test_params_per_dataset_override_one_architecture_on_one_data_set(schemas, default_config):
    from lifedl.config import dataset_params

    config = validate_config(copy.deepcopy(default_config), schemas[0])
    config["params"] = {"kmer": {"C_values": [1.0]}, "cnn": {"filter_width": 11}}
    config["params_per_dataset"] = {"amp_peptides": {"kmer": {"k_values": [1, 2]}}}
    assert dataset_params(config, "amp_peptides", "kmer") == {"C_values": [1.0], "k_values": [1, 2]}
    assert dataset_params(config, "janggu_oct4_mafk", "kmer") == {"C_values": [1.0]}  # the others keep 'params'
    assert dataset_params(config, "amp_peptides", "cnn") == {"filter_width": 11}
    assert dataset_params(config, "amp_peptides", "vae") == {}


@pytest.mark.parametrize(
    "section, value",
    [
        ("replicates", {"seeds": [1], "datasets": ["pbmc68k"]}),
        ("likelihood_comparison", {"enabled": True, "datasets": ["pbmc68k"]}),
        ("augmentation", {"enabled": True, "rare_types": {"pbmc68k": "B"}}),
        ("replicates", {"seeds": [1], "skip": {"pbmc68k": ["vae"]}}),
        ("realism_budget", {"enabled": True, "datasets": ["pbmc68k"]}),
        ("leave_one_type_out", {"enabled": True, "seeds_per_dataset": {"pbmc68k": []}}),
    ],
)
def test_experiments_naming_an_unknown_data_set_are_refused(repo, schemas, default_config, section, value):
    """A typo under an experiment's data sets used to schedule nothing, silently."""
    from lifedl.config import check_dataset_keys

    config = validate_config(copy.deepcopy(default_config), schemas[0])
    config[section].update(value)
    sheet = load_datasets_sheet(repo / "config/datasets.tsv", schemas[1])
    with pytest.raises(LifedlError, match=rf"config '{section}\.\w+' names \['pbmc68k'\], not in config/datasets.tsv"):
        check_dataset_keys(config, sheet, "config/datasets.tsv", schemas[0])


def test_a_sheet_saved_with_a_byte_order_mark_reads(tmp_path, schemas):
    path = _write_sheet(tmp_path / "s.tsv", [["sim", "simulated:", ""]])
    path.write_bytes("\ufeff".encode() + path.read_bytes())  # as Excel saves UTF-8
    assert list(load_datasets_sheet(path, schemas[1])) == ["sim"]


def test_sheet_comments_are_whole_lines_only(tmp_path, schemas):
    """A '#' inside a value (a URL fragment, a path inside a wheel) is data, not the start of a comment."""
    sheet_path = tmp_path / "s.tsv"
    sheet_path.write_text("# a comment line\nid\tsource\n# another\nw\turl:https://host/a.whl#inner/path.fa\n")
    sheet = load_datasets_sheet(sheet_path, schemas[1])
    assert list(sheet) == ["w"] and sheet["w"]["source"] == "url:https://host/a.whl#inner/path.fa"


def test_unknown_dataset_architecture_and_hyper_parameter(tmp_path, schemas):
    sheet = load_datasets_sheet(_write_sheet(tmp_path / "s.tsv", [["sim", "simulated:", ""]]), schemas[1])
    with pytest.raises(LifedlError, match=r"\['pbmc'\], not in s.tsv"):
        selected_datasets({"datasets": ["pbmc"]}, sheet, "s.tsv")
    with pytest.raises(LifedlError, match="unknown architecture 'gpt'"):
        get_architecture("gpt")
    with pytest.raises(LifedlError, match=r"unknown hyper-parameter\(s\) \['n_latnet'\]"):
        get_architecture("vae").resolve_params({"n_latnet": 3})


def test_dataset_architectures_follow_config_sheet_list_and_needs(monkeypatch):
    from lifedl.config import dataset_architectures
    from lifedl.models import ARCHITECTURES, Architecture

    # the dataclass's defaults: reads cells, compared with PCA
    needy = Architecture("needy", "lifedl.models.vae", "needs a condition", {}, needs=("condition",))
    assert needy.data_kind == "cells" and needy.baseline == "pca"
    monkeypatch.setitem(ARCHITECTURES, "needy", needy)
    row = {"id": "d", "kind": "cells", "condition": "", "architectures": ""}
    # no list in the sheet: config's architectures that the row can feed, their baseline (PCA) first
    assert dataset_architectures(["vae", "needy", "ae"], row, "sheet.tsv") == ["pca", "vae", "ae"]
    with_condition = row.copy()
    with_condition["condition"] = "stim"
    assert dataset_architectures(["vae", "needy"], with_condition, "sheet.tsv") == ["pca", "vae", "needy"]
    # the baseline comes once, first, even where config names it later or not at all
    assert dataset_architectures(["ae", "pca", "vae"], row, "sheet.tsv") == ["pca", "ae", "vae"]
    # a list in the sheet restricts config's list; the chosen architectures' baseline stays
    listed = with_condition.copy()
    listed["architectures"] = "needy, vae"
    assert dataset_architectures(["ae", "vae", "needy"], listed, "sheet.tsv") == ["pca", "vae", "needy"]
    # nothing the row can feed: no baseline either (PCA alone only where config names it), and a data set left
    # with no model at all is refused, naming the architectures that would read it
    with pytest.raises(LifedlError, match=r"dataset 'd' \(kind 'cells', sheet.tsv\) would run no model.*e.g. \['pca'"):
        dataset_architectures(["needy"], row, "sheet.tsv")
    assert dataset_architectures(["pca", "needy"], row, "sheet.tsv") == ["pca"]
    # the data kind picks the architectures (empty kind = cells) and so the baseline: k-mers for sequences
    every = ["pca", "vae", "needy", "kmer", "cnn"]
    sequences = {"id": "s", "kind": "sequences", "labels": "label", "condition": "", "architectures": ""}
    assert dataset_architectures(every, sequences, "sheet.tsv") == ["kmer", "cnn"]
    assert dataset_architectures(["cnn"], sequences, "sheet.tsv") == ["kmer", "cnn"]
    # an architecture that uses another's trained model brings it, before itself (the agent rewarded by the CNN)
    assert dataset_architectures(["dqn_oracle"], sequences, "sheet.tsv") == ["cnn", "dqn_oracle"]
    no_kind = row.copy()
    no_kind["kind"] = ""
    assert dataset_architectures(every, no_kind, "sheet.tsv") == ["pca", "vae"]
    # a sequence classifier needs its labels, like any role
    unlabelled = sequences.copy()
    unlabelled["labels"] = ""
    with pytest.raises(LifedlError, match="would run no model"):
        dataset_architectures(every, unlabelled, "sheet.tsv")
    # listing an architecture of another data kind is an error naming both kinds
    wrong_kind = row.copy()
    wrong_kind["architectures"] = "vae, cnn"
    message = r"sheet.tsv: dataset 'd' \(kind 'cells'\) lists architecture 'cnn', which reads 'sequences'"
    with pytest.raises(LifedlError, match=message):
        dataset_architectures(every, wrong_kind, "sheet.tsv")
    # a listed architecture whose needs are not met, or an unknown one, is an error naming the fix
    bad = row.copy()
    bad["architectures"] = "needy"
    with pytest.raises(
        LifedlError, match=r"sheet.tsv: dataset 'd' lists architecture 'needy', which needs .*condition"
    ):
        dataset_architectures(["needy"], bad, "sheet.tsv")
    bad["architectures"] = "vea"
    with pytest.raises(LifedlError, match="unknown architecture 'vea'"):
        dataset_architectures(["vae"], bad, "sheet.tsv")


def test_a_row_listing_an_architecture_the_run_leaves_out_says_so(capsys):
    """A row's 'architectures' selects among config's; one config does not name is not run, and a note says so."""
    from lifedl.config import dataset_architectures

    row = {"id": "d", "kind": "cells", "labels": "", "architectures": "vae, dae"}
    assert dataset_architectures(["pca", "vae"], row, "sheet.tsv") == ["pca", "vae"]
    assert "dataset 'd' lists ['dae'] in sheet.tsv, which config 'architectures' does not include" in (
        capsys.readouterr().err
    )


def test_datasets_and_a_config_option_in_snakemake_args_combine(repo):
    """Snakemake keeps only the last --config: `make run DATASETS=a SNAKEMAKE_ARGS="--config 'x=..'"` ran the
    default data sets. Both now reach one --config."""
    import subprocess

    def command(*arguments):
        shown = subprocess.run(["make", "-n", "run", *arguments], cwd=repo, capture_output=True, text=True).stdout
        return next(line for line in shown.splitlines() if "timed-run.sh" in line)

    combined = command("DATASETS=sim_batches", "SNAKEMAKE_ARGS=--config 'architectures=[pca,dae]'")
    assert combined.split().count("--config") == 1  # (make run's own --configfile is another option)
    assert "'datasets=[sim_batches]'" in combined and "'architectures=[pca,dae]'" in combined
    assert "--config 'datasets=[sim_batches]'" in command("DATASETS=sim_batches")
    assert "--config" not in command().split()
