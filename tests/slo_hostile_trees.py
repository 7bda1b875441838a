"""Seeded spec trees of hostile but mostly valid input for the SLO fast paths (render/slo_rule_text.py,
render/slo_test_text.py, compile/slo.py's _record_texts): many services sharing a few SLO shapes and differing
in one thing each (an atom: a label value, a severity, a name; or a part of the shape: a description, an
objective spelled otherwise, a disabled tier), with names and values YAML reads as other types (yes, null,
1e3, 012, ...), 256-character atoms, look-alike placeholders, raw multi-line SLI queries with braces and $,
spec rule groups in the same files, colliding SLO ids and group names, Sloth and OpenSLO files and a probe.

Written to diff main against an older commit (promspec generate of both, byte for byte, stderr and exit
code); tests/test_slo_fast_paths_fuzz.py renders them in-process with the fast paths and without.
`python tests/slo_hostile_trees.py SEED DIR` writes one tree.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NAMES = [
    "123",
    "0",
    "007",
    "yes",
    "no",
    "on",
    "off",
    "true",
    "null",
    "Null",
    "NULL",
    "y",
    "n",
    "1e3",
    "0x1F",
    "012",
    "1.5",
    "a.b",
    "a-b",
    "a_b",
    "inf",
    "nan",
    "NaN",
    "a--b",
    "x.y.z",
    "1-2",
    "a..b",
    "True",
    "e",
    "slo",
    "svc",
    "window",
    "le",
    "ratio",
    "burn",
    "page",
    "ticket",
    "x" * 110,
    "y" * 100,
    "z" * 64,
    "A1",
    "aB9",
    "a",
    "999999999999999999999",
    "PromspecSlot0x",
    "PromspecSlot12x",
    "0.0",
    "1e-3",
    "0e0",
    "1_0",
]
# strings that must stay valid as label values / descriptions / annotations
VALUES = [
    "yes",
    "no",
    "null",
    "~",
    "a: b",
    " #",
    "a #b",
    "#",
    "'",
    '"',
    "''",
    '""',
    "it's",
    'say "hi"',
    "",
    " ",
    "x" * 260,
    "é",
    "日本語",
    "🙂",
    "\u2028",
    "\u0085",
    "a\nb",
    "a\n",
    "\t",
    "{}",
    "{{ $value }}",
    "$",
    "$1",
    "{",
    "}",
    "%",
    "%s",
    "{0}",
    "{x}",
    "[a]",
    "- a",
    "? a",
    "! a",
    "& a",
    "* a",
    "| a",
    "> a",
    "@",
    "`",
    "1e3",
    "0x1F",
    "012",
    ".inf",
    "-.inf",
    "<<",
    "=",
    "a=b",
    "a,b",
    "0",
    "1.0",
    "-1",
    "true",
    "False",
    "\\",
    "\\n",
    "PromspecSlot1x",
    "a PromspecSlot2x b",
    "---",
    "...",
    ".inf",
    "-.inf",
    "0.0",
    "1_000",
    "0o7",
    "+1",
    "e",
    "a\\b",
    "ünïcödé",
    "\u0295\u2022\u1d25\u2022\u0294",
    "\ufeffbom",
    "page",
    "critical",
    "warning",
    "slo",
    "svc0",
    "https://x.test/a b",
    "\x7f",
    "a:b",
    "a: ",
    "key: value # c",
    "%TAG",
    "---",
    "...",
]
# label values that are atoms (so the shape fast path takes them) but that YAML reads as other types
ATOM_VALUES = [
    "yes",
    "no",
    "null",
    "NULL",
    "Null",
    "true",
    "True",
    "FALSE",
    "on",
    "off",
    "y",
    "n",
    "Y",
    "1e3",
    "1E3",
    "0x1F",
    "012",
    "0o7",
    ".inf",
    "-.inf",
    ".NaN",
    "...",
    "---",
    "-",
    ".",
    "_",
    "0",
    "-1",
    "+1",
    "1.0",
    "0.0",
    "1_000",
    "1",
    "PromspecSlot1x",
    "PromspecSlot0x",
    "a" * 256,
    "b" * 255,
    "c" * 257,
    "e",
    "1e-3",
    "-0",
    "0.",
    "a.b-c",
    "2001-12-14",
    "12e",
    "0b1",
    "190",
    "1__0",
    "x-",
    "-x",
    ".x",
    "x.",
]
SEVERITIES = ["critical", "warning", "info", "page", "ticket", "p1", "sev-1", "a_b", "yes", "null", "no", "x" * 200]
OBJECTIVES = [
    "99%",
    "99.9%",
    "99.95%",
    "99.9999%",
    "90%",
    "99.5%",
    "95%",
    "99.99%",
    "50%",
    "99.999%",
    "99.90%",
    "99.900%",
    "099.9%",
    "99.0%",
    "90.0%",
]
OBJECTIVE_NUMBERS = [0.99, 0.999, 0.995, 0.9, 0.9995, 0.999999]
WINDOWS = [None, "30d", "28d", "7d", "1w", "4w", "720h", "14d", "2w", "4w2d", "30d0h", "29d24h", "43200m"]
THRESH_LAT = [0.0001, 0.005, 0.1, 0.5, 1, 1.0, 2.5, 1e3, 1000, "500ms", "1s", "100ms", "1ms", "1000s", "2s500ms"]
BUCKETS = [0.0001, 0.005, 0.1, 0.5, 1, 2.5, 10, 1000]
TIERS = ["page-fast", "page-slow", "ticket-fast", "ticket-slow"]
BACKENDS = [("vllm", "500ms", "10s"), ("sglang", "400ms", "10s"), ("generic", "500ms", "10s")]


def q(s: object) -> str:
    """A YAML scalar: JSON text (escaped, so raw NEL/LS never reach the YAML reader)."""
    text = json.dumps(s, ensure_ascii=False)
    for ch in "\x85\u2028\u2029\ufeff\x7f":
        text = text.replace(ch, f"\\u{ord(ch):04x}")
    return text


def pick(rnd: random.Random, seq):
    return seq[rnd.randrange(len(seq))]


def label_map(rnd: random.Random, n: int) -> dict[str, str]:
    keys = ["team", "owner", "category", "route", "x", "le", "a_b", "severity_x", "tier", "Z9"]
    return {pick(rnd, keys): pick(rnd, ATOM_VALUES if rnd.random() < 0.75 else VALUES) for _ in range(n)}


def ratio_sli(rnd: random.Random, variant: int) -> dict:
    w = "{{window}}"
    multiline = rnd.random() < 0.5
    errs = [
        f'sum(rate(myapp_errors_total{{code=~"5..", path!="$x"}}[{w}]))',
        f"sum(rate(myapp_errors_total{{}}[{w}]))",
        f'sum by (le) (rate(myapp_errors_total{{path="{{}}$"}}[{w}]))',
        f"sum(rate(myapp_errors_total[{w}])) or vector(0)",
    ]
    total = f"sum(rate(myapp_requests_total[{w}]))"
    e = errs[variant % len(errs)]
    if multiline:
        e = "  " + e.replace("(rate", "(\n    rate", 1) + "\n"
    key = "errors" if rnd.random() < 0.7 else "good"
    if key == "good":
        e = f'sum(rate(myapp_requests_total{{code!~"5.."}}[{w}]))'
    r = {key: e, "total": total}
    return {"ratio": r}


def latency_sli(rnd: random.Random) -> dict:
    lat = {"metric": "myapp_latency_seconds", "threshold": pick(rnd, THRESH_LAT)}
    if rnd.random() < 0.4:
        lat["buckets"] = BUCKETS
    if rnd.random() < 0.3:
        lat["matchers"] = pick(rnd, ['path="/x"', 'path=~"a|b"', 'code!="500",path="{}$"'])
    if rnd.random() < 0.15:
        lat["native"] = True
    return {"latency": lat}


def make_shape(rnd: random.Random) -> dict:
    kind = pick(rnd, ["signal", "signal", "ratio", "latency", "probe"])
    slo: dict = {}
    if rnd.random() < 0.25:
        slo["objective"] = pick(rnd, OBJECTIVE_NUMBERS)
    else:
        slo["objective"] = pick(rnd, OBJECTIVES)
    w = pick(rnd, WINDOWS)
    if w:
        slo["window"] = w
    if rnd.random() < 0.7:
        slo["description"] = pick(rnd, VALUES) if rnd.random() < 0.5 else "Requests under 500 ms"
    if kind == "signal":
        sig = pick(rnd, ["ttft", "errors", "e2e_latency"])
        slo["_signal"] = sig
    elif kind == "ratio":
        slo["sli"] = ratio_sli(rnd, rnd.randrange(4))
    elif kind == "latency":
        slo["sli"] = latency_sli(rnd)
    else:
        slo["sli"] = {"probe": "hc-probe"}
    alerting: dict = {}
    if rnd.random() < 0.5:
        tiers: dict = {}
        for t in rnd.sample(TIERS, rnd.randrange(1, 4)):
            td: dict = {}
            r = rnd.random()
            if r < 0.3:
                td["enabled"] = False
            if rnd.random() < 0.4:
                td["severity"] = pick(rnd, SEVERITIES)
            if rnd.random() < 0.3:
                td["labels"] = label_map(rnd, rnd.randrange(1, 3))
            if rnd.random() < 0.2:
                td["annotations"] = label_map(rnd, 1)
            if rnd.random() < 0.2:
                td["for"] = pick(rnd, ["2m", "1h", "0s", "90s"])
            if rnd.random() < 0.15:
                td["burn_rate"] = pick(rnd, [14.4, 1, 0.5, 1e3, 6])
            tiers[t] = td
        alerting["tiers"] = tiers
    if rnd.random() < 0.3:
        alerting["min_traffic"] = pick(rnd, [0, 0.05, 1e3, 0.0001])
    if rnd.random() < 0.3:
        be: dict = {}
        if rnd.random() < 0.3:
            be["enabled"] = rnd.random() < 0.5
        if rnd.random() < 0.5:
            be["severity"] = pick(rnd, SEVERITIES)
        if rnd.random() < 0.3:
            be["labels"] = label_map(rnd, 1)
        alerting["budget_exhausted"] = be
    if rnd.random() < 0.4:
        alerting["labels"] = label_map(rnd, rnd.randrange(1, 4))
    if rnd.random() < 0.3:
        alerting["annotations"] = label_map(rnd, rnd.randrange(1, 3))
    if rnd.random() < 0.3:
        alerting["runbook_url"] = "https://runbooks.test/" + pick(
            rnd, ["a", "x y", "é", "{{ $labels.x }}", "#f", "a: b"]
        )
    if rnd.random() < 0.15:
        alerting["alert_name"] = pick(rnd, ["Foo", "foo_bar", "A-b", "_x", "X" * 120])
    if alerting:
        slo["alerting"] = alerting
    if rnd.random() < 0.3:
        slo["labels"] = label_map(rnd, rnd.randrange(1, 3))
    return slo


def mutate(rnd: random.Random, slo: dict) -> dict:
    """One small difference from the shape."""
    slo = json.loads(json.dumps(slo))
    m = rnd.randrange(16)
    al = slo.setdefault("alerting", {})
    if m == 0:
        slo["description"] = pick(rnd, VALUES)
    elif m == 1:
        al.setdefault("labels", {})[pick(rnd, ["team", "owner", "x"])] = pick(rnd, ATOM_VALUES)
    elif m == 2:
        al["annotations"] = label_map(rnd, 1)
    elif m == 3:
        al["runbook_url"] = "https://r.test/" + pick(rnd, ["1", "2", "a b", "ü"])
    elif m == 4:
        slo["objective"] = pick(rnd, OBJECTIVES)
    elif m == 5:
        slo.setdefault("labels", {})[pick(rnd, ["team", "tier"])] = pick(rnd, ATOM_VALUES)
    elif m == 6:
        t = pick(rnd, TIERS)
        al.setdefault("tiers", {}).setdefault(t, {})["severity"] = pick(rnd, SEVERITIES)
    elif m == 7:
        t = pick(rnd, TIERS)
        al.setdefault("tiers", {}).setdefault(t, {}).setdefault("labels", {})["route"] = pick(rnd, ATOM_VALUES)
    elif m == 8:
        t = pick(rnd, TIERS)
        al.setdefault("tiers", {}).setdefault(t, {})["enabled"] = False
    elif m == 10:
        slo["window"] = pick(rnd, WINDOWS[1:])
    elif m == 11:
        al["min_traffic"] = pick(rnd, [0, 0.05, 1e3, 0.0001, 0.5])
    elif m == 12:
        al.setdefault("tiers", {}).setdefault(pick(rnd, TIERS), {})["for"] = pick(rnd, ["2m", "1h", "0s", "90s"])
    elif m == 13:
        al.setdefault("tiers", {}).setdefault(pick(rnd, TIERS), {})["burn_rate"] = pick(rnd, [14.4, 1, 0.5, 1e3, 6])
    elif m == 14:
        al["alert_name"] = pick(rnd, ["Foo", "foo_bar", "A-b", "_x", "X" * 120])
    elif m == 15 and "latency" in slo.get("sli", {}):
        slo["sli"]["latency"]["threshold"] = pick(rnd, THRESH_LAT)
    # m == 9 (or 15 on another SLI): names only differ
    if not al:
        del slo["alerting"]
    return slo


def emit(obj, indent: int = 0) -> str:
    """Block YAML with JSON-quoted strings."""
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            return pad + "{}\n"
        out = []
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{q(k)}:\n{emit(v, indent + 2)}")
            else:
                out.append(f"{pad}{q(k)}: {scalar(v)}\n")
        return "".join(out)
    if isinstance(obj, list):
        out = []
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                body = emit(v, indent + 2)
                out.append(f"{pad}- {body.lstrip(' ')}")
            else:
                out.append(f"{pad}- {scalar(v)}\n")
        return "".join(out)
    return pad + scalar(obj) + "\n"


def scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return q(v)


def service_doc(rnd, name, backend, slos, meta_labels) -> str:
    spec: dict = {}
    b = pick(rnd, BACKENDS)
    uses_signal = any("_signal" in s for s in slos)
    if uses_signal or (backend and rnd.random() < 0.3):
        spec["backend"] = b[0]
    sel_val = pick(rnd, ["svc", name, pick(rnd, VALUES)]) if rnd.random() < 0.8 else None
    if sel_val is not None:
        spec["selector"] = {"job": sel_val}
        if rnd.random() < 0.3:
            spec["selector"]["namespace"] = pick(rnd, ATOM_VALUES + VALUES)
    if rnd.random() < 0.15 and all("errors" in s.get("sli", {}).get("ratio", {}) for s in slos):
        spec["conventions"] = "sloth"
    out_slos = []
    for s in slos:
        s = dict(s)
        if "_signal" in s:
            sig = s.pop("_signal")
            th = {"ttft": b[1], "e2e_latency": b[2]}.get(sig)
            s["sli"] = {"signal": sig, **({"threshold": th} if th else {})}
        out_slos.append(s)
    spec["slos"] = out_slos
    doc = {"apiVersion": "promspec/v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}
    if meta_labels:
        doc["metadata"]["labels"] = meta_labels
    return emit(doc)


RULE_GROUP = """\
apiVersion: promspec/v1
kind: RecordingGroup
metadata:
  name: {name}
