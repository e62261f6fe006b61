"""Security: Basic256Sha256 Sign and SignAndEncrypt with certificates made here, user and password;
the secured virtual plant refuses an anonymous, unsigned client and a wrong password."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.client import SyncClient
from sync.security import Credentials, Security, make_certificate
from sync.virtual.server import APPLICATION_URI, ServerSecurity, VirtualPlant
from twin.errors import SyncError
from twin.plant import Plant

pytestmark = pytest.mark.timeout(60)
USER = Credentials("operator", "s3cret-line-1")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("certs")
    make_certificate(d / "server.der", d / "server.pem", APPLICATION_URI, server=True)
    make_certificate(d / "client.der", d / "client.pem", "urn:plantwin:test:sync-client", server=False)
    return {name: d / name for name in ("server.der", "server.pem", "client.der", "client.pem")}


def _server(cell: Plant, certs: dict[str, Path], shelf: Path) -> VirtualPlant:
    sec = ServerSecurity(certs["server.der"], certs["server.pem"])
    return VirtualPlant(cell, port=0, speed=1, security=sec, users=[USER], shelf=shelf)


@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
async def test_signed_client_with_user_gets_the_values(
    cell: Plant, certs: dict[str, Path], shelf: Path, mode: str
) -> None:
    security = Security("Basic256Sha256", mode, certs["client.der"], certs["client.pem"])
    async with (
        _server(cell, certs, shelf) as vp,
        SyncClient(cell, vp.endpoint, security=security, credentials=USER) as c,
    ):
        live = c.live
        assert c.ua_client.security_policy.Mode.name == mode
    assert not live.stale and live.stations["mill"].process_values == {"temp": 40.0}
    counts = c.tracker.status_counts
    assert list(counts) == ["good"] and counts["good"] >= 13  # read of 7 + 6 tags, then notifications


async def test_secured_server_refuses_anonymous_unsigned_and_wrong_password(
    cell: Plant, certs: dict[str, Path], shelf: Path
) -> None:
    security = Security("Basic256Sha256", "SignAndEncrypt", certs["client.der"], certs["client.pem"])
    async with _server(cell, certs, shelf) as vp:
        with pytest.raises(SyncError, match="cannot connect"):
            await SyncClient(cell, vp.endpoint).connect()
        with pytest.raises(SyncError, match="cannot connect"):
            await SyncClient(cell, vp.endpoint, credentials=USER).connect()  # user, but no signing
        with pytest.raises(SyncError, match="cannot connect"):
            await SyncClient(cell, vp.endpoint, security=security).connect()  # signed, anonymous
        wrong = Credentials("operator", "guess")
        with pytest.raises(SyncError, match="cannot connect"):
            await SyncClient(cell, vp.endpoint, security=security, credentials=wrong).connect()
