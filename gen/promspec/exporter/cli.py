"""promspec-exporter command line: flags (or PROMSPEC_EXPORTER_* variables), then serve until stopped."""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any, NoReturn

from . import DEFAULT_PORT, __version__
from .collectors import AVAILABLE, DEFAULT, build
from .options import DEFAULT_DISK_DEVICE_EXCLUDE, DEFAULT_FS_TYPES_EXCLUDE, DEFAULT_MOUNT_POINTS_EXCLUDE, Options
from .registry import DEFAULT_TIMEOUT_S, Registry
from .server import ExporterServer, ListenAddressError, ServerLimits, parse_listen_address

log = logging.getLogger("promspec.exporter")

ENV_PREFIX = "PROMSPEC_EXPORTER_"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class UsageError(Exception):
    """A flag or variable has a value we cannot use; the message says which and why."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def duration(value: str) -> float:
    """Seconds from '2s', '500ms', '1m', '1h' or a plain number of seconds."""
    match = _DURATION.match(value.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration such as 2s, 500ms or 1m")
    return float(match.group(1)) * _UNITS[match.group(2)]


def regex(value: str) -> str:
    """A regular expression, checked now rather than at the first scrape."""
    try:
        re.compile(value)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid regular expression: {exc}") from None
    return value


def count(value: str) -> int:
    """A whole number, 0 or more (0 turns a limit off)."""
    if not value.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number (0 or more)")
    return int(value)


def positive_duration(value: str) -> float:
    """A duration above zero."""
    seconds = duration(value)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be longer than 0s")
    return seconds


def collector_list(value: str) -> list[str]:
    """A comma-separated list of known collector names."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in AVAILABLE]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown collector(s) {', '.join(unknown)}; known: {', '.join(AVAILABLE)}")
    return names


