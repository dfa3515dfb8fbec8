from __future__ import annotations

import json

import pandas as pd
import pytest

from kgrec.cli import main
from kgrec.data.io import save_dataset
from kgrec.data.synthetic import make_synthetic


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    path = tmp_path_factory.mktemp("ds") / "synthetic"
    save_dataset(make_synthetic(num_users=100, num_items=120, seed=5), path)
    return path


def test_convert_info_split_roundtrip(tmp_path, capsys) -> None:
    raw = tmp_path / "raw.csv"
    pd.DataFrame({"uid": [1, 1, 2, 3], "iid": [5, 6, 5, 7], "r": [4, 2, 5, 3]}).to_csv(raw, index=False)
    code = main(["convert", "csv", str(raw), str(tmp_path / "out"), "--user-col", "uid", "--item-col", "iid", "--rating-col", "r"])
    assert code == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "out"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    for key in ("users", "items", "interactions", "entities", "relations", "triples"):
        assert isinstance(info[key], int)
    assert (info["users"], info["items"], info["interactions"]) == (3, 3, 4)


def test_split_then_info_reports_parts(tmp_path, processed, capsys) -> None:
    assert main(["split", str(processed), str(tmp_path / "sp"), "--strategy", "cold-item", "--seed", "4"]) == 0
    capsys.readouterr()
    main(["info", str(tmp_path / "sp"), "--json"])
    info = json.loads(capsys.readouterr().out)
    assert set(info["parts"]) == {"train", "valid", "test"}
    assert sum(info["parts"].values()) == info["interactions"]
    assert info["split"]["strategy"] == "cold-item"


def test_bad_input_is_a_clean_error(tmp_path, capsys) -> None:
    assert main(["info", str(tmp_path)]) == 2
    assert "manifest" in capsys.readouterr().err
    assert main(["convert", "csv", str(tmp_path / "missing.csv"), str(tmp_path / "o"), "--user-col", "a", "--item-col", "b"]) == 2


def test_convert_help_lists_formats(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    out = capsys.readouterr().out
    for fmt in ("recbole", "kgat", "kgcn", "movielens", "csv", "rdf"):
        assert fmt in out


def test_train_evaluate_recommend(tmp_path, processed, capsys) -> None:
    run = tmp_path / "run"
    assert main(["train", str(processed), "--model", "mf", "--out", str(run), "--epochs", "3", "--no-progress"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("recall@10", "recall@20", "ndcg@10", "ndcg@20"):
        assert isinstance(metrics["test"][key], float)
    assert metrics["config"]["epochs"] == 3 and len(metrics["history"]) == 3
    capsys.readouterr()
    assert main(["evaluate", str(run), "--k", "10", "20", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["test"]["ndcg@20"] == pytest.approx(metrics["test"]["ndcg@20"])
    user = make_synthetic(num_users=100, num_items=120, seed=5).users.raw_ids[0]
    assert main(["recommend", str(run), "--user", str(user), "--k", "4", "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert len(recs) == 4 and recs[0]["rank"] == 1


def test_train_with_split_files_and_config(tmp_path, processed, capsys) -> None:
    ds = make_synthetic(num_users=100, num_items=120, seed=5)
    raw = ds.raw_interactions()
    parts = {"train": raw.iloc[: len(raw) - 400], "valid": raw.iloc[len(raw) - 400 : len(raw) - 200], "test": raw.iloc[len(raw) - 200 :]}
    files = []
    for name, frame in parts.items():
        path = tmp_path / f"{name}.tsv"
        frame[["user", "item"]].to_csv(path, sep="\t", header=False, index=False)
        files.append(str(path))
    config = tmp_path / "c.toml"
    config.write_text('l2 = 20.0\n')
    run = tmp_path / "run"
    assert main(["train", str(processed), "--model", "ease", "--out", str(run), "--split-files", *files, "--config", str(config)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["config"]["l2"] == 20.0
    assert metrics["split"]["sizes"] == {"train": len(raw) - 400, "valid": 200, "test": 200}


def test_train_attribute_flags_reach_the_model(tmp_path, processed, capsys) -> None:
    run = tmp_path / "run"
    flags = ["--attributes", "--id-dropout", "0.5", "--min-links", "3", "--epochs", "2", "--no-progress"]
    assert main(["train", str(processed), "--model", "mf", "--out", str(run), "--strategy", "cold-item", *flags]) == 0
    config = json.loads((run / "metrics.json").read_text())["config"]
    assert (config["attributes"], config["id_dropout"], config["min_links"]) == (True, 0.5, 3)
    run2 = tmp_path / "run2"
    assert main(["train", str(processed), "--model", "mf-attr", "--out", str(run2), "--no-attributes", "--epochs", "1", "--no-progress"]) == 0
    assert json.loads((run2 / "metrics.json").read_text())["config"]["attributes"] is False


def test_train_loss_flags_and_config_table(tmp_path, processed, capsys) -> None:
    run = tmp_path / "run"
    flags = ["--loss", "sampled_softmax", "--num-negatives", "8", "--epochs", "2", "--no-progress"]
    assert main(["train", str(processed), "--model", "mf", "--out", str(run), *flags]) == 0
    config = json.loads((run / "metrics.json").read_text())["config"]
    assert (config["loss"], config["num_negatives"]) == ("sampled_softmax", 8)
    table = tmp_path / "c.toml"
    table.write_text('reg_weight = 0.05\n[loss]\nname = "softmax"\ntemperature = 0.5\n')
    run2 = tmp_path / "run2"
    assert main(["train", str(processed), "--model", "mf", "--out", str(run2), "--config", str(table),
                 "--epochs", "1", "--no-progress"]) == 0  # fmt: skip
    metrics = json.loads((run2 / "metrics.json").read_text())
    assert metrics["config"]["loss"] == {"name": "softmax", "temperature": 0.5}
    assert "softmax" in metrics["history"][0]


def test_demo_prints_the_comparison_table(tmp_path, capsys) -> None:
    assert main(["demo", "--models", "pop", "ease", "random", "--no-progress", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.startswith(("ease ", "pop ", "random "))]
    assert [ln.split()[0] for ln in lines] == ["ease", "pop", "random"]  # sorted by NDCG@20
    assert lines[1].count("*") == 2 and lines[2].count("*") == 2  # both metrics differ from EASE's
    table = pd.read_csv(tmp_path / "comparison.csv", index_col="model")
    assert table.loc["ease", "ndcg@20"] > table.loc["pop", "ndcg@20"] > table.loc["random", "ndcg@20"]
    assert table["ndcg@20_p"].isna().sum() == 1 and (table["seconds"] > 0).all()
