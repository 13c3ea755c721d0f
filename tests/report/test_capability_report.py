from tests.analysis.test_capabilities import store  # noqa: F401  (fixture)


def test_capabilities_command_writes_the_report(cli, store, tmp_path):  # noqa: F811
    code, _, err = cli("capabilities", "--store", store.root, "--out", tmp_path / "cap", "--align", "fraction")
    assert code == 0, err
    page = (tmp_path / "cap" / "capabilities.html").read_text()
    for section in ("Which scores to watch", "Capability curves per size", "Do sizes develop alike?",
                    "Downstream score against loss", "Phases along training", "Kendall tau"):
        assert section in page
    for name in ("category_curves", "similarity", "loss_vs_score", "phases"):
        assert (tmp_path / "cap" / "figures" / f"{name}.png").is_file()
    assert "watch arc_easy" in err or "watch piqa" in err


def test_the_capabilities_page_has_a_question_a_verdict_and_folded_tables(cli, store, tmp_path):  # noqa: F811
    code, _, err = cli("capabilities", "--store", store.root, "--out", tmp_path / "cap")
    assert code == 0, err
    page = (tmp_path / "cap" / "capabilities.html").read_text()
    assert "<h1>How do capabilities develop over training, and across model sizes?</h1>" in page
    assert "else the imported acc" in page and "None" not in page.split("<h2>")[0]
    assert page.count("class='verdict'") == 1 and "<dl class='definitions'>" in page
    assert "<summary>Dynamics per run and task</summary>" in page  # the long tables fold away


def test_scores_wide_is_a_step_by_task_matrix_in_csv_and_html(cli, tmp_path):
    from tests.analysis.test_pythia_format import write_pythia_files

    truth = write_pythia_files(tmp_path / "files", "70m", 0)
    assert cli("import", "lm-eval", tmp_path / "files", "--store", tmp_path / "s", "--run", "p")[0] == 0
    code, out, err = cli("scores", "--store", tmp_path / "s", "--wide", "--format", "csv",
                         "--html", tmp_path / "w.html")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "run,step,arc_easy,lambada_openai,piqa"
    steps = sorted(truth["piqa"])
    assert len(lines) == 1 + len(steps)
    row = dict(zip(lines[0].split(","), lines[-1].split(",")))
    assert float(row["piqa"]) == truth["piqa"][steps[-1]] and int(row["step"]) == steps[-1]
    html = (tmp_path / "w.html").read_text()
    assert "<h1>Score at each checkpoint, per task</h1>" in html and html.count("<tr>") == 1 + len(steps)
