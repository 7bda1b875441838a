"""kind Topology -> a typed model: clusters (external labels, their scrape jobs, shards) and the global tier."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..diagnostics import Report, did_you_mean
from ..model.loader import Document
from ..model.project import Project, Ref, ScrapeJob

DEFAULT_CLUSTER_LABEL = "cluster"
DEFAULT_NAMESPACE = "promspec"
# The external label that tells the shards of one cluster apart: each shard records partial sums,
# and the global tier adds them up (sum by the SLO labels), so it must never collide with another label.
SHARD_LABEL = "shard"


@dataclass(frozen=True, kw_only=True)
class Cluster:
    name: str
    external_labels: Mapping[str, str]
    jobs: tuple[ScrapeJob, ...]
    shards: int
    # prometheus: `shards` Prometheus servers split the targets by hashmod, each records partial sums.
    # vmagent: `shards` vmagent members split them (-promscrape.cluster.*) and remote_write to one Prometheus
    # at `receiver`, which runs the cluster's rules over all of them: no partial sums, no shard label.
    scraper: str
    receiver: str
    ref: Ref

    @property
    def hashmod_shards(self) -> bool:
        """Several Prometheus servers, each with its own `shard` external label."""
        return self.scraper == "prometheus" and self.shards > 1

    def label_value(self, label: str) -> str:
        return self.external_labels[label]


@dataclass(frozen=True, kw_only=True)
class GlobalTier:
    backend: str  # victoriametrics | mimir | thanos
    url: str
    tenant: str
    namespace: str
    query_url: str
    alertmanagers: tuple[str, ...]
    per_cluster_alerts: bool
    send: str  # recorded | all
    ref: Ref


@dataclass(frozen=True, kw_only=True)
class Topology:
    name: str
    cluster_label: str
    clusters: tuple[Cluster, ...]
    global_tier: GlobalTier
    ref: Ref

    @property
    def label_names(self) -> tuple[str, ...]:
        """Every external label a cluster (or shard) adds, sorted."""
        names = {n for c in self.clusters for n in c.external_labels}
        if any(c.hashmod_shards for c in self.clusters):
            names.add(SHARD_LABEL)
        return tuple(sorted(names))


def _targets_by_name(project: Project) -> dict[str, Document]:
    by_name: dict[str, Document] = {}
    for job in project.jobs:
        by_name.setdefault(job.ref.doc.name, job.ref.doc)
    return by_name


def _cluster(doc: Document, i: int, project: Project, cluster_label: str, report: Report) -> Cluster:
    spec = doc.data["spec"]["clusters"][i]
    ref = Ref(doc, ("spec", "clusters", i))
    labels = dict(spec["external_labels"])
    if cluster_label not in labels:
        report.error(
            ref.pos("external_labels"),
            f"cluster {spec['name']!r} has no external label {cluster_label!r}",
            ref.dotted("external_labels"),
            f"external_labels with {cluster_label}: <a value naming this cluster> (the topology's cluster_label)",
        )
    shards = int(spec.get("shards", 1))
    scraper = spec.get("scraper", "prometheus")
    receiver = spec.get("receiver", "").rstrip("/")
    if scraper == "vmagent" and not receiver:
        report.error(
            ref.pos("scraper"),
            f"cluster {spec['name']!r} is scraped by vmagent but names no receiver: the vmagents need the URL of "
            "the cluster's Prometheus, which runs the cluster's rules over what they scrape",
            ref.dotted("receiver"),
            "receiver: <base URL of the cluster's Prometheus>, e.g. http://prometheus-eu:9090",
        )
    elif scraper != "vmagent" and receiver:
        report.error(
            ref.pos("receiver", key=True),
            f"cluster {spec['name']!r} has a receiver but its scraper is prometheus, which scrapes for itself",
            ref.dotted("receiver"),
            "scraper: vmagent, or no receiver",
        )
    if scraper == "prometheus" and shards > 1 and SHARD_LABEL in labels:
        report.error(
            ref.pos("external_labels", SHARD_LABEL, key=True),
            f"external label {SHARD_LABEL!r} is set by promspec on each shard of a sharded cluster",
            ref.dotted("external_labels", SHARD_LABEL),
            "another label name",
        )
    targets = _targets_by_name(project)
    jobs: list[ScrapeJob] = []
    for k, name in enumerate(spec["targets"]):
        if name not in targets:
            report.error(
                ref.pos("targets", k),
                f"no Targets document named {name!r}{did_you_mean(name, targets)}",
                ref.dotted("targets", k),
                "the metadata.name of a Targets document: " + (", ".join(sorted(targets)) or "(there is none)"),
            )
            continue
        jobs += [j for j in project.jobs if j.ref.doc is targets[name]]
    return Cluster(
        name=spec["name"],
        external_labels=labels,
        jobs=tuple(jobs),
        shards=shards,
        scraper=scraper,
        receiver=receiver,
        ref=ref,
    )


def _global(doc: Document, project: Project) -> GlobalTier:
    spec = doc.data["spec"]["global"]
    return GlobalTier(
        backend=spec["backend"],
        url=spec["url"].rstrip("/"),
        tenant=spec.get("tenant", ""),
        namespace=spec.get("namespace", DEFAULT_NAMESPACE),
        query_url=spec.get("query_url", spec["url"]).rstrip("/"),
        alertmanagers=tuple(spec.get("alertmanagers", project.settings.alertmanagers)),
        per_cluster_alerts=bool(spec.get("per_cluster_alerts", False)),
        send=spec.get("send", "recorded"),
        ref=Ref(doc, ("spec", "global")),
    )


def _check_unique(topology: Topology, report: Report) -> None:
    seen_names: dict[str, Cluster] = {}
    seen_values: dict[str, Cluster] = {}
    for c in topology.clusters:
        if c.name in seen_names:
            report.error(
                c.ref.pos("name"),
                f"cluster {c.name!r} is declared twice",
                c.ref.dotted("name"),
                f"a name of its own (the first is at {seen_names[c.name].ref.pos('name')})",
            )
        seen_names.setdefault(c.name, c)
        value = c.external_labels.get(topology.cluster_label)
        if value is None:
            continue
        if value in seen_values:
            # Two clusters under one label value would be summed as one: their events would count twice
            # against one name and the per-cluster alert could not say which cluster burns.
            report.error(
                c.ref.pos("external_labels", topology.cluster_label),
                f"{topology.cluster_label}={value!r} is already the label of cluster {seen_values[value].name!r}",
                c.ref.dotted("external_labels", topology.cluster_label),
                "a value of its own per cluster",
            )
        seen_values.setdefault(value, c)


def build_topology(project: Project, report: Report) -> Topology | None:
    """The project's Topology (None without one); problems go to report."""
    docs = project.extra.get("Topology", [])
    if not docs:
        return None
    for extra in docs[1:]:
        report.error(
            extra.pos(("kind",)),
            "a second Topology document",
            "kind",
            f"one Topology document (the first is at {docs[0].pos(('kind',))})",
        )
    doc = docs[0]
    spec = doc.data["spec"]
    label = spec.get("cluster_label", DEFAULT_CLUSTER_LABEL)
    clusters = tuple(_cluster(doc, i, project, label, report) for i in range(len(spec["clusters"])))
    topology = Topology(
        name=doc.name,
        cluster_label=label,
        clusters=clusters,
        global_tier=_global(doc, project),
        ref=Ref(doc, ("spec",)),
    )
    _check_unique(topology, report)
    _check_targets(doc, project, report)
    return topology


def _check_targets(doc: Document, project: Project, report: Report) -> None:
    """Every Targets document in exactly one cluster: in two, its events would count twice in every fleet
    SLO; in none, fleet/ would scrape none of its jobs."""
    owner: dict[str, int] = {}
    for i, cluster in enumerate(doc.data["spec"]["clusters"]):
        for k, name in enumerate(cluster["targets"]):
            if name in owner:
                first = doc.data["spec"]["clusters"][owner[name]]["name"]
                report.error(
                    doc.pos(("spec", "clusters", i, "targets", k)),
                    f"Targets {name!r} is already scraped by cluster {first!r}: its events would count twice "
                    "in the fleet's SLOs",
                    f"spec.clusters[{i}].targets[{k}]",
                    "each Targets document in one cluster",
                )
            owner.setdefault(name, i)
    for name, targets_doc in sorted(_targets_by_name(project).items()):
        if name not in owner:
            report.warn(
                targets_doc.pos(("metadata", "name")),
                f"Targets {name!r} belongs to no cluster of Topology {doc.name!r}: fleet/ scrapes none of its jobs "
                "(prometheus/prometheus.yml still does)",
                "metadata.name",
                "its name in the targets of one cluster",
            )
