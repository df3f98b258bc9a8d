"""Condition compiler: a macro-expanded syntax tree becomes one Python function.

The tree is type-checked against the field registry (condition-language.md 4-6), literals are converted
once, and Python source is generated for the whole condition and ``compile()``d once; evaluating a rule is
then a single call with no tree walking. Field extractors, converted constants, compiled regexes and
helpers live in the function's global namespace under generated names (``_f0``, ``_c0`` ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lanner.core.errors import LannerError
from lanner.fields import registry as reg
from lanner.fields import types as ft
from lanner.rules import ast, operators, values
from lanner.rules.operators import Literal, Operator
from lanner.rules.parser import _RX_FIELD
from lanner.rules.regex import glob_match, iglob_match
from lanner.rules.visitor import NodeVisitor, operand_field_names

WARN_COMPILE = "LOAD_COMPILE_CONDITION"
WARN_NA = "LOAD_UNSAFE_NA_CHECK"
WARN_DEPRECATED = "LOAD_DEPRECATED_ITEM"

_DEPRECATED_DIR = ("due to the drop of enter events, 'evt.dir = <' always evaluates to true, and 'evt.dir = >' "
                   "always evaluates to false. The rule expression can be simplified by removing the condition "
                   "on 'evt.dir'")
_DEPRECATED_LATENCY = "field is not available due to the drop of enter events."
DEPRECATED_FIELDS = {
    "evt.dir": _DEPRECATED_DIR, "evt.latency": _DEPRECATED_LATENCY, "evt.latency.s": _DEPRECATED_LATENCY,
    "evt.latency.ns": _DEPRECATED_LATENCY, "evt.latency.human": _DEPRECATED_LATENCY,
    "evt.wait_latency": _DEPRECATED_LATENCY,
}

_KIND_MSG = {"numeric": "numeric", "bool": "numeric", "string": "string", "buffer": "buffer",
             "ip": "ip address and network"}
_LIST_FIELD_TYPES = frozenset({ft.CHARBUF, ft.FSPATH, ft.FSRELPATH, ft.UINT64, ft.RELTIME, ft.ABSTIME, ft.BOOL,
                               ft.IPADDR, ft.IPNET, ft.INT64, ft.UINT32, ft.INT32, ft.UINT16, ft.PORT})
_SINGLE_ARG_TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len")
_REGEX_SPECIAL = set("\\^$.|?*+()[]{}")
_TRANSFORMER_LITERAL = re.compile(r"^(?:val|" + "|".join(ast.TRANSFORMERS) + r")\(.*\)$", re.S)


def helper_namespace() -> dict[str, Any]:
    """Runtime helpers generated code may call."""
    return {"_lower": values.ascii_lower, "_upper": values.ascii_upper, "_b64": values.b64decode,
            "_basename": values.basename, "_len": values.length, "_join": values.join, "_concat": values.concat,
            "_getopt": values.getopt, "_glob": glob_match, "_iglob": iglob_match}


class CompileError(LannerError):
    def __init__(self, message: str, pos: ast.Pos | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


@dataclass
class Operand:
    """A typed expression: Python source producing the value (or None), plus its type facts."""

    code: str
    type: str
    is_list: bool = False
    ref: reg.FieldRef | None = None      # set when the operand is a plain field
    mode: str = ""                        # "" | "ancestors" | "either"
    label: str = ""                       # for error messages

    @property
    def kind(self) -> str:
        return ft.kind(self.type)


@dataclass
class CompiledCondition:
    fn: Callable[[Any], bool]
    source: str
    fields: list[reg.FieldRef] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)


class ConditionCompiler(NodeVisitor):
    """Compile conditions of one event source against a field registry.

    ``is_event_name(name)`` validates ``evt.type``/``syscall.type`` literals (None: accept anything).
    Boolean nodes visit to Python source text, operand nodes (fields, transformers) to an ``Operand``.
    """

    def __init__(self, registry: reg.FieldRegistry, source: str,
                 is_event_name: Callable[[str], bool] | None = None) -> None:
        self.registry = registry
        self.source = source
        self.is_event_name = is_event_name
        self.reset()

    def reset(self) -> None:
        """Start a new generated function: empty namespace (but for helpers), no fields, no warnings."""
        self.ns: dict[str, Any] = helper_namespace()
        self.counter = 0
        self.fields: list[reg.FieldRef] = []
        self.warnings: list[tuple[str, str]] = []
        self._extractors: dict[tuple[str, str | None], str] = {}

    # --- public ------------------------------------------------------------------------------
    def compile(self, node: ast.Node, name: str = "condition") -> CompiledCondition:
        self.reset()
        body = self.expr(node)
        src = f"def _cond(e):\n    return {body}\n"
        code = compile(src, f"<condition of {name}>", "exec")
        exec(code, self.ns)  # noqa: S102 - generated from a checked syntax tree
        return CompiledCondition(self.ns["_cond"], src, self.fields, self.warnings)

    def operand(self, node: ast.Node) -> Operand:
        """Type-check a field or transformer expression (also used by the output compiler)."""
        return self._operand(node)

    # --- names -------------------------------------------------------------------------------
    def _name(self, prefix: str, value: Any) -> str:
        n = f"_{prefix}{self.counter}"
        self.counter += 1
        self.ns[n] = value
        return n

    def _var(self) -> str:
        self.counter += 1
        return f"_v{self.counter}"

    # --- boolean structure -------------------------------------------------------------------
    def expr(self, node: ast.Node) -> str:
        code = self.visit(node)
        if not isinstance(code, str):
            raise CompileError(f"unexpected node {type(node).__name__}")
        return code

    def visit_And(self, node: ast.And) -> str:
        return "(" + " and ".join(self.expr(c) for c in node.children) + ")"

    def visit_Or(self, node: ast.Or) -> str:
        return "(" + " or ".join(self.expr(c) for c in node.children) + ")"

    def visit_Not(self, node: ast.Not) -> str:
        return f"(not {self.expr(node.child)})"

    def visit_MacroRef(self, node: ast.MacroRef) -> str:
        raise CompileError(f"Undefined macro '{node.name}' used in filter.", node.pos)

    def visit_Check(self, node: ast.Check) -> str:
        return self.check(node)

    def generic_visit(self, node: ast.Node, *args: Any) -> Any:
        raise CompileError("expected a field or a field transformer", getattr(node, "pos", None))

    # --- operands ----------------------------------------------------------------------------
    def visit_Field(self, node: ast.Field) -> Operand:
        return self._field(node)

    def visit_Transformer(self, node: ast.Transformer) -> Operand:
        return self._transformer(node)

    def _field(self, node: ast.Field) -> Operand:
        try:
            ref = self.registry.resolve(self.source, node.name, node.arg)
        except reg.FieldError as e:
            raise CompileError(str(e), node.pos) from None
        key = (ref.fdef.name, ref.arg)
        fname = self._extractors.get(key)
        if fname is None:
            try:
                extractor = ref.bind()
            except reg.FieldError as e:
                raise CompileError(str(e), node.pos) from None
            fname = self._name("f", extractor)
            self._extractors[key] = fname
            self.fields.append(ref)
        f = ref.fdef
        ftype = getattr(self.ns[fname], "field_type", f.type)
        mode = ""
        if reg.ANY_ANCESTOR in f.flags and ref.arg is None:
            mode = "ancestors"
        elif reg.FILTER_ONLY in f.flags:
            mode = "either"
        if f.name in DEPRECATED_FIELDS:
            w = (WARN_DEPRECATED, DEPRECATED_FIELDS[f.name])
            if w not in self.warnings:
                self.warnings.append(w)
        label = node.name if node.arg is None else f"{node.name}[{node.arg}]"
        return Operand(f"{fname}(e)", ftype, f.is_list, ref, mode, label)

    def _operand(self, node: ast.Node) -> Operand:
        op = self.visit(node)
        if not isinstance(op, Operand):
            raise CompileError("expected a field or a field transformer", getattr(node, "pos", None))
        return op

    def _transformer(self, node: ast.Transformer) -> Operand:
        name = node.name
        if name == "val":
            raise CompileError("'val' transformer can only be used on the right-hand side of a comparison",
                               node.pos)
        if name in _SINGLE_ARG_TRANSFORMERS:
            if node.arg is not None:
                raise CompileError(f"transformer '{name}' does not support field arguments", node.pos)
            if len(node.args) != 1 or isinstance(node.args[0], ast.Value | ast.ListValue):
                raise CompileError(f"transformer '{name}' expects exactly one field argument", node.pos)
            inner = self._operand(node.args[0])
            self._check_transformable(inner, node)
            k = inner.kind
            if name in ("tolower", "toupper", "basename"):
                if k != "string" or inner.is_list:
                    self._bad_transformer(inner, name, node)
                fn = {"tolower": "_lower", "toupper": "_upper", "basename": "_basename"}[name]
                v = self._var()
                code = f"({fn}({v}) if ({v} := {inner.code}) is not None else None)"
                if name == "basename":
                    code = f"_basename({inner.code})"
                return Operand(code, ft.CHARBUF, False, None, "", f"{name}({inner.label})")
            if name == "b64":
                if k not in ("string", "buffer") or inner.is_list:
                    self._bad_transformer(inner, name, node)
                return Operand(f"_b64({inner.code})", ft.CHARBUF, False, None, "", f"b64({inner.label})")
            if k not in ("string", "buffer") and not inner.is_list:
                self._bad_transformer(inner, name, node)
            return Operand(f"_len({inner.code})", ft.UINT64, False, None, "", f"len({inner.label})")
        if name == "join":
            if node.arg is not None:
                raise CompileError(f"transformer '{name}' does not support field arguments", node.pos)
            if len(node.args) != 2:
                raise CompileError("transformer 'join' expects a separator and a list", node.pos)
            sep = self._scalar_code(node.args[0])
            lst = node.args[1]
            if isinstance(lst, ast.ListValue):
                items = "(" + "".join(self._scalar_code(i) + ", " for i in lst.items) + ")"
            else:
                op = self._operand(lst)
                if not op.is_list:
                    raise CompileError("transformer 'join' expects a list as second argument", node.pos)
                items = op.code
            return Operand(f"_join({sep}, {items})", ft.CHARBUF, False, None, "", "join(...)")
        if name == "concat":
            if node.arg is not None:
                raise CompileError(f"transformer '{name}' does not support field arguments", node.pos)
            if len(node.args) < 2:
                raise CompileError("transformer 'concat' expects at least two arguments", node.pos)
            parts = ", ".join(self._scalar_code(a) for a in node.args)
            return Operand(f"_concat({parts})", ft.CHARBUF, False, None, "", "concat(...)")
        if name == "getopt":
            if len(node.args) != 2 or not isinstance(node.args[1], ast.Value):
                raise CompileError("transformer 'getopt' expects an argument list and an option string", node.pos)
            args = self._operand(node.args[0])
            if args.kind != "string":
                self._bad_transformer(args, name, node)
            opts = self._name("c", node.args[1].text)
            if node.arg is None:
                v = self._var()
                code = (f"(sorted({v}) if ({v} := _getopt({args.code}, {opts})) else None)")
                return Operand(code, ft.CHARBUF, True, None, "", "getopt(...)")
            key = self._name("c", node.arg)
            v = self._var()
            code = f"(({v} := _getopt({args.code}, {opts})) or {{}}).get({key})"
            return Operand(code, ft.CHARBUF, False, None, "", f"getopt(...)[{node.arg}]")
        raise CompileError(f"unknown transformer '{name}'", node.pos)

    def _scalar_code(self, node: ast.Node) -> str:
        if isinstance(node, ast.Value):
            return self._name("c", node.text)
        op = self._operand(node)
        if op.is_list or op.mode:
            raise CompileError("expected a single-value field", getattr(node, "pos", None))
        return op.code

    def _check_transformable(self, inner: Operand, node: ast.Transformer) -> None:
        if inner.ref is not None and (reg.NO_TRANSFORMER in inner.ref.fdef.flags or inner.mode):
            raise CompileError(f"field '{inner.ref.fdef.name}' does not support transformers", node.pos)

    @staticmethod
    def _bad_transformer(inner: Operand, name: str, node: ast.Transformer) -> None:
        raise CompileError(f"can't add field transformer: type '{inner.type}' is not supported by '{name}' "
                           f"transformer applied on field '{inner.label}'", node.pos)

    # --- checks ------------------------------------------------------------------------------
    def check(self, node: ast.Check) -> str:
        lhs = self._operand(node.lhs)
        op = node.op
        if lhs.type == ft.CHARBUF and lhs.ref is not None and lhs.ref.fdef.name in ("evt.type", "syscall.type"):
            if isinstance(node.rhs, ast.Transformer):
                raise CompileError("right-hand field comparisons on evt.type/syscall.type checks are not "
                                   "supported by event code search", node.pos)
        if isinstance(node.lhs, ast.Transformer) and _is_evt_type(node.lhs):
            raise CompileError("event code search does not support evt.type checks with transformers", node.pos)
        oper = self._check_operator(lhs, op, node)
        if oper.rhs is operators.Rhs.NONE:
            return self._exists(lhs)
        if isinstance(node.rhs, ast.Transformer):
            return self._field_compare(lhs, oper, node)
        self._literal_warnings(lhs, oper, node)
        consts = self._rhs_literals(lhs, oper, node)
        if node.modifier is not None:
            return self._modifier_check(lhs, oper, node.modifier, consts, node)
        return self._literal_check(lhs, oper, consts, node)

    def _check_operator(self, lhs: Operand, op: str, node: ast.Check) -> Operator:
        oper = operators.get(op)
        kind = lhs.kind
        if lhs.is_list:
            if oper is None or not oper.list_fields:
                raise CompileError(f"filter error: '{op}' operator not supported list filters", node.pos)
            if lhs.type not in _LIST_FIELD_TYPES:
                raise CompileError(f"list filters are not supported for type '{lhs.type}'", node.pos)
            return oper
        if oper is None or kind not in oper.kinds:
            raise CompileError(f"filter error: '{op}' operator not supported for {_KIND_MSG[kind]} filters",
                               node.pos)
        if lhs.mode == "either" and not oper.either_fields:
            raise CompileError(f"filter error: '{op}' operator not supported for field '{lhs.label}'", node.pos)
        return oper

    def _exists(self, lhs: Operand) -> str:
        if lhs.mode == "ancestors":
            return f"any(x is not None for x in ({lhs.code} or ()))"
        if lhs.is_list:
            return f"bool({lhs.code})"
        return f"({lhs.code} is not None)"

    def _rhs_literals(self, lhs: Operand, oper: Operator, node: ast.Check) -> list[Any]:
        """Converted right-hand values (one for scalar operators, many for lists)."""
        rhs = node.rhs
        items = ast.items_of(rhs)
        texts = [i.text for i in items]  # type: ignore[attr-defined]
        target = lhs.type
        out = []
        for t in texts:
            try:
                if oper.literal is Literal.HEX:
                    out.append(values.hex_bytes(t))
                    continue
                if lhs.ref is not None and lhs.ref.fdef.name in ("evt.type", "syscall.type") and \
                        self.is_event_name is not None and not self.is_event_name(t):
                    raise CompileError(f"unknown event type {t}", node.pos)
                if oper.literal is Literal.TEXT and lhs.kind == "string":
                    if "\x00" in t:
                        raise values.FilterValueError("filter error: filter value cannot contain a NUL byte (\\x00)")
                    out.append(t)
                    continue
                out.append(values.convert_literal(t, target))
            except values.FilterValueError as e:
                raise CompileError(str(e), node.pos) from None
        return out

    def _op_template(self, lhs: Operand, oper: Operator, c: Any, *, field_rhs: bool = False) -> tuple[Any, str]:
        """(prepared constant, template) for one comparison; template uses {v} and {c}."""
        t = oper.template
        if t is None:
            raise CompileError(f"filter error: '{oper.spelling}' operator not supported for {_KIND_MSG[lhs.kind]} "
                               "filters")
        if field_rhs:
            return c, t.field or t.value
        if lhs.type == ft.IPNET and t.ipnet is not None:
            return c, t.ipnet
        if t.prepare is not None:
            try:
                return t.prepare(c), t.value
            except values.FilterValueError as e:
                raise CompileError(str(e)) from None
        return c, t.value

    def _literal_check(self, lhs: Operand, oper: Operator, consts: list[Any], node: ast.Check) -> str:
        if oper.membership:
            if oper.membership == "path":
                pm = self._name("p", values.PathMatcher(consts))
                elem = f"{pm}({{v}})"
            elif lhs.type == ft.IPNET:
                nets = self._name("c", tuple(consts))
                elem = f"any({{v}} in _n for _n in {nets})"
            else:
                s = self._name("c", frozenset(consts))
                elem = f"{{v}} in {s}"
            if lhs.is_list:
                v = self._var()
                return f"(bool({v} := {lhs.code}) and {oper.list_match}({elem.format(v='x')} for x in {v}))"
            return self._apply(lhs, elem)
        try:
            c, tpl = self._op_template(lhs, oper, consts[0])
        except CompileError as e:
            raise CompileError(e.message, node.pos) from None
        cname = self._name("c", c)
        positive = None
        if oper.negates and lhs.mode == "either":
            positive = self._op_template(lhs, operators.get(oper.negates), c)[1].replace("{c}", cname)  # type: ignore[arg-type]
        return self._apply(lhs, tpl.replace("{c}", cname), positive)

    def _apply(self, lhs: Operand, tpl: str, positive: str | None = None) -> str:
        """Apply a one-value template to the operand, honouring ancestor / either-side semantics
        (``positive``: the template of the operator a negative one negates, for either-side fields)."""
        if lhs.mode == "ancestors":
            return f"any(x is not None and {tpl.format(v='x')} for x in ({lhs.code} or ()))"
        if lhs.mode == "either":
            v = self._var()
            if positive is not None:
                return (f"(({v} := {lhs.code}) is not None and "
                        f"not any(x is not None and {positive.format(v='x')} for x in {v}))")
            return f"(({v} := {lhs.code}) is not None and any(x is not None and {tpl.format(v='x')} for x in {v}))"
        v = self._var()
        return f"(({v} := {lhs.code}) is not None and {tpl.format(v=v)})"

    def _modifier_check(self, lhs: Operand, oper: Operator, modifier: str, consts: list[Any],
                        node: ast.Check) -> str:
        prepared = []
        tpl = "False"
        for c in consts:
            try:
                p, tpl = self._op_template(lhs, oper, c)
            except CompileError as e:
                raise CompileError(e.message, node.pos) from None
            prepared.append(p)
        if not prepared:
            return "False"
        cs = self._name("c", tuple(prepared))
        one = tpl.format(v="{v}", c="_k")
        count = f"sum(1 for _k in {cs} if {one})"
        if modifier == "anyof":
            test = f"any({one} for _k in {cs})"
        elif modifier == "allof":
            test = f"all({one} for _k in {cs})"
        else:
            test = count + " == 1"
        return self._apply(lhs, test)

    def _field_compare(self, lhs: Operand, oper: Operator, node: ast.Check) -> str:
        rnode = node.rhs
        assert isinstance(rnode, ast.Transformer)
        if rnode.name == "val":
            if rnode.arg is not None:
                raise CompileError("transformer 'val' does not support field arguments", node.pos)
            if len(rnode.args) != 1 or not isinstance(rnode.args[0], ast.Field):
                raise CompileError("expected a field within 'val' transformer", node.pos)
            rhs = self._field(rnode.args[0])
        else:
            rhs = self._transformer(rnode)
        if not oper.field_rhs:
            raise CompileError(f"filter error: '{oper.spelling}' operator does not support field-to-field comparisons",
                               node.pos)
        for side in (lhs, rhs):
            if side.mode or (side.ref is not None and reg.NO_RHS in side.ref.fdef.flags) or side.type == ft.IPNET:
                raise CompileError(f"field '{side.label}' does not support field-to-field comparisons", node.pos)
        same = (lhs.type == rhs.type or (lhs.kind == "string" and rhs.kind == "string"))
        if not same or lhs.is_list != rhs.is_list:
            raise CompileError(f"field '{lhs.label}' has type '{lhs.type}' while the right-hand side field "
                               f"'{rhs.label}' has incompatible type '{rhs.type}'", node.pos)
        w = self._var()
        if oper.list_match and lhs.is_list:
            v = self._var()
            return (f"(bool({v} := {lhs.code}) and bool({w} := {rhs.code}) and "
                    f"{oper.list_match}(x in {w} for x in {v}))")
        _, tpl = self._op_template(lhs, oper, None, field_rhs=True)
        v = self._var()
        return (f"(({v} := {lhs.code}) is not None and ({w} := {rhs.code}) is not None and "
                f"{tpl.format(v=v, c=w)})")

    # --- warnings ----------------------------------------------------------------------------
    def _literal_warnings(self, lhs: Operand, oper: Operator, node: ast.Check) -> None:
        rhs = node.rhs
        items = ast.items_of(rhs)
        for item in items:
            if not isinstance(item, ast.Value):
                continue
            t = item.text
            if oper.warn_plain_pattern and _regex_is_trivial(t):
                self._warn(WARN_COMPILE, f"regex check with '{t}' may be optimized with simpler operators such "
                                         "as '=', 'contains', 'startswith', 'endswith'")
            squeezed = "".join(t.split())
            if _looks_like_field(squeezed) and self._is_field_name(squeezed):
                self._warn(WARN_COMPILE, f"'{squeezed}' may be a valid field misused as a const string value")
            elif _TRANSFORMER_LITERAL.match(squeezed):
                self._warn(WARN_COMPILE,
                           f"'{squeezed}' may be a valid field transformer misused as a const string value")
            if t == "<NA>" and oper.warn_na and _is_plugin_json(node.lhs):
                self._warn(WARN_NA, "Unsafe <NA> comparison in condition")

    def _warn(self, code: str, msg: str) -> None:
        if (code, msg) not in self.warnings:
            self.warnings.append((code, msg))

    def _is_field_name(self, text: str) -> bool:
        m = re.match(r"^([^\[]+)(\[.*\])?$", text)
        return m is not None and self.registry.find(self.source, m.group(1)) is not None


def _looks_like_field(text: str) -> bool:
    m = _RX_FIELD.match(text)
    return m is not None and (m.end() == len(text) or text[m.end()] == "[")


def _is_evt_type(node: ast.Node) -> bool:
    return any(n in ("evt.type", "syscall.type") for n in operand_field_names(node))


def _is_plugin_json(node: ast.Node) -> bool:
    return any(n.startswith(("ka.", "jevt.")) for n in operand_field_names(node))


def _regex_is_trivial(pattern: str) -> bool:
    p = pattern
    if p.startswith("^"):
        p = p[1:]
    if p.endswith("$") and not p.endswith("\\$"):
        p = p[:-1]
    for affix in (".*", ".+", ".?"):
        if p.startswith(affix):
            p = p[2:]
            break
    for affix in (".*", ".+", ".?"):
        if p.endswith(affix):
            p = p[:-2]
            break
    return not any(ch in _REGEX_SPECIAL for ch in p)
