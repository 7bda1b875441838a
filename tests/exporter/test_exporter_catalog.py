"""The bundled catalog (specs/catalog/exporter.yml) and the exposition agree, both ways."""

import pytest
import yaml

from promspec.exporter.options import Options

from .exporter_harness import HOST_COLLECTORS, REPO, families, samples, scrape_until
from .fake_nvml import fleet

CATALOG = REPO / "specs" / "catalog" / "exporter.yml"


def catalog() -> dict:
    documents = [d for d in yaml.safe_load_all(CATALOG.read_text()) if d and d.get("kind") == "Catalog"]
    assert documents, "no Catalog document"
    return {m["name"]: m for d in documents for m in d["spec"]["metrics"]}


def full_featured_body(start_exporter, procfs, rootfs) -> str:
    """Every collector, the fake fleet with MIG and NVLink, per-process memory and an XID seen."""
    nvml = fleet(processes_pid=4242)
    options = Options(procfs=str(procfs), rootfs=str(rootfs), gpu_processes=True, gpu_slow_interval=0.1)
    exporter = start_exporter(HOST_COLLECTORS + ["gpu"], options, nvml=nvml)
    exporter.metrics()
    nvml.inject_xid(0, 79)
    return scrape_until(
        exporter,
        lambda b: "promspec_gpu_xid_errors_total" in b and len(samples(b, "promspec_gpu_process_memory_bytes")) == 2,
        "every GPU family",
    )


@pytest.mark.slow
def test_every_exposed_family_is_in_the_catalog(start_exporter, procfs, rootfs):
    listed = catalog()
    for name, family in families(full_featured_body(start_exporter, procfs, rootfs)).items():
        assert name in listed, f"{name} is exposed but not in {CATALOG.name}"
        entry = listed[name]
        assert entry["type"] == family.type, name
        assert entry["help"] == family.documentation, name
        labels = set().union(*(s.labels for s in family.samples))
        assert labels <= set(entry["labels"]), (name, labels - set(entry["labels"]))


@pytest.mark.slow
def test_every_catalog_metric_is_exposed(start_exporter, procfs, rootfs):
    exposed = families(full_featured_body(start_exporter, procfs, rootfs))
    missing = sorted(set(catalog()) - set(exposed))
    assert not missing, f"in the catalog but never exposed: {missing}"


def test_catalog_entries_are_well_formed():
    for name, entry in catalog().items():
        assert entry["type"] in {"counter", "gauge", "histogram", "summary", "info", "unknown"}, name
        assert entry["help"] and isinstance(entry["labels"], list), name
        assert entry["type"] != "counter" or name.endswith("_total"), name
        assert name.startswith(("promspec_", "node_", "process_")), name


def test_code_spec_tables_match_the_catalog():
    from promspec.exporter import collectors
    from promspec.exporter.registry import SELF_SPECS

    specs = {**collectors.specs(), **SELF_SPECS}
    listed = catalog()
    assert set(specs) == set(listed)
    for name, spec in specs.items():
        entry = listed[name]
        assert (entry["type"], entry["help"], entry["labels"]) == (spec.type, spec.help, list(spec.labels)), name
