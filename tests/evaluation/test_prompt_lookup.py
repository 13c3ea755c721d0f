"""Drafted tokens for greedy decoding: where they come from and how long they are (the decoding that checks them
is tested against the naive loop in ``test_shared_prefix.py``)."""

from ckptlens.evaluation.prompt_lookup import LONGEST, PromptLookup


def test_a_draft_continues_the_latest_earlier_occurrence_of_the_last_tokens():
    lookup = PromptLookup([[1, 2, 3, 9, 1, 2, 4, 5, 6]])
    assert lookup.draft(0, [7, 1, 2], room=3) == [4, 5, 6]  # after the later "1 2", not the first
    assert lookup.draft(0, [5, 6, 1, 2, 3], room=3) == [9, 1, 2]  # a trigram match before a bigram one


def test_a_draft_from_a_loop_copies_on_past_the_end_of_the_text():
    lookup = PromptLookup([[8, 3, 4]])
    assert lookup.draft(0, [3, 4, 3, 4], room=LONGEST) == [3, 4, 3, 4][:LONGEST]


def test_no_earlier_occurrence_and_no_room_draft_nothing():
    lookup = PromptLookup([[1, 2, 3]])
    assert lookup.draft(0, [4, 5], room=4) == []
    assert lookup.draft(0, [1, 2], room=0) == []
    assert PromptLookup([[1, 2, 1, 2]]).draft(0, [1, 2], room=2) == [1, 2]


def test_a_row_whose_drafts_fail_drafts_less_and_earns_length_back():
    lookup = PromptLookup([list(range(20)) * 2, list(range(20)) * 2])
    assert len(lookup.draft(0, [0, 1, 2], room=10)) == LONGEST
    lookup.record(0, drafted=LONGEST, accepted=0)
    assert len(lookup.draft(0, [0, 1, 2], room=10)) == 1
    lookup.record(0, drafted=1, accepted=1)
    assert len(lookup.draft(0, [0, 1, 2], room=10)) == 2
    lookup.record(0, drafted=2, accepted=1)
    assert len(lookup.draft(0, [0, 1, 2], room=10)) == 2
    assert len(lookup.draft(1, [0, 1, 2], room=10)) == LONGEST  # each row its own
