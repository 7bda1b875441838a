"""The HTTP server: endpoints, content negotiation, gzip, basic auth with bcrypt, TLS and client certs."""

import base64
import datetime
import ipaddress
import json
import ssl

import bcrypt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from promspec.exporter import webconfig

from .exporter_harness import gunzip, http_get

# Every test here starts a subprocess or a server (see the `slow` marker in pyproject.toml).
pytestmark = pytest.mark.slow


def test_endpoints(start_exporter):
    exporter = start_exporter(["loadavg"])
    assert exporter.get("/healthz")[0:3:2] == (200, b"ok\n")
    exporter.metrics()
    status, headers, body = exporter.get("/health")
    assert status == 200 and headers["Content-Type"] == "application/json"
    health = json.loads(body)["collectors"]["loadavg"]
    assert health["success"] is True and health["last_error"] is None and health["duration_seconds"] >= 0
    assert exporter.get("/nope")[0] == 404
    assert b'href="/metrics"' in exporter.get("/")[2]


def test_health_reports_the_last_error(start_exporter, procfs):
    from promspec.exporter.options import Options

    (procfs / "loadavg").unlink()
    exporter = start_exporter(["loadavg"], Options(procfs=str(procfs)))
    exporter.metrics()
    health = json.loads(exporter.get("/health")[2])["collectors"]["loadavg"]
    assert health["success"] is False and "loadavg" in health["last_error"] and health["last_success"] is None


def test_text_openmetrics_and_gzip(start_exporter):
    exporter = start_exporter(["loadavg"])
    status, headers, body = exporter.get()
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    prometheus_accept = (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
        "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )
    status, headers, body = exporter.get(headers={"Accept": prometheus_accept, "Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert headers["Content-Encoding"] == "gzip"
    text = gunzip(body).decode()
    assert text.endswith("# EOF\n")
    names = {family.name for family in parse_openmetrics(text)}
    assert {"node_load1", "promspec_exporter_collector_success"} <= names


def _basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth_with_bcrypt(start_exporter, tmp_path):
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()
    path = tmp_path / "web.yml"
    path.write_text(
        f"basic_auth_users:\n  prometheus: {hashed}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
    )
    exporter = start_exporter(["loadavg"], web_config=webconfig.load(str(path)))
    status, headers, _ = exporter.get()
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    assert exporter.get(headers=_basic("prometheus", "wrong"))[0] == 401
    assert exporter.get(headers=_basic("nobody", "s3cret"))[0] == 401
    assert exporter.get(headers={"Authorization": "Basic !!!"})[0] == 401
    for _ in range(2):  # the second time from the verified-credentials cache
        status, headers, body = exporter.get(headers=_basic("prometheus", "s3cret"))
        assert status == 200 and b"node_load1" in body and headers["X-Frame-Options"] == "deny"


def _certificate(subject: str, issuer_key=None, issuer_name=None, ca=False):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return key, builder.sign(issuer_key or key, hashes.SHA256())


def _write(tmp_path, stem: str, key, cert):
    key_path, cert_path = tmp_path / f"{stem}.key", tmp_path / f"{stem}.crt"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


@pytest.fixture
def pki(tmp_path):
    ca_key, ca_cert = _certificate("test-ca", ca=True)
    server_key, server_cert = _certificate("127.0.0.1", ca_key, ca_cert.subject)
    client_key, client_cert = _certificate("prometheus", ca_key, ca_cert.subject)
    _write(tmp_path, "ca", ca_key, ca_cert)
    _write(tmp_path, "server", server_key, server_cert)
    client = _write(tmp_path, "client", client_key, client_cert)
    return tmp_path, client


def test_tls(start_exporter, pki):
    directory, _ = pki
    path = directory / "web.yml"
    path.write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")  # relative paths
    exporter = start_exporter(["loadavg"], web_config=webconfig.load(str(path)))
    client = ssl.create_default_context(cafile=str(directory / "ca.crt"))
    status, _, body = http_get(exporter.port, tls=client)
    assert status == 200 and b"node_load1" in body
    with pytest.raises((ConnectionError, OSError)):
        http_get(exporter.port)  # plain HTTP to the TLS port gets nothing


def test_client_certificates_required(start_exporter, pki):
    directory, (client_key, client_cert) = pki
    path = directory / "web.yml"
    path.write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"
        "  min_version: TLS12\n"
    )
    exporter = start_exporter(["loadavg"], web_config=webconfig.load(str(path)))
    anonymous = ssl.create_default_context(cafile=str(directory / "ca.crt"))
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        http_get(exporter.port, tls=anonymous)
    known = ssl.create_default_context(cafile=str(directory / "ca.crt"))
    known.load_cert_chain(str(client_cert), str(client_key))
    assert http_get(exporter.port, tls=known)[0] == 200
