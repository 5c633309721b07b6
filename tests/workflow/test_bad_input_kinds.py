"""The catalogue of bad inputs, round three: the newer data kinds (sequences from FASTA, molecules from CSV,
CITE-seq cells+protein), the notebook API (lifedl.fit, Model.embed / save, lifedl.load) and the table the MLflow
pyfunc model embeds. Each case feeds one input a user could produce and checks that it is refused with a
LifedlError whose message names what is wrong, the cause and the fix; where accepting the input is right, the
case checks the result instead. Tiny data and two-epoch models: the file runs in seconds."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import lifedl
from lifedl.data import SimulationParams, simulate_counts
from lifedl.data.spec import UNS_KEY, DatasetSpec
from lifedl.errors import LifedlError

TINY = {"max_epochs": 2, "patience": 2, "n_hidden": 16, "n_latent": 2, "batch_size": 16}


def _cells(n_cells=80, **params):
    return simulate_counts(SimulationParams(n_cells=n_cells, n_genes=30, n_types=2, seed=0, **params))


def _cite():
    """CITE-seq cells: RNA counts and four proteins' counts in obsm['protein_counts'] (needs 4 types)."""
    return simulate_counts(SimulationParams(n_cells=80, n_genes=30, n_types=4, n_proteins=4, seed=0))


def _sequences():
    from lifedl.data.sequences import SequenceSimulationParams, simulate_sequences

    return simulate_sequences(SequenceSimulationParams(n_sequences=40, length=30, seed=0))


def _refused(call, *expected) -> str:
    """``call()`` raises a LifedlError whose message holds every ``expected`` text; returns the message."""
    with pytest.raises(LifedlError) as error:
        call()
    message = str(error.value)
    for text in expected:
        assert text in message, message
    return message


def _with_counts(adata, change):
    counts = adata.layers["counts"].toarray().astype(np.float32)
    change(counts)
    adata.layers["counts"] = sp.csr_matrix(counts)
    return adata


def _without_counts_layer():
    adata = _cells()
    adata.X = adata.layers.pop("counts")  # counts only in X, as many a hand-made AnnData holds them
    return adata


def _with_nan_batches():
    adata = _cells(n_batches=2)
    adata.obs["batch"] = adata.obs["batch"].astype(object)
    adata.obs.iloc[:5, adata.obs.columns.get_loc("batch")] = np.nan
    return adata


# ----------------------------------------------------------------- notebook API: the data given to lifedl.fit

FIT = "the AnnData passed to lifedl.fit"


@pytest.mark.parametrize(
    "make, arch, kwargs, expected",
    [
        (_without_counts_layer, "pca", {}, [FIT, "no layers['counts']", "adata.layers['counts'] = adata.X.copy()"]),
        (
            lambda: _with_counts(_cells(), lambda c: c.__setitem__((0, 0), np.nan)),
            "pca",
            {},
            [f"{FIT} layers['counts']", "NaN or inf values", "supply raw UMI counts"],
        ),
        (
            lambda: _with_counts(_cells(), lambda c: c.__setitem__((0, 0), -1)),
            "pca",
            {},
            [f"{FIT} layers['counts']", "negative values", "supply raw UMI counts"],
        ),
        (
            lambda: _cells().to_df(),
            "pca",
            {},
            ["lifedl.fit(adata, ...)", "got a DataFrame, not an AnnData", "adata = anndata.AnnData(table)"],
        ),
        (
            _with_nan_batches,
            "vae",
            {"roles": {"batch": "batch"}, **TINY},
            [FIT, "5 cell(s) without a batch in obs['batch']", "give every cell its batch"],
        ),
        (lambda: _cells(3), "pca", {}, [FIT, "3 rows split into", "every split needs rows", "use more rows"]),
    ],
    ids=["counts-only-in-X", "nan-counts", "negative-counts", "a-dataframe", "batch-with-nan", "three-cells"],
)
def test_fit_refuses_data_it_cannot_read(tmp_path, make, arch, kwargs, expected):
    """Counts only in X were blamed on the download and qc rules, NaN or negative counts on 'the cells' (PCA), a
    DataFrame was an AttributeError, and cells without a batch trained as one more batch named 'nan'."""
    adata = make()
    _refused(lambda: lifedl.fit(adata, arch, work_dir=tmp_path, **kwargs), *expected)


