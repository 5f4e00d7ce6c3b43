"""Reading scenario and catalogue files: YAML in, validated models out, every problem one line.

Every mistake in a file becomes a :class:`ScenarioError` naming the file, the dotted field path and
the value at fault, so a user never sees a pydantic traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from harness.errors import ScenarioError, describe_invalid
from harness.scenario.model import Catalogue, Scenario
from harness.scenario.yamlfile import read_yaml


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file; any problem is a ScenarioError naming file and field."""
    path = Path(path)
    return _validated(Scenario, _read_mapping(path), str(path), {"base_dir": path.parent.resolve()})


def is_catalogue(path: Path | str) -> bool:
    """Whether a file is a catalogue of scenarios rather than one scenario."""
    return "scenarios" in _read_mapping(Path(path))


def load_catalogue(path: Path | str) -> tuple[Catalogue, tuple[Path, ...]]:
    """A catalogue and its scenario files (relative to it), each of them validated up front."""
    path = Path(path)
    catalogue = _validated(Catalogue, _read_mapping(path), str(path))
    files = tuple(path.parent / name for name in catalogue.scenarios)
    for index, file in enumerate(files):
        if not file.is_file():
            raise ScenarioError(str(path), f"scenarios.{index}", "no such scenario file", str(file))
        load_scenario(file)
    return catalogue, files


def _read_mapping(path: Path) -> dict[str, Any]:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError(str(path), "(top level)", "expected a mapping of fields", type(data).__name__)
    return data


_Model = TypeVar("_Model", bound=BaseModel)


def _validated(
    model: type[_Model], data: dict[str, Any], shown: str, context: dict[str, Any] | None = None
) -> _Model:
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        raise ScenarioError(shown, *describe_invalid(error.errors()[0])) from None
