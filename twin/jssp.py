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

from twin import bounds as B
from twin.bounds import out_of_range
from twin.errors import InputError, Issue
from twin.orders import Order
from twin.plant import Plant

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _ints(text: str, source: str, line: int, issues: list[Issue]) -> list[int] | None:
    """The whole numbers of a line, or None (and an issue) when one is not a whole number >= 0."""
    values = []
    for tok in text.split():
        try:
            value = int(tok)
        except ValueError:
            issues.append(Issue(out_of_range(tok, "a whole number"), source, line))
            return None
        if value < 0:
            issues.append(Issue(out_of_range(value, "a whole number >= 0"), source, line))
            return None
        values.append(value)
    return values


def jssp_from_text(text: str, source: str = "<jssp>", name: str = "jssp") -> tuple[Plant, list[Order]]:
    """Parse a job-shop instance; return the plant and one order per job.

    Raises:
        InputError: every malformed or out-of-range header or job line (each line named), or
            trailing data.
    """
    lines = [(i + 1, raw) for i, raw in enumerate(text.splitlines())]
    body = [(n, raw) for n, raw in lines if raw.strip() and not raw.lstrip().startswith("#")]
    if not body:
        raise InputError(Issue("empty instance: expected a line 'jobs machines'", source, 1))
    issues: list[Issue] = []
    head_line, head = body[0]
    header = _ints(head, source, head_line, issues)
    if header is None or len(header) != 2:
        shown = head.strip()
        raise InputError(
            issues
            or Issue(f"got {shown!r}, expected a first line 'jobs machines' (two numbers)", source, head_line)
        )
    n_jobs, n_machines = header
    if not 1 <= n_jobs <= B.MAX_JSSP_JOBS:
        issues.append(
            Issue(out_of_range(n_jobs, f"a number of jobs from 1 to {B.MAX_JSSP_JOBS:,}"), source, head_line)
        )
    if not 1 <= n_machines <= B.MAX_JSSP_MACHINES:
        expected = f"a number of machines from 1 to {B.MAX_JSSP_MACHINES:,}"
        issues.append(Issue(out_of_range(n_machines, expected), source, head_line))
    if issues:
        raise InputError(issues)
    job_lines = body[1:]
    if len(job_lines) < n_jobs:
        last = lines[-1][0] if lines else 1
        raise InputError(Issue(f"got {len(job_lines)} job lines, expected {n_jobs}", source, last))
    if len(job_lines) > n_jobs:
        extra_line = job_lines[n_jobs][0]
        raise InputError(Issue(f"unexpected data after the {n_jobs} job lines", source, extra_line))
    products = []
    total = 0
    idle_jobs: list[Issue] = []
    for j, (line_no, raw) in enumerate(job_lines):
        values = _ints(raw, source, line_no, issues)
        if values is None:
            continue
        if len(values) != 2 * n_machines:
            issues.append(
                Issue(
                    f"job {j}: got {len(values)} numbers, expected {n_machines} 'machine time' pairs "
                    f"({2 * n_machines} numbers)",
                    source,
                    line_no,
                )
            )
            continue
        routing = []
        for k in range(n_machines):
            machine, duration = values[2 * k], values[2 * k + 1]
            if machine >= n_machines:
                expected = f"a machine in 0..{n_machines - 1}"
                issues.append(Issue(f"job {j}: {out_of_range(machine, expected)}", source, line_no))
                break
            if duration > B.MAX_JSSP_TIME:
                expected = f"a time of at most {B.MAX_JSSP_TIME:,}"
                issues.append(Issue(f"job {j}: {out_of_range(duration, expected)}", source, line_no))
                break
            total += duration
            if duration > 0:  # a zero-time operation holds no machine: nothing to schedule
                routing.append({"id": f"o{k}", "stations": f"m{machine}", "time": duration})
        else:
            if not routing:
                idle_jobs.append(Issue(f"job {j}: got only zero times, expected some work", source, line_no))
        products.append({"id": f"job{j}", "routing": routing})
    if not issues and total > B.MAX_JSSP_TOTAL:
        expected = f"operation times summing to at most {B.MAX_JSSP_TOTAL:,} ({B.years(B.MAX_JSSP_TOTAL)})"
        issues.append(Issue(out_of_range(total, expected), source, head_line))
    if not issues and total == 0:
        issues.append(Issue("got only zero times, expected some work", source, head_line))
    elif not issues:
        issues.extend(idle_jobs)
    if issues:
        raise InputError(issues)
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
