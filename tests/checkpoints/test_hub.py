"""Hub series: step branches parsed, listed from a fake HF cache offline, fetched lazily online (never the network)."""

import json
from types import SimpleNamespace

import huggingface_hub
import pytest

from ckptlens.checkpoints import hub, open_series, parse_revision, series_id, series_name
from ckptlens.errors import CkptlensError

REVISIONS = {"main": "c0", "step1000": "c1", "step2000": "c2", "step3000": "c3", "step4000": "c4", "step5000": "c5"}


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("step1000", (1000, None)),
        ("ckpt_100", (100, None)),
        ("stage1-step1000-tokens4B", (1000, 4_000_000_000)),
        ("stage2-ingredient1-step23852-tokens100B", (23852, 100_000_000_000)),
        ("step476000-tokens2100M", (476000, 2_100_000_000)),
        ("main", None),
        ("refs-pr-1", None),
    ],
)
def test_branch_names_give_step_and_tokens(name, parsed):
    assert parse_revision(name) == parsed


def build_cache(root, repo_id, revisions):
    """The HF cache layout: models--org--name/{refs/<branch>, snapshots/<commit>/config.json}."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    for branch, commit in revisions.items():
        (repo / "refs" / branch).write_text(commit)
        (repo / "snapshots" / commit).mkdir(parents=True)
        (repo / "snapshots" / commit / "config.json").write_text(json.dumps({"model_type": "gpt_neox"}))
    return repo


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub, "list_repo_refs", _no_network)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", _no_network)
    return build_cache(tmp_path / "hub", "EleutherAI/pythia-70m", REVISIONS)


def _no_network(*args, **kwargs):
    raise AssertionError("a test touched the network")


def test_offline_series_comes_from_the_cache_sorted_by_step(offline_cache):
    series = open_series("hf://EleutherAI/pythia-70m")
    assert [c.name for c in series] == ["step1000", "step2000", "step3000", "step4000", "step5000"]
    assert series[0].path == offline_cache / "snapshots" / "c1"
    assert series_id("hf://EleutherAI/pythia-70m") == "hf://EleutherAI/pythia-70m"
    assert series_name("hf://EleutherAI/pythia-70m") == "pythia-70m"


def test_filters_apply_to_hub_series(offline_cache):
    assert [c.step for c in open_series("hf://EleutherAI/pythia-70m", steps="2000:4000:2000")] == [2000, 4000]
    assert [c.step for c in open_series("hf://EleutherAI/pythia-70m", last=0.2)] == [4000, 5000]


def test_revision_without_a_cached_snapshot_is_left_out_with_a_warning_naming_it(offline_cache):
    (offline_cache / "snapshots" / "c5" / "config.json").unlink()
    with pytest.warns(UserWarning, match="no snapshot .* left out: step5000$"):
        assert open_series("hf://EleutherAI/pythia-70m")[-1].step == 4000


class ConnectError(Exception):
    """Stands in for the HTTP client's transport error (not an OSError): what the Hub raises with no network."""


@pytest.fixture
def no_network(tmp_path, monkeypatch):
    """Online mode (no HF_HUB_OFFLINE) on a machine whose network is down."""

    def unreachable(*args, **kwargs):
        raise ConnectError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "list_repo_refs", unreachable)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    monkeypatch.setattr(hub, "_network_errors", lambda: (OSError, ConnectError))


def test_without_network_a_cached_series_is_used_with_a_notice(no_network, tmp_path):
    build_cache(tmp_path / "hub", "EleutherAI/pythia-70m", REVISIONS)
    with pytest.warns(UserWarning, match="cannot reach the Hugging Face Hub .*HF_HUB_OFFLINE=1"):
        assert len(open_series("hf://EleutherAI/pythia-70m")) == 5


def test_without_network_an_uncached_series_says_to_set_offline_mode(no_network):
    with pytest.raises(CkptlensError, match="cannot reach the Hugging Face Hub .*not in the local HF cache.*OFFLINE=1"):
        open_series("hf://EleutherAI/pythia-70m")


def test_the_network_errors_include_the_hub_clients_transport_error():
    assert any(e.__name__ in {"HTTPError", "RequestException"} for e in hub._network_errors())


def test_uncached_repo_offline_is_a_one_line_error(offline_cache):
    with pytest.raises(CkptlensError, match="not in the local HF cache.*HF_HUB_OFFLINE"):
        open_series("hf://EleutherAI/pythia-160m")


def test_bad_spec_is_refused():
    with pytest.raises(CkptlensError, match="write it as hf://org/name"):
        open_series("hf://pythia-70m")


def test_online_lists_branches_and_downloads_only_the_kept_revisions(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", False)
    branches = [
        SimpleNamespace(name=n, target_commit=c) for n, c in {"main": "m", "ckpt_100": "a", "ckpt_200": "b"}.items()
    ]
    monkeypatch.setattr(huggingface_hub, "list_repo_refs", lambda repo_id: SimpleNamespace(branches=branches))
    fetched = []

    def fake_download(repo_id, revision, cache_dir, allow_patterns):
        fetched.append((repo_id, revision))
        assert "*.safetensors" in allow_patterns and not any(p.endswith(".bin") for p in allow_patterns)
        snapshot = cache_dir / "models--LLM360--Amber" / "snapshots" / revision
        snapshot.mkdir(parents=True)
        (snapshot / "config.json").write_text("{}")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    series = open_series("hf://LLM360/Amber", steps="200")
    assert [(c.name, c.step) for c in series] == [("ckpt_200", 200)]
    assert fetched == [("LLM360/Amber", "b")]
    assert (series[0].path / "config.json").is_file()


def test_two_branches_for_one_step_are_refused(offline_cache, tmp_path):
    build_cache(tmp_path / "hub", "allenai/OLMo-2", {"stage1-step100-tokens1B": "x", "stage2-step100-tokens1B": "y"})
    with pytest.raises(CkptlensError, match="share step 100"):
        open_series("hf://allenai/OLMo-2")
