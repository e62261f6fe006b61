"""The OPC UA client options every command that talks to a server shares (sync, live, dispatch):
one definition of --user/--password-file/--security/--cert/--key/--trust and one reading of them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sync.security import Credentials, Security, require_encryption
from twin.errors import InputError, Issue

UserOption = Annotated[str | None, typer.Option(help="User name (with --password-file).")]
PasswordFileOption = Annotated[Path | None, typer.Option(help="File holding the password.")]
SecurityOption = Annotated[
    str | None, typer.Option(help="'Basic256Sha256,Sign' or 'Basic256Sha256,SignAndEncrypt'.")
]
CertOption = Annotated[Path | None, typer.Option(help="Client certificate (DER or PEM).")]
KeyOption = Annotated[Path | None, typer.Option(help="Client private key (PEM).")]
TrustOption = Annotated[
    Path | None,
    typer.Option(help="Folder of trusted server certificates (needed with --security; see docs/sync.md)."),
]


def client_security(
    user: str | None,
    password_file: Path | None,
    security: str | None,
    cert: Path | None,
    key: Path | None,
    trust: Path | None,
) -> tuple[Security | None, Credentials | None]:
    """The security and credentials the options name; a password only over SignAndEncrypt.

    Raises:
        InputError: a user without a readable password file, a bad --security, missing
            certificate, key or trust folder, or a password that would not be encrypted.
    """
    credentials = None
    if user is not None:
        if password_file is None or not password_file.is_file():
            raise InputError(Issue("--user needs a readable --password-file", "--password-file"))
        credentials = Credentials(user, password_file.read_text().strip())
    sec = Security.parse(security, cert, key, trust) if security is not None else None
    require_encryption(sec, credentials)
    return sec, credentials
