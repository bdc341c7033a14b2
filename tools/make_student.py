"""Write the student edition: minidl, kernels, exercises and tutorials with holes to fill.

    python tools/make_student.py                  # into build/student/ (`make exercises`)
    python tools/make_student.py OUT --force      # elsewhere; replace work done there

The repository holds the reference solutions, each between two comment lines:

        def backward(self, gy):
            a, b = self.inputs
            # BEGIN SOLUTION
            ga = ...
            return ga, gb
            # END SOLUTION

The student edition replaces each such block, markers included, by one line at the
indentation of `# BEGIN SOLUTION`,

            raise NotImplementedError("Mul.backward in minidl/functional/elementwise.py: ...")

so the function keeps its signature, its docstring and any code before the block, the
module still imports, and only a call of the function raises. A block must sit inside a
function (a hole at module level would break the import) and blocks do not nest; both
are checked, and every file with a hole must still parse.

The edition is written to a temporary folder beside OUT, then moved into place. A student
works in OUT, so an OUT whose files differ from the edition last written there is left
alone (the files that changed are named) unless --force is given: work a student did is
never overwritten silently. tools/grade.py grades such a tree.
"""
import argparse
import ast
import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What a student gets: the framework, its kernels, the exercises with their graders, the
# tutorials (run on the student's own engine), the grading tool, and a README saying how.
FOLDERS = ["minidl", "kernels", "exercises", "tutorials"]
FILES = ["tools/grade.py"]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc", "figures",
                              "*.ipynb", ".ipynb_checkpoints", ".*.tmp", ".pytest_cache")
MANIFEST = ".student_edition.json"
README = """\
# minidl, student edition

minidl with holes for you to fill: every function you write raises NotImplementedError
until you write it. The tasks are in exercises/NN_name/README.md, in the order of the
syllabus (docs/syllabus.md in the repository). Exercises 02 and 03 are holes in minidl
itself (the graph walk, the backward of *, exp, @ and the broadcast sum): until they are
written, nothing can call backward().

Run everything from this folder, so that your minidl is the one imported:

    pytest exercises/04_softmax_cross_entropy          # one exercise's grader
    python tools/grade.py --student .                  # all of them: a table, then grade: N/M
    PYTHONPATH=. python tutorials/05_digits_three_ways.py   # a tutorial, on your own engine
"""
BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?P<note>.*)$")
END = re.compile(r"^(?P<indent>[ \t]*)# END SOLUTION\s*$")


class MarkerError(ValueError):
    """A solution block that cannot be turned into a stub."""


