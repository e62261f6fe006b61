"""Every job control transition of OPC 10031-4, allowed and refused, on the receiver's book (no IO).

The expected table is written out here by hand from the spec, not read from the code."""

from __future__ import annotations

import pytest

from sync.joborders import TRANSITIONS, Job, JobBook, JobState, Method, Status

NAS, ATS, RUN, INT, END, ABO = (
    JobState.NOT_ALLOWED_TO_START,
    JobState.ALLOWED_TO_START,
    JobState.RUNNING,
    JobState.INTERRUPTED,
    JobState.ENDED,
    JobState.ABORTED,
)
GONE = None
SPEC: dict[Method, dict[JobState, JobState | None]] = {
    Method.START: {NAS: ATS},
    Method.REVOKE_START: {ATS: NAS},
    Method.UPDATE: {NAS: NAS, ATS: ATS},
    Method.CANCEL: {NAS: ABO, ATS: ABO},
    Method.PAUSE: {RUN: INT},
    Method.RESUME: {INT: RUN},
    Method.STOP: {RUN: END, INT: END},
    Method.ABORT: {RUN: ABO, INT: ABO},
    Method.CLEAR: {END: GONE, ABO: GONE},
}
JOB = Job("O1/0", "O1", "P", 0, "cut", "saw", 0, 5)


def _book_in(state: JobState) -> JobBook:
    book = JobBook()
    assert book.store(JOB) == Status.OK
    book.states[JOB.job_id] = state
    return book


@pytest.mark.parametrize("method", [m for m in Method if m not in (Method.STORE, Method.STORE_AND_START)])
@pytest.mark.parametrize("state", list(JobState))
def test_every_method_in_every_state(method: Method, state: JobState) -> None:
    book = _book_in(state)
    new = Job("O1/0", "O1", "P", 0, "cut", "saw", 1, 5)
    status = book.apply(method, JOB.job_id, new if method == Method.UPDATE else None)
    allowed = SPEC[method]
    if state in allowed:
        assert status == Status.OK
        after = allowed[state]
        if after is GONE:
            assert JOB.job_id not in book.states and JOB.job_id not in book.jobs
        else:
            assert book.states[JOB.job_id] == after
        if method == Method.UPDATE:
            assert book.jobs[JOB.job_id].machine == 1
    else:
        assert status == Status.INVALID_STATE
        assert book.states[JOB.job_id] == state and book.jobs[JOB.job_id] == JOB


def test_the_contract_table_is_the_spec() -> None:
    assert {m: set(allowed) for m, (allowed, _) in TRANSITIONS.items()} == {
        m: set(v) for m, v in SPEC.items()
    }


def test_store_unknown_and_return_codes_are_the_spec_bits() -> None:
    book = JobBook()
    assert book.store(JOB) == Status.OK and book.states[JOB.job_id] == NAS
    assert book.store(JOB) == Status.DUPLICATE_JOB_ORDER
    other = Job("O2/0", "O2", "P", 0, "cut", "saw", 0, 5)
    assert book.store(other, start=True) == Status.OK and book.states["O2/0"] == ATS
    for method in SPEC:
        assert book.apply(method, "nope") == Status.UNKNOWN_JOB_ORDER
    # OPC 10031-4 annex B.2: bit 0 no error, bit 1 unknown id, bit 3 invalid status, bit 4 cannot accept
    assert (int(Status.OK), int(Status.UNKNOWN_JOB_ORDER), int(Status.INVALID_STATE)) == (1, 2, 8)
    assert int(Status.DUPLICATE_JOB_ORDER) & 16 and int(Status.DUPLICATE_JOB_ORDER) >> 33
    # the floor reports its own progress
    book.running("O2/0")
    assert book.states["O2/0"] == RUN
    book.ended("O2/0")
    assert book.states["O2/0"] == END
