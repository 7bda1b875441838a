"""`promspec preview`: find a dashboard, optionally query Prometheus for its panels, write HTML or PNG."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..compile.dashboards.grafana_vars import substitute
from ..diagnostics import suggestions
from .html import JSON, DashboardData, Series, page

if TYPE_CHECKING:
    from ..compile.build import Build

# The specs' Build (cli_support.load_build_or_exit): where a dashboard named by uid, name or title is found.
Load = Callable[[tuple[str, ...]], "Build"]

POINTS = 120  # samples per series: enough for a readable line, few enough for a quick page
CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Without the background-networking flags Chromium tries to reach the network at start.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


class PreviewError(Exception):
    """Why no preview was written."""


def find_dashboard(name: str, specs: tuple[str, ...], load: Load | None) -> JSON:
    """A dashboard JSON file, or the dashboard whose uid, name or title is name in the specs."""
    if os.path.isfile(name):
        try:
            with open(name, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise PreviewError(f"{name}: not a dashboard JSON file: {exc}") from None
        if not isinstance(data, dict):
            raise PreviewError(f"{name}: not a dashboard (a JSON object is expected)")
        return data
    if load is None:
        raise PreviewError(f"{name}: no such dashboard JSON file")
    compiled = load(specs).dashboards.rendered()  # load: the specs' Build, each dashboard built once there
    names: dict[str, JSON] = {}
    for dash, data in compiled.values():
        for key in (dash.uid, dash.name, dash.title):
            names.setdefault(key, data)
    if name in names:
        return names[name]
    close = suggestions(name, names, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise PreviewError(f"no dashboard {name!r} in the specs and no such file{hint}")


def _seconds(text: str) -> int:
    from ..compile.promql import parse_duration

    try:
        seconds = int(parse_duration(text))
    except ValueError:
        seconds = 0
    if seconds <= 0:
        raise PreviewError(f"--range {text!r}: expected a duration such as 30m, 1h or 2d")
    return seconds


def grafana_to_promql(expr: str, step: int, range_s: int) -> str:
    """Replace Grafana's variables the way a dashboard with every variable at All would."""
    rate = max(4 * 15, step * 2) if step >= 15 else max(4 * step, 4)
    ranges = {"__rate_interval": f"{rate}s", "__interval": f"{step}s", "__range": f"{range_s}s", "": f"{rate}s"}
    return substitute(expr, ranges, ".*")


def _get(url: str) -> JSON:
    try:
        with urllib.request.urlopen(url, timeout=15) as resp:
            answer: JSON = json.load(resp)
            return answer
    except urllib.error.HTTPError as exc:
        try:
            error: JSON = json.load(exc)
            return error
        except json.JSONDecodeError:
            return {"status": "error", "error": f"HTTP {exc.code}"}
    except (urllib.error.URLError, OSError) as exc:
        raise PreviewError(f"cannot reach Prometheus at {url.split('/api/')[0]}: {exc}") from None


def fetch_data(dash: JSON, prometheus: str, time_range: str, now: float | None = None) -> DashboardData:
    """panel id -> refId -> [{"metric", "values": [(t, v)]}] or an error message, from Prometheus."""
    range_s = _seconds(time_range)
    end = int(now if now is not None else time.time())
    step = max(1, range_s // POINTS)
    out: DashboardData = {}
    base = prometheus.rstrip("/")
    panels = [p for p in dash.get("panels") or [] if isinstance(p, dict)]
    panels += [q for p in panels if p.get("type") == "row" for q in p.get("panels") or [] if isinstance(q, dict)]
    for p in panels:
        for t in p.get("targets") or []:
            if not isinstance(t, dict) or not t.get("expr"):
                continue
            expr = grafana_to_promql(t["expr"], step, range_s)
            if t.get("instant"):
                url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": end})
            else:
                url = f"{base}/api/v1/query_range?" + urllib.parse.urlencode(
                    {"query": expr, "start": end - range_s, "end": end, "step": step}
                )
            body = _get(url)
            ref = str(t.get("refId", ""))
            if body.get("status") != "success":
                out.setdefault(p.get("id"), {})[ref] = str(body.get("error", "query failed"))
                continue
            series: list[Series] = []
            for r in body["data"]["result"]:
                values = r.get("values") or ([r["value"]] if "value" in r else [])
                series.append({"metric": r.get("metric", {}), "values": [(float(ts), _float(v)) for ts, v in values]})
            out.setdefault(p.get("id"), {})[ref] = series
    return out


def _float(v: str) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def find_chromium() -> str:
    """Path of a headless-capable Chromium, or PreviewError with how to install one."""
    env = os.environ.get("PROMSPEC_CHROMIUM")
    for name in ((env,) if env else ()) + CHROMIUM:
        path = shutil.which(name)
        if path:
            return path
    raise PreviewError(
        "PNG output needs Chromium: install Debian's 'chromium' package (apt-get install chromium, "
        "or `make tools`), set PROMSPEC_CHROMIUM, or write .html instead"
    )


def screenshot(html_text: str, output: str, width: int, height: int) -> None:
    """Render HTML to a PNG with headless Chromium; the PNG is written whole or not at all."""
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="promspec-preview-") as tmp:
        page_path = os.path.join(tmp, "page.html")
        with open(page_path, "w", encoding="utf-8") as fh:
            fh.write(html_text)
        shot = os.path.join(tmp, "shot.png")
        cmd = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={os.path.join(tmp, 'profile')}",
            f"--window-size={width},{height}",
            f"--screenshot={shot}",
            "file://" + page_path,
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            raise PreviewError("Chromium did not finish the screenshot within 120 s") from None
        if proc.returncode != 0 or not os.path.exists(shot):
            raise PreviewError(f"Chromium failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
        with open(shot, "rb") as fh:
            _atomic_write(output, fh.read())


def _atomic_write(dst: str, data: bytes) -> None:
    """Write dst whole or not at all, with the permissions a plain open() would give."""
    directory = os.path.dirname(os.path.abspath(dst))
    fd, tmp = tempfile.mkstemp(prefix=".promspec-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def preview_dashboard(
    name: str,
    output: str,
    specs: tuple[str, ...] = (),
    prometheus: str | None = None,
    time_range: str = "1h",
    width: int = 1600,
    load: Load | None = None,
) -> None:
    """Write a static preview of a dashboard to output (.html or .png)."""
    if not output.endswith((".html", ".png")):
        raise PreviewError(f"{output}: the output must end in .html or .png")
    if not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise PreviewError(f"{output}: its directory does not exist")
    dash = find_dashboard(name, specs, load)
    data = fetch_data(dash, prometheus, time_range) if prometheus else None
    note = f"data: {prometheus}, last {time_range}" if prometheus else "layout only (no --prometheus)"
    text, height = page(dash, data, width, note)
    if output.endswith(".png"):
        screenshot(text, output, width, height)
    else:
        _atomic_write(output, text.encode("utf-8"))
