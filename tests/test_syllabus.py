"""The syllabus states measured run times only: its tables say what tutorials/run_times.json
(written by tools/time_tutorials.py) says, and each tutorial prints the same numbers first.
"""
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


syllabus = _module("course_syllabus", ROOT / "tools" / "syllabus.py")
common = sys.modules["_common"]          # tutorials/_common.py, loaded by syllabus.py

MEASURED = {
    "machine": {"cpus": 2, "processor": "a CPU", "python": "3.11", "numpy": "2.0",
                "date": "2026-01-01", "system": "Linux"},
    "tutorials": {
        "01": {"file": "01_autograd_from_scratch.py", "fast_s": 4.3, "fast_cpu_s": 1.4,
               "fast_load_average": 1.0, "full_s": 125.0, "full_cpu_s": 118.0,
               "full_load_average": 1.0},
        "02": {"file": "02_linear_regression.py", "fast_s": 30.2, "fast_cpu_s": 9.3,
               "fast_load_average": 7.2},
    },
}


def _table(text):
    start, end = text.index(syllabus.BEGIN), text.index(syllabus.END)
    return text[start:end]


def _rows(table):
    """{number: [fast cell, full cell]} of a run-time table."""
    rows = {}
    for line in table.splitlines():
        found = re.match(r"\| \[?(\d\d)[^|]* \| ([^|]+) \| ([^|]+) \|$", line)
        if found:
            rows[found[1]] = [found[2].strip(), found[3].strip()]
    return rows


def test_the_syllabi_say_what_the_measurements_say():
    assert syllabus.stale() == [], "run python tools/syllabus.py"
    measured = syllabus.load_run_times()
    for language, path in syllabus.SYLLABI.items():
        rows = _rows(_table(path.read_text()))
        for number, entry in measured["tutorials"].items():
            for mode, cell in zip(("fast", "full"), rows[number]):
                if entry.get(f"{mode}_s") is None:
                    assert cell == syllabus.WORDS[language]["none"]
                else:
                    assert cell.startswith(syllabus.format_seconds(entry[f"{mode}_s"], language))


def test_every_tutorial_of_the_course_has_a_row_in_both_languages():
    on_disk = {p.name[:2] for p in (ROOT / "tutorials").glob("[0-9][0-9]_*.py")}
    for path in syllabus.SYLLABI.values():
        rows = _rows(_table(path.read_text()))
        assert set(rows) >= on_disk | set(syllabus.COURSE), path


def test_a_row_shows_wall_and_cpu_time_and_a_missing_one_says_so():
    rows = _rows(syllabus.render(MEASURED, "en"))
    assert rows["01"] == ["4 s (1 s CPU)", "2.1 min (2.0 min CPU)"]
    assert rows["02"] == ["30 s (9 s CPU)", "not measured yet"]
    assert rows["17"] == ["not measured yet", "not measured yet"]
    zh = _rows(syllabus.render(MEASURED, "zh"))
    assert zh["01"] == ["4 秒 (1 秒 CPU)", "2.1 分钟 (2.0 分钟 CPU)"]
    assert zh["17"] == ["尚未测量", "尚未测量"]


def test_the_total_waits_for_every_tutorial_and_a_busy_machine_is_said():
    text = syllabus.render(MEASURED, "en")
    assert "| all of them | not measured yet | not measured yet |" in text
    assert "load average up to 7 on 2 cores" in text
    everything = {"machine": MEASURED["machine"], "tutorials": {
        n: {"fast_s": 10.0, "full_s": 60.0} for n in syllabus.COURSE}}
    text = syllabus.render(everything, "en")
    assert "| all of them | 2.8 min | 17 min |" in text
    assert "load average" not in text


def test_nothing_measured_says_how_to_measure():
    text = syllabus.render({"machine": {}, "tutorials": {}}, "en")
    assert "python tools/time_tutorials.py" in text


def test_update_rewrites_only_the_table(tmp_path, monkeypatch):
    page = tmp_path / "syllabus.md"
    page.write_text(f"before\n{syllabus.BEGIN}\nold\n{syllabus.END}\nafter\n")
    monkeypatch.setattr(syllabus, "SYLLABI", {"en": page})
    assert syllabus.stale(MEASURED) == [page]
    syllabus.update(MEASURED)
    text = page.read_text()
    assert text.startswith("before\n") and text.endswith("\nafter\n") and "old" not in text
    assert syllabus.stale(MEASURED) == []
    page.write_text("no markers\n")
    with pytest.raises(ValueError, match="no run-time table"):
        syllabus.update(MEASURED)


@pytest.mark.parametrize("fast, expected", [
    (True, "expected run time: about 4 s in fast mode (1 s of CPU time), 2.1 min in full "
           "mode; measured on 2 CPU cores"),
    (False, "expected run time: about 2.1 min in full mode (2.0 min of CPU time), 4 s in "
            "fast mode; measured on 2 CPU cores"),
])
def test_a_tutorial_prints_its_measured_time(tmp_path, monkeypatch, capsys, fast, expected):
    times = tmp_path / "run_times.json"
    times.write_text(json.dumps(MEASURED))
    monkeypatch.setattr(common, "RUN_TIMES", times)
    monkeypatch.setattr(common, "FAST", fast)
    assert common.expected_run_time("01") == (4.3 if fast else 125.0)
    assert capsys.readouterr().out.strip() == expected


def test_a_tutorial_never_measured_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(common, "RUN_TIMES", tmp_path / "missing.json")
    monkeypatch.setattr(common, "FAST", True)
    assert common.expected_run_time("13") is None
    assert "not measured yet in fast mode" in capsys.readouterr().out


def test_the_syllabi_list_every_exercise():
    exercises = sorted(p.name for p in (ROOT / "exercises").glob("[0-9][0-9]_*") if p.is_dir())
    for path in syllabus.SYLLABI.values():
        text = path.read_text()
        for name in exercises:
            assert f"../exercises/{name}/README.md" in text, f"{path.name} misses {name}"
