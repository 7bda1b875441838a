"""render/tree.py's _write_new: the file open(path, "wb") would make (bytes, mode, truncation)."""

from __future__ import annotations

import os
from pathlib import Path

from promspec.render.tree import _write_new


def test_a_new_file_has_the_bytes_and_the_mode_of_an_ordinary_write(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # larger than one write may take at once on some systems
    _write_new(str(tmp_path / "new"), data)
    with open(tmp_path / "plain", "wb") as fh:
        fh.write(data)
    assert (tmp_path / "new").read_bytes() == data
    assert os.stat(tmp_path / "new").st_mode == os.stat(tmp_path / "plain").st_mode


def test_an_existing_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"a much longer old content\n")
    _write_new(str(target), b"new\n")
    assert target.read_bytes() == b"new\n"
    _write_new(str(target), b"")
    assert target.read_bytes() == b""
