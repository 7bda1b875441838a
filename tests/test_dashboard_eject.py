"""`promspec dashboards eject`: a bundled dashboard as a spec to copy and change, which then replaces it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import REPO, promspec_in_process

UID = "llm-service-chat-vllm"
JSON_PATH = f"dashboards/inference/{UID}.json"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundled specs and what they generate, before any dashboard is ejected."""
    root = tmp_path_factory.mktemp("eject")
    shutil.copytree(os.path.join(REPO, "specs"), root / "specs")
    promspec_in_process("generate", "specs", "-o", "before", "-q", cwd=str(root), check=0)
    return root


@pytest.mark.slow  # in-process, but three builds of the bundled specs (~5 s CPU): kept out of the fast tier
def test_an_ejected_dashboard_with_a_panel_renamed_replaces_the_bundled_one_and_changes_only_that_title(
    project: Path,
) -> None:
    work = project / "edit"
    shutil.copytree(project / "specs", work / "specs")
    ejected = work / "specs" / "dashboards" / f"{UID}.yml"
    proc = promspec_in_process("dashboards", "eject", UID, "-o", str(ejected), cwd=str(work), check=0)
    assert f"wrote {ejected}" in proc.stderr
    doc = yaml.safe_load(ejected.read_text())
    panel = doc["spec"]["rows"][0]["panels"][0]
    old_title = panel["title"]
    panel["title"] = "Requests, renamed"
    ejected.write_text(yaml.safe_dump(doc, sort_keys=False))

    proc = promspec_in_process("generate", "specs", "-o", "after", cwd=str(work), check=0)
    assert (
        f"specs/dashboards/{UID}.yml:4:9: note: dashboard {UID!r} replaces the bundled dashboard {UID!r}" in proc.stderr
    ), proc.stderr
    before = json.loads((project / "before" / JSON_PATH).read_text())
    after = json.loads((work / "after" / JSON_PATH).read_text())
    # The renamed panel keeps its id (the ejected spec pins every panel's id); nothing else changes.
    renamed = next(p for p in after["panels"] if p.get("title") == "Requests, renamed")
    original = next(p for p in before["panels"] if p.get("title") == old_title)
    assert renamed["id"] == original["id"]
    renamed["title"] = old_title
    assert after == before
    # Every other dashboard is the same file, byte for byte.
    for path in (project / "before" / "dashboards").rglob("*.json"):
        rel = path.relative_to(project / "before")
        if str(rel) != JSON_PATH:
            assert (work / "after" / rel).read_bytes() == path.read_bytes(), rel


def test_an_unknown_uid_lists_the_bundled_ones_with_a_hint() -> None:
    proc = promspec_in_process("dashboards", "eject", "slo-overveiw", check=1)
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert "no bundled dashboard 'slo-overveiw' (did you mean 'slo-overview'?)" in proc.stderr
    assert "bundled dashboards: gpu-fleet, host-overview, llm-engine-generic," in proc.stderr


def test_eject_writes_to_stdout_and_never_over_an_existing_file(tmp_path: Path) -> None:
    proc = promspec_in_process("dashboards", "eject", "gpu-fleet", check=0)
    assert proc.stdout.startswith("# The bundled dashboard 'gpu-fleet', as promspec builds it for specs.")
    assert yaml.safe_load(proc.stdout)["metadata"] == {"name": "gpu-fleet"}
    existing = tmp_path / "mine.yml"
    existing.write_text("my edits\n")
    proc = promspec_in_process("dashboards", "eject", "gpu-fleet", "-o", str(existing), check=1)
    assert f"{existing} exists" in proc.stderr and existing.read_text() == "my edits\n"


def test_a_dashboard_that_is_already_a_spec_is_not_ejected(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(os.path.join(REPO, "tests", "fixtures", "base"), specs)
    (specs / "d.yml").write_text(
        "apiVersion: promspec/v1\nkind: Dashboard\nmetadata: {name: mine}\nspec:\n  panels:\n"
        "    - {title: Up, unit: short, queries: [{expr: 'sum(rate(llm_request_total[$__rate_interval]))'}]}\n"
    )
    proc = promspec_in_process("dashboards", "eject", "mine", cwd=str(tmp_path), check=1)
    assert "dashboard 'mine' is a spec already (specs/d.yml:3:" in proc.stderr


def test_a_spec_named_as_a_bundled_uid_replaces_it_with_a_note_saying_why(tmp_path: Path) -> None:
    work = tmp_path
    shutil.copytree(os.path.join(REPO, "specs"), work / "specs")
    (work / "specs" / "gpus.yml").write_text(
        "apiVersion: promspec/v1\nkind: Dashboard\nmetadata: {name: gpu-fleet}\nspec:\n  uid: my-gpus\n  panels:\n"
        "    - {title: Up, unit: short, queries: [{expr: 'sum(promspec_gpu_up)'}]}\n"
    )
    proc = promspec_in_process("validate", "specs", cwd=str(work), check=0)
    assert (
        "specs/gpus.yml:3:18: note: dashboard 'gpu-fleet' replaces the bundled dashboard 'gpu-fleet' (GPU fleet) "
        "(its name is that dashboard's uid)" in proc.stderr
    ), proc.stderr


@pytest.mark.slow  # in-process, but three builds of the bundled specs, two with 22 more documents (~6 s CPU)
def test_every_bundled_dashboard_ejected_into_the_specs_passes_the_written_checks_and_renders_the_same(
    project: Path,
) -> None:
    # A written dashboard is checked harder than a preset (every query's series, the full JSON lint), so each
    # ejected one must pass as a user's spec, not only read back.
    from dashboard_helpers import dashboard_json
    from promspec.compile.dashboards.to_spec import bundled_dashboards, eject
    from promspec.pipeline import load_build

    work = project / "all"
    shutil.copytree(project / "specs", work / "specs")
    build, _ = load_build([str(work / "specs")], env={})
    uids = list(bundled_dashboards(build.dashboards))
    for uid in uids:
        (work / "specs" / f"ejected-{uid}.yml").write_bytes(eject(build.dashboards, uid, "specs"))
    again, _ = load_build([str(work / "specs")], env={})
    assert sorted(r.uid for r in again.dashboards.replaced) == sorted(uids) and len(uids) == 22
    assert not any(b.dashboard.generated for b in again.dashboards.dashboards)
    for built in again.dashboards.dashboards:
        path = project / "before" / built.path
        assert built.data is not None and dashboard_json(built.data) == path.read_bytes(), built.path
