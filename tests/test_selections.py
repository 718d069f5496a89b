"""The one reader of selection records (core/selections.py): what it accepts and how it reports the rest."""

import json

from regsuite.selections import read_selections, selection_path, write_selection


def _record(**changes):
    record = {"task": "vision/t", "method": "sam", "protocol": "tuned:sobol-6+default",
              "trial_runs": [{"run_id": "a", "status": "ok", "val_accuracy": 0.5}],
              "selected": {"run_id": "a", "hparams": {"sam": {"rho": 0.05}}}}
    record.update(changes)
    return record


def test_round_trip_and_file_name(tmp_path):
    path = selection_path(tmp_path, "vision/t", "sam", "tuned:sobol-6+default")
    assert path == tmp_path / "tuning" / "selections" / "vision_t__sam__tuned_sobol-6+default.json"
    write_selection(path, _record())
    assert read_selections(tmp_path) == ([_record()], [])
    assert not list(path.parent.glob(".*.tmp"))  # the temporary file was renamed away


def test_every_damaged_record_is_named_and_the_others_still_read(tmp_path):
    folder = tmp_path / "tuning" / "selections"
    folder.mkdir(parents=True)
    good = _record(selected=None)  # a tune whose trials all failed: no selection, still a record
    (folder / "a_good.json").write_text(json.dumps(good))
    (folder / "b_json.json").write_text("{not json")
    (folder / "c_bytes.json").write_bytes(b"\xff\xfe{")
    (folder / "d_list.json").write_text("[1, 2]")
    (folder / "e_protocol.json").write_text(json.dumps(_record(protocol=None)))
    (folder / "f_selected.json").write_text(json.dumps(_record(selected={"hparams": [1]})))
    (folder / "g_trials.json").write_text(json.dumps(_record(trial_runs=["a"])))
    records, problems = read_selections(tmp_path)
    assert records == [good]
    assert [p.split(": ", 1)[0] for p in problems] == [str(folder / f) for f in (
        "b_json.json", "c_bytes.json", "d_list.json", "e_protocol.json", "f_selected.json", "g_trials.json")]
    assert "unreadable tuning record" in problems[0] and "unreadable tuning record" in problems[1]
    assert problems[2].endswith("(not a JSON object)") and problems[3].endswith("(no protocol)")
    assert "'selected'" in problems[4] and "'trial_runs'" in problems[5]


def test_no_folder_is_no_records(tmp_path):
    assert read_selections(tmp_path / "missing") == ([], [])
