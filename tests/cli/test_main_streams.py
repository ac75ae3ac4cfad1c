"""`cardkit`'s process-level behaviour: a reader that closes the pipe early (`| head -1`) does
not change the exit code, and Python warnings are one cardkit line, not a raw traceback line."""

from __future__ import annotations

import os
import warnings

import pytest

from cardkit.cli import main as main_module


def test_writes_after_the_reader_left_are_dropped_not_raised() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (head -1) has gone
    stream = main_module._PipeSafe(os.fdopen(write_end, "w"))
    stream.write("first line\n")  # EPIPE: swallowed
    stream.write("second line\n")
    stream.flush()
    assert stream.closed_pipe


def test_python_warnings_become_one_cardkit_line(capsys: pytest.CaptureFixture[str]) -> None:
    main_module._one_line_warning(UserWarning("a library complains"), UserWarning, "/x.py", 3)
    assert capsys.readouterr().err == "warning: a library complains\n"
    with warnings.catch_warnings():
        warnings.showwarning = main_module._one_line_warning
        warnings.warn("shown as cardkit's own line", DeprecationWarning, stacklevel=1)
    assert capsys.readouterr().err == "warning: shown as cardkit's own line\n"
