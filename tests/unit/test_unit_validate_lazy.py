"""jsonschema is imported only to explain a document the quick schema checks refuse (model/validate.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # a fresh interpreter: sys.modules of this process already holds jsonschema

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_PROGRAM = """
import sys
from promspec.diagnostics import Report
from promspec.model.loader import parse_text
from promspec.model.validate import validate_documents
text = sys.argv[1]
report = Report()
good = validate_documents(parse_text(text, "x.yml", report), report)
print(len(good), [d.format() for d in report.errors], "jsonschema" in sys.modules)
"""


def _validate(text: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "gen")}
    proc = subprocess.run([sys.executable, "-c", _PROGRAM, text], capture_output=True, text=True, env=env, check=True)
    return proc.stdout.strip()


def test_a_valid_document_is_checked_without_importing_jsonschema():
    settings = "apiVersion: promspec/v1\nkind: Settings\nmetadata: {name: s}\nspec: {}\n"
    assert _validate(settings) == "1 [] False"


def test_an_invalid_document_is_explained_by_jsonschema():
    wrong = "apiVersion: promspec/v1\nkind: Settings\nmetadata: {name: s}\nspec: {bogus: 1}\n"
    out = _validate(wrong)
    assert out.startswith("0 [") and "unknown field 'bogus'" in out and out.endswith("True")
