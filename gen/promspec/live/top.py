"""`promspec top`: a Textual terminal dashboard of services, SLOs and GPUs, refreshed on an interval.

Imported only by the command itself (Textual takes ~100 ms to import; `promspec --help` must not pay).
Data comes from top_data.fetch() in a worker thread; the screens draw top_view's text cells.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Sparkline, Static

from . import top_view as view
from .queries import ServicePlan
from .top_data import SPARK_SIGNALS, Snapshot, fetch, sparklines

STATE_STYLE = {"page": "bold red", "ticket": "yellow", "ok": "green"}
SPARK_TITLES = {
    "request_rate": ("Requests", view.rate),
    "error_ratio": ("Error ratio", lambda v: view.pct(v, 2)),
    "ttft_p95": ("TTFT p95", view.seconds),
    "inter_token_latency_p95": ("ITL p95", view.seconds),
    "queue": ("Queue", view.number),
    "kv_cache": ("KV cache", view.pct),
}


def _fill(
    table: DataTable[Text],
    columns: Sequence[view.Column],
    rows: list[dict[str, Any]],
    style: Callable[[dict[str, Any], str], str | None] = lambda row, key: None,
) -> None:
    """Replace a table's rows, keeping the cursor row when it still exists."""
    cursor = table.cursor_row
    table.clear()
    for row in rows:
        cells = [Text(str(row[c.key]), style=style(row, c.key) or "") for c in columns]
        table.add_row(*cells, key="|".join(str(row[c.key]) for c in columns[:3]))
    if rows:
        table.move_cursor(row=min(cursor, len(rows) - 1))


TABLE_KEYS = [Binding("slash", "filter", "Filter"), Binding("o", "sort", "Sort"), Binding("O", "reverse", "Reverse")]


class _Base(Screen[None]):
    """Common to the screens: a status line, a filter box, redraw on a new snapshot."""

    ready = False  # set once on_mount has made the tables' columns: a snapshot may arrive before

    def redraw_if_ready(self) -> None:
        if self.ready:
            self.redraw()

    def status_widget(self) -> Static:
        return self.query_one("#status", Static)

    def on_screen_resume(self) -> None:
        self.redraw_if_ready()

    def redraw(self) -> None:  # pragma: no cover - every screen overrides it
        raise NotImplementedError

    def draw_status(self) -> None:
        app: TopApp = self.app  # type: ignore[assignment]
        line = view.status_line(app.snapshot, app.updated)
        snap = app.snapshot
        style = "dim" if snap is None or not snap.problems else "bold red" if not snap.reachable else "yellow"
        self.status_widget().update(Text(line, style=style))

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.app.filter_text = event.value  # type: ignore[attr-defined]
        self.redraw_if_ready()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.input.display = bool(event.value)  # an empty filter box goes away
        self.query_one(DataTable).focus()


class ServicesScreen(_Base):
    BINDINGS: ClassVar[list[BindingType]] = [*TABLE_KEYS, Binding("enter", "open", "Details", show=False)]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter: part of a service, engine or model name", id="filter")
        yield Static("Services", classes="title")
        yield DataTable(id="services", cursor_type="row", zebra_stripes=True)
        yield Static("SLOs", classes="title")
        yield DataTable(id="slos", cursor_type="none")  # no cursor bar hiding the state colours
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        services = self.query_one("#services", DataTable)
        for c in view.SERVICE_COLUMNS:
            services.add_column(c.title, key=c.key)
        slos = self.query_one("#slos", DataTable)
        for c in view.SLO_COLUMNS:
            slos.add_column(c.title, key=c.key)
        services.focus()
        self.ready = True
        self.redraw()

    def redraw(self) -> None:
        app: TopApp = self.app  # type: ignore[assignment]
        snap = app.snapshot or Snapshot(prometheus=app.url)
        key, reverse = app.sort_for("services")
        _fill(
            self.query_one("#services", DataTable),
            view.SERVICE_COLUMNS,
            view.service_table(snap, app.filter_text, key, reverse),
        )
        _fill(self.query_one("#slos", DataTable), view.SLO_COLUMNS, view.slo_table(snap, app.filter_text), _slo_style)
        self.draw_status()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "services":
            self.action_open()

    def action_open(self) -> None:
        table = self.query_one("#services", DataTable)
        if table.row_count:
            name = str(table.get_row_at(table.cursor_row)[0])
            self.app.push_screen(ServiceScreen(name))

    def action_sort(self) -> None:
        self.app.next_sort("services", [c.key for c in view.SERVICE_COLUMNS])  # type: ignore[attr-defined]
        self.redraw()

    def action_reverse(self) -> None:
        self.app.flip_sort("services")  # type: ignore[attr-defined]
        self.redraw()


