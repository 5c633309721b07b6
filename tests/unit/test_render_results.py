"""docs/results.md is written from results files: values, tables, missing inputs and the template itself."""

import importlib.util
import json
import re

import pytest


@pytest.fixture(scope="module")
def render_results(repo):
    spec = importlib.util.spec_from_file_location("render_results", repo / "scripts/render_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "results"
    (root / "d" / "models" / "vae").mkdir(parents=True)
    (root / "d" / "metrics.tsv").write_text(
        "arch\tari\tn_cells\tloglik\npca\t0.5067\t693\t\nvae\t0.52451\t693\t-653.36\n"
    )
    (root / "d" / "models" / "vae" / "run.json").write_text(json.dumps({"git_commit": "abcdef0123456789", "seed": 0}))
    return root


def test_values_and_tables_come_from_the_files(render_results, results):
    template = (
        "{{ run }}\nVAE ARI {{ results/d/metrics.tsv | arch=vae | ari | .3f }} on "
        "{{ results/d/metrics.tsv | arch=pca | n_cells }} cells.\n"
        "{{ table results/d/metrics.tsv | arch, ari, n_cells, loglik | .2f }}\n"
        "{{ table? results/d/likelihoods.tsv | likelihood }}\n"
        "nb won {{ ?results/d/likelihoods.tsv | likelihood=nb | wins }}; vae {{ ?results/d/metrics.tsv | arch=vae | ari | .2f }}\n"
        "{{ table results/d/metrics.tsv | arch | | 1 }}\n"
    )
    text = render_results.render(template, results)
    assert "commit abcdef0123, seed 0" in text
    assert "VAE ARI 0.525 on 693 cells." in text
    # counts stay integers, empty cells stay empty, the format applies to the rest
    assert "| pca | 0.51 | 693 |  |" in text and "| vae | 0.52 | 693 | -653.36 |" in text
    assert "_Not in this run: `make reproduce` writes `results/d/likelihoods.tsv`._" in text
    assert "nb won (not in this run: `make reproduce`); vae 0.52" in text
    assert text.endswith("| arch |\n|---|\n| pca |\n")  # the first row only
    assert "{{" not in text


@pytest.mark.parametrize(
    "directive, message",
    [
        ("{{ results/d/missing.tsv | arch=vae | ari }}", r"t\.md:2: .*missing\.tsv does not exist; run the workflow"),
        ("{{ results/d/metrics.tsv | arch=ae | ari }}", r"t\.md:2: 0 rows with arch=ae"),
        ("{{ results/d/metrics.tsv | arch=vae | nmi }}", r"t\.md:2: no column 'nmi'"),
        ("{{ results/d/metrics.tsv | ari }}", r"t\.md:2: .* is not 'file \| column=value \| column"),
    ],
)
def test_a_missing_file_row_or_column_names_the_template_line(render_results, results, directive, message):
    with pytest.raises(render_results.RenderError, match=message):
        render_results.render(f"intro\n{directive}\n", results, "t.md")


def test_a_failed_render_writes_nothing(render_results, results, tmp_path):
    template, output = tmp_path / "t.md.in", tmp_path / "out.md"
    template.write_text("{{ results/d/missing.tsv | arch=vae | ari }}\n")
    code = render_results.main(["--results", str(results), "--template", str(template), "--output", str(output)])
    assert code == 1 and not output.exists()


def test_the_committed_template_reads_only_files_the_workflow_writes(repo):
    """Every file the results template names is an output of a rule (or of make run / make docs)."""
    rules = "\n".join(path.read_text() for path in (repo / "workflow/rules").glob("*.smk"))
    template = (repo / "docs/results.md.in").read_text()
    extra = {
        "results/make_run.tsv": "scripts/timed-run.sh",
        "results/make_reproduce.tsv": "Makefile",  # make reproduce: RUN_RECORD for scripts/timed-run.sh
        "results/benchmarks/workflow_rule_totals.tsv": "benchmarks/workflow_rules.py",
        "results/benchmarks/wnn_muon.tsv": "benchmarks/wnn_muon.py",  # make bench
    }
    for path in set(re.findall(r"\{\{\s*(?:table\??\s+|figure\?\s+|\?)?(results/[^ |}]+)", template)):
        if path.endswith(".png"):
            assert "results/{dataset}/figures/{figure}.png" in rules and "/figures/" in path, path
            continue
        if path in extra:
            assert path.split("/")[-1] in (repo / extra[path]).read_text()
            continue
        pattern = re.sub(r"^results/[^/]+/", "results/{dataset}/", path)
        generic = re.sub(r"/([a-z_]+)/[^/]+\.tsv$", r"/\1/{arch}.tsv", pattern)  # per-architecture tables
        assert pattern in rules or generic in rules, f"{path}: no rule writes it"


def test_the_performance_template_reads_only_what_make_bench_writes(repo):
    """docs/performance.md.in names only tables a benchmark script writes, and `make bench` renders it."""
    scripts = "\n".join(path.read_text() for path in (repo / "benchmarks").glob("*.py"))
    template = (repo / "docs/performance.md.in").read_text()
    paths = set(re.findall(r"\{\{\s*(?:table\??\s+|\?)?(results/[^ |}]+)", template))
    assert paths and all(path.startswith("results/benchmarks/") for path in paths)
    for path in paths:
        assert f'"{path.split("/")[-1]}"' in scripts, f"{path}: no benchmark script writes it"
    makefile = (repo / "Makefile").read_text()
    assert "render_results.py --template docs/performance.md.in --output docs/performance.md" in makefile


def test_a_table_leaves_out_rows_without_the_measures_asked_for(render_results, results):
    """pca has no log-likelihood: a table of log-likelihoods (and a count) shows the vae alone."""
    text = render_results.render("{{ table results/d/metrics.tsv | arch, loglik, n_cells | .1f }}\n", results)
    assert "| vae | -653.4 | 693 |" in text and "| pca |" not in text


def test_integer_columns_print_as_integers_even_when_all_zero(render_results, results):
    """A seed column of zeros is no score: it prints 0, not 0.000, while a score column of 0.0 / 1.0 keeps the format."""
    (results / "d" / "runs.tsv").write_text("arch\tseed\tacc\npca\t0\t1.0\nvae\t0\t0.0\n")
    text = render_results.render("{{ table results/d/runs.tsv | arch, seed, acc | .3f }}\n", results)
    assert "| pca | 0 | 1.000 |" in text and "| vae | 0 | 0.000 |" in text


def test_the_readme_types_no_result_by_hand(repo):
    """Results live in docs/results.md, generated from results files; the README links there. A score or a
    log-likelihood typed into the README (0.513, -653.4) would drift from the code that produced it."""
    readme = (repo / "README.md").read_text()
    typed = re.findall(r"(?<![\w.=<>~/-])(?:0\.\d{2,}|-\d{2,}\.\d+)(?![\d.\w])", readme)
    assert not typed, f"README.md types results by hand: {typed}; put them in docs/results.md.in as directives"


def test_results_of_two_commits_are_refused_naming_the_stale_ones(render_results, results):
    import os

    old = results / "d" / "models" / "pca" / "run.json"
    old.parent.mkdir()
    old.write_text(json.dumps({"git_commit": "0123456789abcdef", "seed": 0}))
    os.utime(old, (1, 1))  # the older record
    with pytest.raises(render_results.RenderError, match=r"2 commits.*pca/run.json \(0123456789\).*make clean"):
        render_results.render("{{ run }}\n", results)
    old.unlink()
    assert "at commit abcdef0123, seed 0" in render_results.render("{{ run }}\n", results)


def test_the_results_template_types_no_number_or_verdict(repo):
    """docs/results.md.in holds prose and directives only: a number outside a directive or a code span would be a
    result typed by hand (years of citations and the seed lectures' names, seed 003, aside), and the claims
    table's verdicts are directives, read from the comparisons over seeds."""
    template = (repo / "docs/results.md.in").read_text()
    prose = re.sub(r"\{\{.*?\}\}", "", template)
    prose = re.sub(r"`[^`]*`", "", prose)
    prose = re.sub(r"\b(?:19|20)\d\d\b", "", prose)
    prose = re.sub(r"\bseed 00\d\b", "", prose)
    typed = re.findall(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])", prose)
    assert not typed, f"docs/results.md.in types numbers outside directives: {typed[:10]}"
    claims = template[template.index("## The papers' claims") :].split("\n## ")[0]
    rows = [line for line in claims.splitlines() if line.startswith("| ") and not line.startswith("| paper")]
    assert rows and all("{{" in row.split(" | ")[3] for row in rows), "a claim's verdict is typed, not read"