@pytest.mark.parametrize(
    "make, arch, roles, expected",
    [
        (
            _cells,
            "multivae",
            {},
            ["lifedl.fit(..., 'multivae')", "reads cells+protein data", "obsm['protein_counts']",
             "but the AnnData holds cells data", "architectures that read cells (pca,"],
        ),
        (_sequences, "pca", {}, ["'pca' reads cells data", "holds sequences data", "read sequences (gc, kmer, cnn"]),
        (_cells, "cnn", {"labels": "cell_type"}, ["'cnn' reads sequences data", "holds cells data", "(pca,"]),
        (
            _cells,
            "scgen",
            {"labels": "cell_type"},
            ["lifedl.fit(..., 'scgen')", "needs the role(s) ['condition', 'control', 'heldout']",
             "pass them, e.g. roles={'condition': ...}"],
        ),
    ],
    ids=["multivae-on-cells", "pca-on-sequences", "cnn-on-cells", "scgen-without-condition"],
)  # fmt: skip
def test_an_architecture_of_another_kind_or_without_its_roles_stops_before_the_split(
    tmp_path, make, arch, roles, expected
):
    """multivae on cells was a KeyError, a cells model on sequences blamed the download rules, a sequence model on
    cells called the counts bad letters, and scgen without a condition pointed at config/datasets.tsv."""
    adata = make()
    _refused(lambda: lifedl.fit(adata, arch, work_dir=tmp_path, roles=roles), *expected)
    assert "lifedl_split" not in adata.obs and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "training, expected",
    [
        pytest.param(
            {"accelerator": "gpu"},
            [
                "lifedl.fit(..., training=...): accelerator is 'gpu'",
                "no CUDA device",
                "training={'accelerator': 'cpu'}",
            ],
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU"),
        ),
        ({"acelerator": "cpu"}, ["unknown setting(s) ['acelerator']", "the settings are ['accelerator', 'devices'"]),
    ],
    ids=["gpu-without-one", "misspelt-setting"],
)
def test_training_settings_are_checked_before_a_fit(tmp_path, training, expected):
    """A GPU asked for in a notebook was told to edit config/config.yaml; a misspelt setting was a TypeError."""
    adata = _cells()
    _refused(lambda: lifedl.fit(adata, "vae", work_dir=tmp_path, training=training, **TINY), *expected)
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------- notebook API: models and their files


@pytest.fixture(scope="module")
def pca(tmp_path_factory):
    return lifedl.fit(_cells(n_batches=2), "pca", work_dir=tmp_path_factory.mktemp("pca"), n_components=3)


def _write_text(path):
    path.write_text("not a checkpoint\n")
    return path


def _write_other_torch_file(path):
    torch.save({"weights": torch.zeros(2)}, path)
    return path


def _a_file(path):
    path.write_text("x")
    return path / "model.ckpt"


@pytest.mark.parametrize(
    "call, expected",
    [
        (
            lambda model, tmp: model.embed(_cells().to_df()),
            ["Model.embed(adata)", "got a DataFrame", "anndata.AnnData"],
        ),
        (
            lambda model, tmp: lifedl.load(tmp / "nope.ckpt"),
            ["nope.ckpt: no such file", "Model.save or the train rule"],
        ),
        (
            lambda model, tmp: lifedl.load(_write_text(tmp / "notes.txt")),
            ["notes.txt: not a readable checkpoint", "rerun the train rule for it"],
        ),
        (
            lambda model, tmp: lifedl.load(_write_other_torch_file(tmp / "weights.pt")),
            ["weights.pt: a torch file, but not a lifedl checkpoint", "read this one with torch.load"],
        ),
        (
            lambda model, tmp: model.save(_a_file(tmp / "models")),
            ["cannot write", "models/model.ckpt: File exists", "each folder on its way a folder", "give another path"],
        ),
    ],
    ids=["embed-a-dataframe", "load-a-missing-path", "load-a-text-file", "load-a-torch-file", "save-under-a-file"],
)
def test_model_files_and_embed_name_the_path_and_the_fix(pca, tmp_path, call, expected):
    """A DataFrame to embed was an AttributeError, saving under a file a FileExistsError; a missing checkpoint was
    told to rerun the train rule."""
    _refused(lambda: call(pca, tmp_path), *expected)
    assert not list(tmp_path.rglob(".*.tmp*"))  # nothing half-written


def test_save_into_a_missing_directory_makes_it_and_loads_back(pca, tmp_path):
    """Accepting is right: Model.save makes the folders, as the workflow's outputs do."""
    path = tmp_path / "new" / "folder" / "pca.ckpt"
    pca.save(path)
    cells = _cells()
    np.testing.assert_array_equal(lifedl.load(path).embed(cells), pca.embed(cells))


