"""A series as one pipeline: tokenise once, load the next checkpoint while this one runs, write in the background.

- ``Encodings``: a task's token ids are computed once per series and reused by
  every checkpoint whose tokenizer files hash the same (a checkpoint with other
  tokenizer files is tokenised again).
- ``Prefetcher``: while checkpoint t is scored, checkpoint t+1 loads in a
  background thread (safetensors memory maps); two models are then held at once.
  Loading never runs in two threads at once, so stateful loaders (in-memory
  window averages) stay correct.
- ``Writer``: records are written by one background thread, in submission
  order, each with the store's atomic unit write; the next forward pass does
  not wait for Parquet. ``close`` waits for every queued write and raises the
  first error, so a failure loses no record that was computed.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from ckptlens.evaluation.scoring import Encoded, encode_examples
from ckptlens.tasks.task import Example

# Files that define what a tokenizer does; identical contents mean identical token ids.
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.json", "merges.txt", "vocab.txt", "tokenizer.model", "spiece.model",
)  # fmt: skip


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str | None:
    """SHA-256 over the tokenizer's files in its folder; None when it has no folder (then nothing is reused)."""
    folder = Path(str(getattr(tokenizer, "name_or_path", "") or ""))
    files = [folder / name for name in TOKENIZER_FILES if (folder / name).is_file()]
    if not files:
        return None
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


class Encodings:
    """Task encodings kept for the whole series, keyed by tokenizer fingerprint and the examples encoded."""

    def __init__(self) -> None:
        self._cache: dict[tuple, list[Encoded]] = {}
        self.encoded = 0  # how many times a task was actually tokenised (tests and benchmarks read it)

    def get(self, tokenizer: PreTrainedTokenizerBase, name: str, examples: Sequence[Example]) -> list[Encoded]:
        fingerprint = tokenizer_fingerprint(tokenizer)
        key = (fingerprint, name, examples[0].id if examples else None, len(examples))
        if fingerprint is None or key not in self._cache:
            self.encoded += 1
            encoded = encode_examples(tokenizer, examples)
            if fingerprint is None:
                return encoded
            self._cache[key] = encoded
        return self._cache[key]


class Prefetcher:
    """Loads at most one checkpoint ahead in a background thread."""

    def __init__(self, load: Callable[[Any], Any], enabled: bool = True):
        self.load = load
        self.enabled = enabled
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ckptlens-load") if enabled else None
        self._pending: tuple[Any, Future] | None = None

    def start(self, checkpoint: Any) -> None:
        """Begin loading ``checkpoint`` (no-op when disabled or a load is already under way)."""
        if self._pool is not None and self._pending is None:
            self._pending = (checkpoint, self._pool.submit(self.load, checkpoint))

    def get(self, checkpoint: Any):
        """The loaded ``checkpoint``: the prefetched one when it is that, else loaded now (after any pending load)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            ahead, future = pending
            if ahead == checkpoint:
                return future.result()
            future.exception()  # wait: the loader never runs twice at once; a wrong guess is dropped
        return self.load(checkpoint)

    def close(self) -> None:
        if self._pending is not None:
            self._pending[1].cancel()
            self._pending[1].exception()
            self._pending = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class Writer:
    """One background thread running write jobs in order; errors come back on the next ``submit`` or ``close``."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ckptlens-write")
        self._futures: list[Future] = []
        self.lock = threading.Lock()  # for state the jobs and the main thread share

    def submit(self, job: Callable[[], None]) -> None:
        """Queue ``job``, then raise the error of any earlier job that failed (the new one still runs)."""
        self._futures.append(self._pool.submit(job))
        self._raise_done()

    def flush(self) -> None:
        """Wait for every queued write; raise the first error."""
        futures, self._futures = self._futures, []
        errors = [f.exception() for f in futures]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first

    def close(self, raise_error: bool = True) -> None:
        """Wait for every queued write and stop the thread; raise the first error unless told not to."""
        try:
            if raise_error:
                self.flush()
            else:
                for future in self._futures:
                    future.exception()  # wait for it; its error, if any, gives way to the one already raised
                self._futures = []
        finally:
            self._pool.shutdown(wait=True)

    def _raise_done(self) -> None:
        done = [f for f in self._futures if f.done()]
        self._futures = [f for f in self._futures if not f.done()]
        for future in done:
            if future.exception() is not None:
                raise future.exception()
