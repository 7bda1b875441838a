"""promspec silence add|list|expire against a real Alertmanager on loopback."""

from __future__ import annotations

import datetime
import json
import re

import pytest

from promspec.live.silences import check_silence_matchers, parse_matcher

from conftest import free_port, run_promspec
from ops_servers import AlertmanagerServer, wait_for

# Every test here starts a subprocess or a server (see the `slow` marker in pyproject.toml).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def am(tmp_path_factory):
    root = tmp_path_factory.mktemp("am")
    config = root / "alertmanager.yml"
    config.write_text("route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n")
    server = AlertmanagerServer(str(config), str(root / "data"))
    yield server
    server.stop()


def _silence(am, *args, check=0):
    return run_promspec("silence", *args, "--alertmanager", am.url, check=check)


def test_add_list_expire(am):
    sid = _silence(
        am, "add", "HighErrorRate", 'model=~"llama.*"', "-c", "ack: looking into it", "-a", "alice", "-d", "30m"
    ).stdout.strip()
    listed = json.loads(_silence(am, "list", "--output", "json").stdout)
    mine = [s for s in listed if s["id"] == sid]
    assert len(mine) == 1
    assert mine[0]["status"]["state"] == "active"
    assert mine[0]["createdBy"] == "alice" and mine[0]["comment"] == "ack: looking into it"
    assert sorted((m["name"], m["value"], m["isRegex"]) for m in mine[0]["matchers"]) == [
        ("alertname", "HighErrorRate", False),
        ("model", "llama.*", True),
    ]
    ends = datetime.datetime.fromisoformat(mine[0]["endsAt"].replace("Z", "+00:00"))
    starts = datetime.datetime.fromisoformat(mine[0]["startsAt"].replace("Z", "+00:00"))
    assert 29 * 60 <= (ends - starts).total_seconds() <= 31 * 60
    table = _silence(am, "list").stdout
    assert sid in table and 'alertname="HighErrorRate", model=~"llama.*"' in table

    # The silence mutes a matching alert, and only that one.
    now = datetime.datetime.now(datetime.UTC).isoformat()
    am.post_alerts(
        {"labels": {"alertname": "HighErrorRate", "model": "llama-3-8b"}, "startsAt": now},
        {"labels": {"alertname": "HighErrorRate", "model": "mistral"}, "startsAt": now},
    )

    def states():  # only the two posted here: another Prometheus on the machine could reach this port
        alerts = [
            a
            for a in am.api("GET", "/alerts")
            if a["labels"].get("alertname") == "HighErrorRate" and a["labels"].get("model") in ("llama-3-8b", "mistral")
        ]
        return {a["labels"]["model"]: a["status"] for a in alerts} if len(alerts) == 2 else None

    found = wait_for(states, 10, "two alerts")
    assert found["llama-3-8b"]["state"] == "suppressed" and found["llama-3-8b"]["silencedBy"] == [sid]
    assert found["mistral"]["state"] == "active"

    # Filtering by a matcher the silence carries.
    assert sid in _silence(am, "list", "alertname=HighErrorRate").stdout
    assert sid not in _silence(am, "list", "alertname=Other").stdout

    _silence(am, "expire", sid)
    assert sid not in _silence(am, "list").stdout
    expired = json.loads(_silence(am, "list", "--expired", "--output", "json").stdout)
    assert [s["status"]["state"] for s in expired if s["id"] == sid] == ["expired"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["add", "model=~(", "-c", "x"], "invalid regular expression"),
        (["add", "a b", "-c", "x"], "is not a matcher"),
        (["add", "X", "-c", "x", "--until", "now-1h"], "the silence would end before it starts"),
        (["add", "X", "-c", "x", "--until", "yesterday"], "is not a time"),
        (["expire", "01234567-89ab-cdef-0123-456789abcdef"], "no silence with id 01234567-89ab-cdef-0123-456789abcdef"),
        (["expire", "../etc"], "is not a silence id"),
    ],
)
def test_bad_input_is_a_clear_error(am, args, message):
    proc = _silence(am, *args, check=1)
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_unreachable_alertmanager():
    url = f"http://127.0.0.1:{free_port()}"
    proc = run_promspec("silence", "list", "--alertmanager", url, check=1)
    assert proc.stderr.startswith(f"promspec: cannot reach {url}: ") and "Connection refused" in proc.stderr
    proc = run_promspec("silence", "list", "--alertmanager", "127.0.0.1:9093", check=1)
    assert "is not an http(s) URL" in proc.stderr


# Matchers read as amtool reads them (Alertmanager 0.25, pkg/labels/parse.go), stricter where it guesses.
@pytest.mark.parametrize(
    "text, expected",
    [
        ('model=~"llama.*"', ("model", "llama.*", True, True)),
        ("model=~llama.*", ("model", "llama.*", True, True)),
        ('a="x,y"', ("a", "x,y", False, True)),
        (r'a="say \"hi\""', ("a", 'say "hi"', False, True)),
        (r'a="back\\slash"', ("a", "back\\slash", False, True)),
        (r'a="line\nbreak"', ("a", "line\nbreak", False, True)),
        (r'a="spurious\d"', ("a", "spurious\\d", False, True)),
        ('a!=""', ("a", "", False, False)),
        ("a=", ("a", "", False, True)),
        (" severity = page ", ("severity", "page", False, True)),
        ('a="=b"', ("a", "=b", False, True)),
        ("HighLatency", ("alertname", "HighLatency", False, True)),
    ],
)
def test_matchers_parse_like_amtool(text, expected):
    m = parse_matcher(text)
    assert (m["name"], m["value"], m["isRegex"], m["isEqual"]) == expected


@pytest.mark.parametrize(
    "text, says",
    [
        ("'model=~\"llama.*'", "is not a matcher"),
        ('model=~"llama.*', "no closing double quote"),
        ('a="x"y"', "unescaped double quote"),
        ('a=x"y', "unescaped double quote"),
        ("a==b", "== is no operator"),
        ("a!==b", "!== is no operator"),
        ("a=~~b", "=~~ is no operator"),
        ("a=~(", "invalid regular expression"),
        ("=b", "is not a matcher"),
    ],
)
def test_malformed_matchers_are_refused(text, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_matcher(text)


@pytest.mark.parametrize(
    "matchers, refused",
    [
        (["a!=b"], True),
        (["a!=b", "c!~d.*"], True),
        (['a=""'], True),
        (["a=~.*"], True),
        (["a!~.+"], True),
        (["a!=b", "alertname=X"], False),
        (["a=~.+"], False),
        (["a!~.*"], False),
    ],
)
def test_a_silence_of_matchers_that_all_match_an_absent_label_is_refused(matchers, refused):
    parsed = [parse_matcher(m) for m in matchers]
    if refused:
        with pytest.raises(ValueError, match="Alertmanager rejects it"):
            check_silence_matchers(parsed)
    else:
        check_silence_matchers(parsed)