def build_parser() -> argparse.ArgumentParser:
    """All flags, with node_exporter's spelling where one exists."""
    parser = _Parser(
        prog="promspec-exporter",
        description="GPU (NVML) and host metrics for Prometheus. Every flag can also be set "
        f"as an environment variable: {ENV_PREFIX}WEB_LISTEN_ADDRESS and so on.",
    )
    parser.add_argument("--version", action="version", version=f"promspec-exporter {__version__}")
    add = parser.add_argument
    add(
        "--web.listen-address",
        dest="listen_address",
        default=f":{DEFAULT_PORT}",
        help=f"host:port to listen on; ':port' means every interface (default :{DEFAULT_PORT})",
    )
    add(
        "--web.config.file",
        dest="web_config_file",
        default="",
        help="exporter-toolkit web configuration file: TLS and basic auth with bcrypt hashes",
    )
    add("--web.telemetry-path", dest="telemetry_path", default="/metrics", help="path of the metrics endpoint")
    limits = ServerLimits()
    add(
        "--web.max-connections",
        dest="max_connections",
        type=count,
        default=limits.max_connections,
        help=f"open connections at most (one thread each); more are refused with 503; 0: no limit "
        f"({limits.max_connections})",
    )
    add(
        "--web.max-requests",
        dest="max_requests",
        type=count,
        default=limits.max_requests,
        help=f"requests served at once; more get 503; 0: no limit ({limits.max_requests})",
    )
    add(
        "--web.read-header-timeout",
        dest="read_header_timeout",
        type=positive_duration,
        default=limits.read_header_timeout,
        help=f"time a client has to send a request's line and headers ({limits.read_header_timeout:g}s)",
    )
    add(
        "--web.idle-timeout",
        dest="idle_timeout",
        type=positive_duration,
        default=limits.idle_timeout,
        help=f"a kept-alive connection with no request for this long is closed ({limits.idle_timeout:g}s)",
    )
    add(
        "--web.write-timeout",
        dest="write_timeout",
        type=positive_duration,
        default=limits.write_timeout,
        help=f"time a client has to take a whole response ({limits.write_timeout:g}s)",
    )
    add(
        "--collector.timeout",
        dest="collector_timeout",
        type=positive_duration,
        default=DEFAULT_TIMEOUT_S,
        help=f"deadline of each scrape's collectors; one still running is reported failed "
        f"(collector_success 0) and not started again until it returns ({DEFAULT_TIMEOUT_S:g}s)",
    )
    add(
        "--collectors.enable",
        dest="enable",
        type=collector_list,
        default=None,
        help=f"comma-separated collectors to run instead of the default set ({','.join(DEFAULT)})",
    )
    add(
        "--collectors.disable",
        dest="disable",
        type=collector_list,
        default=[],
        help="comma-separated collectors to leave out",
    )
    add(
        "--collector.gpu.processes",
        dest="gpu_processes",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="per-process GPU memory (off by default: one series per process; needs the host PID namespace)",
    )
    add(
        "--collector.gpu.timeout",
        dest="gpu_timeout",
        type=duration,
        default=2.0,
        help="per-scrape deadline for NVML; GPUs slower than this are served from cache with their age (2s)",
    )
    add(
        "--collector.gpu.slow-interval",
        dest="gpu_slow_interval",
        type=duration,
        default=10.0,
        help="how often slow NVML fields (PCIe throughput, processes) are sampled in the background (10s)",
    )
    add(
        "--collector.gpu.retry-interval",
        dest="gpu_retry_interval",
        type=duration,
        default=30.0,
        help="wait between NVML initialisation attempts, and before looking a lost GPU up again (30s)",
    )
    add(
        "--collector.gpu.max-age",
        dest="gpu_max_age",
        type=duration,
        default=60.0,
        help="stop serving a GPU's cached values once they are older than this (60s)",
    )
    add(
        "--probe.config",
        dest="probe_config",
        default="",
        help="YAML file of OpenAI-compatible endpoints to probe with small streaming completions "
        "(enables the llm_probe collector; off by default)",
    )
    add(
        "--collector.filesystem.mount-points-exclude",
        dest="mount_points_exclude",
        type=regex,
        default=DEFAULT_MOUNT_POINTS_EXCLUDE,
        help="regex of mount points to leave out",
    )
    add(
        "--collector.filesystem.fs-types-exclude",
        dest="fs_types_exclude",
        type=regex,
        default=DEFAULT_FS_TYPES_EXCLUDE,
        help="regex of filesystem types to leave out",
    )
    add(
        "--collector.filesystem.mount-timeout",
        dest="mount_timeout",
        type=duration,
        default=5.0,
        help="how long statfs may take on any mount before it reports device_error 1 and is skipped "
        "until it answers (5s)",
    )
    add(
        "--collector.diskstats.device-exclude",
        dest="disk_device_exclude",
        type=regex,
        default=DEFAULT_DISK_DEVICE_EXCLUDE,
        help="regex of block devices to leave out",
    )
    add(
        "--collector.netdev.device-exclude",
        dest="netdev_device_exclude",
        type=regex,
        default="",
        help="regex of network interfaces to leave out",
    )
    add("--path.procfs", dest="procfs", default="/proc", help="procfs mount point (/host/proc in a container)")
    add(
        "--path.rootfs", dest="rootfs", default="/", help="host root filesystem mount point (/host/root in a container)"
    )
    add(
        "--log.level",
        dest="log_level",
        default="info",
        choices=["debug", "info", "warn", "error"],
        help="log level (info)",
    )
    return parser


def env_name(flag: str) -> str:
    """The environment variable for a flag: --web.listen-address -> PROMSPEC_EXPORTER_WEB_LISTEN_ADDRESS."""
    return ENV_PREFIX + re.sub(r"[.-]", "_", flag.lstrip("-")).upper()


def parse_args(argv: Sequence[str] | None, environ: Mapping[str, str]) -> argparse.Namespace:
    """Flags over environment over defaults; raises UsageError for values we cannot use."""
    parser = build_parser()
    for action in parser._actions:
        long_flags = [flag for flag in action.option_strings if flag.startswith("--") and "." in flag]
        if not long_flags or env_name(long_flags[0]) not in environ:
            continue
        name, raw = env_name(long_flags[0]), environ[env_name(long_flags[0])]
        value: object
        try:
            if isinstance(action, argparse.BooleanOptionalAction):
                if raw.strip().lower() not in _TRUE | _FALSE:
                    raise argparse.ArgumentTypeError(f"{raw!r} is not a boolean (true/false)")
                value = raw.strip().lower() in _TRUE
            else:
                value = action.type(raw) if callable(action.type) else raw
                if action.choices and value not in action.choices:
                    raise argparse.ArgumentTypeError(f"{raw!r} is not one of {', '.join(action.choices)}")
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"{name}: {exc}") from None
        parser.set_defaults(**{action.dest: value})
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace) -> Options:
    """The collectors' settings from parsed flags."""
    return Options(
        procfs=args.procfs,
        rootfs=args.rootfs,
        mount_points_exclude=args.mount_points_exclude,
        fs_types_exclude=args.fs_types_exclude,
        mount_timeout=args.mount_timeout,
        collector_timeout=args.collector_timeout,
        disk_device_exclude=args.disk_device_exclude,
        netdev_device_exclude=args.netdev_device_exclude,
        gpu_processes=args.gpu_processes,
        gpu_timeout=args.gpu_timeout,
        gpu_slow_interval=args.gpu_slow_interval,
        gpu_retry_interval=args.gpu_retry_interval,
        gpu_max_age=args.gpu_max_age,
        probe_config=args.probe_config,
    )


