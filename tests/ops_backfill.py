"""Backfilled TSDBs for the status and collect tests (promtool tsdb create-blocks-from openmetrics)."""

from __future__ import annotations

import subprocess

from conftest import require_tool


def labels_text(labels: dict) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}" if inner else ""


def backfill(path, data_dir, series: list[tuple[str, dict, list[tuple[float, float]]]]) -> None:
    """Write series [(name, labels, [(unix seconds, value)])] as OpenMetrics and turn them into TSDB blocks.

    promtool drops out-of-order samples and reads timestamps as seconds, so values are written sorted
    and in seconds; one 30-day block maximum keeps it from re-reading the file per 2h block.
    """
    with open(path, "w", encoding="utf-8") as fh:
        for name in sorted({s[0] for s in series}):
            fh.write(f"# TYPE {name} gauge\n")
            for _name, labels, samples in sorted(
                (s for s in series if s[0] == name), key=lambda s: sorted(s[1].items())
            ):
                text = name + labels_text(labels)
                for ts, value in sorted(samples):
                    fh.write(f"{text} {value!r} {ts:.3f}\n")
        fh.write("# EOF\n")
    subprocess.run(
        [
            require_tool("promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=720h",
            str(path),
            str(data_dir),
        ],
        check=True,
        capture_output=True,
    )
