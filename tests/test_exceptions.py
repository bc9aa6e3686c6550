"""Every error class pickles: errors raised in upload processes cross back to the parent."""

from __future__ import annotations

import inspect
import pickle

import pytest

import glacierlib.exceptions as exceptions_module
from glacierlib.exceptions import GlacierlibError

CLASSES = sorted(
    (value for value in vars(exceptions_module).values()
     if isinstance(value, type) and issubclass(value, GlacierlibError)),
    key=lambda cls: cls.__name__,
)

SAMPLES = {"hint": "a hint", "path": "/some/journal", "line": 7, "name": "a/b",
           "code": "SomeCode", "operation": "UploadArchive", "status": 503,
           "field": "part_size"}


def build(cls: type[GlacierlibError]) -> GlacierlibError:
    parameters = inspect.signature(cls.__init__).parameters
    keywords = {name: SAMPLES[name] for name, p in parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}
    return cls("the message", **keywords)


def test_every_class_is_covered() -> None:
    assert len(CLASSES) >= 15
    assert GlacierlibError in CLASSES


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_round_trip_through_pickle(cls: type[GlacierlibError]) -> None:
    error = build(cls)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(error, protocol))
        assert type(again) is cls
        assert str(again) == str(error)
        assert again.args == error.args
        assert vars(again) == vars(error)
        assert again.retryable == error.retryable
