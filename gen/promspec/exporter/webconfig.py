"""The exporter-toolkit web configuration file (TLS, basic auth, headers), in the subset we serve."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import ssl
import threading
from dataclasses import dataclass, field

import bcrypt


class WebConfigError(Exception):
    """The web configuration file is unreadable or invalid; the message says what and where."""


_TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                 "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
_CLIENT_AUTH = {"NoClientCert": ssl.CERT_NONE, "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
                "RequireAndVerifyClientCert": ssl.CERT_REQUIRED}
# Python's ssl module cannot ask for a client certificate without verifying it.
_CLIENT_AUTH_UNSUPPORTED = ("RequestClientCert", "RequireAnyClientCert")
_TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version",
             "max_version", "prefer_server_cipher_suites"}
_TLS_KEYS_UNSUPPORTED = {"cert", "key", "client_ca", "cipher_suites", "curve_preferences",
                         "client_allowed_sans"}
_ALLOWED_HEADERS = {"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options",
                    "X-XSS-Protection", "Content-Security-Policy"}


@dataclass
class WebConfig:
    """What the server needs from the file: a TLS context, users with bcrypt hashes, extra headers."""

    tls: ssl.SSLContext | None = None
    users: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    _verified: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def authorized(self, header: str | None) -> bool:
        """True when no users are configured or the Authorization header names one with its password."""
        if not self.users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # bcrypt costs tens of milliseconds by design; remember credentials already verified.
        key = hashlib.sha256(f"{user}\0{password}".encode()).digest()
        with self._lock:
            if key in self._verified:
                return hmac.compare_digest(self._verified[key], self.users.get(user, b""))
        hashed = self.users.get(user)
        # An unknown name is checked against a real hash so it costs as much time as a wrong password.
        reference = hashed if hashed is not None else next(iter(self.users.values()))
        ok = bcrypt.checkpw(password.encode(), reference) and hashed is not None
        if ok:
            with self._lock:
                if len(self._verified) > 64:
                    self._verified.clear()
                self._verified[key] = hashed
        return ok


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
    data = {} if data is None else data
    _expect_mapping(path, "the document", data)
    _reject_unknown(path, "", data, {"tls_server_config", "http_server_config", "basic_auth_users"}, set())
    base = os.path.dirname(os.path.abspath(path))
    config = WebConfig()
    tls = data.get("tls_server_config") or {}
    _expect_mapping(path, "tls_server_config", tls)
    if tls:
        config.tls = _tls_context(path, base, tls)
    http = data.get("http_server_config") or {}
    _expect_mapping(path, "http_server_config", http)
    _reject_unknown(path, "http_server_config.", http, {"http2", "headers"}, set())
    headers = http.get("headers") or {}
    _expect_mapping(path, "http_server_config.headers", headers)
    for name, value in headers.items():
        if name not in _ALLOWED_HEADERS:
            raise WebConfigError(f"{path}: http_server_config.headers: {name!r} cannot be set; "
                                 f"allowed: {', '.join(sorted(_ALLOWED_HEADERS))}")
        config.headers[name] = str(value)
    users = data.get("basic_auth_users") or {}
    _expect_mapping(path, "basic_auth_users", users)
    for user, hashed in users.items():
        config.users[str(user)] = _bcrypt_hash(path, str(user), hashed)
    return config


def _tls_context(path: str, base: str, tls: dict) -> ssl.SSLContext:
    _reject_unknown(path, "tls_server_config.", tls, _TLS_KEYS, _TLS_KEYS_UNSUPPORTED)
    cert, key = tls.get("cert_file"), tls.get("key_file")
    if not cert or not key:
        raise WebConfigError(f"{path}: tls_server_config needs both cert_file and key_file")
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
        raise WebConfigError(f"{path}: tls_server_config.client_auth_type {auth} is not supported; "
                             f"use one of {', '.join(_CLIENT_AUTH)}")
    if auth not in _CLIENT_AUTH:
        raise WebConfigError(f"{path}: tls_server_config.client_auth_type {auth!r} is not one of "
                             f"{', '.join(_CLIENT_AUTH)}")
    context.verify_mode = _CLIENT_AUTH[auth]
    ca = tls.get("client_ca_file")
    if auth != "NoClientCert" and not ca:
        raise WebConfigError(f"{path}: tls_server_config.client_auth_type {auth} needs client_ca_file")
    if ca:
        try:
            context.load_verify_locations(_resolve(base, ca))
        except (OSError, ssl.SSLError) as exc:
            raise WebConfigError(f"{path}: tls_server_config: cannot load client_ca_file: {exc}") from exc
    return context


def _tls_version(path: str, key: str, value) -> ssl.TLSVersion:
    if value not in _TLS_VERSIONS:
        raise WebConfigError(f"{path}: tls_server_config.{key} {value!r} is not one of {', '.join(_TLS_VERSIONS)}")
    return _TLS_VERSIONS[value]


def _bcrypt_hash(path: str, user: str, hashed) -> bytes:
    if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
        raise WebConfigError(f"{path}: basic_auth_users.{user}: expected a bcrypt hash ($2y$...), "
                             "not a plain password")
    try:
        bcrypt.checkpw(b"", hashed.encode())
    except ValueError as exc:
        raise WebConfigError(f"{path}: basic_auth_users.{user}: malformed bcrypt hash") from exc
    return hashed.encode()


def _resolve(base: str, name: str) -> str:
    # Like exporter-toolkit: relative paths are relative to the configuration file.
    return name if os.path.isabs(name) else os.path.join(base, name)


def _expect_mapping(path: str, where: str, value) -> None:
    if not isinstance(value, dict):
        raise WebConfigError(f"{path}: {where} must be a mapping, got {type(value).__name__}")


def _reject_unknown(path: str, prefix: str, data: dict, known: set, unsupported: set) -> None:
    for key in data:
        if key in unsupported:
            raise WebConfigError(f"{path}: {prefix}{key} is not supported by promspec-exporter")
        if key not in known:
            raise WebConfigError(f"{path}: unknown key {prefix}{key}; expected one of {', '.join(sorted(known))}")