spec:
  rules:
    - record: myapp:req_rate5m_{i}
      expr: sum(rate(myapp_requests_total[5m]))
---
apiVersion: promspec/v1
kind: AlertGroup
metadata:
  name: {name}-alerts
spec:
  alerts:
    - name: MyAppDown{i}
      expr: sum(rate(myapp_requests_total[5m])) == 0
      for: 5m
      severity: warning
      summary: {summary}
"""

CATALOG = """\
apiVersion: promspec/v1
kind: Catalog
metadata:
  name: fuzz-catalog
spec:
  metrics:
    - {name: myapp_requests_total, type: counter, labels: [code, path]}
    - {name: myapp_errors_total, type: counter, labels: [code, path, le]}
    - name: myapp_latency_seconds
      type: histogram
      labels: [path, code]
      buckets: [0.0001, 0.005, 0.1, 0.5, 1, 2.5, 10, 1000]
"""

PROBE = """\
apiVersion: promspec/v1
kind: Probe
metadata: {name: hc-probe}
spec:
  module: http
  targets: [https://api.example.com/healthz]
  locations: [{name: dc1, exporter: "localhost:9115"}]
"""

SLOTH = """\
version: prometheus/v1
service: {service}
labels:
  owner: {owner}
slos:
{slos}"""

SLOTH_SLO = """\
  - name: {name}
    objective: {objective}
    description: {description}
    labels:
      category: {category}
    sli:
      events:
        error_query: sum(rate(shop_http_requests_total{{service="{service}",code=~"5.."}}[{{{{.window}}}}]))
        total_query: sum(rate(shop_http_requests_total{{service="{service}"}}[{{{{.window}}}}]))
    alerting:
      name: {alert}
      labels:
        team: {team}
      page_alert:
        disable: {pdis}
      ticket_alert:
        labels:
          route: {route}
"""

OPENSLO = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: {name}
spec:
  service: {service}
  description: {description}
  budgetingMethod: Occurrences
  timeWindow:
    - duration: {window}
      isRolling: true
  indicator:
    metadata:
      name: {name}-ind
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(gateway_requests_total{{code=~"5..",svc="{service}"}}[{{{{.window}}}}]))
        total:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(gateway_requests_total{{svc="{service}"}}[{{{{.window}}}}]))
  objectives:
    - target: {target}
"""


def sloth_name(rnd):
    return pick(rnd, ["checkout", "a-b", "x1", "123", "yes", "n" * 40, "a.b"])


def write_tree(seed: int, root: str) -> None:
    rnd = random.Random(seed)
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    for name in ("backends", "catalog", "settings.yml"):
        src = os.path.join(ROOT, "specs", name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(root, name))
        else:
            shutil.copyfile(src, os.path.join(root, name))
    with open(os.path.join(root, "fuzz-catalog.yml"), "w") as fh:
        fh.write(CATALOG)
    with open(os.path.join(root, "probe.yml"), "w") as fh:
        fh.write(PROBE)
    shapes = [make_shape(rnd) for _ in range(rnd.randrange(1, 4))]
    nsvc = rnd.randrange(3, 12)
    used: set[str] = set()
    files: dict[str, list[str]] = {}
    for i in range(nsvc):
        while True:
            base = pick(rnd, NAMES)
            name = base if rnd.random() < 0.6 else f"{base}{i}" if rnd.random() < 0.5 else f"s{i}-{base}"
            name = name[:110]
            if name not in used:
                used.add(name)
                break
        nslo = rnd.randrange(1, 4)
        slos = []
        slo_names: set[str] = set()
        for j in range(nslo):
            s = mutate(rnd, pick(rnd, shapes)) if rnd.random() < 0.8 else dict(pick(rnd, shapes))
            while True:
                sn = pick(rnd, NAMES)
                if rnd.random() < 0.3:
                    sn = f"{sn}{j}"
                if sn not in slo_names:
                    slo_names.add(sn)
                    break
            s = {"name": sn, **s}
            slos.append(s)
        meta = label_map(rnd, 1) if rnd.random() < 0.3 else None
        doc = service_doc(rnd, name, rnd.random() < 0.5, slos, meta)
        fname = f"f{rnd.randrange(max(1, nsvc // 2))}.yml"
        files.setdefault(fname, []).append(doc)
        if rnd.random() < 0.25:
            gname = (
                f"grp{i}"
                if rnd.random() < 0.94
                else f"slo-{name}-{slos[0]['name']}-" + pick(rnd, ["long", "10m", "period", "alerts"])
            )
            files[fname].append(RULE_GROUP.format(name=gname, i=i, summary=q(pick(rnd, VALUES))))
        if rnd.random() < 0.015 and "-" not in name:
            # another service whose SLO id collides: "<name>-x" + "y" against "<name>" + "x-y"
            twin = dict(slos[0], name="x-y")
            files[fname].append(service_doc(rnd, name + "-p-x", False, [dict(twin, name="y")], None))
            files[fname].append(service_doc(rnd, name + "-p", False, [twin], None))
    for fname, docs in files.items():
        with open(os.path.join(root, fname), "w") as fh:
            fh.write("---\n".join(docs))
    if rnd.random() < 0.35:
        slos = []
        for k in range(rnd.randrange(1, 4)):
            svc = "checkout"
            slos.append(
                SLOTH_SLO.format(
                    name=f"s{k}-" + pick(rnd, ["avail", "1", "a.b", "yes"]),
                    objective=pick(rnd, [99.9, 99, 90, 99.95, 99.9999]),
                    description=q(pick(rnd, VALUES)),
                    category=q(pick(rnd, VALUES)),
                    service=svc,
                    alert=pick(rnd, ["CheckoutErr", "A", "X_y"]) + str(k),
                    team=q(pick(rnd, VALUES)),
                    pdis=pick(rnd, ["true", "false"]),
                    route=q(pick(rnd, VALUES)),
                )
            )
        with open(os.path.join(root, "sloth.yml"), "w") as fh:
            fh.write(SLOTH.format(service="checkout", owner=q(pick(rnd, VALUES)), slos="".join(slos)))
    if rnd.random() < 0.35:
        docs = []
        for k in range(rnd.randrange(1, 3)):
            docs.append(
                OPENSLO.format(
                    name=f"o{k}-" + pick(rnd, ["api", "1", "a.b"]),
                    service=pick(rnd, ["gateway", "gw-2"]),
                    description=q(pick(rnd, VALUES)),
                    window=pick(rnd, ["30d", "28d", "7d"]),
                    target=pick(rnd, [0.999, 0.99, 0.9, 0.9995, 0.999999]),
                )
            )
        with open(os.path.join(root, "openslo.yml"), "w") as fh:
            fh.write("---\n".join(docs))


if __name__ == "__main__":
    write_tree(int(sys.argv[1]), sys.argv[2])
