"""Load diagnostics: Falco's error and warning codes, their context chains, and the three report forms
(summary, verbose, JSON) of rules-file.md section 13."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lanner.core.errors import LannerError

ERROR_CODES = {
    "LOAD_ERR_FILE_READ": "File read error",
    "LOAD_ERR_YAML_PARSE": "YAML parse error",
    "LOAD_ERR_YAML_VALIDATE": "Error validating internal structure of YAML file",
    "LOAD_ERR_COMPILE_CONDITION": "Error compiling condition",
    "LOAD_ERR_COMPILE_OUTPUT": "Error compiling output",
    "LOAD_ERR_VALIDATE": "Error validating rule/macro/list/exception objects",
    "LOAD_ERR_EXTENSION": "Error in extension item",
}
WARNING_CODES = {
    "LOAD_UNKNOWN_SOURCE": "Unknown event source",
    "LOAD_UNSAFE_NA_CHECK": "Unsafe <NA> comparison in condition",
    "LOAD_NO_EVTTYPE": "Condition has no event-type restriction",
    "LOAD_UNKNOWN_FILTER": "Unknown field or event-type in condition or output",
    "LOAD_UNUSED_MACRO": "Unused macro",
    "LOAD_UNUSED_LIST": "Unused list",
    "LOAD_UNKNOWN_ITEM": "Unknown rules file item",
    "LOAD_DEPRECATED_ITEM": "Used deprecated item",
    "LOAD_WARNING_EXTENSION": "Warning in extension item",
    "LOAD_APPEND_NO_VALUES": "Overriding/appending with no values",
    "LOAD_EXCEPTION_NAME_NOT_UNIQUE": "Multiple exceptions defined with the same name",
    "LOAD_INVALID_MACRO_NAME": "Invalid macro name",
    "LOAD_INVALID_LIST_NAME": "Invalid list name",
    "LOAD_COMPILE_CONDITION": "Warning in rule condition",
    "LOAD_UNKNOWN_KEY": "Unknown key in item definition",
}

# What Falco's JSON load results carry as a warning's "codedesc" (errors carry the short text above).
WARNING_DESCS = {
    "LOAD_UNKNOWN_SOURCE": "A rule has a unknown event source. This can occur when reading rules content without "
                           "having a corresponding plugin loaded, etc. The rule will be silently ignored.",
    "LOAD_UNSAFE_NA_CHECK": "Comparing a field value with <NA> is unsafe and can lead to unpredictable behavior of "
                            "the rule condition. If you need to check for the existence of a field, consider using "
                            "the 'exists' operator instead.",
    "LOAD_NO_EVTTYPE": "A rule condition matches too many evt.type values. This has a significant performance "
                       "penalty. Make the condition more specific by adding an evt.type field or further "
                       "restricting the number of evt.type values in the condition.",
    "LOAD_UNKNOWN_FILTER": "A rule condition or output refers to a field or evt.type that does not exist. This is "
                           "normally an error, but if a rule has a skip-if-unknown-filter property, the error is "
                           "downgraded to a warning.",
    "LOAD_UNUSED_MACRO": "A macro is defined in the rules content but is not used by any other macro or rule.",
    "LOAD_UNUSED_LIST": "A list is defined in the rules content but is not used by any other list, macro, or rule.",
    "LOAD_UNKNOWN_ITEM": "An unknown top-level object is in the rules content. It will be ignored.",
    "LOAD_DEPRECATED_ITEM": "A deprecated item is employed by lists, macros, or rules.",
    "LOAD_WARNING_EXTENSION": "An extension item has a warning",
    "LOAD_APPEND_NO_VALUES": "A rule exception is overriding/appending with no values",
    "LOAD_EXCEPTION_NAME_NOT_UNIQUE": "A rule is defining multiple exceptions with the same name",
    "LOAD_INVALID_MACRO_NAME": "A macro is defined with an invalid name",
    "LOAD_INVALID_LIST_NAME": "A list is defined with an invalid name",
    "LOAD_COMPILE_CONDITION": "A rule condition or output have been parsed with a warning",
    "LOAD_UNKNOWN_KEY": "An item in the rules content contains an unrecognized key. The key will be ignored. This "
                        "may indicate a typo or a property placed on the wrong item type.",
}


@dataclass(frozen=True)
class Location:
    """One step of a context chain: what item, where (0-based line/column as YAML reports them)."""

    item_type: str
    item_name: str
    name: str          # file name, or the quoted start of an expression
    line: int = 0
    column: int = 0
    offset: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"item_type": self.item_type, "item_name": self.item_name,
                "position": {"name": self.name, "line": self.line, "column": self.column,
                             "offset": self.offset}}


SNIPPET_WIDTH = 160


def falco_snippet(content: str, pos: int, width: int = SNIPPET_WIDTH) -> str:
    """The line around offset ``pos`` with a ``^`` under it, cut to ``width`` characters with ``...`` on a
    cut side, as Falco's rule loader shows it (a position past the end falls back to the last character)."""
    n = len(content)
    if n == 0:
        return "<No context available>\n"
    half = width // 2
    while pos > 0 and (pos >= n or content[pos] == "\n"):
        pos -= 1
    start = pos
    while start > 0 and content[start] != "\n" and pos - start < half:
        start -= 1
    end = pos
    while end < n - 1 and content[end] != "\n" and end - pos < half:
        end += 1
    if start < n and content[start] == "\n":
        start += 1
    if end < n and content[end] == "\n":
        end -= 1
    ret = content[start:end + 1]
    if not ret:
        return "<No context available>\n"
    if pos - start >= half:
        ret = "..." + ret[3:]
    if end - pos >= half:
        ret = ret[:-3] + "..."
    ret += "\n"
    if pos - start <= len(ret) - 1:
        ret += " " * (pos - start) + "^\n"
    return ret


