"""The local server's description check: printable ASCII exactly, as Glacier documents."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from glacierlib.localserver.errors import GlacierError
from glacierlib.localserver.service import _check_description


@given(st.text(max_size=40))
def test_description_check_is_printable_ascii_exactly(text: str) -> None:
    expected_ok = all(0x20 <= ord(c) <= 0x7E for c in text.lstrip())
    try:
        _check_description(text)
    except GlacierError:
        assert not expected_ok
    else:
        assert expected_ok
