"""The token stream of the demo corpus and random training batches drawn from it.

Documents are joined with the end-of-sequence token into one stream; the tail
of the stream is held out for validation loss. Batches are random windows, so
the batch order depends only on the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerFast

from ckptlens.errors import CkptlensError


@dataclass(frozen=True)
class TokenStreams:
    train: torch.Tensor  # 1-D int64
    val: torch.Tensor  # 1-D int64


def tokenize_corpus(documents: list[str], tokenizer: PreTrainedTokenizerFast, val_fraction: float) -> TokenStreams:
    """One stream of token ids (documents separated by EOS), split into train and validation parts."""
    ids: list[int] = []
    for encoding in tokenizer.backend_tokenizer.encode_batch(documents, add_special_tokens=False):
        ids.extend(encoding.ids)
        ids.append(tokenizer.eos_token_id)
    stream = torch.tensor(ids, dtype=torch.long)
    n_val = max(int(len(stream) * val_fraction), 1)
    return TokenStreams(train=stream[:-n_val], val=stream[-n_val:])


def check_long_enough(streams: TokenStreams, length: int) -> None:
    """Both streams must hold at least one full training window."""
    for name, stream in (("training", streams.train), ("validation", streams.val)):
        if len(stream) <= length:
            raise CkptlensError(
                f"the {name} text has {len(stream)} tokens, fewer than one window of {length}; "
                "raise n_documents or val_fraction"
            )


def random_batch(stream: torch.Tensor, batch_size: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """``batch_size`` random windows of ``length`` tokens from ``stream``, shape (batch_size, length)."""
    starts = torch.randint(0, len(stream) - length, (batch_size,), generator=generator)
    return torch.stack([stream[s : s + length] for s in starts.tolist()])


def validation_batches(stream: torch.Tensor, batch_size: int, length: int, n_batches: int) -> list[torch.Tensor]:
    """Fixed, evenly spaced windows of the held-out stream, the same at every checkpoint."""
    n_windows = batch_size * n_batches
    starts = [i * (len(stream) - length) // n_windows for i in range(n_windows)]
    return list(torch.stack([stream[s : s + length] for s in starts]).split(batch_size))
