"""A word-level tokenizer trained locally on the demo corpus.

Every word (with its leading space) is one token, so every answer of a
built-in task (a capital, a number, a verb form) is a single token and the
model's choice is one next-token prediction. Byte-level pre-tokenization keeps
spaces and newlines, so decoding gives back the exact text (generation can
stop at ``"\\n"``).
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"


def train_word_tokenizer(texts: Iterable[str]) -> PreTrainedTokenizerFast:
    """A word-level tokenizer whose vocabulary is every word of ``texts`` plus pad/eos/unk.

    >>> tok = train_word_tokenizer(["The capital of Avia is Bost.\\n"])
    >>> tok.tokenize(" Bost")
    ['ĠBost']
    """
    core = Tokenizer(models.WordLevel(unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=[PAD, EOS, UNK]))
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, eos_token=EOS, unk_token=UNK)
