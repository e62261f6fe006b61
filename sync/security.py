"""OPC UA security settings: policy and mode, certificates, the trust list, user credentials.

Basic256Sha256 with Sign or SignAndEncrypt. A client's application URI must equal the URI
in its certificate, so the client takes its URI from the certificate it is given.

The server is authenticated by its certificate: `TrustList` (a folder, `--trust DIR`) holds
the certificates of trusted servers (or of the CAs that issued them); a server whose
certificate is not there is refused before any session is created, with its SHA-256
fingerprint and the command that trusts it (the certificate is saved in `DIR/rejected/`).
A password is sent only over SignAndEncrypt (`require_encryption`), never in clear text or
over a channel that is only signed.
`make_certificate` writes a self-signed application certificate (tests, demos); a plant
would issue its own.
"""

from __future__ import annotations

import hashlib
import shlex
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asyncua.crypto.cert_gen import (
    dump_private_key_as_pem,
    generate_private_key,
    generate_self_signed_app_certificate,
)
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from twin.errors import InputError, Issue, SyncError

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
    """A pinned server certificate: trusted as if it were in `trust`."""
    trust: Path | None = None
    """The trust list folder (see `TrustList`); a secured client needs it or `server_cert`."""

    @classmethod
    def parse(
        cls,
        text: str,
        cert: Path | None,
        key: Path | None,
        trust: Path | None = None,
        *,
        where: str = "--trust",
    ) -> Security:
        """From the command line's 'Basic256Sha256,SignAndEncrypt' plus --cert/--key/--trust.

        Raises:
            InputError: unknown policy or mode, a missing certificate/key, no trust folder.
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
        if trust is None:
            raise InputError(
                Issue(
                    "a secured connection needs a trust list: a folder of trusted server certificates "
                    "(on first contact plantwin prints the server's fingerprint and how to trust it)",
                    where,
                )
            )
        if not Path(trust).is_dir():
            raise InputError(Issue(f"{trust}: no such folder (create it, e.g. mkdir -p {trust})", where))
        return cls(policy, mode, Path(cert), Path(key), trust=Path(trust))


@dataclass(frozen=True)
class Credentials:
    """A user name and password for the session's identity token."""

    user: str
    password: str

    def __repr__(self) -> str:  # never print a password
        return f"Credentials(user={self.user!r}, password=***)"


def require_encryption(
    security: Security | None, credentials: Credentials | None, where: str = "--user"
) -> None:
    """Refuse a password that would travel without encryption: user + password needs a
    SignAndEncrypt connection (Sign alone leaves the session readable on the wire).

    Raises:
        InputError: credentials without security, or with mode Sign.
    """
    if credentials is None:
        return
    if security is None or security.mode != "SignAndEncrypt":
        how = "without security" if security is None else f"over a connection that is only {security.mode}ed"
        raise InputError(
            Issue(
                f"refusing to send the password of {credentials.user!r} {how}: a user and password "
                "need --security Basic256Sha256,SignAndEncrypt (with --cert, --key and --trust)",
                where,
            )
        )


def fingerprint(der: bytes) -> str:
    """A certificate's SHA-256 fingerprint as colon-separated hex (as openssl and UaExpert show it)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from PEM or DER bytes (the first of a DER chain)."""
    if data.startswith(b"-----"):
        return x509.load_pem_x509_certificate(data)
    length = int.from_bytes(data[2:4], "big") + 4 if len(data) > 4 and data[1] == 0x82 else len(data)
    return x509.load_der_x509_certificate(data[:length])


class TrustList:
    """A folder of trusted certificates (DER `.der`/`.cer` or PEM `.pem`/`.crt`): a server is
    trusted if its certificate is there, or was issued and signed by a CA certificate there,
    and is within its validity period. Read on every check, so a certificate copied in is
    trusted at the next (re)connect without a restart."""

    SUFFIXES = (".der", ".cer", ".pem", ".crt")

    def __init__(self, folder: Path, pinned: tuple[Path, ...] = ()) -> None:
        self.folder = Path(folder)
        self.pinned = pinned

    def certificates(self) -> list[x509.Certificate]:
        files = [*self.pinned]
        if self.folder.is_dir():
            files += sorted(
                p for p in self.folder.iterdir() if p.is_file() and p.suffix.lower() in self.SUFFIXES
            )
        out = []
        for path in files:
            try:
                out.append(load_certificate(path.read_bytes()))
            except ValueError:
                continue  # not a certificate (a note, a key): it trusts nothing
        return out

    def check(self, der: bytes, endpoint: str, now: datetime | None = None) -> x509.Certificate:
        """The server's certificate if trusted.

        Raises:
            SyncError: no certificate, an expired one, or one not in the trust list (the
                message has its fingerprint and how to trust it).
        """
        if not der:
            raise SyncError(f"{endpoint}: the server sent no certificate on a secured endpoint")
        cert = load_certificate(der)
        raw = cert.public_bytes(Encoding.DER)
        now = now or datetime.now(UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise SyncError(
                f"{endpoint}: the server's certificate is not valid now (valid "
                f"{cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}); "
                f"SHA-256 {fingerprint(raw)}"
            )
        for trusted in self.certificates():
            if trusted.public_bytes(Encoding.DER) == raw or _issued_by(cert, trusted):
                return cert
        raise SyncError(self._untrusted(cert, raw, endpoint))

    def _untrusted(self, cert: x509.Certificate, raw: bytes, endpoint: str) -> str:
        fp = fingerprint(raw)
        rejected = self.folder / "rejected" / f"{fp.replace(':', '')[:16].lower()}.der"
        saved = ""
        try:
            rejected.parent.mkdir(parents=True, exist_ok=True)
            rejected.write_bytes(raw)
            saved = (
                f"\n  saved as {rejected}; if it is your server's (compare the fingerprint on the "
                f"server), trust it with:\n    mv {shlex.quote(str(rejected))} "
                f"{shlex.quote(str(self.folder))}/"
            )
        except OSError as exc:
            saved = f"\n  (could not save it in {rejected.parent}: {exc.strerror})"
        uri = _certificate_uri(cert)
        return (
            f"{endpoint}: the server's certificate is not trusted (not in the trust list {self.folder}); "
            "nothing was sent to it\n"
            f"  subject: {cert.subject.rfc4514_string()}" + (f", application URI {uri}" if uri else "") + "\n"
            f"  SHA-256 fingerprint: {fp}" + saved
        )


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """True if `ca` is a CA certificate that issued and signed `cert`."""
    if cert.issuer != ca.subject or cert == ca:
        return False
    try:
        if not ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
        cert.verify_directly_issued_by(ca)
    except (x509.ExtensionNotFound, ValueError, TypeError, InvalidSignature):
        return False
    return True


def _certificate_uri(cert: x509.Certificate) -> str | None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def certificate_uri(cert_path: Path) -> str | None:
    """The application URI in a certificate's subject alternative names (PEM or DER)."""
    return _certificate_uri(load_certificate(Path(cert_path).read_bytes()))


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
