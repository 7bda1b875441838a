"""What an SLO and its SLI say as written (the places checks point at) is read once per SLO and the service's
`alerting` once per service: the same records as reading each path afresh (written_at), the oracle."""

from __future__ import annotations

import os

import pytest

from promspec.model.project import Ref, written_at
from promspec.pipeline import load_model

from conftest import REPO

SLOTH = """\
apiVersion: promspec/v1
kind: Service
metadata: {name: s, labels: {team: a}}
spec:
  conventions: sloth
  alerting: {labels: {tier: x, team: b}, annotations: {summary: s}}
  slos:
    - name: a
      objective: 99%
      labels: {owner: o}
      sli: {ratio: {errors: 'sum(rate(e[{{window}}]))', total: 'sum(rate(t[{{window}}]))'}}
      alerting: {labels: {team: c}, annotations: {summary: t, runbook: r}}
    - name: b
      objective: 99.5%
      sli: {ratio: {errors: 'sum(rate(e2[{{window}}]))', total: 'sum(rate(t2[{{window}}]))'}}
---
apiVersion: promspec/v1
kind: Catalog
metadata: {name: c}
spec: {external: [e, t, e2, t2]}
"""


@pytest.mark.parametrize("root", ["specs", "tests/fixtures/sli_idioms", "sloth"])
def test_each_slos_written_records_are_those_read_afresh_at_its_paths(root, tmp_path):
    if root == "sloth":  # conventions: sloth builds its SLOs on their own path
        (tmp_path / "s.yml").write_text(SLOTH)
        root = str(tmp_path / "s.yml")
    project, _ = load_model([os.path.join(REPO, root)])
    slos = [slo for service in project.services for slo in service.slos]
    assert slos
    for slo in slos:
        doc, path = slo.ref.doc, slo.ref.path
        assert slo.sli_written == written_at(Ref(doc, path + ("sli",)))
        own = written_at(Ref(doc, path))
        layers = [own, written_at(Ref(doc, ("spec", "alerting"))), written_at(Ref(doc, path + ("alerting",)))]
        assert slo.written.texts == own.texts
        assert slo.written.label_paths == {k: v for w in layers for k, v in w.label_paths.items()}
        assert slo.written.annotation_paths == {k: v for w in layers for k, v in w.annotation_paths.items()}
        assert list(slo.written.label_paths) == list({k: 0 for w in layers for k in w.label_paths})
