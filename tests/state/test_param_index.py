"""The named parameter indices the state engine reads, checked against the event table."""

import ast
from pathlib import Path

import pytest

from lanner.events.table import EF_OLD_VERSION, EVENTS
from lanner.state import param_index as PI
from lanner.state.engine import StateEngine

ENGINE_SRC = Path(__file__).resolve().parents[2] / "lanner" / "state" / "engine.py"

CONSTANTS = {k: v for k, v in vars(PI).items() if k.isupper() and isinstance(v, int)}


def _reaching_versions(names, direction):
    """Every code of these events the state engine can see: old exit versions are upgraded by the
    capture converter before they get there (their parameter layouts differ); enter versions are kept."""
    return [e for e in EVENTS if e.name in names and e.direction == direction
            and not (direction == "<" and e.flags & EF_OLD_VERSION)]


def _family(const):
    fams = [f for f in PI.FAMILIES if const.startswith(f + "_")]
    assert fams, f"{const}: no family in FAMILIES"
    fam = max(fams, key=len)
    return fam, const[len(fam) + 1:].lower()


@pytest.mark.parametrize("const", sorted(c for c in CONSTANTS if c != "RES"))
def test_constant_names_its_parameter_in_every_version(const):
    fam, pname = _family(const)
    names, direction = PI.FAMILIES[fam]
    versions = _reaching_versions(names, direction)
    idx = CONSTANTS[const]
    for name in names:
        current = [e for e in versions if e.name == name and not e.flags & EF_OLD_VERSION]
        for e in current:
            assert idx < e.nparams and e.params[idx].name == pname, (const, e.constant, e.params)
        # enter events of some calls exist in old versions only (the probe no longer sends them)
        assert any(e.name == name and idx < e.nparams for e in versions), f"{const}: no {name}{direction} has it"
    for e in versions:
        # an older enter version may be shorter (the parameter then reads as absent), never different
        if idx < e.nparams:
            assert e.params[idx].name == pname, (const, e.constant, e.params)


def test_res_is_the_return_value_of_every_syscall_exit_the_engine_handles():
    st = StateEngine()
    seen = 0
    for e in EVENTS:
        if st._dispatch[e.code] is None or e.direction != "<" or e.flags & EF_OLD_VERSION:
            continue
        assert e.nparams > PI.RES and e.params[PI.RES].name in ("res", "fd"), (e.constant, e.params)
        seen += 1
    assert seen > 60


def test_every_family_is_used_and_names_real_events():
    event_names = {e.name for e in EVENTS}
    used = {_family(c)[0] for c in CONSTANTS if c != "RES"}
    for fam, (names, direction) in PI.FAMILIES.items():
        assert fam in used, f"family {fam} has no constant"
        assert direction in ("<", ">")
        assert set(names) <= event_names, fam


def test_fd_parameter_of_each_event_is_its_fd():
    st = StateEngine()
    checked = 0
    for e in EVENTS:
        i = st._fdparam[e.code]
        if i >= 0:
            assert e.params[i].type_name in ("FD", "FD32"), (e.constant, e.params[i])
            checked += 1
    assert checked > 50


def _index_literals(tree):
    """Parameter reads by a literal index left in the engine: ``_p(x, 3)``, ``p[3]``/``params[3]``/
    ``raw[3]`` and ``(3, "attr")`` pairs of the loops that copy parameters to attributes."""
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_p" \
                and len(node.args) == 2 and isinstance(node.args[1], ast.Constant):
            bad.append(ast.unparse(node))
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and isinstance(node.slice.value, int):
            v = node.value
            name = v.id if isinstance(v, ast.Name) else v.attr if isinstance(v, ast.Attribute) else ""
            if name in ("p", "ep", "params", "raw"):
                bad.append(ast.unparse(node))
        elif isinstance(node, ast.Tuple) and len(node.elts) == 2 \
                and isinstance(node.elts[0], ast.Constant) and isinstance(node.elts[0].value, int) \
                and isinstance(node.elts[1], ast.Constant) and isinstance(node.elts[1].value, str):
            bad.append(ast.unparse(node))
    return bad


def test_engine_reads_parameters_by_name_only():
    assert _index_literals(ast.parse(ENGINE_SRC.read_text())) == []


def test_the_literal_check_can_fail():
    src = "def f(p, evt):\n    a = _p(p, 15)\n    b = evt.params[2]\n    for i, n in ((8, 'x'),): pass\n"
    assert len(_index_literals(ast.parse(src))) == 3
