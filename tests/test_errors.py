"""Every user-facing error lives in ``harness/errors.py`` and is drawn, under its parent, in its docstring.

The package is read as source, not imported: importing every module would pull in locust, whose gevent
patching must stay in the load driver's process.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import harness
from harness import errors
from harness.errors import EXIT_COULD_NOT_RUN, HarnessError

PACKAGE_DIR = Path(harness.__file__).parent
TREE_LINE = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w*Error)\b(?P<note>.*)$")


def _base_names(node: ast.ClassDef) -> set[str]:
    names = set()
    for base in node.bases:
        if isinstance(base, ast.Name):
            names.add(base.id)
        elif isinstance(base, ast.Attribute):
            names.add(base.attr)
    return names


def harness_error_definitions(package_dir: Path = PACKAGE_DIR) -> dict[str, list[str]]:
    """Every class under ``harness/`` deriving (by name, transitively) from HarnessError: name -> modules."""
    classes: list[tuple[str, set[str], str]] = []
    for path in sorted(package_dir.rglob("*.py")):
        module = path.relative_to(package_dir.parent).with_suffix("").as_posix().replace("/", ".")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                classes.append((node.name, _base_names(node), module))
    found: dict[str, list[str]] = {"HarnessError": ["harness.errors"]}
    grew = True
    while grew:
        grew = False
        for name, bases, module in classes:
            if bases & found.keys() and module not in found.setdefault(name, []):
                found[name].append(module)
                grew = True
    return found


def tree() -> list[tuple[int, str, str]]:
    """The docstring's tree as (depth, class name, note) lines, in order."""
    assert errors.__doc__ is not None
    lines = []
    for line in errors.__doc__.splitlines():
        match = TREE_LINE.match(line.strip("\n")[4:])  # the drawing is indented by four spaces
        if match:
            lines.append((len(match["indent"]) // 4, match["name"], match["note"]))
    return lines


def test_every_harness_error_is_defined_in_harness_errors_only() -> None:
    definitions = harness_error_definitions()
    elsewhere = {name: modules for name, modules in definitions.items() if modules != ["harness.errors"]}
    assert elsewhere == {}
    assert len(definitions) > 10


def test_the_walk_finds_a_subclass_defined_outside(tmp_path: Path) -> None:
    package = tmp_path / "harness"
    (package / "runtime").mkdir(parents=True)
    (package / "errors.py").write_text(
        "class HarnessError(Exception): ...\nclass TargetError(HarnessError): ...\n"
    )
    (package / "runtime" / "stray.py").write_text("class StrayError(errors.TargetError): ...\n")
    assert harness_error_definitions(package)["StrayError"] == ["harness.runtime.stray"]


def test_the_docstring_draws_every_error_under_its_parent() -> None:
    defined = {
        name: cls
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, HarnessError) and cls.__module__ == errors.__name__
    }
    drawn = tree()
    assert [name for _, name, _ in drawn] and drawn[0][:2] == (0, "HarnessError")
    assert sorted(name for _, name, _ in drawn) == sorted(defined)
    parents: list[str] = []
    for depth, name, _ in drawn:
        del parents[depth:]
        if parents:
            assert parents[-1] in {base.__name__ for base in defined[name].__bases__}, name
        parents.append(name)


def test_every_error_has_an_exit_status_and_the_tree_states_any_but_2() -> None:
    for _, name, note in tree():
        status = getattr(errors, name).exit_status
        assert isinstance(status, int) and status != 0, name
        if status != EXIT_COULD_NOT_RUN:
            assert f"exit {status}" in note, name
