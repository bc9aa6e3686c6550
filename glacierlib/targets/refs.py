"""Journal references and object provenance for S3, and the rule "one journal, one target".

**References.** The journal's archive-id column must stay non-empty with no white space, so
every journal reader keeps working. A Glacier archive id is 138 characters of base64url
(``A-Z a-z 0-9 - _``). An S3 reference is::

    s3:BUCKET/QUOTED-KEY            (unversioned bucket)
    s3:BUCKET/QUOTED-KEY?v=QUOTED-VERSION

* ``:`` is never in base64url, so ``s3:`` can never begin a Glacier id: the two cannot be
  mistaken for each other, and a journal's kind is known from any one line.
* The bucket is named, so a journal used against another bucket is refused, and the key is the
  whole key (prefix included), so a changed ``--prefix`` is refused too.
* The key is percent-encoded as UTF-8 with only ``A-Z a-z 0-9 - _ . ~ /`` left as they are: no
  white space, no ``?`` (which then only separates the version), pure ASCII whatever the name.
* The version id is kept where the bucket keeps versions: deleting by version is what removes
  that copy and not a newer one uploaded since.

**Provenance metadata.** ``x-amz-meta-mtime`` holds the mtime in decimal seconds, as rclone
writes it (so rclone and tools like it show our objects with their true times), and
``x-amz-meta-treehash`` the Glacier tree hash in hex, so vault data and S3 data compare. The
name is the key itself (prefix + relative name): listings carry keys but never metadata, so a
name in metadata would be unreadable exactly where it is needed, and would eat the 2 KB budget.
Metadata read back is untrusted: parsers return None for anything malformed, never raise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote

import attrs

from glacierlib.exceptions import JournalError
from glacierlib.names import is_safe_relative_name
from glacierlib.targets.base import TargetKind
from glacierlib.treehash import TreeHash

__all__ = [
    "MTIME_META",
    "TREEHASH_META",
    "S3Ref",
    "check_journal_target",
    "kind_of_ref",
    "name_from_key",
    "parse_s3_metadata",
    "s3_metadata",
]

S3_PREFIX = "s3:"
MTIME_META = "mtime"  # sent as x-amz-meta-mtime
TREEHASH_META = "treehash"  # sent as x-amz-meta-treehash
_SAFE = "/-_.~"  # with letters and digits: what stays unquoted in a key
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_MTIME = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,9})?")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def _check_bucket(_instance: object, _attribute: object, value: str) -> None:
    if not _BUCKET.fullmatch(value):
        raise ValueError(f"not a bucket name: {value[:80]!r}")


def _check_key(_instance: object, _attribute: object, value: str) -> None:
    if not value:
        raise ValueError("an S3 key is not empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"an S3 key is valid UTF-8: {value[:80]!r}") from None


@attrs.frozen
class S3Ref:
    """An S3 object as the journal names it: bucket, key and (when versioned) version id."""

    bucket: str = attrs.field(validator=_check_bucket)
    key: str = attrs.field(validator=_check_key)
    version_id: str | None = attrs.field(default=None)

    @version_id.validator
    def _check_version(self, _attribute: object, value: str | None) -> None:
        if value is not None and not value:
            raise ValueError("a version id is None or not empty")

    def format(self) -> str:
        """The journal form (see the module docstring)."""
        text = f"{S3_PREFIX}{self.bucket}/{quote(self.key, safe=_SAFE)}"
        if self.version_id is not None:
            text += "?v=" + quote(self.version_id, safe="")
        return text

    @classmethod
    def parse(cls, text: str) -> S3Ref:
        """Read a journal reference; raises ``ValueError`` saying what is wrong with it."""
        if not text.startswith(S3_PREFIX):
            raise ValueError(f"not an S3 reference (no {S3_PREFIX!r} prefix): {text[:80]!r}")
        bucket, slash, rest = text[len(S3_PREFIX):].partition("/")
        if not slash:
            raise ValueError(f"an S3 reference names bucket/key: {text[:80]!r}")
        quoted_key, question, query = rest.partition("?")
        version: str | None = None
        if question:
            if not query.startswith("v=") or len(query) == 2:
                raise ValueError(f"an S3 reference ends in ?v=VERSION: {text[:80]!r}")
            version = _strict_unquote(query[2:], text)
        ref = cls(bucket, _strict_unquote(quoted_key, text), version)
        if ref.format() != text:
            # One object, one spelling: two journal lines for the same object must compare
            # equal as strings (the journal keys its state by this text).
            raise ValueError(f"S3 reference not in canonical form: {text[:80]!r}")
        return ref


def _strict_unquote(text: str, whole: str) -> str:
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise ValueError(f"S3 reference is not UTF-8 once decoded: {whole[:80]!r}") from None


def kind_of_ref(ref: str) -> TargetKind:
    """Which kind of target a journal reference belongs to (from its spelling alone)."""
    return "s3" if ref.startswith(S3_PREFIX) else "glacier"


def _describe(kind: TargetKind, where: str | None) -> str:
    if kind == "glacier":
        return "a Glacier vault"
    return f"S3 {where}" if where else "S3"


def check_journal_target(refs: Iterable[str], target_identity: str, target_kind: TargetKind,
                         *, journal: object, bucket: str | None = None,
                         prefix: str = "") -> None:
    """Refuse a journal written for another target, in one line naming both.

    A vault's archive ids do not name the vault (the line format predates this), so between
    two vaults nothing can be told; an S3 reference names its bucket and whole key, so another
    kind, another bucket or a key outside ``prefix`` is refused. The first reference that does
    not fit decides: one line is enough, and a journal is never mixed by this library.
    """
    for ref in refs:
        kind = kind_of_ref(ref)
        if kind != target_kind:
            theirs = _describe(kind, _bucket_of(ref))
            raise JournalError(
                f"this journal belongs to {theirs}, not to {target_identity}",
                path=journal, hint="use the journal of this target, or --new-journal")
        if kind == "s3" and bucket is not None:
            try:
                parsed = S3Ref.parse(ref)
            except ValueError:
                continue  # malformed lines are the journal reader's to report
            if parsed.bucket != bucket or not parsed.key.startswith(prefix):
                where = f"bucket {parsed.bucket!r} key {parsed.key[:200]!r}"
                raise JournalError(
                    f"this journal belongs to S3 {where}, not to {target_identity}",
                    path=journal, hint="use the journal of this target, or --new-journal")


def _bucket_of(ref: str) -> str | None:
    try:
        return f"bucket {S3Ref.parse(ref).bucket!r}"
    except ValueError:
        return None


def s3_metadata(mtime: int, tree_hash: TreeHash | None) -> dict[str, str]:
    """The user metadata an uploaded object carries (botocore adds ``x-amz-meta-``)."""
    meta = {MTIME_META: str(int(mtime))}
    if tree_hash is not None:
        meta[TREEHASH_META] = tree_hash.hex
    return meta


def parse_s3_metadata(metadata: Mapping[str, object] | None
                      ) -> tuple[int | None, TreeHash | None]:
    """(mtime, tree hash) from user metadata someone else may have written; never raises.

    ``x-amz-meta-mtime`` may have a fraction (rclone writes ``1500000000.25``): it is dropped,
    as the journal keeps whole seconds. Anything malformed is None, not an error: an object
    without our provenance is still an object.
    """
    if not isinstance(metadata, Mapping):
        return None, None
    lowered = {str(k).lower(): v for k, v in metadata.items()}
    mtime: int | None = None
    raw = lowered.get(MTIME_META)
    if isinstance(raw, str) and _MTIME.fullmatch(raw.strip()):
        mtime = int(raw.strip().partition(".")[0])
        if not 0 <= mtime < 10**11:
            mtime = None
    tree: TreeHash | None = None
    raw = lowered.get(TREEHASH_META)
    if isinstance(raw, str) and _HEX64.fullmatch(raw.strip()):
        tree = TreeHash.from_hex(raw.strip().lower())
    return mtime, tree


def name_from_key(key: str, prefix: str) -> str | None:
    """The relative file name of a listed key, or None when it must not become a path.

    A key outside the prefix, or whose remainder is not a safe relative name (``../``,
    absolute, control characters, empty components), is refused exactly as an unsafe vault
    inventory name is (:func:`glacierlib.names.is_safe_relative_name`).
    """
    if not key.startswith(prefix):
        return None
    rest = key[len(prefix):]
    return rest if is_safe_relative_name(rest) else None
