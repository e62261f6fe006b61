"""Security: Basic256Sha256 Sign and SignAndEncrypt with certificates made here, user and password;
the secured virtual plant refuses an anonymous, unsigned client and a wrong password; the client
trusts only servers in its trust list (a rogue server with its own self-signed certificate gets
no password, and the error tells how to trust a server) and never sends a password unencrypted."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager
from typer.testing import CliRunner

from plantwin.cli import app
from sync.client import SyncClient
from sync.security import Credentials, Security, fingerprint, load_certificate, make_certificate
from sync.virtual.server import APPLICATION_URI, ServerSecurity, VirtualPlant
from twin.errors import InputError, SyncError
from twin.plant import Plant

pytestmark = pytest.mark.timeout(60)
USER = Credentials("operator", "s3cret-line-1")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("certs")
    make_certificate(d / "server.der", d / "server.pem", APPLICATION_URI, server=True)
    make_certificate(d / "client.der", d / "client.pem", "urn:plantwin:test:sync-client", server=False)
    make_certificate(d / "rogue.der", d / "rogue.pem", APPLICATION_URI, server=True)  # same URI, own key
    (d / "trusted").mkdir()
    shutil.copy(d / "server.der", d / "trusted" / "line1.der")
    names = ("server.der", "server.pem", "client.der", "client.pem", "rogue.der", "rogue.pem", "trusted")
    return {name: d / name for name in names}


def _sec(certs: dict[str, Path], mode: str = "SignAndEncrypt", trust: Path | None = None) -> Security:
    return Security(
        "Basic256Sha256", mode, certs["client.der"], certs["client.pem"], trust=trust or certs["trusted"]
    )


def _server(cell: Plant, certs: dict[str, Path], shelf: Path, users: bool = True) -> VirtualPlant:
    sec = ServerSecurity(certs["server.der"], certs["server.pem"])
    return VirtualPlant(cell, port=0, speed=1, security=sec, users=[USER] if users else None, shelf=shelf)


@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
async def test_signed_client_with_user_gets_the_values(
    cell: Plant, certs: dict[str, Path], shelf: Path, mode: str
) -> None:
    security = _sec(certs, mode)
    async with (
        _server(cell, certs, shelf, users=mode == "SignAndEncrypt") as vp,  # Sign: anonymous only
        SyncClient(
            cell, vp.endpoint, security=security, credentials=USER if mode == "SignAndEncrypt" else None
        ) as c,
    ):
        live = c.live
        assert c.ua_client.security_policy.Mode.name == mode
    assert not live.stale and live.stations["mill"].process_values == {"temp": 40.0}
    counts = c.tracker.status_counts
    assert list(counts) == ["good"] and counts["good"] >= 13  # read of 7 + 6 tags, then notifications


async def test_secured_server_refuses_anonymous_unsigned_and_wrong_password(
    cell: Plant, certs: dict[str, Path], shelf: Path
) -> None:
    security = _sec(certs)
    async with _server(cell, certs, shelf) as vp:
        with pytest.raises(SyncError, match="cannot connect"):
            await SyncClient(cell, vp.endpoint).connect()
        with pytest.raises(SyncError, match="cannot connect"):
            await SyncClient(cell, vp.endpoint, security=security).connect()  # signed, anonymous
        wrong = Credentials("operator", "guess")
        with pytest.raises(SyncError, match="cannot connect"):
            await SyncClient(cell, vp.endpoint, security=security, credentials=wrong).connect()


class _Recorder(UserManager):
    """A rogue server's user manager: keeps every user name and password it is sent."""

    def __init__(self) -> None:
        self.seen: list[tuple[str | None, str | None]] = []

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        self.seen.append((username, password))
        return User(role=UserRole.User, name=username)


async def test_a_rogue_server_with_an_untrusted_certificate_gets_no_password(
    cell: Plant, certs: dict[str, Path], shelf: Path
) -> None:
    rogue = VirtualPlant(
        cell,
        port=0,
        speed=1,
        security=ServerSecurity(certs["rogue.der"], certs["rogue.pem"]),
        users=[USER],
        shelf=shelf,
    )
    async with rogue as vp:
        recorder = _Recorder()
        vp.server.iserver.user_manager = recorder
        with pytest.raises(SyncError, match="not trusted") as err:
            await SyncClient(cell, vp.endpoint, security=_sec(certs), credentials=USER).connect()
        assert recorder.seen == []  # no session, no user name, no password
    rogue_fp = fingerprint(load_certificate(certs["rogue.der"].read_bytes()).public_bytes(_der()))
    assert rogue_fp in str(err.value) and "SHA-256 fingerprint" in str(err.value)
    assert list((certs["trusted"] / "rejected").iterdir()), "the rejected certificate is kept to be trusted"


async def test_first_contact_says_how_to_trust_the_server_and_that_works(
    cell: Plant, certs: dict[str, Path], shelf: Path, tmp_path: Path
) -> None:
    trust = tmp_path / "trust"
    trust.mkdir()
    async with _server(cell, certs, shelf) as vp:
        with pytest.raises(SyncError, match="not trusted") as err:
            await SyncClient(cell, vp.endpoint, security=_sec(certs, trust=trust), credentials=USER).connect()
        command = re.search(r"mv (.+)$", str(err.value), re.M)
        assert command is not None
        src, dst = shlex.split(command.group(1))
        shutil.move(src, dst)  # what the message says to do
        async with SyncClient(cell, vp.endpoint, security=_sec(certs, trust=trust), credentials=USER) as c:
            assert c.connected and not c.live.stale


def test_a_password_is_never_sent_without_encryption(
    cell: Plant, certs: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="without security"):
        SyncClient(cell, "opc.tcp://127.0.0.1:9", credentials=USER)
    with pytest.raises(InputError, match="only Signed"):
        SyncClient(cell, "opc.tcp://127.0.0.1:9", security=_sec(certs, "Sign"), credentials=USER)
    pw = tmp_path / "pw.txt"
    pw.write_text(USER.password)
    base = [
        "sync",
        "single",
        "--endpoint",
        "opc.tcp://127.0.0.1:9",
        "--user",
        "operator",
        "--password-file",
        str(pw),
    ]
    keys = ["--cert", str(certs["client.der"]), "--key", str(certs["client.pem"])]
    runner = CliRunner()
    res = runner.invoke(app, base)
    assert res.exit_code == 2 and "refusing to send the password" in res.output
    res = runner.invoke(
        app, [*base, "--security", "Basic256Sha256,Sign", *keys, "--trust", str(certs["trusted"])]
    )
    assert res.exit_code == 2 and "SignAndEncrypt" in res.output
    res = runner.invoke(app, [*base, "--security", "Basic256Sha256,SignAndEncrypt", *keys])
    assert res.exit_code == 2 and "trust list" in res.output


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER
