"""The limit and deadline flags: defaults, environment variables, and bad values refused."""

import pytest

from promspec.exporter.cli import UsageError, limits_from, parse_args
from promspec.exporter.registry import DEFAULT_TIMEOUT_S
from promspec.exporter.server import ServerLimits


def test_defaults_match_the_server_and_registry():
    args = parse_args([], {})
    assert limits_from(args) == ServerLimits()
    assert args.collector_timeout == DEFAULT_TIMEOUT_S


def test_flags_and_environment():
    env = {"PROMSPEC_EXPORTER_WEB_MAX_REQUESTS": "5", "PROMSPEC_EXPORTER_COLLECTOR_TIMEOUT": "3s"}
    args = parse_args(
        [
            "--web.max-connections=0",
            "--web.read-header-timeout=500ms",
            "--web.idle-timeout=1m",
            "--web.write-timeout=2s",
        ],
        env,
    )
    limits = limits_from(args)
    assert (limits.max_connections, limits.max_requests) == (0, 5)
    assert (limits.read_header_timeout, limits.idle_timeout, limits.write_timeout) == (0.5, 60.0, 2.0)
    assert args.collector_timeout == 3.0


@pytest.mark.parametrize(
    "argv",
    [
        ["--web.max-connections=-1"],
        ["--web.max-requests=many"],
        ["--web.read-header-timeout=0s"],
        ["--collector.timeout=0"],
        ["--web.idle-timeout=soon"],
    ],
)
def test_bad_values_are_usage_errors(argv):
    with pytest.raises(UsageError):
        parse_args(argv, {})
