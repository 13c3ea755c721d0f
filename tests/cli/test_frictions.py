"""Small frictions of issue 27: one name for model size, ./store by default, each warning printed once."""

from ckptlens.cli import failures
from ckptlens.store import Store
from tests.analysis.test_pythia_format import write_pythia_files


def test_import_lm_eval_takes_size_and_keeps_n_params_as_a_hidden_alias(cli, tmp_path):
    write_pythia_files(tmp_path / "a", "70m", 0)
    assert cli("import", "lm-eval", tmp_path / "a", "--store", tmp_path / "s", "--run", "a", "--size", "1.5m")[0] == 0
    assert cli("import", "lm-eval", tmp_path / "a", "--store", tmp_path / "s", "--run", "b", "--n-params", "7")[0] == 0
    store = Store(tmp_path / "s")
    assert (store.run_info("a")["n_params"], store.run_info("b")["n_params"]) == (1_500_000, 7)
    code, out, _ = cli("import", "lm-eval", "--help")
    assert code == 0 and "--size" in out and "--n-params" not in out


def test_every_store_option_defaults_to_the_store_folder_here(cli, tmp_path, monkeypatch):
    write_pythia_files(tmp_path / "a", "70m", 0)
    monkeypatch.chdir(tmp_path)
    assert cli("import", "lm-eval", "a", "--run", "a")[0] == 0
    assert (tmp_path / "store").is_dir()
    code, _, err = cli("import", "llm-jp-eval", "nowhere")  # no --store: the error is about the input, not the flag
    assert code == 2 and "--store" not in err
    assert cli("store", "check")[0] == 0


def test_a_warning_raised_again_in_one_command_is_printed_once(capsys):
    failures._SHOWN.clear()
    for _ in range(3):
        failures._one_line_warning(UserWarning("--windows 8: no run has that  many"), UserWarning, "x", 1)
    failures._one_line_warning("another one", UserWarning, "x", 2)
    err = capsys.readouterr().err
    assert err.count("no run has that many") == 1 and err.count("another one") == 1
