"""lm-eval's generate_until on ckptlens's engine: lm-eval's text when its HF model left-truncates the context."""

import pytest

from ckptlens.checkpoints.loading import load_model
from ckptlens.evaluation.runner import evaluate_task
from ckptlens.tasks.lm_eval_index import LmEvalOptions, build_lm_eval_tasks, task_manager


@pytest.fixture(scope="module")
def long_include(lm_eval_include, tmp_path_factory):
    """gsm8k with 250 new tokens: the 256-position model keeps only each context's last 6 tokens."""
    folder = tmp_path_factory.mktemp("long")
    (folder / "gsm8k_long.yaml").write_text(
        f"include: {lm_eval_include / 'gsm8k.yaml'}\ntask: gsm8k_long\n"
        'generation_kwargs:\n  until: ["Question:"]\n  max_gen_toks: 250\n  do_sample: false\n')
    return (str(lm_eval_include), str(folder))


def test_a_context_longer_than_lm_evals_room_is_cut_on_the_left_as_lm_eval_cuts_it(tiny_series, long_include,
                                                                                    one_thread):
    from lm_eval.evaluator import evaluate
    from lm_eval.models.huggingface import HFLM

    model, tokenizer = load_model(tiny_series / "step000010", device="cpu")
    loaded = task_manager(long_include).load(["gsm8k_long"])
    for task in loaded["tasks"].values():
        task.set_fewshot_seed(seed=1234)
    samples = evaluate(HFLM(pretrained=model, tokenizer=tokenizer, batch_size=3), loaded, limit=2, log_samples=True,
                       bootstrap_iters=0)["samples"]["gsm8k_long"]
    expected = {str(s["doc_id"]): s["resps"][0][0] for s in samples}
    (task,) = build_lm_eval_tasks(["gsm8k_long"], LmEvalOptions(long_include, limit=2))
    assert all(len(tokenizer(e.context)["input_ids"]) > 6 for e in task.examples)  # every context is cut
    rows = evaluate_task(model, tokenizer, task, batch_size=2)
    assert {r["example_id"]: r["output"] for r in rows} == expected
    assert any(len(tokenizer(text)["input_ids"]) > 20 for text in expected.values())  # long generations


def test_generation_on_cpu_is_not_cut_to_scorings_pass_size(tiny_series, long_include, monkeypatch):
    """Scoring's CPU budget (2,048 tokens a pass) would make rows of 1,000-token contexts one per batch."""
    from ckptlens.evaluation import lm_eval_requests
    from ckptlens.evaluation.budget import CPU_BATCH_TOKENS, bytes_per_token, generation_batch_tokens

    model, tokenizer = load_model(tiny_series / "step000010", device="cpu")
    budgets = []
    real = lm_eval_requests.generate_greedy
    monkeypatch.setattr(lm_eval_requests, "generate_greedy",
                        lambda *args, batch_tokens, **kw: budgets.append(batch_tokens) or real(*args, **kw))
    (task,) = build_lm_eval_tasks(["gsm8k_long"], LmEvalOptions(long_include, limit=1))
    evaluate_task(model, tokenizer, task, batch_size=2)
    evaluate_task(model, tokenizer, task, batch_size=2, batch_tokens=CPU_BATCH_TOKENS)
    assert budgets == [None, CPU_BATCH_TOKENS]  # no cap unless asked for
    assert generation_batch_tokens(model) is None
    assert bytes_per_token(model, past_per_token=0) < bytes_per_token(model)  # CUDA: no room for a per-row past
