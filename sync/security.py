"""OPC UA security settings: policy and mode, certificates, user credentials.

Basic256Sha256 with Sign or SignAndEncrypt. A client's application URI must equal the URI
in its certificate, so the client takes its URI from the certificate it is given.
`make_certificate` writes a self-signed application certificate (tests, demos); a plant
would issue its own.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from asyncua.crypto.cert_gen import (
    dump_private_key_as_pem,
    generate_private_key,
    generate_self_signed_app_certificate,
)
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from twin.errors import InputError, Issue

POLICIES = ("Basic256Sha256",)
MODES = ("Sign", "SignAndEncrypt")


@dataclass(frozen=True)
class Security:
    """How to secure a connection: policy, mode, own certificate and key (paths)."""

    policy: str
    mode: str
    cert: Path
    key: Path
    server_cert: Path | None = None

    @classmethod
    def parse(cls, text: str, cert: Path | None, key: Path | None) -> Security:
        """From the command line's 'Basic256Sha256,SignAndEncrypt' plus --cert/--key.

        Raises:
            InputError: unknown policy or mode, or a missing certificate/key.
        """
        policy, _, mode = text.partition(",")
        mode = mode or "SignAndEncrypt"
        if policy not in POLICIES:
            raise InputError(
                Issue(f"unknown security policy {policy!r} (use {', '.join(POLICIES)})", "--security")
            )
        if mode not in MODES:
            raise InputError(
                Issue(f"unknown security mode {mode!r} (use {' or '.join(MODES)})", "--security")
            )
        for name, path in (("--cert", cert), ("--key", key)):
            if path is None or not Path(path).is_file():
                raise InputError(Issue(f"a secured connection needs a readable file ({path})", name))
        assert cert is not None and key is not None
        return cls(policy, mode, Path(cert), Path(key))


@dataclass(frozen=True)
class Credentials:
    """A user name and password for the session's identity token."""

    user: str
    password: str

    def __repr__(self) -> str:  # never print a password
        return f"Credentials(user={self.user!r}, password=***)"


def certificate_uri(cert_path: Path) -> str | None:
    """The application URI in a certificate's subject alternative names (PEM or DER)."""
    data = Path(cert_path).read_bytes()
    cert = (
        x509.load_pem_x509_certificate(data)
        if data.startswith(b"-----")
        else x509.load_der_x509_certificate(data)
    )
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def make_certificate(cert_path: Path, key_path: Path, application_uri: str, *, server: bool) -> None:
    """Write a self-signed application certificate (DER) and its private key (PEM)."""
    key = generate_private_key()
    host = socket.gethostname()
    names: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier(application_uri),
        x509.DNSName(host),
        x509.DNSName("localhost"),
    ]
    use = [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = generate_self_signed_app_certificate(key, application_uri, {}, names, extended=use, days=30)
    Path(key_path).write_bytes(dump_private_key_as_pem(key))
    Path(cert_path).write_bytes(cert.public_bytes(encoding=Encoding.DER))