def test_a_view_passed_to_fit_gets_the_split_and_leaves_its_parent_alone(tmp_path):
    """Accepting is right: anndata turns the view into its own AnnData when fit writes obs['lifedl_split'] (in
    place, as documented), so the rows fit held out are there to read and the parent is not changed."""
    parent = _cells()
    view = parent[:50]
    with pytest.warns(UserWarning, match="view"):  # anndata's ImplicitModificationWarning
        model = lifedl.fit(view, "pca", work_dir=tmp_path, n_components=3)
    assert not view.is_view and set(view.obs["lifedl_split"]) == {"train", "validation", "test"}
    assert "lifedl_split" not in parent.obs and parent.n_obs == 80
    assert model.embed(view).shape == (50, 3)


# ----------------------------------------------------------------- the MLflow pyfunc model's table


@pytest.fixture(scope="module")
def batch_vae(tmp_path_factory):
    cells = _cells(n_batches=2)
    return lifedl.fit(cells, "vae", work_dir=tmp_path_factory.mktemp("vae"), roles={"batch": "batch"}, **TINY)


@pytest.fixture(scope="module")
def multivae(tmp_path_factory):
    return lifedl.fit(_cite(), "multivae", work_dir=tmp_path_factory.mktemp("multivae"), **TINY)


def _table(model, n_cells=20):
    """A table of integer counts on the model's genes (plus its batch and protein columns), as a client sends."""
    from lifedl.train.pyfunc import example_input

    cells = _cite() if getattr(model, "proteins", None) else _cells(n_batches=2)
    return example_input(model.trained, cells, n_cells).astype({gene: np.int64 for gene in model.gene_names})


def _predict(model, table):
    from lifedl.train.pyfunc import LifedlModel

    wrapper = LifedlModel()
    wrapper.model = model.trained
    return wrapper.predict(None, table)


def _set(table, column, value):
    table = table.astype({column: object})
    table.iloc[0, table.columns.get_loc(column)] = value
    return table


@pytest.mark.parametrize(
    "model, damage, expected",
    [
        (
            "pca",
            lambda t: t.drop(columns=t.columns[:3]),
            ["the cells to embed lack 3 of the model's 30 genes", "embed cells measured on the same genes"],
        ),
        (
            "batch_vae",
            lambda t: t.assign(batch="batch_9"),
            ["the batches in obs['batch'] ['batch_9'] were not seen in training", "known: ['batch_0', 'batch_1']",
             "give each cell one of the known values"],
        ),
        (
            "batch_vae",
            lambda t: t.drop(columns="batch"),
            ["the cells lack obs column 'batch'", "the batch the model is conditioned on", "a column 'batch'"],
        ),
        (
            "pca",
            lambda t: _set(t, t.columns[0], -2),
            ["the table to embed (gene columns)", "negative values", "supply raw UMI counts"],
        ),
        (
            "pca",
            lambda t: _set(t, t.columns[0], "five"),
            ["gene column 'MT-SIM1' holds 'five'", "not a number", "not text"],
        ),
        ("batch_vae", lambda t: t.iloc[:0], ["the table to embed has 0 rows", "one row of counts per cell"]),
        ("pca", lambda t: t.to_numpy(), ["the input to embed is a ndarray, not a table", "pandas DataFrame"]),
        (
            "multivae",
            lambda t: _set(t, "protein:PROT02", -4),
            ["the table to embed (protein columns)", "negative values", "supply raw UMI counts"],
        ),
        (
            "multivae",
            lambda t: t.drop(columns=[c for c in t.columns if c.startswith("protein:")]),
            ["the table to embed lacks 4 of the model's protein columns", "add one column 'protein:<name>'"],
        ),
    ],
    ids=[
        "missing-genes",
        "unseen-batch",
        "no-batch-column",
        "negative-count",
        "text-in-a-gene-column",
        "zero-rows",
        "not-a-dataframe",
        "negative-protein-count",
        "no-protein-columns",
    ],
)  # fmt: skip
def test_the_pyfunc_model_refuses_a_table_it_cannot_embed(request, model, damage, expected):
    """Text in a gene column was a ValueError, an empty table for a network a torch.cat error, an array an
    AttributeError, and negative protein counts were embedded without a word."""
    model = request.getfixturevalue(model)
    table = _table(model)
    assert len(_predict(model, table)) == len(table)  # the undamaged table embeds
    _refused(lambda: _predict(model, damage(table)), *expected)


# ----------------------------------------------------------------- sequences from FASTA


def _fasta(records) -> str:
    return "".join(f">{name}\n{letters}\n" for name, letters in records)