def test_table_rows_are_picked_by_several_columns_and_filtered(render_results, results):
    (results / "d" / "comparisons.tsv").write_text(
        "arch\tbaseline\tmeasure\tverdict\nvae\tpca\tari\tbetter\nvae\tpca\tnmi\twithin noise\nae\tpca\tari\tworse\n"
    )
    text = render_results.render(
        "{{ results/d/comparisons.tsv | arch=vae & measure=nmi | verdict }}\n"
        "{{ table results/d/comparisons.tsv where measure=ari | arch, verdict }}\n"
        "{{ table? results/d/comparisons.tsv | arch, verdict, not_written }}\n"
        "{{ table results/d/comparisons.tsv where arch=ae,vae & measure=ari | arch, verdict }}\n",
        results,
    )
    assert text.startswith("within noise\n")
    assert "| vae | better |" in text and "| ae | worse |" in text and "nmi" not in text.split("\n", 1)[1]
    either = text.rsplit("| arch | verdict |", 1)[1]
    assert "| vae | better |" in either and "| ae | worse |" in either and "within noise" not in either


def test_an_optional_value_of_a_row_not_in_this_run_gives_a_note(render_results, results):
    text = render_results.render("{{ ?results/d/metrics.tsv | arch=scvi | ari }}\n", results)
    assert text == render_results.NOT_IN_THIS_RUN + "\n"
    with pytest.raises(render_results.RenderError, match="0 rows with arch=scvi"):
        render_results.render("{{ results/d/metrics.tsv | arch=scvi | ari }}\n", results)


def test_a_figure_of_the_run_is_copied_beside_the_page_and_a_missing_one_noted(render_results, results, tmp_path):
    (results / "d" / "figures").mkdir()
    (results / "d" / "figures" / "umap.png").write_bytes(b"\x89PNG drawn")
    template, output = tmp_path / "t.md.in", tmp_path / "docs" / "out.md"
    template.write_text(
        "{{ figure? results/d/figures/umap.png | the embedding }}\n{{ figure? results/d/figures/logos.png | x }}\n"
    )
    code = render_results.main(["--results", str(results), "--template", str(template), "--output", str(output)])
    text = output.read_text()
    assert code == 0 and "![the embedding](results/d_umap.png)" in text
    assert "_Not in this run: `make reproduce` draws `results/d/figures/logos.png`._" in text
    assert (tmp_path / "docs" / "results" / "d_umap.png").read_bytes() == b"\x89PNG drawn"
    assert not (tmp_path / "docs" / "results" / "d_logos.png").exists()