def _slo_style(row: dict[str, Any], key: str) -> str | None:
    if key == "firing":
        return STATE_STYLE[row["state"]]
    if key == "error_budget_remaining" and row["budget"] is not None:
        return "bold red" if row["budget"] <= 0 else "yellow" if row["budget"] < 0.25 else "green"
    return None


class ServiceScreen(_Base):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, service: str):
        super().__init__()
        self.service = service
        self.series: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="summary", classes="title")
        with VerticalScroll(id="sparks"):
            for name in SPARK_SIGNALS:
                with Horizontal(classes="spark"):
                    yield Static("", id=f"label-{name}", classes="spark-label")
                    yield Sparkline([], id=f"spark-{name}")
        yield Static("Alerts firing now", classes="title")
        yield DataTable(id="alerts", cursor_type="row")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#alerts", DataTable)
        for title in ("ALERT", "SEVERITY", "LABELS"):
            table.add_column(title, key=title.lower())
        self.ready = True
        self.redraw()
        self.app.load_sparklines(self)  # type: ignore[attr-defined]

    def redraw(self) -> None:
        app: TopApp = self.app  # type: ignore[assignment]
        snap = app.snapshot or Snapshot(prometheus=app.url)
        row = next((r for r in snap.services if r.name == self.service), None)
        cells = view.service_cells(row) if row else {}
        self.query_one("#summary", Static).update(
            f"{self.service} · {cells.get('engine', view.MISSING)} · model {cells.get('models', view.MISSING)} · "
            f"replicas up {cells.get('replicas_up', view.MISSING)} · GPU util {cells.get('gpu_util', view.MISSING)}"
        )
        for name in SPARK_SIGNALS:
            title, fmt = SPARK_TITLES[name]
            now = row.values.get(name) if row else None
            points = self.series.get(name)
            note = "" if points is None else "" if points else "  (no data in the last 30 min)"
            seen = [p for p in points or [] if p is not None]  # a gap is left out, not drawn as a zero
            spread = f"  (30 min: {fmt(min(seen))} \N{EN DASH} {fmt(max(seen))})" if seen else ""
            self.query_one(f"#label-{name}", Static).update(f"{title:<12} {fmt(now)}{spread}{note}")
            self.query_one(f"#spark-{name}", Sparkline).data = seen
        plan = app.plan(self.service)
        job = _job(plan)
        alerts = view.service_alerts(snap, self.service, job)
        table = self.query_one("#alerts", DataTable)
        table.clear()
        for labels in alerts:
            rest = ", ".join(
                f"{k}={v}"
                for k, v in sorted(labels.items())
                if k not in ("alertname", "alertstate", "severity", "__name__")
            )
            style = "bold red" if labels.get("severity") == "page" else "yellow"
            table.add_row(Text(labels.get("alertname", ""), style=style), labels.get("severity", view.MISSING), rest)
        if not alerts:
            table.add_row("none", "", "")
        self.draw_status()

    def show_series(self, series: dict[str, Any]) -> None:
        self.series = series
        self.redraw_if_ready()


def _job(plan: ServicePlan | None) -> str:
    if plan is None:
        return ""
    for part in plan.up_selector.strip("{}").split(","):
        if part.startswith('job="'):
            return part[5:-1]
    return ""


