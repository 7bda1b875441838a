"""Settings.remote_write -> prometheus.yml remote_write entries (credentials only by file or placeholder)."""

from __future__ import annotations

from .alertmanager import http_auth


def remote_write_configs(specs: list[dict]) -> list[dict]:
    """remote_write entries in the order written."""
    out = []
    for spec in specs:
        item: dict = {"url": spec["url"]}
        for key in ("name", "remote_timeout", "headers"):
            if key in spec:
                item[key] = spec[key]
        item.update(http_auth(spec))
        if spec.get("write_relabel"):
            item["write_relabel_configs"] = [dict(r) for r in spec["write_relabel"]]
        if "send_exemplars" in spec:
            item["send_exemplars"] = spec["send_exemplars"]
        out.append(item)
    return out