RANDOM = ["".join(np.random.default_rng(seed).choice(list("ACGT"), 12)) for seed in range(12)]


@pytest.mark.parametrize(
    "files, expected",
    [
        ([("x.fa", ">a\nACGT\n>b\n>c\nACGA\n", "l", "train")], ["x.fa", "1 header(s) have no sequence after them",
                                                                 "(e.g. ['b'])", "drop the empty records"]),
        ([("x.fa", ">a\n>b\n", "l", "train")], ["x.fa: 2 header(s) have no sequence after them"]),
        (
            [("pos.fa", _fasta([("p1", RANDOM[0]), ("p2", RANDOM[1])]), "pos", "train"),
             ("test.fa", _fasta([("t1", RANDOM[0].lower())]), "pos", "test")],
            ["2 FASTA files: 1 sequence(s) appear in more than one record", "'pos:p1' (pos.fa), 'pos:t1' (test.fa)",
             "trained on and scored at once", "seqkit rmdup"],
        ),
        (
            [("pos.fa", _fasta([("p1", RANDOM[0])]), "pos", "train"),
             ("neg.fa", _fasta([("n1", RANDOM[1]), ("n2", RANDOM[0])]), "neg", "train")],
            ["'pos:p1' (pos.fa), 'neg:n2' (neg.fa)", "carry two labels", "under one label"],
        ),
    ],
    ids=["an-empty-record", "only-empty-records", "one-sequence-in-train-and-test", "one-sequence-under-two-labels"],
)  # fmt: skip
def test_fasta_records_a_model_cannot_use_are_refused(files, expected):
    """An empty record was blamed on the sequences' lengths (a file of empty records was read as sequences of
    length 0); a sequence in the train and the test file, or under two labels, was read without a word."""
    from lifedl.data.sequences import sequences_from_fasta

    _refused(lambda: sequences_from_fasta(files), *expected)


@pytest.mark.parametrize(
    "data",
    [b"\xef\xbb\xbf>a\nACGTAC\n>b\nTTGACA\n", b">a\r\nACG\r\nTAC\r\n>b\r\nTTGACA\r\n"],
    ids=["utf8-bom", "windows-line-endings"],
)
def test_a_fasta_with_a_bom_or_windows_line_endings_reads_as_the_plain_one(data):
    """A byte-order mark (as Windows editors write) made line 1 'letters before any header'; CRLF already read."""
    from lifedl.data.sequences import fasta_text, sequences_from_fasta

    plain = sequences_from_fasta([("x.fa", ">a\nACGTAC\n>b\nTTGACA\n", "l", "train")])
    adata = sequences_from_fasta([("x.fa", fasta_text(data, "x.fa"), "l", "train")])
    assert list(adata.obs_names) == ["l:a", "l:b"]
    np.testing.assert_array_equal(adata.X, plain.X)


def test_fasta_files_of_one_class_are_refused_by_a_classifier_with_the_fix(tmp_path):
    """The message named the cause only (a classifier needs two classes); it now says what to give it."""
    from lifedl.data.sequences import sequences_from_fasta

    adata = sequences_from_fasta(
        [("a.fa", _fasta([(f"a{i}", s) for i, s in enumerate(RANDOM[:6])]), "bound", "train"),
         ("b.fa", _fasta([(f"b{i}", s) for i, s in enumerate(RANDOM[6:])]), "bound", "train")]
    )  # fmt: skip
    _refused(
        lambda: lifedl.fit(adata, "kmer", work_dir=tmp_path, roles={"labels": "label"}),
        FIT,
        "obs['label'] has 1 class(es) ['bound']",
        "a classifier needs at least 2: give it sequences of two or more classes",
    )


# ----------------------------------------------------------------- molecules from a CSV of SMILES

MOLECULES = ["CCO", "CCCO", "c1ccccc1O", "Cc1ccccc1", "C1CCCCC1", "CC", "CCN", "OCCO"]
CSV = "name,smiles,expt\n" + "".join(f"m{i},{smiles},{-i / 2}\n" for i, smiles in enumerate(MOLECULES))


def _graph_qc(text):
    from lifedl.data.graphs import molecules_from_csv
    from lifedl.pp.graphs import graph_qc

    adata = molecules_from_csv(text, "mols.csv")
    graph_qc(adata, DatasetSpec("mols", kind="graphs", labels="expt", file="mols.csv"))
    return adata


