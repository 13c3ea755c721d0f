"""One lm-eval samples line, parsed without its document and prompts when that is safe.

A line is mostly ``doc`` and ``arguments`` (the dataset row and every choice's
full prompt); multiple choice with an index target needs neither. lm-eval writes
the keys in a fixed order (``doc_id, doc, target, arguments, resps,
filtered_resps, ...``) with ``json.dumps``' default separators, and a JSON string
cannot hold an unescaped quote, so ``, "arguments": `` found from the right can
only be the key itself. Anything else (other key order or spacing, a text target
that must be looked up among the choices) is parsed whole.

>>> line = b'{"doc_id": 7, "doc": {}, "target": "1", "arguments": {}, "resps": [], "filtered_resps": [], "a": 1}'
>>> parse_sample(line)
{'doc_id': 7, 'target': '1', 'filtered_resps': [], 'a': 1}
"""

from __future__ import annotations

import json

DOC_ID = b'{"doc_id": '
TARGET = b', "target": '
ARGUMENTS = b', "arguments": '
FILTERED = b', "filtered_resps": '


def parse_sample(line: bytes) -> dict:
    """The sample on ``line``: without ``doc``/``arguments``/``resps`` when they are not needed, else whole."""
    lean = lean_bytes(line)
    if lean is not None:
        try:
            sample = json.loads(lean)
        except ValueError:
            sample = None
        if sample is not None and _needs_no_choices(sample):
            return sample
    return json.loads(line)


def lean_bytes(line: bytes) -> bytes | None:
    """``line`` cut to ``doc_id``, ``target`` and everything from ``filtered_resps`` on; None if it is not
    laid out the way lm-eval writes it.

    >>> lean_bytes(b'{"doc_id": 1, "doc": {}, "target": "0", "arguments": {}, "resps": [], "filtered_resps": []}')
    b'{"doc_id": 1, "target": "0", "filtered_resps": []}'
    """
    if not line.startswith(DOC_ID):
        return None
    filtered = line.rfind(FILTERED)
    arguments = line.rfind(ARGUMENTS, 0, filtered)
    target = line.rfind(TARGET, 0, arguments)
    comma = line.find(b",", len(DOC_ID))
    if min(filtered, arguments, target) < 0 or not 0 < comma < target:
        return None
    return b"{" + line[1:comma] + line[target:arguments] + line[filtered:]


def _needs_no_choices(sample: dict) -> bool:
    """Generation, or multiple choice whose target is an index: the choice texts are not needed."""
    responses = sample.get("filtered_resps")
    if responses and not isinstance(responses[0], list):
        return True
    target = sample.get("target")
    return isinstance(target, int) or (isinstance(target, str) and target.strip().isdigit())
