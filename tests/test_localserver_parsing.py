"""Fast paths of the local server's request checks, against the library calls they replace."""

from __future__ import annotations

import calendar
import datetime
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glacierlib.localserver.errors import GlacierError
from glacierlib.localserver.service import _check_description
from glacierlib.localserver.sigv4 import _amz_epoch

FORMAT = "%Y%m%dT%H%M%SZ"


@given(st.datetimes(min_value=datetime.datetime(1000, 1, 1),
                    max_value=datetime.datetime(9999, 12, 31)))
def test_amz_date_reads_as_strptime_does(moment: datetime.datetime) -> None:
    text = moment.strftime("%Y%m%dT%H%M%SZ").zfill(16)
    assert _amz_epoch(text) == calendar.timegm(time.strptime(text, FORMAT))


@given(st.text(alphabet="0123456789TZ -:+", max_size=20))
def test_amz_date_never_accepts_what_strptime_refuses(text: str) -> None:
    try:
        ours: float | None = _amz_epoch(text)
    except ValueError:
        ours = None
    if ours is not None:  # stricter is fine (exactly 16 characters); never different
        assert ours == calendar.timegm(time.strptime(text, FORMAT))


@pytest.mark.parametrize("text", ["20241301T000000Z", "20240230T000000Z", "20240101T240000Z",
                                  "2024011T0000000Z", "20240101T000000", "２０２４0101T000000Z"])
def test_amz_date_out_of_range_or_malformed_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        _amz_epoch(text)


@given(st.text(max_size=40))
def test_description_check_is_printable_ascii_exactly(text: str) -> None:
    expected_ok = all(0x20 <= ord(c) <= 0x7E for c in text.lstrip())
    try:
        _check_description(text)
    except GlacierError:
        assert not expected_ok
    else:
        assert expected_ok
