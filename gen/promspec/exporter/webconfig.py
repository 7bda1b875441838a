"""The exporter-toolkit web configuration file (TLS, basic auth, headers), in the subset we serve."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

import bcrypt

log = logging.getLogger("promspec.exporter")


class WebConfigError(Exception):
    """The web configuration file is unreadable or invalid; the message says what and where."""


_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# Python's ssl module cannot ask for a client certificate without verifying it.
_CLIENT_AUTH_UNSUPPORTED = ("RequestClientCert", "RequireAnyClientCert")
_TLS_KEYS = {
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "min_version",
    "max_version",
    "prefer_server_cipher_suites",
}
_TLS_KEYS_UNSUPPORTED = {"cert", "key", "client_ca", "cipher_suites", "curve_preferences", "client_allowed_sans"}
_VERIFIED_CACHE_SIZE = 64
_ALLOWED_HEADERS = {
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
}


@dataclass
class WebConfig:
    """What the server needs from the file: a TLS context, users with bcrypt hashes, extra headers."""

    tls: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    dummy_hash: bytes = b""
    _verified: dict[bytes, bytes] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def authorized(self, header: str | None) -> bool:
        """True when no users are configured or the Authorization header names one with its password."""
        if not self.users:
            return True
        credentials = parse_basic(header)
        if credentials is None:
            return False
        user, password = credentials
        # bcrypt costs tens of milliseconds by design; remember credentials already verified.
        key = hashlib.sha256(f"{user}\0{password}".encode()).digest()
        with self._lock:
            if key in self._verified:
                return hmac.compare_digest(self._verified[key], self.users.get(user, b""))
        hashed = self.users.get(user)
        # An unknown name costs as much as a known one: it is checked against a dummy hash of the
        # highest configured cost, so response times do not tell which names exist.
        reference = hashed if hashed is not None else self.dummy_hash
        try:
            ok = bcrypt.checkpw(password.encode(), reference) and hashed is not None
        except ValueError:  # bcrypt refuses passwords over 72 bytes: a wrong password, not a crash
            return False
        if ok and hashed is not None:  # ok implies a known user; said again for the type checker
            with self._lock:
                if len(self._verified) >= _VERIFIED_CACHE_SIZE:
                    self._verified.clear()
                self._verified[key] = hashed
        return ok


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(user, password) from an Authorization header of the Basic scheme (any case), else None."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def bcrypt_cost(hashed: bytes) -> int:
    """The cost factor of a bcrypt hash ($2y$10$... -> 10)."""
    return int(hashed.split(b"$")[2])


def dummy_hash(cost: int) -> bytes:
    """A bcrypt hash of a random password at `cost`, for checking unknown user names."""
    return bcrypt.hashpw(os.urandom(16).hex().encode(), bcrypt.gensalt(cost))


def load(path: str) -> WebConfig:
    """Read and check a web configuration file; raise WebConfigError saying what is wrong."""
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - pyyaml ships with the exporter extra
        raise WebConfigError("reading --web.config.file needs PyYAML (pip install pyyaml)") from exc
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise WebConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise WebConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        raise WebConfigError(
            f"{path}: the file is empty; it configures neither TLS nor basic auth "
            "(leave out --web.config.file to serve plain HTTP without auth)"
        )
    _expect_mapping(path, "the document", data)
    _reject_unknown(path, "", data, {"tls_server_config", "http_server_config", "basic_auth_users"}, set())
    base = os.path.dirname(os.path.abspath(path))
    config = WebConfig()
    # A key that is present but empty ('', [], false, null, {}) would silently serve without TLS or
    # auth: the opposite of what writing the key suggests, so it is an error, not a default.
    if "tls_server_config" in data:
        tls = _configured(path, "tls_server_config", data["tls_server_config"], "cert_file and key_file")
        config.tls = _tls_context(path, base, tls)
    http = data.get("http_server_config")
    http = {} if http is None else http
    _expect_mapping(path, "http_server_config", http)
    _reject_unknown(path, "http_server_config.", http, {"http2", "headers"}, set())
    headers = http.get("headers")
    headers = {} if headers is None else headers
    _expect_mapping(path, "http_server_config.headers", headers)
    for name, value in headers.items():
        if name not in _ALLOWED_HEADERS:
            raise WebConfigError(
                f"{path}: http_server_config.headers: {name!r} cannot be set; "
                f"allowed: {', '.join(sorted(_ALLOWED_HEADERS))}"
            )
        if not isinstance(value, str):
            # A list or a mapping would be sent as its Python repr: never what the header was meant to say.
            raise WebConfigError(f"{path}: http_server_config.headers.{name}: {value!r}; expected a string (quote it)")
        config.headers[name] = value
    if "basic_auth_users" in data:
        users = _configured(path, "basic_auth_users", data["basic_auth_users"], "user: bcrypt-hash entries")
        for user, hashed in users.items():
            if not isinstance(user, str) or not user:
                raise WebConfigError(f"{path}: basic_auth_users: user name {user!r} must be a non-empty string")
            if ":" in user:
                raise WebConfigError(f"{path}: basic_auth_users: user name {user!r} cannot contain ':'")
            config.users[user] = _bcrypt_hash(path, user, hashed)
        costs = sorted({bcrypt_cost(h) for h in config.users.values()})
        if len(costs) > 1:
            log.warning(
                "%s: basic_auth_users have different bcrypt costs (%s): response times tell which "
                "cost a user name has; use one cost for every user",
                path,
                ", ".join(map(str, costs)),
            )
        config.dummy_hash = dummy_hash(costs[-1])
    return config


def _configured(path: str, key: str, value: object, expected: str) -> dict[Any, Any]:
    """A section that must configure something: a non-empty mapping."""
    if not isinstance(value, dict) or not value:
        shown = "empty" if value in (None, "", [], {}) else f"{value!r}"
        raise WebConfigError(
            f"{path}: {key} is {shown}; expected a mapping of {expected} (remove the key to serve without it)"
        )
    return value


def _tls_context(path: str, base: str, tls: dict[Any, Any]) -> ssl.SSLContext:
    _reject_unknown(path, "tls_server_config.", tls, _TLS_KEYS, _TLS_KEYS_UNSUPPORTED)
    cert, key = tls.get("cert_file"), tls.get("key_file")
    if not cert or not key:
        raise WebConfigError(f"{path}: tls_server_config needs both cert_file and key_file")
    cert = _file_name(path, "cert_file", cert)
    key = _file_name(path, "key_file", key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _tls_version(path, "min_version", tls.get("min_version", "TLS12"))
    if tls.get("max_version"):
        context.maximum_version = _tls_version(path, "max_version", tls["max_version"])
    if tls.get("prefer_server_cipher_suites", True):
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    try:
        context.load_cert_chain(_resolve(base, cert), _resolve(base, key))
    except (OSError, ssl.SSLError) as exc:
        raise WebConfigError(f"{path}: tls_server_config: cannot load cert_file/key_file: {exc}") from exc
    auth = tls.get("client_auth_type", "NoClientCert")
    if auth in _CLIENT_AUTH_UNSUPPORTED:
        raise WebConfigError(
            f"{path}: tls_server_config.client_auth_type {auth} is not supported; use one of {', '.join(_CLIENT_AUTH)}"
        )
    if not isinstance(auth, str) or auth not in _CLIENT_AUTH:
        raise WebConfigError(
            f"{path}: tls_server_config.client_auth_type {auth!r} is not one of {', '.join(_CLIENT_AUTH)}"
        )
    context.verify_mode = _CLIENT_AUTH[auth]
    ca = tls.get("client_ca_file")
    if auth != "NoClientCert" and not ca:
        raise WebConfigError(f"{path}: tls_server_config.client_auth_type {auth} needs client_ca_file")
    if ca:
        try:
            context.load_verify_locations(_resolve(base, _file_name(path, "client_ca_file", ca)))
        except (OSError, ssl.SSLError) as exc:
            raise WebConfigError(f"{path}: tls_server_config: cannot load client_ca_file: {exc}") from exc
    return context


def _file_name(path: str, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise WebConfigError(f"{path}: tls_server_config.{key} {value!r} is not a file name; expected a path")
    return value


def _tls_version(path: str, key: str, value: object) -> ssl.TLSVersion:
    # A list or mapping is unhashable: checked as a string first, so it is this error, not a TypeError.
    if not isinstance(value, str) or value not in _TLS_VERSIONS:
        raise WebConfigError(f"{path}: tls_server_config.{key} {value!r} is not one of {', '.join(_TLS_VERSIONS)}")
    return _TLS_VERSIONS[value]


def _bcrypt_hash(path: str, user: str, hashed: object) -> bytes:
    if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
        raise WebConfigError(f"{path}: basic_auth_users.{user}: expected a bcrypt hash ($2y$...), not a plain password")
    try:
        bcrypt.checkpw(b"", hashed.encode())
    except ValueError as exc:
        raise WebConfigError(f"{path}: basic_auth_users.{user}: malformed bcrypt hash") from exc
    return hashed.encode()


def _resolve(base: str, name: str) -> str:
    # Like exporter-toolkit: relative paths are relative to the configuration file.
    return name if os.path.isabs(name) else os.path.join(base, name)


def _expect_mapping(path: str, where: str, value: object) -> None:
    if not isinstance(value, dict):
        raise WebConfigError(f"{path}: {where} must be a mapping, got {type(value).__name__}")


def _reject_unknown(path: str, prefix: str, data: dict[Any, Any], known: set[str], unsupported: set[str]) -> None:
    for key in data:
        if key in unsupported:
            raise WebConfigError(f"{path}: {prefix}{key} is not supported by promspec-exporter")
        if key not in known:
            raise WebConfigError(f"{path}: unknown key {prefix}{key}; expected one of {', '.join(sorted(known))}")