@pytest.mark.parametrize(
    "text, expected",
    [
        (CSV.replace("CCN", ""), ["mols.csv", "1 molecule(s) have no SMILES (an empty cell; first: row 6)",
                                  "fill in their SMILES or drop those rows"]),
        (CSV.replace("-3.0", "inf"), ["mols.csv", "lack a number in 'expt'", "'mol6: inf'", "Fill or drop those rows"]),
        (CSV.replace(",", ";"), ["mols.csv", "the header 'name;smiles;expt' reads as one column",
                                 "separated by semicolons, not commas", "write it with commas"]),
        ("", ["mols.csv: an empty file", "point the source at the CSV of molecules"]),
        (CSV.replace("smiles", "SMILES"), ["mols.csv: no 'smiles' column", "'SMILES'",
                                           "name the column of SMILES strings 'smiles'"]),
    ],
    ids=["empty-smiles-cell", "infinite-target", "semicolon-separated", "empty-file", "upper-case-header"],
)  # fmt: skip
def test_a_csv_of_molecules_that_cannot_be_read_names_the_cause(text, expected):
    """An empty SMILES cell was reported as the unparsable SMILES 'nan', a semicolon-separated file as a missing
    smiles column, an empty file as pandas' EmptyDataError; an infinite target was already refused."""
    _refused(lambda: _graph_qc(text), *expected)


def test_a_csv_with_a_bom_reads_its_smiles_column():
    """Accepting is right (already so): pandas drops the byte-order mark, so 'smiles' is found."""
    adata = _graph_qc("\ufeff" + CSV)
    assert list(adata.obs["smiles"]) == MOLECULES and list(adata.obs.columns[:3]) == ["name", "smiles", "expt"]


# ----------------------------------------------------------------- CITE-seq cells+protein


def _proteins(adata):
    return adata.obsm["protein_counts"]


def _set_protein(value):
    def damage(adata):
        adata.obsm["protein_counts"] = _proteins(adata).astype(np.float64)
        _proteins(adata).iloc[0, 0] = value

    return damage


def _repeat_a_protein(adata):
    _proteins(adata).columns = ["PROT01", "PROT01", "PROT03", "PROT04"]


def _drop_proteins_of_a_cite_data_set(adata):
    del adata.obsm["protein_counts"]
    adata.uns[UNS_KEY] = DatasetSpec("cite", kind="cells+protein").to_uns()


@pytest.mark.parametrize(
    "damage, arch, expected",
    [
        (_set_protein(-3), "pca_protein", [f"{FIT} obsm['protein_counts']", "negative values", "supply raw UMI"]),
        (_set_protein(np.nan), "concat_ae", [f"{FIT} obsm['protein_counts']", "NaN or inf values", "supply raw UMI"]),
        (_repeat_a_protein, "multivae", [f"{FIT} obsm['protein_counts'] names 1 protein(s) more than once",
                                         "(e.g. ['PROT01'])", "give each antibody one column"]),
        (_drop_proteins_of_a_cite_data_set, "multivae", [f"{FIT} has no obsm['protein_counts']",
                                                         "'Antibody Capture' features"]),
    ],
    ids=["negative-protein-counts", "nan-protein-counts", "a-protein-named-twice", "no-protein-counts"],
)  # fmt: skip
def test_protein_counts_a_model_cannot_read_are_refused(tmp_path, damage, arch, expected):
    """Negative or NaN protein counts were scikit-learn's NaN error (PCA) or a state_dict error (concat_ae), a
    protein named twice an AttributeError from anndata, no protein counts a KeyError."""
    adata = _cite()
    damage(adata)
    _refused(lambda: lifedl.fit(adata, arch, work_dir=tmp_path, **(TINY if arch != "pca_protein" else {})), *expected)


def test_a_protein_named_twice_is_refused_at_download():
    """check_proteins (what load_source runs on a cells+protein data set) let the repeat through to training."""
    from lifedl.pp.protein import check_proteins

    adata = _cite()
    _repeat_a_protein(adata)
    _refused(
        lambda: check_proteins(adata, "cite.h5"), "cite.h5 obsm['protein_counts'] names 1 protein(s) more than once"
    )


def test_protein_counts_as_an_unnamed_array_train_under_default_names(tmp_path):
    """Accepting is right: an array's proteins are named protein_<i>, as when their counts are read (multivae saw
    no protein and failed on a tensor size)."""
    adata = _cite()
    adata.obsm["protein_counts"] = _proteins(adata).to_numpy()
    model = lifedl.fit(adata, "multivae", work_dir=tmp_path, **TINY)
    assert model.proteins == ["protein_0", "protein_1", "protein_2", "protein_3"]
    assert model.embed(adata).shape == (80, TINY["n_latent"])
