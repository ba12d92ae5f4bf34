"""Nothing half-written: a write that fails part way leaves the old file, or none, for a
later run to find; never a partial network, prediction, step result or report."""

import numpy as np
import pytest

from popcorn.atomic import atomic_open, write_text
from popcorn.golden.examples import random_network
from popcorn.network import load_network, save_network


class Interrupted(Exception):
    pass


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "report.md"
    write_text(path, "old")
    with pytest.raises(Interrupted), atomic_open(path, "w") as file:
        file.write("half of the new")
        raise Interrupted
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]
    with pytest.raises(Interrupted), atomic_open(tmp_path / "new.md", "w") as file:
        file.write("partial")
        raise Interrupted
    assert not (tmp_path / "new.md").exists()


def test_an_interrupted_network_save_keeps_the_old_network(tmp_path, monkeypatch):
    old, new = random_network("bnn", seed=1), random_network("abc", seed=2)
    path = tmp_path / "net.npz"
    save_network(old, path)

    def dies_half_way(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise Interrupted
    monkeypatch.setattr(np, "savez", dies_half_way)
    with pytest.raises(Interrupted):
        save_network(new, path)
    monkeypatch.undo()
    assert load_network(path).layers[0].weight.tolist() == old.layers[0].weight.tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.npz"]


def test_written_files_have_the_permissions_open_would_give(tmp_path):
    import os

    write_text(tmp_path / "a.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask
