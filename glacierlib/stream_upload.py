"""Streams of unknown size (``upload-file --stdin``) on the executor's bounded pool.

A stream is read one part at a time into a held slot of the executor, so memory stays within
``concurrency x part size`` whatever its length; up to one part it is a single UploadArchive.
What differs from a file, and why it is here:

* nothing can read the stream again, so a failed or stopped stream is never resumed: its
  multipart upload is aborted at once, and it is also recorded in ``<journal>.uploads``
  (marked ``stream``) before any part is sent, so that if the process is killed the next
  ``sync`` or ``upload-file`` on the journal aborts it (:meth:`Executor.abort_streams`);
* the archive is journaled by the task that completes it (a worker), exactly as a file's,
  so a stop that interrupts the caller's thread at that moment cannot lose it.
"""

from __future__ import annotations

from typing import BinaryIO

from glacierlib.exceptions import GlacierlibError
from glacierlib.executor import Executor, StreamUploaded, _Multipart
from glacierlib.plan import choose_part_size
from glacierlib.progress import BytesMoved, FileStarted, Notice
from glacierlib.storage import ArchiveCreated, PartBody
from glacierlib.treehash import TreeHash
from glacierlib.upload import PendingUpload

__all__ = ["StreamingExecutor"]


def _read_stream(stream: BinaryIO, length: int) -> bytes:
    """Up to ``length`` bytes; short only at end of stream (pipes return short reads)."""
    chunks: list[bytes] = []
    got = 0
    while got < length:
        chunk = stream.read(length - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class StreamingExecutor(Executor):
    """An :class:`Executor` that can also upload one stream (:meth:`upload_stream`)."""

    def __enter__(self) -> StreamingExecutor:
        return self

    _stream_result: StreamUploaded | None = None
    _stream_mtime: int | None = None
    _stream_state: _Multipart | None = None

    def abort_stopped_stream(self) -> None:
        """After a stop and :meth:`close`: abort the stream's upload if nothing ended it.

        Closing cancels queued tasks, the one that would have aborted it among them.
        """
        state = self._stream_state
        if state is not None and state.upload_id not in self._ended_ids:
            self._abort(state)

    def _stream_done(self, name: str, created: ArchiveCreated, size: int,
                     tree_hash: TreeHash) -> None:
        """Journal a stream's archive where it completed (a worker), as files are.

        The caller's thread may meanwhile be stopped by a signal: the archive is journaled
        anyway, or kept by the unrecorded-archive path if the journal cannot take it.
        """
        if self._journal_created(created.archive_id, size, self._stream_mtime, tree_hash,
                                 name):
            self._stream_result = StreamUploaded(created.archive_id, size, tree_hash)

    def _task_stream_single(self, data: bytes, name: str, description: str) -> None:
        try:
            body = PartBody.from_bytes(data)
            created = self.store.upload_archive(self.vault, body, description)
        except BaseException as exc:
            self._fail(name, exc)
            return
        self.on_event(BytesMoved(len(data), name))
        self._stream_done(name, created, len(data), body.tree_hash)

    def _stream_multipart(self, name: str, part_size: int, description: str) -> _Multipart:
        """Initiate (in the held slot) and record the upload for the next run to abort."""
        try:
            upload_id = self._initiate_request(part_size, description)
        except BaseException:
            self._slots.release()
            raise
        state = _Multipart(None, name, upload_id, part_size)
        self._stream_state = state
        if self.resume is not None:
            try:
                self.resume.started(PendingUpload(upload_id, name, 0, 0, 0, part_size,
                                                  description, stream=True))
            except BaseException:
                self._abort(state)
                self._slots.release()
                raise
        return state

    def upload_stream(self, stream: BinaryIO, name: str, description: str,
                      *, mtime: int, size_hint: int | None = None) -> StreamUploaded:
        """Upload a stream of unknown size, reading one part at a time into a held slot.

        Up to one part it is a single UploadArchive; beyond, multipart with the part size from
        :func:`choose_part_size` applied to ``size_hint`` (``--check-max-file-size``). The
        archive is journaled (with ``mtime``) by the task that completes it. Raises the
        failure instead of reporting it: a stream cannot be retried by a later run, and its
        multipart upload is aborted, now or (recorded in the resume state) by the next run.
        """
        part_size, raised = choose_part_size(size_hint or 0, self.part_size)
        if raised:
            self.on_event(Notice(f"{name}: part size raised to {part_size >> 20} MiB"))
        self.on_event(FileStarted(name, size_hint or 0, "upload"))
        self._stream_mtime = mtime
        self._acquire()
        try:
            first = _read_stream(stream, part_size)
        except BaseException:
            self._slots.release()
            raise
        if len(first) < part_size:
            if not first:
                self._slots.release()
                raise GlacierlibError("empty input: Glacier cannot store an empty archive")
            self._submit_holding_slot(self._task_stream_single, first, name, description)
        else:
            self._stream_parts(stream, self._stream_multipart(name, part_size, description),
                               first)
        self.wait()
        if self._failed:
            raise GlacierlibError(f"{name}: {self._failed[-1].reason}")
        result = self._stream_result
        if result is None:
            raise GlacierlibError(f"{name}: upload did not complete")
        return result

    def _stream_parts(self, stream: BinaryIO, state: _Multipart, data: bytes) -> None:
        """Submit parts as they are read; on any interruption, fail the upload (aborted)."""
        part_size = state.part_size
        offset = 0
        holding = True
        try:
            while True:
                with state.lock:
                    state.remaining += 1
                holding = False
                self._submit_holding_slot(self._task_part, state, offset, len(data), data)
                offset += len(data)
                if len(data) < part_size or state.failed is not None or self._fatal is not None:
                    break
                self._acquire()
                holding = True
                data = _read_stream(stream, part_size)
                if not data:
                    break
        except BaseException as exc:  # Ctrl-C, SIGTERM or a read error: never complete
            with state.lock:
                state.failed = state.failed or exc
            raise
        finally:
            if holding:
                self._slots.release()
            state.data_size = offset
            self._scheduler_done(state)
