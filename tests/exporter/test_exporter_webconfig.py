"""The web config fails closed, basic auth cannot be probed or crashed, and content negotiation honours q=0."""

import base64

import bcrypt
import pytest

from promspec.exporter import webconfig
from promspec.exporter.registry import OPENMETRICS, TEXT
from promspec.exporter.server import accepts_gzip, choose_format
from promspec.exporter.webconfig import WebConfigError


def _hash(password: bytes, cost: int = 4) -> str:
    return bcrypt.hashpw(password, bcrypt.gensalt(cost)).decode()


def _load(tmp_path, text: str):
    path = tmp_path / "web.yml"
    path.write_text(text)
    return webconfig.load(str(path))


@pytest.mark.parametrize(
    "text",
    [
        "basic_auth_users: []\n",
        "basic_auth_users: ''\n",
        "basic_auth_users: false\n",
        "basic_auth_users:\n",
        "basic_auth_users: {}\n",
        "tls_server_config: ''\n",
        "tls_server_config: false\n",
        "tls_server_config:\n",
        "tls_server_config: {}\n",
        "tls_server_config: []\n",
        "",
        "# only a comment\n",
    ],
)
def test_empty_auth_or_tls_is_a_start_up_error(tmp_path, text):
    with pytest.raises(WebConfigError) as error:
        _load(tmp_path, text)
    assert str(tmp_path / "web.yml") in str(error.value)


@pytest.mark.parametrize(
    ("tls", "expected"),
    [
        ("cert_file: [a.pem]\n  key_file: b.pem", "cert_file"),
        ("cert_file: a.pem\n  key_file: 5", "key_file"),
        ("cert_file: a.pem\n  key_file: b.pem\n  min_version: [TLS12]", "min_version"),
        ("cert_file: a.pem\n  key_file: b.pem\n  max_version: {v: TLS13}", "max_version"),
    ],
)
def test_tls_values_of_the_wrong_type_are_start_up_errors(tmp_path, tls, expected):
    # Found by mypy --strict: a list or mapping where a name is expected crashed with TypeError (unhashable
    # or not a path) instead of saying which key is wrong.
    with pytest.raises(WebConfigError, match=expected) as error:
        _load(tmp_path, f"tls_server_config:\n  {tls}\n")
    assert str(tmp_path / "web.yml") in str(error.value)


def test_client_auth_type_of_the_wrong_type_is_a_start_up_error(tmp_path, monkeypatch):
    # The certificate is loaded before client_auth_type is read: stand in for a valid pair.
    monkeypatch.setattr(webconfig.ssl.SSLContext, "load_cert_chain", lambda *args: None)
    with pytest.raises(WebConfigError, match="client_auth_type"):
        _load(tmp_path, "tls_server_config:\n  cert_file: a.pem\n  key_file: b.pem\n  client_auth_type: [x]\n")
    with pytest.raises(WebConfigError, match="client_ca_file"):
        _load(
            tmp_path,
            "tls_server_config:\n  cert_file: a.pem\n  key_file: b.pem\n"
            "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: [ca.pem]\n",
        )


def test_user_names_must_be_strings_without_colons(tmp_path):
    for user in ("true", "123", "'a:b'"):
        with pytest.raises(WebConfigError, match="user name"):
            _load(tmp_path, f"basic_auth_users:\n  {user}: {_hash(b'x')}\n")


@pytest.mark.parametrize("value", ["[deny]", "{a: b}", "5", "null"])
def test_a_header_value_that_is_not_a_string_is_a_start_up_error(tmp_path, value):
    with pytest.raises(WebConfigError, match=r"headers\.X-Frame-Options: .*expected a string"):
        _load(tmp_path, f"http_server_config:\n  headers:\n    X-Frame-Options: {value}\n")


def test_headers_only_config_still_loads(tmp_path):
    config = _load(tmp_path, "http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
    assert config.headers == {"X-Frame-Options": "deny"} and config.tls is None and not config.users


def _basic(user: str, password: str, scheme: str = "Basic") -> str:
    return f"{scheme} " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_long_password_is_refused_not_crashed(tmp_path):
    config = _load(tmp_path, f"basic_auth_users:\n  prometheus: {_hash(b's3cret')}\n")
    assert config.authorized(_basic("prometheus", "x" * 73)) is False
    assert config.authorized(_basic("nobody", "x" * 200)) is False


def test_scheme_is_case_insensitive(tmp_path):
    config = _load(tmp_path, f"basic_auth_users:\n  prometheus: {_hash(b's3cret')}\n")
    for scheme in ("Basic", "basic", "BASIC"):
        assert config.authorized(_basic("prometheus", "s3cret", scheme)) is True
    assert config.authorized(_basic("prometheus", "s3cret", "Bearer")) is False


def test_unknown_users_cost_the_highest_configured_bcrypt_cost(tmp_path, monkeypatch, caplog):
    config = _load(tmp_path, f"basic_auth_users:\n  cheap: {_hash(b'a', 4)}\n  dear: {_hash(b'b', 6)}\n")
    assert "different bcrypt costs" in caplog.text
    checked = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda password, hashed: checked.append(hashed) or real(password, hashed))
    assert config.authorized(_basic("nobody", "b")) is False
    assert webconfig.bcrypt_cost(checked[-1]) == 6 and checked[-1] not in config.users.values()


def test_successful_checks_are_cached_and_failures_are_not(tmp_path, monkeypatch):
    config = _load(tmp_path, f"basic_auth_users:\n  prometheus: {_hash(b's3cret')}\n")
    checked = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda password, hashed: checked.append(1) or real(password, hashed))
    for _ in range(5):
        assert config.authorized(_basic("prometheus", "s3cret")) is True
    assert len(checked) == 1
    for _ in range(3):
        assert config.authorized(_basic("prometheus", "wrong")) is False
    assert len(checked) == 4


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, TEXT),
        (
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
            "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            OPENMETRICS,
        ),  # Prometheus's own header
        ("application/openmetrics-text;q=0", TEXT),
        ("application/openmetrics-text; q=0.0, text/plain", TEXT),
        ("application/openmetrics-text;q=0.3,text/plain;q=0.8", TEXT),
        ("text/plain;q=0.5,application/openmetrics-text", OPENMETRICS),
        ("application/openmetrics-text;q=bogus", TEXT),
    ],
)
def test_format_negotiation(accept, expected):
    assert choose_format(accept) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("gzip", True),
        ("gzip;q=0", False),
        ("GZIP; q=0.000", False),
        ("br, gzip;q=0.5", True),
        ("identity", False),
        ("*", True),
        ("*;q=0", False),
        ("gzip;q=0, *", False),
        ("deflate, gzip; q=1.0", True),
    ],
)
def test_gzip_negotiation(header, expected):
    assert accepts_gzip(header) is expected
