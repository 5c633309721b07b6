from lifedl import steps
from lifedl.logs import logged

CAPTIONS = {
    "umap": "UMAP of each embedding, coloured by label and by Leiden cluster",
    "training_curves": "Per-epoch training and validation loss parts (from MLflow)",
    "qc_metrics": "QC metrics before filtering, with thresholds",
    "qc_hvg": "Highly variable genes (seurat_v3 on counts)",
    "seed004_panel": "Seed 004: PCA, AE, VAE, tSNE on PCA, tSNE on AE, UMAP on PCA - the same cells by label",
    "ldvae_loadings": "LDVAE: top-loading genes per latent factor",
    "vega_programs": "VEGA: mean gene-program activity per cell type",
    "vae_interpolation": "VAE latent interpolation between two cell types' centroids, decoded",
}

with logged(snakemake.log[0]):
    archs, datasets = snakemake.params.archs, snakemake.params.datasets
    per_dataset = {}
    for i, dataset in enumerate(datasets):
        prefix = f"results/{dataset}/"
        figures = [path for path in snakemake.input.figures if path.startswith(prefix)]
        figures += [path for path in snakemake.input.paper_figures if path.startswith(prefix)]
        per_dataset[dataset] = {
            "metrics": snakemake.input.metrics[i * len(archs) : (i + 1) * len(archs)],
            "run_jsons": snakemake.input.run_jsons[i * len(archs) : (i + 1) * len(archs)],
            "qc_h5ad": snakemake.input.qc[i],
            "figures": [(path, CAPTIONS[path.rsplit("/", 1)[1].removesuffix(".png")]) for path in figures],
            "tables": [
                ("Held-out log-likelihood per likelihood (same VAE, same validation cells)", path)
                for path in snakemake.input.likelihood_tables
                if path.startswith(prefix)
            ],
        }
    steps.report(per_dataset, snakemake.params.tracking_uri, snakemake.output[0])