def limits_from(args: argparse.Namespace) -> ServerLimits:
    """The HTTP server's limits from parsed flags."""
    return ServerLimits(
        max_connections=args.max_connections,
        max_requests=args.max_requests,
        read_header_timeout=args.read_header_timeout,
        idle_timeout=args.idle_timeout,
        write_timeout=args.write_timeout,
    )


def collector_names(args: argparse.Namespace) -> list[str]:
    """The collectors to run: --collectors.enable (or the default set) less --collectors.disable."""
    chosen = args.enable if args.enable is not None else list(DEFAULT)
    if getattr(args, "probe_config", ""):
        chosen = [*chosen, "llm_probe"]
    return [name for name in AVAILABLE if name in chosen and name not in args.disable]


def main(argv: Sequence[str] | None = None, overrides: dict[str, dict[str, Any]] | None = None) -> int:
    """Run the exporter until SIGTERM or SIGINT; 1 on bad flags or configuration."""
    try:
        args = parse_args(argv, os.environ)
        listen = parse_listen_address(args.listen_address)
    except (UsageError, ListenAddressError) as exc:
        print(f"promspec-exporter: {exc}", file=sys.stderr)
        return 1
    logging.basicConfig(
        level={"warn": "WARNING"}.get(args.log_level, args.log_level.upper()),
        stream=sys.stderr,
        format="%(asctime)s level=%(levelname)s %(message)s",
    )
    web_config = None
    if args.web_config_file:
        from .webconfig import WebConfigError, load

        try:
            web_config = load(args.web_config_file)
        except WebConfigError as exc:
            print(f"promspec-exporter: --web.config.file: {exc}", file=sys.stderr)
            return 1
    slowest = max(args.mount_timeout, args.gpu_timeout)
    if args.collector_timeout <= slowest:
        log.warning(
            "--collector.timeout %gs is not above the mount and GPU timeouts (%gs): a hung mount or GPU "
            "fails its whole collector instead of one series",
            args.collector_timeout,
            slowest,
        )
    if "llm_probe" in collector_names(args) and not args.probe_config:
        print("promspec-exporter: the llm_probe collector needs --probe.config FILE (its targets)", file=sys.stderr)
        return 1
    if args.probe_config:
        from .probe.config import ProbeConfigError
        from .probe.config import load as load_probes

        try:
            load_probes(args.probe_config)  # checked before anything starts: a bad file is exit 1, not a log line
        except ProbeConfigError as exc:
            print(f"promspec-exporter: --probe.config: {exc}", file=sys.stderr)
            return 1
    registry = Registry(
        build(collector_names(args), options_from(args), **(overrides or {})), timeout=args.collector_timeout
    )
    try:
        server = ExporterServer(registry, listen, web_config, args.telemetry_path, limits_from(args))
    except OSError as exc:
        registry.close()
        print(f"promspec-exporter: cannot listen on {args.listen_address}: {exc.strerror or exc}", file=sys.stderr)
        return 1

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        # shutdown() waits for serve_forever(), which runs in this very thread: ask from another.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheme = "https" if web_config is not None and web_config.tls is not None else "http"
    host = listen[0] or "0.0.0.0"
    log.info(
        "promspec-exporter %s listening on %s://%s:%d%s (collectors: %s)",
        __version__,
        scheme,
        f"[{host}]" if ":" in host else host,
        server.port,
        args.telemetry_path,
        ",".join(c.name for c in registry.collectors),
    )
    server.serve_forever()
    registry.close()
    # A collector that cannot recover in this process (NVML after a driver upgrade) asks for a
    # restart: a non-zero exit makes systemd (Restart=on-failure) or the kubelet start a new one.
    if any(getattr(c, "restart_requested", "") for c in registry.collectors):
        return 3
    return 0