class GpuScreen(_Base):
    BINDINGS: ClassVar[list[BindingType]] = [*TABLE_KEYS, Binding("escape", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter: part of a host, GPU or name", id="filter")
        yield Static("GPUs", classes="title")
        yield DataTable(id="gpus", cursor_type="row", zebra_stripes=True)
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        table = self.query_one("#gpus", DataTable)
        for c in view.GPU_COLUMNS:
            table.add_column(c.title, key=c.key)
        table.focus()
        self.ready = True
        self.redraw()

    def redraw(self) -> None:
        app: TopApp = self.app  # type: ignore[assignment]
        snap = app.snapshot or Snapshot(prometheus=app.url)
        key, reverse = app.sort_for("gpus")
        rows = view.gpu_table(snap, app.filter_text, key, reverse)
        _fill(
            self.query_one("#gpus", DataTable),
            view.GPU_COLUMNS,
            rows,
            lambda row, k: (
                "bold red"
                if (k == "throttle" and row[k] == "yes") or (k == "xid" and row[k] not in ("0", view.MISSING))
                else None
            ),
        )
        self.draw_status()

    def action_sort(self) -> None:
        self.app.next_sort("gpus", [c.key for c in view.GPU_COLUMNS])  # type: ignore[attr-defined]
        self.redraw()

    def action_reverse(self) -> None:
        self.app.flip_sort("gpus")  # type: ignore[attr-defined]
        self.redraw()


class TopApp(App[None]):
    """The dashboard. fetcher/clock are parameters so a test can pin the time it asks about."""

    TITLE = "promspec top"
    CSS = """
    .title { text-style: bold; padding: 0 1; }
    #status { height: auto; padding: 0 1; }
    #services { height: auto; max-height: 50%; }
    #slos, #gpus, #alerts { height: auto; }
    .spark { height: 2; margin-bottom: 1; }
    .spark-label { width: 56; }
    Sparkline { height: 2; width: 1fr; max-width: 90; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("g", "gpus", "GPUs"),
        Binding("s", "services", "Services"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(
        self,
        *,
        url: str,
        plans: list[ServicePlan],
        slos: list[Any],
        windows: list[str],
        interval: float = 5.0,
        at: float | None = None,
    ):
        super().__init__()
        self.url, self.plans, self.slos, self.windows = url, plans, slos, windows
        self.interval, self.at = interval, at
        self.snapshot: Snapshot | None = None
        self.updated = ""
        self.filter_text = ""
        self.sorts: dict[str, tuple[str, bool]] = {
            "services": ("name", False),
            "gpus": ("host", False),
        }  # table -> (key, reverse)
        self.fetches = 0

    def get_default_screen(self) -> Screen[None]:
        return ServicesScreen()

    def on_mount(self) -> None:
        self.action_refresh()
        self.set_interval(self.interval, self.action_refresh)

    def plan(self, name: str) -> ServicePlan | None:
        return next((p for p in self.plans if p.name == name), None)

    def sort_for(self, table: str) -> tuple[str, bool]:
        return self.sorts[table]

    def next_sort(self, table: str, keys: list[str]) -> None:
        key, reverse = self.sorts[table]
        self.sorts[table] = (keys[(keys.index(key) + 1) % len(keys)], reverse)
        self.notify(f"sorted by {self.sorts[table][0]}", timeout=2)

    def flip_sort(self, table: str) -> None:
        key, reverse = self.sorts[table]
        self.sorts[table] = (key, not reverse)

    def action_refresh(self) -> None:
        self.run_worker(self._fetch, thread=True, exclusive=True, group="fetch")

    def _fetch(self) -> None:
        snap = fetch(self.url, self.plans, self.slos, self.windows, self.at)
        self.call_from_thread(self._apply, snap)

    def _apply(self, snap: Snapshot) -> None:
        self.snapshot = snap
        self.updated = time.strftime("%H:%M:%S", time.localtime(self.at if self.at is not None else time.time()))
        self.fetches += 1
        if isinstance(self.screen, _Base):
            self.screen.redraw_if_ready()
        if isinstance(self.screen, ServiceScreen) and self.at is None:
            self.load_sparklines(self.screen)  # the window moves with the clock

    def load_sparklines(self, screen: ServiceScreen) -> None:
        plan = self.plan(screen.service)
        if plan is None:
            return

        def work() -> None:
            series = sparklines(self.url, plan, self.at if self.at is not None else time.time())
            self.call_from_thread(screen.show_series, series)

        self.run_worker(work, thread=True, group="spark")

    def action_gpus(self) -> None:
        if not isinstance(self.screen, GpuScreen):
            self.push_screen(GpuScreen())

    def action_services(self) -> None:
        while isinstance(self.screen, (GpuScreen, ServiceScreen)):
            self.pop_screen()
