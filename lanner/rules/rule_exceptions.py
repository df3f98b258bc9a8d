"""Rule exceptions become condition text appended to the rule condition (rules-file.md 8.6), so they go
through the same parser, compiler and event-type inference as the condition itself."""

from __future__ import annotations

from lanner.rules import operators
from lanner.rules.definitions import ExceptionDef, RuleDef
from lanner.rules.lists import quote_item
from lanner.rules.operators import Rhs
from lanner.rules.reader import Ctx
from lanner.rules.result import LoadError


def exception_fields(excs: list[ExceptionDef]) -> list[str]:
    out: list[str] = []
    for x in excs:
        fs = x.fields if isinstance(x.fields, list) else ([x.fields] if x.fields else [])
        out.extend(f for f in fs if f not in out)
    return out


def exception_condition(rule: RuleDef) -> str:
    """The rule condition with its exceptions appended (rules-file.md 8.6)."""
    if not rule.exceptions:
        return rule.condition
    out = "(" + rule.condition + ")"
    for x in rule.exceptions:
        frag = exception_fragment(x, rule)
        if frag:
            out += " and not " + frag
    return out


def _fail(rule: RuleDef, x: ExceptionDef, message: str) -> LoadError:
    ctx: Ctx = getattr(x, "ctx", rule.ctx)
    return ctx.error("LOAD_ERR_VALIDATE", message)


def exception_fragment(x: ExceptionDef, rule: RuleDef) -> str:
    if not x.values:
        return ""
    if not isinstance(x.fields, list):
        comp = (x.comps if isinstance(x.comps, str) else "in").strip()
        vals = []
        for v in x.values:
            if not isinstance(v, str):
                raise _fail(rule, x, "Expected values array to contain a list of strings")
            vals.append(quote_item(v))
        return f"({x.fields} {comp} ({', '.join(vals)}))"
    fields = x.fields
    comps = x.comps if isinstance(x.comps, list) else [(x.comps or "=")] * len(fields)
    ors = []
    for tup in x.values:
        if not isinstance(tup, list) or len(tup) != len(fields):
            raise _fail(rule, x, "Fields and values lists must have equal length")
        ands = []
        for f, c, v in zip(fields, comps, tup, strict=True):
            c = c.strip()
            if isinstance(v, list):
                val = "(" + ", ".join(quote_item(str(i)) for i in v) + ")"
            elif _takes_list(c) or len(c.split()) == 2:
                val = v if v.startswith("(") else "(" + quote_item(v) + ")"
            else:
                val = quote_item(v)
            ands.append(f"{f} {c} {val}")
        ors.append("(" + " and ".join(ands) + ")")
    return "(" + " or ".join(ors) + ")"


def _takes_list(comp: str) -> bool:
    op = operators.get(comp)
    return op is not None and op.rhs is Rhs.LIST
