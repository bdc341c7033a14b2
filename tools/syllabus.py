"""The run-time tables of the syllabus, made from tutorials/run_times.json.

    python tools/syllabus.py          # rewrite the tables in docs/syllabus*.md
    python tools/syllabus.py --check  # exit 1 if a table says other than the file

A run time is a measurement (tools/time_tutorials.py makes it), so the syllabus never
states one by hand: each syllabus holds its table between two markers,

    <!-- run times: made by tools/syllabus.py from tutorials/run_times.json -->
    ...
    <!-- end of run times -->

and this file writes what lies between them. tests/test_syllabus.py checks that every
syllabus says what the measurements say.
"""
import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tutorials"))
import _common  # noqa: E402  (the tutorials' helpers: their way of showing a duration)

RUN_TIMES = ROOT / "tutorials" / "run_times.json"
SYLLABI = {"en": ROOT / "docs" / "syllabus.md", "zh": ROOT / "docs" / "syllabus.zh.md"}
BEGIN = "<!-- run times: made by tools/syllabus.py from tutorials/run_times.json -->"
END = "<!-- end of run times -->"
# The tutorials the course teaches, each with a row, measured or not yet: those not yet
# in tutorials/ under the file name they are planned to have (a file there wins).
PLANNED = {
    "12": "12_cnn_robustness.py", "13": "13_gru_vs_lstm.py", "14": "14_depth_and_width.py",
    "15": "15_batchnorm_and_residual.py", "16": "16_encoder_decoder.py",
    "17": "17_pretraining.py",
}
COURSE = [f"{n:02d}" for n in range(1, 18)]

WORDS = {
    "en": {"tutorial": "tutorial", "fast": "fast mode (`MINIDL_FAST=1`)", "full": "full mode",
           "none": "not measured yet", "total": "all of them", "cpu": "CPU",
           "machine": "Wall-clock time of `python tutorials/NN_name.py`, with the CPU time it "
                      "used in brackets, measured by `python tools/time_tutorials.py` on "
                      "{cpus} CPU cores ({processor}), Python {python}, NumPy {numpy}, on {date}.",
           "busy": " Other jobs shared the machine while it measured (load average up to "
                   "{load:.0f} on {cpus} cores): on a machine of your own the wall-clock "
                   "times are shorter, the CPU times about the same.",
           "nothing": "Nothing measured yet: run `python tools/time_tutorials.py --full`."},
    "zh": {"tutorial": "教程", "fast": "快速模式（`MINIDL_FAST=1`）", "full": "完整模式",
           "none": "尚未测量", "total": "全部合计", "cpu": "CPU",
           "machine": "表中是 `python tutorials/NN_name.py` 的实际耗时（括号内为所用 CPU "
                      "时间），由 `python tools/time_tutorials.py` 测得：{cpus} 个 CPU 核"
                      "（{processor}），Python {python}，NumPy {numpy}，日期 {date}。",
           "busy": "测量时机器上还有其他任务在运行（负载均值最高 {load:.0f}，共 {cpus} 个核）："
                   "在独占的机器上实际耗时会更短，CPU 时间大致不变。",
           "nothing": "尚未测量：请运行 `python tools/time_tutorials.py --full`。"},
}


def format_seconds(seconds, language="en"):
    """"8 s", "2.5 min" as each tutorial prints it (tutorials/_common.py), in `language`."""
    text = _common.format_seconds(seconds)
    if language == "zh":
        text = text.replace(" min", " 分钟").replace(" s", " 秒")
    return text


def load_run_times(path=RUN_TIMES):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {"machine": {}, "tutorials": {}}


def tutorial_files(measured):
    """{number: file name} of the tutorials to show: the course's, any on disk and any
    measured; the name on disk, else the one measured, else the planned one."""
    files = dict(PLANNED)
    files.update({n: e["file"] for n, e in measured.get("tutorials", {}).items() if "file" in e})
    files.update({p.name[:2]: p.name for p in (ROOT / "tutorials").glob("[0-9][0-9]_*.py")})
    return {n: files.get(n, "") for n in sorted(set(COURSE) | set(files))}


def _label(number, file):
    """The tutorial's row label: its number and name (no link: a planned tutorial has no
    file yet, and the table must not change when it arrives under its planned name)."""
    return f"{number} {file[3:].removesuffix('.py').replace('_', ' ')}".strip()


def _cell(entry, mode, words, language):
    seconds, cpu = entry.get(f"{mode}_s"), entry.get(f"{mode}_cpu_s")
    if seconds is None:
        return words["none"]
    text = format_seconds(seconds, language)
    return text if cpu is None else f"{text} ({format_seconds(cpu, language)} {words['cpu']})"


def _total(tutorials, numbers, mode, language):
    """The sum over every tutorial, or None while any of them is not measured."""
    values = [tutorials.get(n, {}).get(f"{mode}_s") for n in numbers]
    return None if None in values else format_seconds(sum(values), language)


def render(measured, language):
    """The markdown between the markers, for one language."""
    words = WORDS[language]
    tutorials = measured.get("tutorials", {})
    files = tutorial_files(measured)
    numbers = list(files)
    lines = [f"| {words['tutorial']} | {words['fast']} | {words['full']} |",
             "| --- | ---: | ---: |"]
    for number, file in files.items():
        entry = tutorials.get(number, {})
        lines.append(f"| {_label(number, file)} | {_cell(entry, 'fast', words, language)} | "
                     f"{_cell(entry, 'full', words, language)} |")
    totals = [_total(tutorials, numbers, mode, language) or words["none"]
              for mode in ("fast", "full")]
    lines.append(f"| {words['total']} | {totals[0]} | {totals[1]} |")
    machine = measured.get("machine")
    lines.append("")
    if not machine:
        lines.append(words["nothing"])
    else:
        note = words["machine"].format(**machine)
        loads = [e[k] for e in tutorials.values() for k in e if k.endswith("_load_average")]
        if loads and max(loads) > 1.5 * machine["cpus"]:
            note += words["busy"].format(load=max(loads), cpus=machine["cpus"])
        lines.append(note)
    return "\n".join([BEGIN, *lines, END])


def replace_block(text, block, path):
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"syllabus: {path} has no run-time table between the markers "
                         f"{BEGIN!r} and {END!r}")
    return text[:start] + block + text[end + len(END):]


def stale(measured=None):
    """The syllabi whose run-time table differs from what the measurements say."""
    measured = load_run_times() if measured is None else measured
    return [path for language, path in SYLLABI.items()
            if replace_block(path.read_text(), render(measured, language), path)
            != path.read_text()]


def update(measured=None):
    """Rewrite the table of every syllabus (atomically); returns the paths written."""
    measured = load_run_times() if measured is None else measured
    written = []
    for language, path in SYLLABI.items():
        text = replace_block(path.read_text(), render(measured, language), path)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(text)
        os.replace(temporary, path)
        written.append(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check, change nothing")
    args = parser.parse_args(argv)
    if args.check:
        old = stale()
        for path in old:
            print(f"{path.relative_to(ROOT)}: its run times differ from tutorials/run_times.json;"
                  " run python tools/syllabus.py")
        return 1 if old else 0
    for path in update():
        print(f"run times written into {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
