"""Classic job-shop instances (OR-Library / Taillard standard text format) as a plant and order book.

The format: optional comment lines (starting with `#`) and blank lines, then a line
`n m` (jobs, machines), then one line per job with `m` pairs `machine time`
(machines numbered 0..m-1, times whole numbers). Each machine becomes a one-machine
station `m0..m{m-1}`, each job a product `job{j}` whose routing visits the machines in
the given order, and one order `J{j}` of one unit per job, released at 0 with no due
date. So the planner's makespan on the plant is the instance's makespan.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError

from twin.errors import InputError, Issue
from twin.orders import Order
from twin.plant import Plant

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _ints(text: str, source: str, line: int) -> list[int]:
    try:
        values = [int(tok) for tok in text.split()]
    except ValueError:
        raise InputError(Issue(f"expected whole numbers, got {text.strip()!r}", source, line)) from None
    if any(v < 0 for v in values):
        raise InputError(Issue("negative number in a job-shop instance", source, line))
    return values


def jssp_from_text(text: str, source: str = "<jssp>", name: str = "jssp") -> tuple[Plant, list[Order]]:
    """Parse a job-shop instance; return the plant and one order per job.

    Raises:
        InputError: a malformed header or job line (the line is named), or trailing data.
    """
    lines = [(i + 1, raw) for i, raw in enumerate(text.splitlines())]
    body = [(n, raw) for n, raw in lines if raw.strip() and not raw.lstrip().startswith("#")]
    if not body:
        raise InputError(Issue("empty instance: expected a line 'jobs machines'", source, 1))
    head_line, head = body[0]
    header = _ints(head, source, head_line)
    if len(header) != 2 or header[0] < 1 or header[1] < 1:
        raise InputError(
            Issue("expected a first line 'jobs machines' (two positive numbers)", source, head_line)
        )
    n_jobs, n_machines = header
    job_lines = body[1:]
    if len(job_lines) < n_jobs:
        last = lines[-1][0] if lines else 1
        raise InputError(Issue(f"expected {n_jobs} job lines, found {len(job_lines)}", source, last))
    if len(job_lines) > n_jobs:
        extra_line = job_lines[n_jobs][0]
        raise InputError(Issue(f"unexpected data after the {n_jobs} job lines", source, extra_line))
    products = []
    for j, (line_no, raw) in enumerate(job_lines):
        values = _ints(raw, source, line_no)
        if len(values) != 2 * n_machines:
            raise InputError(
                Issue(
                    f"job {j}: expected {n_machines} 'machine time' pairs ({2 * n_machines} numbers), "
                    f"got {len(values)} numbers",
                    source,
                    line_no,
                )
            )
        routing = []
        for k in range(n_machines):
            machine, duration = values[2 * k], values[2 * k + 1]
            if machine >= n_machines:
                raise InputError(
                    Issue(f"job {j}: machine {machine} is not in 0..{n_machines - 1}", source, line_no)
                )
            routing.append({"id": f"o{k}", "stations": f"m{machine}", "time": duration})
        products.append({"id": f"job{j}", "routing": routing})
    data = {
        "name": name,
        "description": f"{n_jobs} x {n_machines} job-shop instance from {source}",
        "epoch": EPOCH,
        "lines": [{"id": "L", "stations": [{"id": f"m{i}"} for i in range(n_machines)]}],
        "products": products,
    }
    try:
        plant = Plant.model_validate(data)
    except ValidationError as exc:
        raise InputError(Issue(f"not a valid job-shop instance: {exc}", source)) from None
    orders = [Order(id=f"J{j}", product=f"job{j}", quantity=1) for j in range(n_jobs)]
    return plant, orders
