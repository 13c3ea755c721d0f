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
