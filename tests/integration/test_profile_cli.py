"""`profile build|show`, `serve --check-config` and the octet-stream PUT of a profile file.

The CLI runs in-process through `exporter.cli.main` (its output captured), except one
`--check-config` run as a child process to prove no server starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from exporter.cli import main
from exporter.window.profile_file import read_profile
from tests.support import ROOT

OCTET = {"Content-Type": "application/octet-stream"}


def training_rows(rows: int = 600, seed: int = 5) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "age": round(float(rng.normal(40, 10)), 3),
            "country": str(rng.choice(["fr", "de", "us"])),
            "score": round(float(rng.uniform()), 4),
        }
        for _ in range(rows)
    ]


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    lines = ["age,country,score"] + [f"{r['age']},{r['country']},{r['score']}" for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_config(path: Path, text: str = "") -> Path:
    path.write_text("prediction_column: score\nreference:\n  bins: 8\n" + text)
    return path


def test_build_writes_the_profile_a_put_of_the_same_csv_makes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_csv(tmp_path / "train.csv", training_rows())
    config = write_config(tmp_path / "config.yml", "models:\n  credit:\n    min_records: 10\n")
    out = tmp_path / "credit.profile"
    command = ["profile", "build", str(data), "-o", str(out), "--config", str(config)]
    assert main([*command, "--model", "credit", "--model-version", "7"]) == 0
    line = capsys.readouterr().out
    assert line.startswith(f"wrote {out}: 2 features (1 numeric, 1 categorical), a prediction")
    read = read_profile(out.read_bytes(), str(out))
    assert read.profile.version == "7" and read.settings["reference"]["bins"] == 8
    # The client fixture's settings differ: PUT the CSV under the same config's settings.
    from exporter.app import create_app
    from exporter.settings import load_settings

    app = create_app(load_settings(config), run_scheduler=False)
    with TestClient(app) as configured:
        csv = configured.put(
            "/v1/models/credit/reference",
            content=data.read_bytes(),
            headers={"Content-Type": "text/csv"},
        )
        put = configured.put("/v1/models/other/reference", content=out.read_bytes(), headers=OCTET)
    assert csv.status_code == put.status_code == 201, put.text
    ignored = {"model", "created_at", "source", "model_version", "warnings", "prediction_column"}
    assert {k: v for k, v in put.json().items() if k not in ignored} == {
        k: v for k, v in csv.json().items() if k not in ignored
    }
    assert put.json()["warnings"] == ["the profile was built for model 'credit'"]
    assert put.json()["model_version"] == "7"


def test_a_rejected_profile_file_changes_nothing_and_names_the_problem(
    tmp_path: Path, client: TestClient
) -> None:
    data = write_csv(tmp_path / "train.csv", training_rows())
    out = tmp_path / "m.profile"
    assert main(["profile", "build", str(data), "-o", str(out)]) == 0
    content = out.read_bytes()
    assert client.put("/v1/models/m/reference", content=content, headers=OCTET).status_code == 201
    before = client.get("/v1/models/m/reference").json()
    for damaged, problem in (
        (content[:-7], "truncated"),
        (content[:-1] + bytes([content[-1] ^ 1]), "content hash mismatch"),
        (b"age,country\n1,fr\n", "not a drift-exporter profile file"),
    ):
        answer = client.put("/v1/models/m/reference", content=damaged, headers=OCTET)
        assert answer.status_code == 422
        assert answer.json()["location"] == "body" and problem in answer.json()["detail"]
    assert client.get("/v1/models/m/reference").json() == before


def test_build_reads_parquet_and_jsonl_as_the_same_table(tmp_path: Path) -> None:
    rows = training_rows()
    parquet = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text(
        "".join(
            json.dumps(
                {"features": {"age": r["age"], "country": r["country"]}, "prediction": r["score"]}
            )
            + "\n"
            for r in rows
        )
    )
    config = write_config(tmp_path / "config.yml")
    summaries = []
    for data in (parquet, jsonl):
        out = tmp_path / f"{data.suffix}.profile"
        assert main(["profile", "build", str(data), "-o", str(out), "--config", str(config)]) == 0
        summary = read_profile(out.read_bytes(), str(out)).summary()
        summaries.append({k: summary[k] for k in ("rows", "columns", "prediction")})
    assert summaries[0] == summaries[1]
    assert summaries[0]["prediction"] is True


def test_build_and_show_errors_are_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.profile"
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n1,2,3\n")
    cases = [
        (["profile", "build", str(tmp_path / "none.csv"), "-o", str(out)], 1, "cannot read"),
        (["profile", "build", str(bad), "-o", str(out)], 1, f"{bad}: line 3: expected 2 fields"),
        (["profile", "build", str(bad), "-o", str(out), "--model", "x"], 1, "--model x: the"),
        (["profile", "show", str(bad)], 1, f"{bad}: not a drift-exporter profile file"),
        (["profile", "build", str(bad), "-o", str(out), "--config", "/no/such.yml"], 2, "config"),
    ]
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # as if pyarrow were missing
    parquet = tmp_path / "t.parquet"
    parquet.write_bytes(b"PAR1")
    cases.append((["profile", "build", str(parquet), "-o", str(out)], 1, "needs pyarrow"))
    for argv, status, expected in cases:
        assert main(argv) == status, argv
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("drift-exporter: ") and expected in err[0]
    assert not out.exists()


def test_show_prints_kinds_bins_rows_hash_and_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_csv(tmp_path / "train.csv", training_rows())
    out = tmp_path / "m.profile"
    config = write_config(tmp_path / "config.yml")
    assert main(["profile", "build", str(data), "-o", str(out), "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["profile", "show", str(out)]) == 0
    text = capsys.readouterr().out
    digest = read_profile(out.read_bytes(), "x").sha256
    assert f"sha256:   {digest}" in text and "rows:     600" in text
    assert '"bins": 8' in text and "country" in text and "categorical" in text
    assert main(["profile", "show", str(out), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["sha256"] == digest and [c["bins"] for c in shown["columns"]] == [8, 4, 8]


def test_check_config_reads_every_reference_and_exits_0_or_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_csv(tmp_path / "train.csv", training_rows())
    out = tmp_path / "m.profile"
    assert main(["profile", "build", str(data), "-o", str(out)]) == 0
    capsys.readouterr()
    good = write_config(
        tmp_path / "good.yml",
        f"models:\n  a:\n    reference: {out}\n  b:\n    reference: file://{data}\n",
    )
    assert main(["serve", "--check-config", "--config", str(good)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("drift-exporter: configuration OK: 2 model(s) declared, 2 reference")
    broken = tmp_path / "broken.profile"
    broken.write_bytes(out.read_bytes()[:-3])
    bad = write_config(tmp_path / "bad.yml", f"models:\n  a:\n    reference: {broken}\n")
    assert main(["serve", "--check-config", "--config", str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"drift-exporter: model a: {broken}: truncated")
    # As a child process, as the Kubernetes manifests' tests run it: no server, just the answer.
    for config, status in ((good, 0), (bad, 2)):
        result = subprocess.run(
            [sys.executable, "-m", "exporter", "serve", "--check-config", "--config", str(config)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert result.returncode == status, result.stderr
        assert len((result.stdout + result.stderr).splitlines()) == 1
