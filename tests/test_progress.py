"""The one progress bar: shown on request with amount and rate, silent when off."""

from __future__ import annotations

from toksmith.progress import progress_bar


def test_bar_reports_amount_and_rate_on_stderr(capsys) -> None:
    with progress_bar(True, "reading corpus", total=3_000_000, transient=False) as advance:
        advance(1_000_000)
        advance(2_000_000, "reading corpus: last file")
    err = capsys.readouterr().err
    assert "3.0 M chars" in err and "M chars/s" in err and "last file" in err


def test_disabled_bar_prints_nothing(capsys) -> None:
    with progress_bar(False, "reading corpus", total=10) as advance:
        advance(10, "x")
    assert capsys.readouterr() == ("", "")
