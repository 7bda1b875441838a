"""The importers table on documents built in Python: detection, order, conversion, wrong-format errors."""

from __future__ import annotations

import pytest

from promspec.diagnostics import Report, SpecError
from promspec.importers import IMPORTERS, convert_foreign, import_documents
from promspec.model.loader import Document

PYRRA = {
    "apiVersion": "pyrra.dev/v1alpha1",
    "kind": "ServiceLevelObjective",
    "metadata": {"name": "api-errors"},
    "spec": {
        "target": "99",
        "window": "4w",
        "indicator": {
            "ratio": {
                "errors": {"metric": 'http_requests_total{job="api",code=~"5.."}'},
                "total": {"metric": 'http_requests_total{job="api"}'},
            }
        },
    },
}
SLOTH = {
    "version": "prometheus/v1",
    "service": "chat",
    "slos": [
        {
            "name": "errors",
            "objective": 99.5,
            "sli": {"events": {"error_query": "sum(rate(e[{{.window}}]))", "total_query": "sum(rate(t[{{.window}}]))"}},
            "alerting": {"name": "ChatErrors"},
        }
    ],
}
OPENSLO_SLI_ONLY = {"apiVersion": "openslo/v1", "kind": "SLI", "metadata": {"name": "lonely"}, "spec": {}}
NATIVE = {"apiVersion": "promspec/v1", "kind": "Catalog", "metadata": {"name": "c"}, "spec": {"metrics": []}}


def _doc(data: dict, index: int = 0) -> Document:
    return Document(file="specs/x.yml", index=index, data=data, source="specs/x.yml")


def test_each_format_is_detected_by_its_importer_only():
    found = {
        name: [importer.name for importer in IMPORTERS.values() if importer.detect(data)]
        for name, data in (("pyrra", PYRRA), ("sloth", SLOTH), ("openslo", OPENSLO_SLI_ONLY), ("native", NATIVE))
    }
    assert found == {"pyrra": ["pyrra"], "sloth": ["sloth"], "openslo": ["openslo"], "native": []}
    assert list(IMPORTERS) == ["pyrra", "sloth", "openslo"]  # the order converted documents come in


def test_convert_foreign_keeps_native_documents_first_then_each_importers_output_in_table_order():
    report = Report()
    docs = convert_foreign([_doc(SLOTH, 0), _doc(NATIVE, 1), _doc(PYRRA, 2)], report, catalogs=False)
    assert [d.kind for d in docs] == [
        "Catalog",
        "RecordingGroup",
        "RecordingGroup",
        "AlertGroup",
        "AlertGroup",
        "Service",
    ]
    assert docs[-1].data["spec"]["conventions"] == "sloth" and docs[-1].name == "chat"
    assert report.errors == []


def test_openslo_with_nothing_to_convert_is_an_error_not_an_empty_output():
    report = Report()
    assert convert_foreign([_doc(OPENSLO_SLI_ONLY)], report, catalogs=False) == []
    assert [d.message for d in report.errors] == ["no OpenSLO SLO could be converted: nothing would be generated"]


def test_import_of_one_format_refuses_a_document_of_another():
    report = Report()
    with pytest.raises(SpecError) as caught:
        import_documents([_doc(SLOTH)], "openslo", report)
    (error,) = caught.value.diagnostics
    assert error.message == "not an openslo document"
    assert error.expected == "an `apiVersion: openslo/v1` or `openslo/v1alpha` SLO, SLI or AlertPolicy"


def test_the_import_command_offers_exactly_the_registered_formats():
    from promspec.cli import cli

    fmt = next(p for p in cli.commands["import"].params if p.name == "fmt")
    assert sorted(fmt.type.choices) == sorted(IMPORTERS)  # type: ignore[attr-defined]
