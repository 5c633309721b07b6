from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    archs, datasets = snakemake.params.archs, snakemake.params.datasets
    per_dataset = {}
    for i, dataset in enumerate(datasets):
        figures = f"results/{dataset}/figures"
        per_dataset[dataset] = {
            "metrics": snakemake.input.metrics[i * len(archs) : (i + 1) * len(archs)],
            "run_jsons": snakemake.input.run_jsons[i * len(archs) : (i + 1) * len(archs)],
            "qc_h5ad": snakemake.input.qc[i],
            "figures": [
                (f"{figures}/umap.png", "UMAP of each embedding, coloured by label and by Leiden cluster"),
                (f"{figures}/training_curves.png", "Per-epoch training and validation loss parts (from MLflow)"),
                (f"{figures}/qc_metrics.png", "QC metrics before filtering, with thresholds"),
                (f"{figures}/qc_hvg.png", "Highly variable genes (seurat_v3 on counts)"),
            ],
        }
    steps.report(per_dataset, snakemake.params.tracking_uri, snakemake.output[0])
