"""After the model is built nothing reads a document again (issue 11): the checks, the compiler, the
renderers and the live commands read the typed records, and look up only positions in the documents."""

from __future__ import annotations

import ast
import pathlib

import promspec

PACKAGE = pathlib.Path(promspec.__file__).parent
# Everything downstream of the model: it receives a Project or a Build, never documents to read.
DOWNSTREAM = ("check", "compile", "render", "live", "diff", "preview")
# What a Document holds as written; positions (pos, pos_of_word, pos_in_scalar) stay allowed.
DOCUMENT_VALUES = {"data", "raw", "styles"}


def _is_document(node: ast.expr) -> bool:
    """doc, document, ref.doc, rule.ref.doc, ...: how the code base names a Document."""
    if isinstance(node, ast.Name):
        return node.id in ("doc", "document")
    return isinstance(node, ast.Attribute) and node.attr == "doc"


def raw_reads(source: str) -> list[str]:
    """line:col and text of each read of a document's values in source (Ref.node(), doc.data, ...)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "node":
            if not node.args and not node.keywords:
                found.append(f"{node.lineno}:{node.col_offset}: {ast.unparse(node)}")
        elif isinstance(node, ast.Attribute) and node.attr in DOCUMENT_VALUES and _is_document(node.value):
            found.append(f"{node.lineno}:{node.col_offset}: {ast.unparse(node)}")
    return found


def test_the_guard_sees_the_reads_it_forbids():
    source = "a = rule.ref.node()\nb = ref.doc.data['spec']\nc = doc.raw[path]\nd = rule.ref.doc.pos(path)\n"
    assert raw_reads(source) == ["1:4: rule.ref.node()", "2:4: ref.doc.data", "3:4: doc.raw"]


def test_nothing_downstream_of_the_model_reads_a_document():
    found = {
        str(path.relative_to(PACKAGE)): reads
        for package in DOWNSTREAM
        for path in sorted((PACKAGE / package).rglob("*.py"))
        if (reads := raw_reads(path.read_text(encoding="utf-8")))
    }
    assert found == {}


SERVICE = """\
apiVersion: promspec/v1
kind: Catalog
metadata: {name: app}
spec:
  metrics:
    - {name: http_requests_total, type: counter, labels: [code, job]}
---
apiVersion: promspec/v1
kind: Service
metadata: {name: api}
spec:
  selector: {job: api}
  slos:
    - name: ok
      objective: 99%
      labels: {team: "{{ x"}
      alerting:
        annotations: {dashboard: "{{ bad"}
      sli:
        ratio:
          errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
          total: sum(rate(http_request_totl[{{window}}]))
"""


def _at(text: str, line_text: str, needle: str) -> str:
    """line:col (1-based) of needle on the line that contains line_text: the oracle, from the text alone."""
    lines = text.splitlines()
    i = next(n for n, line in enumerate(lines) if line_text in line)
    return f"{i + 1}:{lines[i].index(needle) + 1}"


def test_rules_generated_from_an_sli_are_placed_from_the_model_alone(tmp_path):
    """The SLI's queries and the SLO's labels are recorded in the model (SLO.written, SLO.sli_written): with
    every document emptied after load_model, the checks still place each error where it was written."""
    from promspec.compile.build import compile_build
    from promspec.pipeline import MODEL_CHECKS, OUTPUT_CHECKS, load_model

    spec = tmp_path / "api.yml"
    spec.write_text(SERVICE)
    project, report = load_model([str(spec)])
    for doc in project.documents:
        doc.data.clear()  # a read of the document after the model would now find nothing
    for model_check in MODEL_CHECKS:
        model_check.check(project, report)
    build = compile_build(project)
    for output_check in OUTPUT_CHECKS:
        output_check.check(build, report)
    found = sorted({(str(e.pos).split(":", 1)[1], e.path, e.message.split(":")[0]) for e in report.errors})
    assert found == sorted(
        [
            (
                _at(SERVICE, "total:", "http_request_totl"),
                "spec.slos[0].sli.ratio.total",
                "metric 'http_request_totl' is not in any Catalog (did you mean 'http_requests_total'?)",
            ),
            (
                _at(SERVICE, "labels: {team:", "{{ x"),
                "spec.slos[0].labels.team",
                "template error in label 'team' of alert 'ApiOkErrorBudgetBurn'",
            ),
            (
                _at(SERVICE, "labels: {team:", "{{ x"),
                "spec.slos[0].labels.team",
                "template error in label 'team' of alert 'ApiOkErrorBudgetExhausted'",
            ),
            # The SLO's alerting annotations are recorded with the SLO (SLO.written): placed where written.
            (
                _at(SERVICE, "annotations: {dashboard:", "{{ bad"),
                "spec.slos[0].alerting.annotations.dashboard",
                "template error in annotation 'dashboard' of alert 'ApiOkErrorBudgetBurn'",
            ),
            (
                _at(SERVICE, "annotations: {dashboard:", "{{ bad"),
                "spec.slos[0].alerting.annotations.dashboard",
                "template error in annotation 'dashboard' of alert 'ApiOkErrorBudgetExhausted'",
            ),
        ]
    )
