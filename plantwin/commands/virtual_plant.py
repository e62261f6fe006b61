"""`plantwin virtual-plant`: serve a plant as an OPC UA server driven by a real-time simulation."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from plantwin import args
from plantwin.common import err_console, open_orders, open_plant, report_errors
from plantwin.opcua_cache import standard_shelf
from sync.security import Credentials
from sync.virtual.server import ServerSecurity, VirtualPlant
from twin.drift import parse_drift
from twin.errors import InputError, Issue
from twin.orders import Order, generate_orders
from twin.plant import Plant
from twin.structure import structure_differences


def register(app: typer.Typer) -> None:
    app.command("virtual-plant")(virtual_plant)


def open_truth(plant: Plant, truth: str) -> Plant:
    """The truth plant file, checked to be the same floor as `plant`.

    Raises:
        InputError: the file does not load, or differs in stations, machines, products or routings.
    """
    model, path, _ = open_plant(truth, warn=False)
    diff = structure_differences(plant, model)
    if diff:
        raise InputError([Issue(f"not the same floor as plant {plant.name}: {d}", str(path)) for d in diff])
    return model


def _feed(plant: Plant, book: list[Order] | None, hours: float, seed: int) -> list[Order]:
    if book:
        return book
    if plant.order_stream is None:
        raise InputError(
            Issue("--feed needs an order book (--orders) or an order_stream in the plant", "--feed")
        )
    return generate_orders(plant.order_stream, hours * 3600.0, seed)


@report_errors
def virtual_plant(
    plant: Annotated[str, typer.Argument(help="Plant YAML file, or a shipped sample name.")],
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 4840,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    speed: Annotated[float, typer.Option(help="Plant seconds per wall second.")] = 60.0,
    seed: Annotated[int, typer.Option(help="Random seed of the floor model.")] = 1,
    feed: Annotated[
        bool, typer.Option(help="Work the plant's order book (or order stream) without waiting for dispatch.")
    ] = False,
    feed_hours: Annotated[float, typer.Option(help="Order-stream horizon for --feed (plant hours).")] = 24.0,
    orders: Annotated[str | None, typer.Option(help="Order book for --feed (default: the plant's).")] = None,
    state: Annotated[
        Path | None, typer.Option(help="Retentive state file: counters and clock survive a restart.")
    ] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many wall seconds.")] = None,
    user: Annotated[str | None, typer.Option(help="Require this user name (with --password-file).")] = None,
    password_file: Annotated[Path | None, typer.Option(help="File holding the user's password.")] = None,
    security: Annotated[
        str | None,
        typer.Option(help="Offer only Basic256Sha256 endpoints: 'Sign', 'SignAndEncrypt' or both (,)."),
    ] = None,
    cert: Annotated[Path | None, typer.Option(help="Server certificate (DER or PEM) for --security.")] = None,
    key: Annotated[Path | None, typer.Option(help="Server private key (PEM) for --security.")] = None,
    truth: Annotated[
        str | None,
        typer.Option(
            help="Plant file the floor runs instead (same stations, machines, products and operations; "
            "other times, failures, yields, setups). Tags and address space stay PLANT's."
        ),
    ] = None,
    drift: Annotated[
        list[str] | None,
        typer.Option(help="Let a processing time drift: PRODUCT.OPERATION=RATE%/day (repeatable)."),
    ] = None,
) -> None:
    """Run a virtual plant: an OPC UA server with the plant's tags, driven by a simulation at --speed."""
    args.port("--port", port, any_free=True)
    args.number("--speed", speed, 0, args.MAX_SPEED, lo_open=True)
    args.number("--feed-hours", feed_hours, 0, args.MAX_WALL / 3600, lo_open=True)
    args.number("--duration", duration, 0, args.MAX_WALL, what="seconds")
    args.seed("--seed", seed)
    args.port_free("--port", host, port)
    model, path, _ = open_plant(plant)
    floor_plant = open_truth(model, truth) if truth is not None else None
    drifts = [parse_drift(d, floor_plant or model) for d in drift or ()]
    users = None
    if user is not None:
        if password_file is None or not password_file.is_file():
            raise InputError(Issue("--user needs a readable --password-file", "--password-file"))
        users = [Credentials(user, password_file.read_text().strip())]
    sec = None
    if security is not None:
        modes = tuple(m.strip() for m in security.replace("Basic256Sha256", "").split(",") if m.strip())
        if not modes or any(m not in ("Sign", "SignAndEncrypt") for m in modes):
            raise InputError(Issue("use Sign, SignAndEncrypt or 'Sign,SignAndEncrypt'", "--security"))
        if cert is None or key is None or not cert.is_file() or not key.is_file():
            raise InputError(Issue("--security needs readable --cert and --key files", "--cert"))
        sec = ServerSecurity(cert, key, modes)
    work = _feed(model, open_orders(model, path, orders), feed_hours, seed) if feed else None
    if sec is None:  # asyncua warns about missing certificates even when none are wanted
        logging.getLogger("asyncua.server.server").setLevel(logging.ERROR)
    vp = VirtualPlant(
        model,
        host=host,
        port=port,
        speed=speed,
        seed=seed,
        security=sec,
        users=users,
        state_path=state,
        feed=work,
        truth=floor_plant,
        drifts=drifts,
        shelf=standard_shelf(),
    )
    try:
        asyncio.run(_serve(vp, duration))
    except OSError as exc:  # the port was taken between the check and the bind
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        raise args.bind_error("--port", host, port, exc) from None


async def _serve(vp: VirtualPlant, duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with vp:
        err_console.print(
            f"virtual plant {vp.plant.name} listening on {vp.endpoint} at {vp.speed:g}x", markup=False
        )
        deadline = None if duration is None else time.monotonic() + duration
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            with contextlib.suppress(TimeoutError):
                left = 5.0 if deadline is None else max(0.0, min(5.0, deadline - time.monotonic()))
                await asyncio.wait_for(stop.wait(), timeout=left)
            assert vp.floor is not None and vp.env is not None
            good, reject = sum(vp.floor.good.values()), sum(vp.floor.reject.values())
            err_console.print(f"plant time {vp.env.now:.0f} s  good {good}  reject {reject}", markup=False)
