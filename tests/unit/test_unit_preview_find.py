"""preview's find_dashboard without a specs loader (a library caller): a clear PreviewError, not a TypeError."""

from __future__ import annotations

import pytest

from promspec.preview.render import PreviewError, find_dashboard


def test_a_name_that_is_no_file_and_no_loader_is_a_preview_error(tmp_path):
    with pytest.raises(PreviewError, match="no such dashboard JSON file"):
        find_dashboard(str(tmp_path / "absent.json"), (), None)
