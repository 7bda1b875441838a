"""Credentials pasted into ordinary Notifications fields are found by their shape, in any field and any case,
before they can reach alertmanager.yml (issue 15, item 10). In-process: no subprocess, no server."""

from __future__ import annotations

import pytest

from promspec.diagnostics import SpecError
from promspec.pipeline import load_project

TOKEN = "Xq7Lr2Zt9Vb4Nc8Md3Kf6Hj1"  # 24 letters and digits, like the tokens below

# (receiver integration, field path inside it, value). Each is a credential Alertmanager would be handed.
SPELLINGS = [
    ("webhook", ("url",), f"https://hooks.slack.com/services/T000/B000/{TOKEN}"),
    ("webhook", ("url",), f"https://HOOKS.SLACK.COM/SERVICES/T000/B000/{TOKEN}"),
    ("webhook", ("url",), f"https://Hooks.Slack.Com/Services/T000/B000/{TOKEN}"),
    ("webhook", ("url",), f"https://hooks.slack.com/workflows/T000/A000/1/{TOKEN}"),
    ("webhook", ("url",), f"https://hooks.slack.com/triggers/T000/1/{TOKEN}"),
    ("slack", ("title_link",), f"https://hooks.slack.com/services/T000/B000/{TOKEN}"),
    ("webhook", ("url",), f"https://slack.com/api/chat.postMessage?token=xoxb-1234-{TOKEN}"),
    ("slack", ("text",), f"xoxb-1234-{TOKEN}"),
    ("slack", ("text",), f"XOXP-1234-{TOKEN}"),
    ("webhook", ("url",), f"https://example.webhook.office.com/webhookb2/{TOKEN}@x/IncomingWebhook/a/b"),
    ("webhook", ("url",), f"https://OUTLOOK.OFFICE.COM/webhook/{TOKEN}"),
    ("webhook", ("url",), f"https://discord.com/api/webhooks/123/{TOKEN}"),
    ("webhook", ("url",), f"https://DiscordApp.com/api/webhooks/123/{TOKEN}"),
    ("webhook", ("url",), f"https://api.telegram.org/bot123456:{TOKEN}/sendMessage"),
    ("webhook", ("url",), f"https://hooks.zapier.com/hooks/catch/123/{TOKEN}/"),
    ("webhook", ("url",), f"https://events.pagerduty.com/integration/{TOKEN}/enqueue"),
    ("webhook", ("url",), f"https://alert.victorops.com/integrations/generic/20131114/alert/{TOKEN}/team"),
    ("webhook", ("url",), f"https://mattermost.example.com/hooks/{TOKEN}"),
    ("webhook", ("url",), f"https://chat.example.com/hooks/{TOKEN.upper()}"),
    ("webhook", ("url",), "https://alerts:hunter22@example.com/hook"),
    ("webhook", ("url",), "https://ALERTS:Hunter22@Example.com/hook"),
    ("webhook", ("url",), "https://:hunter22@example.com/hook"),
    ("webhook", ("url",), "http://user%40corp:hunter22@example.com:8080/"),
    ("email", ("text",), "alerts:hunter22@smtp.example.com:587"),
    ("webhook", ("url",), "https://example.com/hook?routing_key=0123456789abcdef"),
    ("webhook", ("url",), "https://example.com/hook?ROUTING_KEY=0123456789abcdef"),
    ("webhook", ("url",), "https://example.com/hook?a=1&auth_token=0123456789abcdef"),
    ("webhook", ("url",), "https://fn.azurewebsites.net/api/alert?code=0123456789abcdef"),
    ("webhook", ("url",), "https://example.com/hook?Code=0123456789abcdef"),
    ("webhook", ("url",), "https://example.com/hook?api-key=0123456789abcdef"),
    ("webhook", ("url",), "https://example.com/hook?apiKey=0123456789abcdef"),
    ("webhook", ("url",), "https://example.com/hook?access_token=0123456789abcdef"),
    ("webhook", ("url",), "https://example.com/hook?sig=0123456789abcdef"),
    ("pagerduty", ("client_url",), "https://example.com/x?private_token=0123456789abcdef"),
    ("email", ("headers", "Authorization"), "Bearer 0123456789abcdef"),
    ("email", ("headers", "authorization"), "hunter22"),
    ("email", ("headers", "X-API-Key"), "0123456789abcdef"),
    ("email", ("headers", "Subject"), "Basic YWxlcnRzOmh1bnRlcjIy"),
    ("pagerduty", ("details", "token"), f"ghp_{TOKEN}{TOKEN}"),
]