def _enclosing_functions(source):
    """[(first line, last line, qualified name)] of every function in the source."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):  # its body: after the `def` line
                    found.append((child.lineno + 1, child.end_lineno, name))
                visit(child, f"{name}." if isinstance(child, ast.ClassDef)
                      else f"{name}.<locals>.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def _function_at(functions, line):
    """The innermost function whose body holds `line` (1-based), or None."""
    inside = [(first, name) for first, last, name in functions if first <= line <= last]
    return max(inside)[1] if inside else None


def blocks(source, where="<source>"):
    """[(begin index, end index, indent, note, function)] of the solution blocks, 0-based
    line indices; raises MarkerError naming `where` and the line for a malformed one."""
    lines = source.splitlines()
    functions = None
    found, open_block = [], None
    for i, line in enumerate(lines):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_block is not None:
                raise MarkerError(f"{where}:{i + 1}: # BEGIN SOLUTION inside the block opened "
                                  f"at line {open_block[0] + 1}: blocks do not nest")
            open_block = (i, begin["indent"], begin["note"].strip(" :-()"))
        elif end:
            if open_block is None:
                raise MarkerError(f"{where}:{i + 1}: # END SOLUTION without a # BEGIN SOLUTION")
            start, indent, note = open_block
            if end["indent"] != indent:
                raise MarkerError(f"{where}:{i + 1}: # END SOLUTION is indented differently "
                                  f"from the # BEGIN SOLUTION at line {start + 1}")
            functions = _enclosing_functions(source) if functions is None else functions
            function = _function_at(functions, start + 1)
            if function is None:
                raise MarkerError(f"{where}:{start + 1}: a solution block must be inside a "
                                  "function, or the student edition would not import")
            found.append((start, i, indent, note, function))
            open_block = None
        elif "BEGIN SOLUTION" in line or "END SOLUTION" in line:
            raise MarkerError(f"{where}:{i + 1}: a solution marker must be a comment line "
                              "of its own: '# BEGIN SOLUTION' or '# END SOLUTION'")
    if open_block is not None:
        raise MarkerError(f"{where}:{open_block[0] + 1}: # BEGIN SOLUTION is never closed")
    return found


def stub_line(indent, function, where, note=""):
    message = f"{function} in {where}: not written yet"
    if note:
        message += f" ({note})"
    return f"{indent}raise NotImplementedError({message!r})"


def strip_solutions(source, where="<source>", select=None):
    """The source with every solution block replaced by a stub (unchanged if none); with
    `select`, only the blocks it accepts: select(where, note) -> bool, the note being what
    follows the marker ("exercise 03" for `# BEGIN SOLUTION (exercise 03)`)."""
    found = [b for b in blocks(source, where) if select is None or select(where, b[3])]
    if not found:
        return source
    lines = source.splitlines()
    out, last = [], 0
    for start, end, indent, note, function in found:
        out.extend(lines[last:start])
        out.append(stub_line(indent, function, where, note))
        last = end + 1
    out.extend(lines[last:])
    text = "\n".join(out) + ("\n" if source.endswith("\n") else "")
    try:
        ast.parse(text)
    except SyntaxError as exc:
        raise MarkerError(f"{where}: the student edition does not parse: {exc}") from None
    return text


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder):
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MANIFEST and "__pycache__" not in p.parts}


def changed_files(out):
    """Files in `out` that differ from the edition last written there (added, changed or
    removed); every file, when `out` was not written by this tool."""
    manifest = out / MANIFEST
    present = _files(out)
    if not manifest.exists():
        return sorted(present)
    written = json.loads(manifest.read_text())
    changed = [name for name, path in present.items() if written.get(name) != _digest(path)]
    removed = [name for name in written if name not in present]
    return sorted(changed + removed)


def build(out, root=ROOT, force=False, select=None):
    """Write the student edition of `root` into `out`; returns the number of stubs.
    `select` (see strip_solutions) cuts only some blocks: the tests use it to make trees
    with some holes filled."""
    out = Path(out).resolve()
    if out.exists() and not force:
        changed = changed_files(out)
        if changed:
            shown = ", ".join(changed[:8]) + (" ..." if len(changed) > 8 else "")
            raise FileExistsError(
                f"make_student: {out} holds work that is not the edition written there "
                f"({len(changed)} file(s) differ: {shown}); copy it elsewhere, or pass "
                "--force (make exercises FORCE=1) to replace it")
    staging = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    if staging.exists():
        shutil.rmtree(staging)
    stubs = 0
    try:
        for folder in FOLDERS:
            shutil.copytree(root / folder, staging / folder, ignore=SKIP)
        for name in FILES:
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, staging / name)
        (staging / "README.md").write_text(README)
        for path in sorted(staging.rglob("*.py")):
            where = path.relative_to(staging).as_posix()
            source = path.read_text(encoding="utf-8")
            student = strip_solutions(source, where, select)
            if student != source:
                stubs += sum(select is None or select(where, b[3]) for b in blocks(source, where))
                path.write_text(student, encoding="utf-8")
        digests = {name: _digest(path) for name, path in _files(staging).items()}
        (staging / MANIFEST).write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return stubs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "build" / "student"))
    parser.add_argument("--force", action="store_true",
                        help="replace the folder even if a student changed files in it")
    args = parser.parse_args(argv)
    try:
        stubs = build(args.out, force=args.force)
    except (FileExistsError, MarkerError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"student edition written to {args.out}: {stubs} solution blocks replaced by stubs")
    print(f"grade it with: python tools/grade.py --student {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
