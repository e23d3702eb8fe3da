"""The supervisor of ``consume --processes``: what it refuses before forking anything.
(Forked members at work, stopped and killed: ``tests/faults/test_forked_members.py``.)"""

import threading

import pytest

from govpub.app.cli import main
from govpub.app.members import run_members
from govpub.errors import ConfigurationError


def never_run(number: int, stop: threading.Event) -> int:
    raise AssertionError("no member may start")


def test_a_count_below_one_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="--processes must be at least 1, not 0"):
        run_members(0, never_run)


def test_members_are_not_forked_while_another_thread_runs() -> None:
    """A forked child would inherit the other thread's locks in whatever state they
    were, with no thread to release them."""
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        with pytest.raises(RuntimeError, match="threads are running"):
            run_members(2, never_run)
    finally:
        release.set()
        other.join()


@pytest.mark.parametrize(
    ("count", "reason"),
    [
        ("0", "must be at least 1, not 0"),
        ("-2", "must be at least 1, not -2"),
        ("two", "not a whole number"),
    ],
)
def test_a_count_of_processes_that_is_not_a_positive_number_is_refused(
    count: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["consume", "--processes", count])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "--processes" in error
    assert reason in error