# Ordinary values that must stay accepted (no false alarm on URLs, hosts, addresses, placeholders).
ORDINARY = [
    ("webhook", ("url",), "http://127.0.0.1:5001/hook"),
    ("webhook", ("url",), "https://example.com/hooks/alertmanager-to-chat-relay"),
    ("webhook", ("url",), "https://example.com/hook?token=${HOOK_TOKEN}"),
    ("webhook", ("url",), "https://example.com/hook?api-version=2016-06-01"),
    ("slack", ("title_link",), "https://grafana.example.com/d/llm-service-chat-vllm/chat?orgId=1"),
    ("email", ("text",), "alerts@example.com"),
    ("email", ("headers", "Authorization"), "${SMTP_AUTHORIZATION}"),
    ("email", ("headers", "Subject"), "[{{ .Status }}] {{ .CommonLabels.alertname }}"),
]

BASE = {
    "email": {"to": "ops@example.com", "from": "am@example.com", "smarthost": "smtp.example.com:587"},
    "slack": {"api_url_file": "/etc/am/slack"},
    "pagerduty": {"routing_key_file": "/etc/am/pd"},
    "webhook": {"url": "http://127.0.0.1:5001/hook"},
}


def _yaml_scalar(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _spec(tmp_path, kind: str, path: tuple, value: str) -> tuple[str, int, int]:
    """A Notifications spec with value at receivers[0].<kind>.<path>; returns (file, line, col) of the value."""
    fields = dict(BASE[kind])
    lines = [
        "apiVersion: promspec/v1",
        "kind: Notifications",
        "metadata: {name: n}",
        "spec:",
        "  route: {receiver: r}",
        "  receivers:",
        "    - name: r",
        f"      {kind}:",
    ]
    fields.pop(path[0], None)
    for key, v in fields.items():
        lines.append(f"        {key}: {_yaml_scalar(v)}")
    if len(path) == 1:
        lines.append(f"        {path[0]}: {_yaml_scalar(value)}")
        where = (len(lines), len(f"        {path[0]}: ") + 1)
    else:
        lines.append(f"        {path[0]}:")
        lines.append(f"          {path[1]}: {_yaml_scalar(value)}")
        where = (len(lines), len(f"          {path[1]}: ") + 1)
    specs = tmp_path / "specs"
    specs.mkdir(exist_ok=True)
    file = specs / "notifications.yml"
    file.write_text("\n".join(lines) + "\n")
    return str(file), *where


@pytest.mark.parametrize("kind, path, value", SPELLINGS, ids=[f"{i:02d}" for i in range(len(SPELLINGS))])
def test_a_secret_in_an_ordinary_field_is_an_error_at_its_position(tmp_path, kind, path, value):
    file, line, col = _spec(tmp_path, kind, path, value)
    with pytest.raises(SpecError) as raised:
        load_project([str(tmp_path / "specs")], env={})
    found = [d for d in raised.value.diagnostics if "looks like an inline secret" in d.message]
    assert found, str(raised.value)
    text = found[0].format()
    assert text.startswith(f"{file}:{line}:{col}: "), text
    assert "_file" in text  # tells the user where the secret belongs
    for part in ("hunter22", TOKEN, "0123456789abcdef", "YWxlcnRzOmh1bnRlcjIy"):
        assert part not in str(raised.value)  # the message never repeats the secret


@pytest.mark.parametrize("kind, path, value", ORDINARY, ids=[f"{i:02d}" for i in range(len(ORDINARY))])
def test_ordinary_values_are_not_taken_for_secrets(tmp_path, kind, path, value):
    _spec(tmp_path, kind, path, value)
    load_project([str(tmp_path / "specs")], env={})
