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


@dataclass
class Diagnostic:
    code: str
    message: str
    locations: list[Location] = field(default_factory=list)
    snippet: str = ""

    @property
    def codedesc(self) -> str:
        return ERROR_CODES.get(self.code) or WARNING_CODES.get(self.code, "")

    def as_dict(self) -> dict[str, Any]:
        desc = WARNING_DESCS.get(self.code) or self.codedesc
        return {"code": self.code, "codedesc": desc, "message": self.message,
                "context": {"locations": [loc.as_dict() for loc in self.locations], "snippet": self.snippet}}

    def where(self) -> str:
        """``file:line`` of the innermost file location, 1-based for humans."""
        for loc in reversed(self.locations):
            if not loc.name.startswith('"'):
                return f"{loc.name}:{loc.line + 1}"
        return ""

    def verbose(self) -> str:
        lines = []
        for i, loc in enumerate(self.locations):
            prefix = "In " if i == 0 else "    "
            label = loc.item_type if not loc.item_name else f"{loc.item_type} '{loc.item_name}'"
            lines.append(f"{prefix}{label}: ({loc.name}:{loc.line}:{loc.column})")
        lines.append("------")
        if self.snippet:
            lines.append(self.snippet.rstrip("\n"))
        lines.append("------")
        lines.append(f"{self.code} ({self.codedesc}): {self.message}")
        return "\n".join(lines)


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
    schema_valid: str = "none"

    @property
    def successful(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.errors:
            status = "Invalid"
        elif self.warnings:
            status = "Ok, with warnings"
        else:
            status = "Ok"
        out = [f"{self.name}: {status}"]
        if self.errors:
            out.append(f"{len(self.errors)} errors: [" +
                       " ".join(f"{d.code} ({d.codedesc})" for d in self.errors) + "]")
        if self.warnings:
            out.append(f"{len(self.warnings)} warnings: [" +
                       " ".join(f"{d.code} ({d.codedesc})" for d in self.warnings) + "]")
        return "\n".join(out)

    def verbose(self) -> str:
        out = [self.summary()]
        if self.errors:
            out.append(f"{len(self.errors)} Errors:")
            out.extend(d.verbose() for d in self.errors)
        if self.warnings:
            out.append(f"{len(self.warnings)} Warnings:")
            out.extend(d.verbose() for d in self.warnings)
        return "\n".join(out)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "successful": self.successful,
                "errors": [d.as_dict() for d in self.errors],
                "warnings": [d.as_dict() for d in self.warnings],
                "schema_valid": self.schema_valid.split(" ", 1)[0]}
