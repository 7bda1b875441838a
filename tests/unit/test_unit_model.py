"""The typed core model built in Python (no YAML): scrape jobs, Settings, Slurm, Kubernetes, Notifications."""

from __future__ import annotations

import dataclasses

import pytest

from promspec.check.notifications import check_notifications, check_settings_credentials
from promspec.check.slurm import check_nodelists
from promspec.compile.alertmanager import alertmanager_config
from promspec.compile.kubernetes import monitor
from promspec.compile.remote_write import remote_write_configs
from promspec.compile.scrape import scrape_config
from promspec.compile.slurm import slurm_jobs
from promspec.diagnostics import Report
from promspec.model.loader import Document
from promspec.model.notifications import (
    Escalation,
    InhibitRule,
    Integration,
    Notifications,
    Receiver,
    Route,
)
from promspec.model.project import (
    Alert,
    BasicAuth,
    KubernetesMonitor,
    KubernetesOptions,
    Project,
    RemoteWrite,
    RuleGroup,
    ScrapeJob,
    Settings,
    SlurmNodes,
    SpecText,
    TargetGroup,
    apply_env,
    build_project,
)


def _ref(path: tuple = ("spec",), source: str = "specs/ops.yml"):
    from promspec.model.project import Ref

    return Ref(doc=Document(file=source, index=0, data={}, source=source), path=path)


def test_records_are_keyword_only_and_frozen():
    with pytest.raises(TypeError):
        TargetGroup(("a:1",), {})  # type: ignore[misc]
    group = RuleGroup(name="g", kind="AlertGroup", ref=_ref())
    with pytest.raises(dataclasses.FrozenInstanceError):
        group.name = "h"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().scrape_interval = "1m"  # type: ignore[misc]


def test_target_groups_render_as_static_configs_in_order():
    job = ScrapeJob(
        name="gpu",
        ref=_ref(),
        target_groups=[
            TargetGroup(targets=("a:9400",)),
            TargetGroup(targets=("b:9400", "c:9400"), labels={"rack": "r1"}),
        ],
    )
    assert scrape_config(job)["static_configs"] == [
        {"targets": ["a:9400"]},
        {"targets": ["b:9400", "c:9400"], "labels": {"rack": "r1"}},
    ]


def test_slurm_jobs_come_from_the_modelled_nodelist_not_the_document():
    slurm = SlurmNodes(nodelist="gpu[01-02]", port=9400, ref=_ref(("spec", "jobs", 0, "slurm")), labels={"c": "x"})
    job = ScrapeJob(
        name="gpus", ref=_ref(), target_groups=[TargetGroup(targets=("gpu01:9400", "gpu02:9400"))], slurm=slurm
    )
    assert slurm_jobs(Project(jobs=[job, ScrapeJob(name="other", ref=_ref())])) == [("gpus", 9400, {"c": "x"})]


def test_a_bad_nodelist_is_reported_from_the_model():
    doc = Document(file="specs/t.yml", index=0, data={}, source="specs/t.yml")
    from promspec.model.project import Ref

    slurm = SlurmNodes(nodelist="gpu[3-1]", port=9400, ref=Ref(doc, ("spec", "jobs", 0, "slurm")))
    report = Report()
    check_nodelists(Project(jobs=[ScrapeJob(name="j", ref=Ref(doc, ("spec", "jobs", 0)), slurm=slurm)]), report)
    assert [(e.path, e.message) for e in report.errors] == [
        ("spec.jobs[0].slurm.nodelist", "bad Slurm nodelist: range 3-1 runs backwards")
    ]


