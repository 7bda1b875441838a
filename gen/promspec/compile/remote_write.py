"""Settings.remote_write -> prometheus.yml remote_write entries (credentials only by file or placeholder)."""

from __future__ import annotations

from typing import Any

from ..model.project import RemoteWrite
from .alertmanager import http_auth


def remote_write_configs(queues: list[RemoteWrite]) -> list[dict[str, Any]]:
    """remote_write entries in the order written."""
    out = []
    for queue in queues:
        item: dict[str, Any] = {"url": queue.url}
        if queue.name:
            item["name"] = queue.name
        if queue.remote_timeout:
            item["remote_timeout"] = queue.remote_timeout
        if queue.headers is not None:
            item["headers"] = dict(queue.headers)
        item.update(http_auth(queue.bearer_token_file, queue.bearer_token, queue.basic_auth))
        if queue.write_relabel:
            item["write_relabel_configs"] = [dict(r) for r in queue.write_relabel]
        if queue.send_exemplars is not None:
            item["send_exemplars"] = queue.send_exemplars
        out.append(item)
    return out
