"""The promspec-exporter command: flags, environment, bad input, and the real NVML binding without a driver."""

import logging
import socket
import subprocess
import sys

import bcrypt
import pytest

from promspec.exporter import DEFAULT_PORT
from promspec.exporter.cli import parse_args
from promspec.exporter.gpu.nvml_source import load_binding
from promspec.exporter.options import Options

from .exporter_harness import assert_promtool_clean, exporter_process, http_get, needs, value


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "promspec.exporter", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, mentions",
    [
        (["--collectors.enable=cpu,bogus"], "bogus"),
        (["--collector.gpu.timeout=soon"], "soon"),
        (["--web.listen-address=localhost"], "--web.listen-address"),
        (["--collector.filesystem.fs-types-exclude=(unclosed"], "regular expression"),
        (["--no-such-flag"], "--no-such-flag"),
        (["--log.level=loud"], "loud"),
    ],
)
def test_bad_flags_exit_1_without_traceback(args, mentions):
    result = run(*args)
    assert result.returncode == 1 and mentions in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "content, mentions",
    [
        ("basic_auth_users:\n  admin: plaintext\n", "bcrypt"),
        ("basic_auth_users:\n  admin: $2y$10$notavalidhash\n", "malformed"),
        ("tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n", "cert_file"),
        ("tls_server_config:\n  cert_file: a.crt\n", "key_file"),
        ("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [x]\n", "cipher_suites"),
        ("unknown_section: {}\n", "unknown key"),
        ("basic_auth_users: [a, b]\n", "mapping"),
        ("http_server_config:\n  headers:\n    Content-Type: x\n", "Content-Type"),
        ("basic_auth_users: {\n", "YAML"),
    ],
)
def test_bad_web_config_exits_1_without_traceback(tmp_path, content, mentions):
    path = tmp_path / "web.yml"
    path.write_text(content)
    result = run(f"--web.config.file={path}")
    assert result.returncode == 1 and mentions in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_missing_web_config_file(tmp_path):
    result = run(f"--web.config.file={tmp_path / 'absent.yml'}")
    assert result.returncode == 1 and "cannot read" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_port_in_use_exits_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run(f"--web.listen-address=127.0.0.1:{taken.getsockname()[1]}")
    assert result.returncode == 1 and "cannot listen" in result.stderr and "Traceback" not in result.stderr


def test_defaults_flags_and_environment():
    assert parse_args([], {}).listen_address == f":{DEFAULT_PORT}"
    env = {
        "PROMSPEC_EXPORTER_WEB_LISTEN_ADDRESS": "127.0.0.1:9999",
        "PROMSPEC_EXPORTER_COLLECTOR_GPU_PROCESSES": "true",
        "PROMSPEC_EXPORTER_COLLECTOR_GPU_TIMEOUT": "500ms",
    }
    args = parse_args([], env)
    assert (args.listen_address, args.gpu_processes, args.gpu_timeout) == ("127.0.0.1:9999", True, 0.5)
    args = parse_args(["--web.listen-address=127.0.0.1:1", "--no-collector.gpu.processes"], env)
    assert (args.listen_address, args.gpu_processes) == ("127.0.0.1:1", False)  # flags win


@pytest.mark.slow
def test_bad_environment_value_exits_1():
    result = run(env={"PROMSPEC_EXPORTER_COLLECTOR_GPU_PROCESSES": "maybe", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1 and "PROMSPEC_EXPORTER_COLLECTOR_GPU_PROCESSES" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_collectors_from_environment_and_clean_stop(tmp_path):
    env = {"PROMSPEC_EXPORTER_COLLECTORS_ENABLE": "loadavg,meminfo,cpu", "PROMSPEC_EXPORTER_COLLECTORS_DISABLE": "cpu"}
    with exporter_process([], env=env, log_path=tmp_path / "log") as (process, port, _):
        status, _, body = http_get(port)
        assert status == 200 and b"node_load1" in body and b"node_memory_MemTotal_bytes" in body
        assert b"node_cpu_seconds_total" not in body and b'collector="gpu"' not in body
    assert process.returncode == 0


@pytest.mark.slow
@needs("promtool")
def test_no_driver_real_binding_serves_host_metrics(tmp_path):
    """On this machine the real nvidia-ml-py finds no libnvidia-ml: the GPU collector fails, nothing else."""
    with exporter_process([], log_path=tmp_path / "log") as (_process, port, log_path):
        for _ in range(3):
            status, _, body = http_get(port)
            assert status == 200
        text = body.decode()
        assert value(text, "promspec_exporter_collector_success", collector="gpu") == 0
        assert value(text, "promspec_exporter_collector_success", collector="cpu") == 1
        assert value(text, "node_memory_MemTotal_bytes") > 0 and "promspec_gpu_up" not in text
        assert_promtool_clean(text)
    log = log_path.read_text()
    assert log.count("collector gpu failed") == 1 and "NVML" in log and "Traceback" not in log


@pytest.mark.slow
def test_no_driver_logged_once_across_retries(start_exporter, caplog):
    nvml = load_binding()
    assert nvml is not None
    with pytest.raises(nvml.NVMLError_LibraryNotFound):
        nvml.nvmlInit()  # the premise: no driver here
    caplog.set_level(logging.INFO, logger="promspec.exporter")
    exporter = start_exporter(["gpu", "loadavg"], Options(gpu_retry_interval=0.0), nvml=nvml)
    for _ in range(4):
        body = exporter.metrics()
        assert value(body, "promspec_exporter_collector_success", collector="gpu") == 0
        assert value(body, "promspec_exporter_collector_success", collector="loadavg") == 1
    failures = [r for r in caplog.records if "collector gpu failed" in r.getMessage()]
    assert len(failures) == 1 and "Library Not Found" in failures[0].getMessage()


@pytest.mark.slow
def test_binding_not_installed(start_exporter):
    body = start_exporter(["gpu", "loadavg"], nvml=None).metrics()
    assert value(body, "promspec_exporter_collector_success", collector="gpu") == 0
    assert value(body, "promspec_exporter_collector_success", collector="loadavg") == 1


@pytest.mark.slow
def test_web_config_from_flag_serves_basic_auth(tmp_path):
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    (tmp_path / "web.yml").write_text(f"basic_auth_users:\n  scraper: '{hashed}'\n")
    args = [f"--web.config.file={tmp_path / 'web.yml'}", "--collectors.enable=loadavg"]
    with exporter_process(args, log_path=tmp_path / "log") as (_, port, _):
        assert http_get(port)[0] == 401
        assert http_get(port, headers={"Authorization": "Basic c2NyYXBlcjpwdw=="})[0] == 200


@pytest.mark.slow
def test_exporter_imports_nothing_from_the_generator():
    code = (
        "import sys\n"
        "from promspec.exporter import collectors\n"
        "from promspec.exporter.cli import options_from, parse_args\n"
        "from promspec.exporter.registry import Registry\n"
        "args = parse_args([], {})\n"
        "registry = Registry(collectors.build(collectors.DEFAULT, options_from(args)))\n"
        "registry.gather().body('text', True)\n"
        "registry.close()\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    modules = result.stdout.split()
    generator = [m for m in modules if m.startswith("promspec.") and not m.startswith("promspec.exporter")]
    assert generator == [] and not {"click", "jinja2", "yaml", "jsonschema"} & set(modules)
