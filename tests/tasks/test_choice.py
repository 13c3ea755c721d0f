"""The predicted option has one definition, and every place that picks an option imports it."""

import ast
import importlib
from pathlib import Path

import numpy as np
import pytest

import ckptlens
from ckptlens.tasks import choice
from ckptlens.tasks.choice import length_normalised, predicted_option

SRC = Path(ckptlens.__file__).parent
# Every module that turns per-option log-likelihoods into a chosen option: the evaluation (native and lm-eval
# tasks), both lm-eval samples readers, the score matrix (acc_norm) and the ensembles.
CALL_SITES = ("ckptlens.evaluation.runner", "ckptlens.evaluation.lm_eval_requests", "ckptlens.importers.columnar",
              "ckptlens.importers.samples", "ckptlens.analysis.matrix", "ckptlens.analysis.ensemble")


def test_ties_go_to_the_first_option_as_lm_eval_argmax():
    assert predicted_option([-1.0, -1.0, -3.0]) == 0 and predicted_option([-5.0, -2.0, -2.0]) == 1
    assert isinstance(predicted_option([-1.0, -2.0]), int)
    padded = np.array([[-3.0, -1.0, -np.inf], [-np.inf, -np.inf, -np.inf], [-2.0, -2.0, -0.5]])
    assert predicted_option(padded).tolist() == [1, 0, 2]
    assert predicted_option(np.stack([padded, padded[::-1]])).tolist() == [[1, 0, 2], [2, 0, 1]]


def test_acc_norm_picks_per_character_and_keeps_missing_options_missing():
    normalised = length_normalised([[-2.0, -3.0, -np.inf]], [[2, 10, 0]])
    assert normalised.tolist() == [[-1.0, -0.3, -np.inf]]
    assert predicted_option(normalised).tolist() == [1]


@pytest.mark.parametrize("name", CALL_SITES)
def test_each_call_site_imports_the_one_function(name):
    module = importlib.import_module(name)
    assert module.predicted_option is choice.predicted_option
    assert "predicted_option(" in Path(module.__file__).read_text()


def _calls(tree: ast.AST):
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def _name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def test_no_other_module_picks_an_option_by_its_own_argmax():
    copies = []
    for path in sorted(SRC.rglob("*.py")):
        if path == Path(choice.__file__):
            continue
        source = path.read_text()
        tree = ast.parse(source)
        copies += [f"{path.relative_to(SRC)}:{node.lineno}: def {node.name}" for node in ast.walk(tree)
                   if isinstance(node, ast.FunctionDef) and "argmax" in node.name]
        for call in _calls(tree):
            text = ast.get_source_segment(source, call) or ""
            by_argmax = _name(call) == "argmax" and "loglik" in text
            by_max_key = _name(call) == "max" and any(k.arg == "key" for k in call.keywords) and "range(" in text
            by_index = _name(call) == "index" and "max(" in text
            if by_argmax or by_max_key or by_index:
                copies.append(f"{path.relative_to(SRC)}:{call.lineno}: {text}")
    assert copies == []
