"""``ckptlens linearity``: the gap summaries of the API on stdout, and sentences naming where they fail."""

import json

from ckptlens.analysis.linearity import linearity_gaps, summarise_gaps
from tests.analysis.test_linearity import store  # noqa: F401  (the hand-computed store fixture)


def test_linearity_json_matches_the_api(cli, store):  # noqa: F811
    code, out, err = cli("linearity", "--store", store.root, "--last", "1", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == [s.to_dict() for s in summarise_gaps(linearity_gaps(store, 1.0))]


def test_linearity_table_names_the_task_where_the_assumption_fails(cli, store):  # noqa: F811
    code, out, _ = cli("linearity", "--store", store.root, "--last", "1")
    assert code == 0 and "Linearity gap" in out
    assert "base / recall, window 2: the average scores 0.750 above the mean of its members" in out
    assert "base / facts" not in out.split("Linearity gap")[1].split("└")[-1]  # facts holds: no sentence


def test_linearity_on_a_missing_store_is_a_one_line_error(cli, tmp_path):
    code, _, err = cli("linearity", "--store", tmp_path / "nothing")
    assert code == 2 and "store not found" in err and "Traceback" not in err