def test_kubernetes_monitor_options_and_settings():
    job = ScrapeJob(
        name="vllm",
        ref=_ref(),
        target_groups=[TargetGroup(targets=("x:1",), labels={"team": "ml"})],
        kubernetes=KubernetesMonitor(monitor="PodMonitor", port="http", namespaces=["serving"]),
    )
    project = Project(
        jobs=[job], settings=Settings(kubernetes=KubernetesOptions(namespace="mon", labels={"release": "kps"}))
    )
    resource = monitor(project, job)
    assert resource["kind"] == "PodMonitor"
    assert resource["metadata"] == {
        "name": "promspec-vllm",
        "namespace": "mon",
        "labels": {"app.kubernetes.io/managed-by": "promspec", "release": "kps"},
    }
    assert resource["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "vllm"}}
    assert resource["spec"]["namespaceSelector"] == {"matchNames": ["serving"]}
    assert resource["spec"]["podMetricsEndpoints"][0]["port"] == "http"


def test_apply_env_builds_new_settings_and_leaves_the_old_alone():
    before = Settings(external_labels={"cluster": "a"})
    report = Report()
    after = apply_env(before, {"PROMSPEC_SCRAPE_INTERVAL": "1m", "PROMSPEC_ALERTMANAGERS": "am:9093"}, report)
    assert not report.errors
    assert (after.scrape_interval, after.alertmanagers) == ("1m", ["am:9093"])
    assert after.from_env == {"scrape_interval": "PROMSPEC_SCRAPE_INTERVAL", "alertmanagers": "PROMSPEC_ALERTMANAGERS"}
    assert (before.scrape_interval, before.alertmanagers, before.from_env) == ("15s", ["localhost:9093"], {})
    assert apply_env(before, {}, Report()) is before


def test_remote_write_renders_credentials_by_file_and_keeps_order():
    queue = RemoteWrite(
        url="https://central/api/v1/write",
        ref=_ref(("spec", "remote_write", 0)),
        name="central",
        headers={"X-Scope-OrgID": "team-a"},
        basic_auth=BasicAuth(username="prom", password_file="/etc/secret"),
        send_exemplars=False,
    )
    assert remote_write_configs([queue]) == [
        {
            "url": "https://central/api/v1/write",
            "name": "central",
            "headers": {"X-Scope-OrgID": "team-a"},
            "basic_auth": {"username": "prom", "password_file": "/etc/secret"},
            "send_exemplars": False,
        }
    ]


def test_inline_remote_write_credentials_are_errors_from_the_model():
    queue = RemoteWrite(url="https://central/write", ref=_ref(("spec", "remote_write", 0)), bearer_token="abc")
    empty_password = RemoteWrite(
        url="https://central/write",
        ref=_ref(("spec", "remote_write", 1)),
        basic_auth=BasicAuth(username="u", password=""),
    )
    report = Report()
    check_settings_credentials(Project(settings=Settings(remote_write=[queue, empty_password])), report)
    assert [e.path for e in report.errors] == [
        "spec.remote_write[0].bearer_token",
        "spec.remote_write[1].basic_auth.password",
    ]


def _notifications() -> Notifications:
    ref = _ref()
    route = Route(
        receiver="default",
        ref=ref.at("route"),
        routes=[
            Route(
                receiver="oncall",
                ref=ref.at("route", "routes", 0),
                match={"severity": "page"},
                group_by=["alertname"],
                repeat_interval="4h",
                escalate=[
                    Escalation(after="15m", receiver="lead", ref=ref.at("route", "routes", 0, "escalate", 0)),
                ],
            )
        ],
    )
    receivers = [
        Receiver(name=name, ref=ref.at("receivers", i), integrations=integrations)
        for i, (name, integrations) in enumerate(
            (
                ("default", []),
                (
                    "oncall",
                    [
                        Integration(
                            kind="webhook",
                            ref=ref.at("receivers", 1, "webhook"),
                            settings={"url": "http://127.0.0.1:5001/", "bearer_token_file": "/etc/token"},
                        )
                    ],
                ),
                ("lead", []),
            )
        )
    ]
    return Notifications(
        ref=ref,
        receivers=receivers,
        route=route,
        inhibit_defaults=False,
        inhibit_rules=[InhibitRule(ref=ref.at("inhibit", "rules", 0), source={"a": "1"}, target_re={"b": "x|y"})],
    )


def test_alertmanager_config_from_the_notifications_model():
    config = alertmanager_config(_notifications())
    assert config["route"] == {
        "receiver": "default",
        "group_by": ["alertname", "slo_id"],
        "routes": [
            {
                "receiver": "oncall",
                "matchers": ['severity="page"'],
                "group_by": ["alertname"],
                "repeat_interval": "4h",
                "continue": True,
            },
            {
                "receiver": "lead",
                "matchers": ['severity="page"'],
                "group_by": ["alertname"],
                "group_wait": "15m",
                "repeat_interval": "4h",
            },
        ],
    }
    assert config["inhibit_rules"] == [{"source_matchers": ['a="1"'], "target_matchers": ['b=~"x|y"']}]
    assert config["receivers"][1] == {
        "name": "oncall",
        "webhook_configs": [
            {"url": "http://127.0.0.1:5001/", "http_config": {"authorization": {"credentials_file": "/etc/token"}}}
        ],
    }


def test_notification_checks_read_the_model():
    n = _notifications()
    bad = dataclasses.replace(
        n,
        route=dataclasses.replace(n.route, receiver="defualt"),
        inhibit_rules=[InhibitRule(ref=n.ref.at("inhibit", "rules", 0), target={"b": "1"})],
    )
    report = Report()
    check_notifications(Project(notifications=[bad]), report)
    assert sorted((d.path, d.message.split(";")[0]) for d in report.items) == [
        ("spec.inhibit.rules[0]", "an inhibition rule needs source: matchers"),
        ("spec.receivers[0].name", "receiver 'default' is not used by any route"),
        ("spec.route.receiver", "unknown receiver 'defualt' (did you mean 'default'?)"),
    ]


def test_alert_records_where_its_labels_were_written():
    alert = Alert(name="A", expr="up == 0", ref=_ref(("spec", "alerts", 0)), label_paths={"team": ("spec", "labels")})
    assert alert.label_paths == {"team": ("spec", "labels")}
    assert Alert(name="B", expr="1", ref=_ref()).label_paths is None  # generated: not recorded


def _doc(kind: str, spec: dict, name: str = "x") -> Document:
    data = {"apiVersion": "promspec/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    return Document(file="specs/ops.yml", index=0, data=data, source="specs/ops.yml")


def test_build_project_models_every_core_kind_from_documents():
    docs = [
        _doc(
            "AlertGroup",
            {
                "labels": {"team": "ml"},
                "alerts": [{"name": "Down", "expr": "up == 0", "labels": {"tier": "1"}, "summary": "down"}],
            },
        ),
        _doc(
            "Targets",
            {
                "jobs": [
                    {
                        "name": "gpus",
                        "labels": {"c": "a"},
                        "slurm": {"nodelist": "gpu[1-2]", "port": 9400, "labels": {"p": "x"}},
                        "kubernetes": {"monitor": "PodMonitor"},
                    }
                ]
            },
        ),
        _doc(
            "Settings",
            {
                "remote_write": [{"url": "https://c/w", "bearer_token_file": "/t"}],
                "kubernetes": {"namespace": "mon"},
            },
        ),
        _doc(
            "Notifications",
            {
                "receivers": [{"name": "r", "slack": [{"api_url_file": "/s"}, {"api_url_file": "/t"}]}],
                "route": {"receiver": "r"},
            },
        ),
    ]
    project = build_project(docs, Report(), env={"PROMSPEC_RETENTION": "90d"})
    alert = project.groups[0].rules[0]
    assert isinstance(alert, Alert)
    assert alert.labels == {"team": "ml", "tier": "1", "severity": "warning"}
    assert alert.label_paths == {"team": ("spec", "labels", "team"), "tier": ("spec", "alerts", 0, "labels", "tier")}
    assert alert.annotation_paths == {"summary": ("spec", "alerts", 0, "summary")}
    assert alert.sources == [SpecText(path=("spec", "alerts", 0, "expr"), text="up == 0")]
    (job,) = project.jobs
    assert job.slurm == SlurmNodes(nodelist="gpu[1-2]", port=9400, ref=job.ref.at("slurm"), labels={"c": "a", "p": "x"})
    assert job.target_groups == [TargetGroup(targets=("gpu1:9400", "gpu2:9400"), labels={"c": "a", "p": "x"})]
    assert job.kubernetes == KubernetesMonitor(monitor="PodMonitor")
    settings = project.settings
    assert (settings.retention, settings.from_env) == ("90d", {"retention": "PROMSPEC_RETENTION"})
    assert settings.remote_write == [
        RemoteWrite(url="https://c/w", ref=settings.remote_write[0].ref, bearer_token_file="/t")
    ]
    assert settings.remote_write[0].ref.path == ("spec", "remote_write", 0)
    assert settings.kubernetes == KubernetesOptions(namespace="mon")
    (notifications,) = project.notifications
    assert [i.ref.path for i in notifications.receivers[0].integrations] == [
        ("spec", "receivers", 0, "slack", 0),
        ("spec", "receivers", 0, "slack", 1),
    ]
    assert "Notifications" not in project.extra


def test_project_is_frozen_and_the_later_model_steps_return_copies():
    from promspec.model.dashboards import build_project_dashboards
    from promspec.model.probes import build_project_probes
    from promspec.model.services import build_services

    core = build_project([_doc("Catalog", {"metrics": [{"name": "up", "type": "gauge"}]})], Report(), env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        core.settings = Settings()  # type: ignore[misc]
    report = Report()
    project = build_project_dashboards(build_services(build_project_probes(core, report), report))
    assert not report.errors
    assert isinstance(project, Project) and project is not core
    assert [c.name for c in project.catalogs] == [c.name for c in core.catalogs] == ["x"]
