# Generators and perturbation models are measured as their papers measure them,
# beside a baseline computed the same way in the same job (lifedl.steps.generate / .perturbation).


rule generate:
    input:
        qc_h5ad="results/{dataset}/qc.h5ad",
        checkpoint="results/{dataset}/models/{arch}/model.ckpt",
        run_json="results/{dataset}/models/{arch}/run.json",
    output:
        generated="results/{dataset}/generated/{arch}.h5ad",
        metrics="results/{dataset}/metrics/{arch}.tsv",
        umap=report(
            "results/{dataset}/figures/{arch}_realism_umap.png",
            caption="../report/generator.rst",
            category="{dataset}",
            subcategory="Generative models",
        ),
        means=report(
            "results/{dataset}/figures/{arch}_gene_means.png",
            caption="../report/generator.rst",
            category="{dataset}",
            subcategory="Generative models",
        ),
    log:
        "results/{dataset}/logs/generate_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/generate_{arch}.tsv"
    wildcard_constraints:
        arch=arch_pattern("generator"),
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("evaluate")["threads"]
    resources:
        mem_mb=mem_mb("evaluate"),
        runtime=rule_resources("evaluate")["runtime"],
    params:
        seed=config["seed"],
    script:
        "../scripts/generate.py"


rule perturbation:
    input:
        qc_h5ad="results/{dataset}/qc.h5ad",
        checkpoint="results/{dataset}/models/{arch}/model.ckpt",
        run_json="results/{dataset}/models/{arch}/run.json",
    output:
        predicted="results/{dataset}/predictions/{arch}.h5ad",
        metrics="results/{dataset}/metrics/{arch}.tsv",
        figure=report(
            "results/{dataset}/figures/{arch}_response.png",
            caption="../report/perturbation.rst",
            category="{dataset}",
            subcategory="Perturbation",
        ),
    log:
        "results/{dataset}/logs/perturbation_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/perturbation_{arch}.tsv"
    wildcard_constraints:
        arch=arch_pattern("perturbation"),
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("evaluate")["threads"]
    resources:
        mem_mb=mem_mb("evaluate"),
        runtime=rule_resources("evaluate")["runtime"],
    params:
        seed=config["seed"],
    script:
        "../scripts/perturbation.py"


rule sample_realism:
    input:
        qc_h5ad="results/{dataset}/qc.h5ad",
        generator=lambda wildcards: f"results/{wildcards.dataset}/models/{realism_generator(wildcards.dataset)}/model.ckpt",
        samplers=lambda wildcards: [
            f"results/{wildcards.dataset}/models/{arch}/model.ckpt"
            for arch in archs_with(wildcards.dataset, "prior_samples")
        ],
    output:
        report("results/{dataset}/realism.tsv", caption="../report/realism.rst", category="{dataset}"),
    log:
        "results/{dataset}/logs/sample_realism.log",
    benchmark:
        "results/{dataset}/benchmarks/sample_realism.tsv"
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("evaluate")["threads"]
    resources:
        mem_mb=mem_mb("evaluate"),
        runtime=rule_resources("evaluate")["runtime"],
    params:
        samplers=lambda wildcards: archs_with(wildcards.dataset, "prior_samples"),
        seed=config["seed"],
    script:
        "../scripts/sample_realism.py"


rule leave_one_type_out:
    input:
        "results/{dataset}/qc.h5ad",
    output:
        summary=report(
            "results/{dataset}/loto/{arch}.tsv", caption="../report/leave_one_type_out.rst", category="{dataset}"
        ),
        runs="results/{dataset}/loto/{arch}_runs.tsv",
    log:
        "results/{dataset}/logs/leave_one_type_out_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/leave_one_type_out_{arch}.tsv"
    wildcard_constraints:
        arch=arch_pattern("perturbation"),
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("train")["threads"]
    resources:
        mem_mb=mem_mb("train"),
        runtime=rule_resources("train")["runtime"],
        gpu=rule_resources("train").get("gpu", 0),
    params:
        hyper_parameters=lambda wildcards: dataset_params(config, wildcards.dataset, wildcards.arch),
        seeds=lambda wildcards: leave_one_type_out_seeds(wildcards.dataset),
        training=one_process_training(),
    script:
        "../scripts/leave_one_type_out.py"


rule augmentation:
    input:
        "results/{dataset}/qc.h5ad",
    output:
        summary=report(
            "results/{dataset}/augmentation/{arch}.tsv", caption="../report/augmentation.rst", category="{dataset}"
        ),
        runs="results/{dataset}/augmentation/{arch}_runs.tsv",
    log:
        "results/{dataset}/logs/augmentation_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/augmentation_{arch}.tsv"
    wildcard_constraints:
        arch=arch_pattern("generator"),
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("train")["threads"]
    resources:
        mem_mb=mem_mb("train"),
        runtime=rule_resources("train")["runtime"],
        gpu=rule_resources("train").get("gpu", 0),
    params:
        rare_type=lambda wildcards: config["augmentation"]["rare_types"][wildcards.dataset],
        n_rare=config["augmentation"]["n_rare"],
        hyper_parameters=lambda wildcards: dataset_params(config, wildcards.dataset, wildcards.arch)
        | ({"max_epochs": config["augmentation"]["max_epochs"]} if config["augmentation"]["max_epochs"] else {}),
        used_hyper_parameters=lambda wildcards: {
            name: dataset_params(config, wildcards.dataset, name)
            for name in get_architecture(wildcards.arch).uses_models
        },
        seeds=list(dict.fromkeys([config["seed"], *config["augmentation"]["seeds"]])),
        training=one_process_training(),
    script:
        "../scripts/augmentation.py"


rule realism_budget:
    input:
        "results/{dataset}/qc.h5ad",
    output:
        report(
            "results/{dataset}/realism_budget/{arch}.tsv", caption="../report/realism_budget.rst", category="{dataset}"
        ),
    log:
        "results/{dataset}/logs/realism_budget_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/realism_budget_{arch}.tsv"
    wildcard_constraints:
        arch=arch_pattern("generator"),
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("train")["threads"]
    resources:
        mem_mb=mem_mb("train"),
        runtime=rule_resources("train")["runtime"],
        gpu=rule_resources("train").get("gpu", 0),
    params:
        hyper_parameters=lambda wildcards: dataset_params(config, wildcards.dataset, wildcards.arch),
        max_epochs=config["realism_budget"]["max_epochs"],
        every=config["realism_budget"]["every"],
        seed=config["seed"],
        training=one_process_training(),
    script:
        "../scripts/realism_budget.py"
