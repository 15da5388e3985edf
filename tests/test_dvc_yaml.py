"""dvc.yaml is complete: every stage depends on every stages/ module its command imports, so editing
shared code reruns exactly the stages that use it."""
import ast
import re

import yaml

from tests.conftest import ROOT


def imported_modules(module):
    """The stages/ modules `module` imports, directly or through others (lazy imports included)."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(ast.parse((ROOT / "stages" / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "stages":
                todo += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stages."):
                todo.append(node.module.split(".")[1])
    return seen


def test_every_stage_depends_on_the_code_it_runs():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert len(stages) >= 9
    for name, stage in stages.items():
        stage = stage.get("do", stage)
        module = re.search(r"python -m stages\.(\w+)", stage["cmd"]).group(1)
        code_deps = {d for d in stage["deps"] if d.startswith("stages/")}
        assert code_deps == {f"stages/{m}.py" for m in imported_modules(module)}, name