@dataclass
class Diagnostic:
    """One error or warning with its location chain. The snippet is Falco's: the text around the last
    location, taken from ``alt_content`` (a condition) or else from the file the location names."""

    code: str
    message: str
    locations: list[Location] = field(default_factory=list)
    snippet: str = ""            # kept for callers that built one; the rendered forms use snippet_from()
    alt_content: str = ""

    @property
    def codedesc(self) -> str:
        return ERROR_CODES.get(self.code) or WARNING_CODES.get(self.code, "")

    def snippet_from(self, contents: dict[str, str]) -> str:
        if not self.locations:
            return "<No context available>\n"
        loc = self.locations[-1]
        if not self.alt_content and loc.name not in contents:
            return f"<No context for file + {loc.name}>\n"
        return falco_snippet(self.alt_content or contents[loc.name], loc.offset)

    def as_dict(self, contents: dict[str, str] | None = None) -> dict[str, Any]:
        desc = WARNING_DESCS.get(self.code) or self.codedesc
        snippet = self.snippet_from(contents) if contents is not None else self.snippet
        return {"code": self.code, "codedesc": desc, "message": self.message,
                "context": {"locations": [loc.as_dict() for loc in self.locations], "snippet": snippet}}

    def where(self) -> str:
        """``file:line`` of the innermost file location, 1-based for humans."""
        for loc in reversed(self.locations):
            if not loc.name.startswith('"'):
                return f"{loc.name}:{loc.line + 1}"
        return ""

    def context_text(self) -> str:
        """The location chain as Falco prints it (``In rules content: (file:0:0)`` ...)."""
        lines = []
        for i, loc in enumerate(self.locations):
            prefix = "In " if i == 0 else "    "
            label = loc.item_type if not loc.item_name else f"{loc.item_type} '{loc.item_name}'"
            lines.append(f"{prefix}{label}: ({loc.name}:{loc.line}:{loc.column})\n")
        return "".join(lines)

    def verbose(self, contents: dict[str, str] | None = None) -> str:
        snippet = self.snippet_from(contents) if contents is not None else self.snippet
        return (self.context_text() + "------\n" + snippet + "------\n"
                + f"{self.code} ({self.codedesc}): {self.message}")


class LoadError(LannerError):
    """Raised to stop loading a file; carries the diagnostic."""

    def __init__(self, diag: Diagnostic) -> None:
        super().__init__(diag.message)
        self.diag = diag


@dataclass
class FileResult:
    name: str
    content: str = ""
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    schema_valid: str = "none"                                      # the first status: what the log line says
    schema_statuses: list[str] = field(default_factory=list)        # every status Falco lists

    @property
    def successful(self) -> bool:
        return not self.errors

    def contents(self) -> dict[str, str]:
        """The file's text for snippets; undecodable bytes (kept as surrogates) shown as U+FFFD."""
        return {self.name: self.content.encode("utf-8", "surrogateescape").decode("utf-8", "replace")}

    def _status(self) -> str:
        if self.errors:
            return "Invalid"
        return "Ok, with warnings" if self.warnings else "Ok"

    def statuses(self) -> list[str]:
        return self.schema_statuses or [self.schema_valid]

    @property
    def schema_failed(self) -> bool:
        return self.schema_valid not in ("ok", "none")

    def summary(self) -> str:
        """Falco's summary form: status, then schema warnings, error and warning codes on indented lines."""
        out = f"{self.name}: {self._status()}"
        if self.schema_failed:
            st = self.statuses()
            out += f"\n {len(st)} schema warnings: [" + " ".join(st) + "]"
        if self.errors:
            out += f"\n {len(self.errors)} errors: [" + " ".join(f"{d.code} ({d.codedesc})" for d in self.errors) + "]"
        if self.warnings:
            out += (f"\n {len(self.warnings)} warnings: ["
                    + " ".join(f"{d.code} ({d.codedesc})" for d in self.warnings) + "]")
        return out

    def verbose(self) -> str:
        """Falco's verbose form: every error and warning with its context chain and snippet."""
        contents = self.contents()
        out = f"{self.name}: {self._status()}"
        if self.schema_failed:
            st = self.statuses()
            out += f"\n{len(st)} Schema warnings:\n" + "".join(f"------\n{x}\n" for x in st) + "------\n"
        if self.errors:
            out += f"\n{len(self.errors)} Errors:\n"
            out += "".join(d.verbose(contents) + "\n" for d in self.errors)
        if self.warnings:
            out += f"\n{len(self.warnings)} Warnings:\n"
            out += "".join(d.verbose(contents) + "\n" for d in self.warnings)
        return out

    def as_dict(self) -> dict[str, Any]:
        contents = self.contents()
        out: dict[str, Any] = {"name": self.name, "successful": self.successful}
        if self.schema_valid != "none":
            out["schema_valid"] = not self.schema_failed
            out["schema_warnings"] = self.statuses() if self.schema_failed else []
        out["errors"] = [d.as_dict(contents) for d in self.errors]
        out["warnings"] = [d.as_dict(contents) for d in self.warnings]
        return out
