"""Pure planning of sync and purge: frozen actions, computed without network or journal writes.

The plan is plain data, so ``--dry-run`` prints exactly what a real run would do and tests
assert on it offline. Planners are generators: :func:`plan_sync` consumes the streaming walk
and yields an action as soon as it knows one, so the executor starts uploading while the walk
goes on, and a million unchanged files never become a list.

Actions:

* :class:`Upload` a new file (one UploadArchive up to the part size, multipart above);
* :class:`Replace` a modified file: upload the new version first, then delete the old archive;
* :class:`Verify` a file whose tree hash decides (``--detect ...treehash``): hash it on the
  pool, and replace it only if the hash differs;
* :class:`Delete` an archive (a removed file, or ``purge-vault``);
* :class:`Skip` a file that cannot be stored (bad name, empty, too long for the description)
  or read, reported by name while the sync goes on; and, once per walk problem, the deletions
  ``--delete-removed`` held back because of it (``kind="kept"``).

The deletion rule: a journal name is removed only when the walk proved it absent, that is, its
directory was listed completely and the name was not there. Every :class:`WalkProblem` names
what it could not prove (``unproven``), and :func:`plan_sync` keeps every archive of a name
under it. A file that exists is never removed, whatever its size: an emptied file (Glacier
cannot store an empty archive) keeps its last archive and is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Literal

import attrs

from glacierlib.exceptions import ConfigError, MetadataError
from glacierlib.journal import ArchiveEntry, JournalState
from glacierlib.metadata import encode_mt2
from glacierlib.treehash import MIB
from glacierlib.walk import LocalFile, WalkEntry, WalkProblem

__all__ = [
    "DETECT_MODES",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "SKIP_KINDS",
    "Action",
    "Delete",
    "Replace",
    "Skip",
    "SyncOptions",
    "Upload",
    "Verify",
    "choose_part_size",
    "describe_action",
    "plan_purge",
    "plan_sync",
]

MAX_PARTS = 10_000
MAX_PART_SIZE = 4096 * MIB

DetectMode = Literal[
    "treehash", "mtime", "mtime-and-treehash", "mtime-or-treehash", "always-positive",
    "size-only",
]
DETECT_MODES: tuple[str, ...] = (
    "treehash", "mtime", "mtime-and-treehash", "mtime-or-treehash", "always-positive",
    "size-only",
)


class JournalSnapshot:
    """The journal's latest archive per name, for planning while the executor appends.

    Each name is planned once, so lookups may use the state's own index (built once, kept
    current by the writer) as long as nothing iterates it. Planning deletions does iterate it
    after the walk, when this very run has already added names: ``frozen=True`` copies the
    index at the start (references only) so a file uploaded by this run is never taken for a
    removed one.
    """

    def __init__(self, state: JournalState, *, frozen: bool = False) -> None:
        self._state = state
        index = getattr(state, "_index", None)
        self._raw: Mapping[str, tuple[object, str]] | None = None
        self._index: dict[str, str] = {}
        if callable(index):
            raw: Mapping[str, tuple[object, str]] = index()
            self._raw = dict(raw) if frozen else raw
        else:  # pragma: no cover - a journal state without the cached index
            self._index = {n: e.archive_id for n, e in state.latest_by_name().items()}

    def _archive_id(self, name: str) -> str | None:
        if self._raw is not None:
            hit = self._raw.get(name)
            return None if hit is None else hit[1]
        return self._index.get(name)

    def has(self, name: str) -> bool:
        """Was ``name`` live at the start? (No entry is built: the common, cheap question.)"""
        return self._archive_id(name) is not None

    def latest(self, name: str) -> ArchiveEntry | None:
        archive_id = self._archive_id(name)
        if archive_id is None:
            return None
        return self._state.archives.get(archive_id)

    def names(self) -> list[str]:
        """Names known at the start, sorted (deterministic deletions)."""
        if self._raw is not None:
            return sorted(self._raw)
        return sorted(self._index)


def choose_part_size(size: int, requested: int) -> tuple[int, bool]:
    """The part size to upload ``size`` bytes with, and whether it was raised.

    Glacier allows 10,000 parts per upload. mt-aws-glacier failed on a bigger file; we double
    the part size (it must stay a power of two MiB) until the file fits, and the caller tells
    the user. Raises :class:`ConfigError` beyond 10,000 parts of 4 GiB (Glacier's own limit).
    """
    if requested < MIB or requested & (requested - 1) or requested > MAX_PART_SIZE:
        raise ConfigError(f"part size {requested} is not a power of two MiB in 1 MiB..4 GiB")
    part = requested
    while -(-size // part) > MAX_PARTS:
        part *= 2
        if part > MAX_PART_SIZE:
            raise ConfigError(
                f"a file of {size} bytes exceeds Glacier's limit of {MAX_PARTS} parts of 4 GiB"
            )
    return part, part != requested


@attrs.frozen
class SyncOptions:
    """The sync modes of mt-aws-glacier; ``new`` is implied when no mode is given."""

    new: bool = True
    replace_modified: bool = False
    delete_removed: bool = False
    detect: str = attrs.field(
        default="mtime-and-treehash", validator=attrs.validators.in_(DETECT_MODES)
    )
    max_number_of_files: int | None = None
    part_size: int = 16 * MIB


@attrs.frozen
class Upload:
    """Upload a file that the journal does not know."""

    file: LocalFile
    description: str
    part_size: int
    part_size_raised: bool = False


@attrs.frozen
class Replace:
    """Upload the new version of a modified file, then delete ``old`` (never the reverse)."""

    file: LocalFile
    description: str
    part_size: int
    old: ArchiveEntry
    part_size_raised: bool = False


@attrs.frozen
class Verify:
    """Hash the file; if its tree hash differs from ``old``'s, replace it."""

    file: LocalFile
    description: str
    part_size: int
    old: ArchiveEntry
    part_size_raised: bool = False

    def as_replace(self) -> Replace:
        return Replace(self.file, self.description, self.part_size, self.old,
                       self.part_size_raised)


@attrs.frozen
class Delete:
    """Delete an archive and record it in the journal; ``size`` is the archive's, journaled."""

    archive_id: str
    name: str
    reason: str = "removed"
    size: int = 0


#: Why a :class:`Skip`: a name that cannot be stored; something that could not be read; a name
#: gone during the walk; a new empty file; a journaled file that is empty now (its archive is
#: kept); the journal's own file; deletions held back because of a walk problem.
SKIP_KINDS: tuple[str, ...] = ("name", "read", "vanished", "empty", "emptied", "journal", "kept")


@attrs.frozen
class Skip:
    """A file left alone and reported; ``error`` marks the ones that make the run fail.

    ``kept`` is the number of archives ``--delete-removed`` did not delete because of this
    skip (``kind="kept"``: every journaled name under ``display`` that the walk could not
    prove absent; ``kind="emptied"``: the file's own archive).
    """

    display: str
    reason: str
    error: bool = True
    kind: str = attrs.field(default="name", validator=attrs.validators.in_(SKIP_KINDS))
    kept: int = 0


Action = Upload | Replace | Verify | Delete | Skip


def describe_action(action: Action) -> str:
    """The dry-run line for an action, in mt-aws-glacier's words where it had them."""
    if isinstance(action, Upload):
        return f"Will UPLOAD {action.file.path}"
    if isinstance(action, Replace):
        return (f"Will UPLOAD {action.file.path} and then DELETE archive "
                f"{action.old.archive_id} (filename {action.old.name})")
    if isinstance(action, Verify):
        return f"Will VERIFY treehash and UPLOAD {action.file.path} if modified"
    if isinstance(action, Delete):
        return f"Will DELETE archive {action.archive_id} (filename {action.name})"
    if action.kind == "kept":
        return (f"Will KEEP {action.kept} archive(s) of {action.display} "
                f"(--delete-removed): {action.reason}")
    return f"Will SKIP {action.display}: {action.reason}"


_EMPTY = "zero-size file (Glacier cannot store an empty archive)"
_EMPTIED = ("empty now: its last archive is kept, not deleted (Glacier cannot store an empty "
            "archive)")


def _problem_skip(problem: WalkProblem) -> Skip:
    return Skip(problem.display, problem.reason, error=problem.kind in ("name", "read"),
                kind=problem.kind)


def _hider(name: str, unproven: Mapping[str, WalkProblem]) -> WalkProblem | None:
    """The walk problem that hid ``name`` (the root's, an ancestor directory's, or its own)."""
    hit = unproven.get("")
    if hit is not None:
        return hit
    i = name.find("/")
    while i >= 0:
        hit = unproven.get(name[:i])
        if hit is not None:
            return hit
        i = name.find("/", i + 1)
    return unproven.get(name)


def _upload_fields(file: LocalFile, part_size: int) -> tuple[str, int, bool] | Skip:
    try:
        description = encode_mt2(file.rel, file.mtime)
        chosen, raised = choose_part_size(file.size, part_size)
    except MetadataError as exc:
        return Skip(file.rel, exc.reason)  # the report prints the name before it
    except ConfigError as exc:
        return Skip(file.rel, exc.message)
    return description, chosen, raised


def _modified_action(
    file: LocalFile, old: ArchiveEntry, detect: str
) -> type[Replace | Verify] | None:
    """mt-aws-glacier's ``--detect`` decision for a file the journal has, in its order."""
    if detect == "always-positive" or file.size != old.size:
        return Replace
    if detect == "size-only":
        return None
    mtime_differs = old.mtime is not None and old.mtime != file.mtime
    if detect == "mtime":
        return Replace if mtime_differs else None
    if detect == "treehash":
        return Verify
    if detect == "mtime-and-treehash":
        return Verify if mtime_differs else None
    # mtime-or-treehash
    return Replace if mtime_differs else Verify


def plan_sync(
    entries: Iterable[WalkEntry], state: JournalState, options: SyncOptions, *,
    not_absent: Callable[[str], str | None] | None = None,
) -> Iterator[Action]:
    """Classify each walked file against the journal and yield what to do, as it goes.

    ``max_number_of_files`` caps the files acted upon (uploads, replacements, verifications
    and deletions together), as in mt-aws-glacier; skips are always reported. ``not_absent``
    (:func:`glacierlib.walk.not_absent`) is asked about each name about to be deleted, and
    keeps it when it returns a reason: the walk's proof of absence, checked once more.
    """
    journal = JournalSnapshot(state, frozen=options.delete_removed)
    budget = options.max_number_of_files
    acted = 0
    # Journal names seen as existing local files, and the names (with everything under them)
    # the walk could not prove absent; only kept when deletions are planned.
    present: set[str] | None = set() if options.delete_removed else None
    unproven: dict[str, WalkProblem] = {}

    def spend() -> bool:
        nonlocal acted
        if budget is not None and acted >= budget:
            return False
        acted += 1
        return True

    for entry in entries:
        if isinstance(entry, WalkProblem):
            if entry.unproven is not None:
                unproven.setdefault(entry.unproven, entry)
            yield _problem_skip(entry)
            continue
        if entry.size == 0:
            # Glacier cannot store an empty archive, but the file exists: never removed.
            if journal.has(entry.rel):
                if present is not None:
                    present.add(entry.rel)
                yield Skip(entry.rel, _EMPTIED, error=False, kind="emptied", kept=1)
            else:
                yield Skip(entry.rel, _EMPTY, error=False, kind="empty")
            continue
        old: ArchiveEntry | None = None
        kind: type[Replace | Verify] | None = None
        if not journal.has(entry.rel):
            if not options.new:
                continue
        else:
            if present is not None:
                present.add(entry.rel)
            if not options.replace_modified:
                continue
            old = journal.latest(entry.rel)
            if old is None:  # pragma: no cover - deleted by a concurrent writer
                continue
            kind = _modified_action(entry, old, options.detect)
            if kind is None:
                continue
        # A new file or a modified one: both count against the budget and need a description.
        if not spend():
            break
        fields = _upload_fields(entry, options.part_size)
        if isinstance(fields, Skip):
            yield fields
            continue
        description, part_size, raised = fields
        if kind is None or old is None:
            yield Upload(entry, description, part_size, raised)
        else:
            yield kind(entry, description, part_size, old, raised)
    else:
        if present is not None:
            yield from _deletions(journal, present, unproven, spend, not_absent)
        return
    # The budget ran out during the walk: no deletions, as the removed set is unknown.


def _deletions(
    journal: JournalSnapshot, present: set[str], unproven: Mapping[str, WalkProblem],
    spend: Callable[[], bool], not_absent: Callable[[str], str | None] | None,
) -> Iterator[Delete | Skip]:
    """Delete the latest archive of each name the walk proved absent; hold back the rest.

    mt-aws-glacier deleted every journaled name the walk did not yield, so a directory it could
    not read lost its whole backup. Here a name hidden by a walk problem keeps its archive, and
    each problem that hid any gets one ``kind="kept"`` skip with the count.
    """
    held: dict[str, tuple[WalkProblem, int]] = {}
    exhausted = False  # --max-number-of-files reached: count the held ones still
    for name in journal.names():
        if name in present:
            continue
        hider = _hider(name, unproven) if unproven else None
        if hider is not None:
            key = hider.unproven or ""
            held[key] = (hider, held[key][1] + 1 if key in held else 1)
            continue
        archive = journal.latest(name)
        if archive is None or exhausted:
            continue
        why = None if not_absent is None else not_absent(name)
        if why is not None:
            yield Skip(name, f"not proven absent: {why}", error=False, kind="kept", kept=1)
            continue
        if not spend():
            exhausted = True
            continue
        yield Delete(archive.archive_id, name, size=archive.size)
    for problem, count in held.values():
        yield Skip(problem.display, f"not proven absent: {problem.reason}", error=False,
                   kind="kept", kept=count)


def plan_purge(state: JournalState) -> Iterator[Delete]:
    """Every live archive of the journal (already filtered when it was read), by name.

    The ids are copied first: deletions are journaled while this generator is still pulled.
    """
    archives = state.archives
    chosen = sorted((archives[aid].name, aid, archives[aid].size) for aid in list(archives))
    for name, archive_id, size in chosen:
        yield Delete(archive_id, name, reason="purge", size=size)
