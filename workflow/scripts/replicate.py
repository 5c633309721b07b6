from lifedl import steps
from lifedl.logs import logged

# One more seed of a scored architecture: trained (an MLflow run named '<arch> seed <n>', not registered), then
# scored as the main model is: a classifier or regressor on the same held-out rows (rule replicate); a
# representation embedded, clustered with the same seed and evaluated on the same cells (rule
# replicate_representation; its embedding is not kept).
with logged(snakemake.log[0]):
    arch, seed, dataset = snakemake.wildcards.arch, int(snakemake.wildcards.seed), snakemake.wildcards.dataset
    settings = steps.TrainSettings.of_job(
        snakemake,
        seed=seed,
        tags={"snakemake_rule": snakemake.rule, "replicate_of": arch},
        run_name=f"{arch} seed {seed}",
        pyfunc=False,
        register=False,
    )
    if snakemake.rule == "replicate":  # the main seed's search result, not a new search
        settings = settings.with_choices_of(snakemake.input.chosen)
    steps.train(
        qc_h5ad=snakemake.input[0],
        checkpoint=snakemake.output.checkpoint,
        run_json=snakemake.output.run_json,
        settings=settings,
        history=snakemake.output.history,
        models=getattr(snakemake.input, "models", []),  # checkpoints of the models it uses (none for most)
    )
    if snakemake.rule == "replicate_representation":  # embedded, clustered and scored; the embedding not kept
        params = snakemake.params
        steps.embed(
            qc_h5ad=snakemake.input[0],
            checkpoint=snakemake.output.checkpoint,
            output=None,
            metrics=snakemake.output.metrics,
            arch=arch,
            dataset=dataset,
            n_neighbors=params.n_neighbors,
            resolutions=params.resolutions,
            default_resolution=params.default_resolution,
            seed=seed,
        )
    else:
        steps.score_held_out(
            qc_h5ad=snakemake.input[0],
            checkpoint=snakemake.output.checkpoint,
            output=snakemake.output.metrics,
            predictions=snakemake.output.predictions,
            arch=arch,
            dataset=dataset,
        )
