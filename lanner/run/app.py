"""The run sequence behind the command line (config-and-cli.md 4-5): configuration, engine, rules,
informational actions, outputs, then the event loops of the enabled sources, and the exit statistics."""

from __future__ import annotations

import logging
import os
import signal
import sys
import textwrap
import threading
from importlib import resources
from typing import Any

from lanner import version as V
from lanner.compiled.hook import summary as compiled_summary
from lanner.config import Config, load_config
from lanner.core.errors import LannerError, RunError
from lanner.core.priority import Priority
from lanner.engine import Engine
from lanner.filemodes import write_private
from lanner.logs import setup_logging
from lanner.outputs.channels.factory import file_mode
from lanner.rules.paths import expand_rules_paths
from lanner.run.args import Args
from lanner.run.capture import capture_settings
from lanner.run.info import dumps, system_info, version_info, version_text
from lanner.run.plugins import (
    SOURCING,
    caps_of,
    check_plugins,
    list_plugins_text,
    open_params_of,
    open_params_text,
    plugin_info_text,
    schema_of,
)
from lanner.run.runner import Runner, engine_kind, select_sources
from lanner.run.syscalls import IGNORED_SYSCALLS_ORDER
from lanner.run.userspace import install_forwarding
from lanner.sources.registry import (
    CORE_CAPABILITIES,
    PluginEntry,
    builtin_plugin_classes,
    builtin_plugins,
    configured_plugins,
    plugin_versions,
)

log = logging.getLogger("lanner")

def packaged_path(*parts: str) -> str:
    """Path of a file shipped inside the package (default config, default rules)."""
    return str(resources.files("lanner").joinpath(*parts))


class App:
    def __init__(self, args: Args) -> None:
        self.args = args
        self.stop = threading.Event()
        self.config: Config = Config()
        self.engine: Engine | None = None
        self.pipeline: Any = None
        self.restart = False
        self.plugins: list[PluginEntry] = []

    # --- main --------------------------------------------------------------------------------
    def run(self) -> int:
        a = self.args
        if a.flag("rule-schema"):
            from lanner.rules.schema import RULES_SCHEMA
            print(dumps(RULES_SCHEMA))
            return 0
        if a.flag("ignored-events"):
            print("Ignored syscall(s):")
            for n in IGNORED_SYSCALLS_ORDER:
                print(f"- {n}")
            print()
            return 0
        if a.flag("list-events"):
            return self.list_events()
        if a.flag("config-schema"):
            from lanner.run.config_json import config_schema_text
            sys.stdout.write(config_schema_text())
            return 0
        self.load_config()
        engine_kind(self.config)
        if a.flag("version"):
            if self.config.bool("json_output", False):
                print(dumps(version_info()))
            else:
                sys.stdout.write(version_text())
            return 0
        if a.flag("list-plugins"):
            return self.list_plugins()
        if a.flag("plugin-info"):
            return self.plugin_info(a.get("plugin-info") or "")
        self.build_engine()
        if a.flag("list"):
            return self.list_fields(a.get("list") or "")
        if a.flag("validate"):
            return self.validate(a.all("validate"))
        self.load_rules()
        if a.flag("describe-all") or a.flag("describe"):
            return self.describe(a.get("describe"))
        if a.flag("support"):
            return self.support()
        self.select_rules()
        if a.flag("dry-run"):
            select_sources(engine_kind(self.config), self.plugins, a)   # all a start checks, short of opening
            capture_settings(self.config)
            from lanner.outputs.fanout.config import check_fanout
            check_fanout(self.config)
            return 0
        return self.run_events()

    # --- configuration -----------------------------------------------------------------------
    def load_config(self) -> None:
        a = self.args
        opts = a.all("option")
        if a.flag("trace-file"):
            opts = ["engine.kind=replay", f"engine.replay.capture_file={a.get('trace-file')}", *opts]
        if a.flag("all-events"):
            opts.append("base_syscalls.all=true")
        if a.flag("unbuffered"):
            opts.append("buffered_outputs=false")
        path = a.get("config")
        if path is None and not any(os.path.isfile(p) for p in ("/etc/lanner/lanner.yaml", "/etc/falco/falco.yaml")):
            self.config = load_config(packaged_path("data", "lanner.yaml"), opts)
            self.config.path = None
        else:
            self.config = load_config(path, opts)
        for p in a.all("print"):
            if p not in ("c", "container", "k", "kubernetes"):
                self.config.data.setdefault("append_output", [{"suggested_output": True}])
                self.config.data["append_output"].append({"extra_output": p})
        setup_logging(self.config)
        if a.flag("print"):
            log.warning("The -p/--print option is deprecated and will be removed. Use -o append_output=... instead.")
        log.info("lanner version: %s (%s)", V.LANNER_VERSION, os.uname().machine)
        log.info("Hot path: %s", compiled_summary())
        if self.config.files:
            log.info("lanner initialized with configuration files:")
            for f in self.config.files:
                log.info("   %s | schema validation: %s", f, self.config.schema_notes.get(f, "none"))
        else:
            log.info("lanner initialized with the packaged default configuration")
        for note in self.config.key_notes:
            log.warning("%s", note.message)
        if os.environ.get("FALCO_HOSTNAME"):
            log.info("Hostname value has been overridden via environment variable to: %s",
                     os.environ["FALCO_HOSTNAME"])

    def build_engine(self) -> None:
        """Load the configured plugins (libraries initialised), then the engine with their fields, sources and
        parsers; then Falco's start-up checks between plugins (overlapping fields, unused plugins)."""
        from lanner.outputs.format import default_hostname
        self.plugins = configured_plugins(self.config)
        loaded = [e.plugin for e in self.plugins if e.plugin is not None]
        sources = {"syscall"} | {p.source for p in loaded if p.source}
        libs = [e.plugin for e in self.plugins if e.origin == "library" and e.plugin is not None]
        self.engine = Engine(self.config, hostname=default_hostname(), sources=sources, plugins=libs)
        lib_classes = {id(c) for p in libs for c in p.field_classes()}
        own = {src: {f.name for c in self.engine.registry.classes_for(src) if id(c) not in lib_classes
                     for f in c.fields} for src in sources}
        check_plugins(libs, sorted(sources, key=lambda s: (s != "syscall", s)), own)

    # --- rules -------------------------------------------------------------------------------
    def rules_paths(self) -> list[str]:
        a = self.args
        if a.flag("rules"):
            return expand_rules_paths(a.all("rules"), strict=True)
        if self.config.has("rules_file") and self.config.has("rules_files"):
            raise RunError("both 'rules_files' and 'rules_file' keys set")
        key = "rules_files"
        if self.config.has("rules_file"):
            log.warning("Using deprecated config key 'rules_file' (singular form). Please use new "
                        "'rules_files' config key (plural form).")
            key = "rules_file"
        entries = [str(p) for p in self.config.list(key)]
        paths = expand_rules_paths(entries, strict=False)
        if not paths and not self.config.list(key):
            # The packaged k8s audit rules only when the configuration loads that source (as Falco ships them
            # with the k8saudit plugin): otherwise every one of them would be skipped with LOAD_UNKNOWN_SOURCE.
            loaded = self.engine.sources if self.engine is not None else {"syscall"}
            paths = [p for p in expand_rules_paths([packaged_path("rules", "default")], strict=False)
                     if not os.path.basename(p).startswith("k8s_audit") or "k8s_audit" in loaded]
        if not paths:
            name = os.path.basename(self.config.files[0]) if self.config.files else "lanner.yaml"
            raise RunError("You must specify at least one rules file/directory via -r or a rules_files entry in "
                           f"{name}")
        return paths

    def load_rules(self) -> None:
        eng = self.engine
        assert eng is not None
        paths = self.rules_paths()
        log.info("Loading rules from:")
        ok = eng.load_rules_files(paths)
        err = ""
        for r in eng.loader.results:
            level = logging.WARNING if r.schema_failed else logging.INFO
            log.log(level, "   %s | schema validation: %s", r.name, r.schema_valid)
            if not r.successful:
                err = r.verbose()
                break
            if r.warnings:
                log.warning("%s", r.verbose())
        errs = eng.loader.check_plugin_requirements(self.plugin_versions())
        if errs:
            err = "\n".join(errs)
        if err or not ok:
            raise RunError(err or eng.loader.results[-1].verbose())

    def plugin_versions(self) -> dict[str, str]:
        """Versions of the plugins the configuration loads, as Falco checks ``required_plugin_versions``:
        the container capability always (lanner's core), the others when ``load_plugins`` (or, without it,
        ``plugins``) names them."""
        if self.config.has("load_plugins"):
            loaded = {str(n) for n in self.config.list("load_plugins")}
        else:
            loaded = {str(e.get("name")) for e in self.config.list("plugins") if isinstance(e, dict)}
        out = {n: v for n, v in plugin_versions().items() if n in CORE_CAPABILITIES or n in loaded}
        for e in self.plugins:
            if e.plugin is not None:
                out[e.name] = out[e.plugin.name] = e.plugin.version
        return out

    def select_rules(self) -> None:
        eng = self.engine
        assert eng is not None
        for line in eng.apply_rule_selection(self.config.list("rules")):
            log.info(line)
        if (self.args.flag("disable-rule") or self.args.flag("disable-tag")) and self.args.flag("only-tag"):
            raise RunError("You can not specify both disabled (-D/-T) and enabled (-t) rules")
        for sub in self.args.all("disable-rule"):
            for r in eng.ruleset.rules:
                if sub in r.name:
                    eng.ruleset.enabled[r.name] = False
        for tag in self.args.all("disable-tag"):
            eng.ruleset.select(False, tag=tag)
        only = self.args.all("only-tag")
        if only:
            for r in eng.ruleset.rules:
                if not set(only) & set(r.tags):
                    eng.ruleset.enabled[r.name] = False
        eng.ruleset.reindex()

    def validate(self, files: list[str]) -> int:
        """``-V``: Falco's report. stdout gets each file's verbose result (a file with only warnings says
        so in one line and logs them), or the JSON results; a failure repeats the report as the error."""
        eng = self.engine
        assert eng is not None
        log.info("Validating rules file(s):")
        for f in files:
            log.info("   %s", f)
        ok = eng.load_rules_files(files)
        results = eng.loader.results
        errs = eng.loader.check_plugin_requirements(self.plugin_versions())
        if errs:
            raise RunError("\n".join(errs))
        parts = []
        for r in results:
            if not r.successful or not r.warnings:
                parts.append(r.verbose())
            else:
                parts.append(f"{r.name}: Ok, with warnings")
                log.warning("%s", r.verbose())
        summary = "\n".join(parts)
        if self.config.bool("json_output", False):
            print(dumps({"falco_load_results": [r.as_dict() for r in results]}))
        else:
            print(summary)
        if not ok:
            sys.stderr.write(f"Error: {summary}\n")
            return 1
        return 0

    def describe(self, one: str | None) -> int:
        eng = self.engine
        assert eng is not None
        rules = eng.loader.rules
        if one is not None:
            rules = [r for r in rules if r.name == one]
            if not rules:
                raise RunError(f"Rule '{one}' not found")
        if self.config.bool("json_output", False):
            st = eng.loader.state
            out: dict[str, Any] = {"rules": [{"info": {"name": r.name, "description": r.desc, "source": r.source,
                                                       "priority": r.priority.canonical, "enabled": r.enabled,
                                                       "tags": list(r.tags), "condition": r.condition,
                                                       "output": r.output.text}} for r in rules]}
            if one is None:
                out["macros"] = [{"info": {"name": m.name, "condition": m.condition}} for m in st.macros.values()]
                out["lists"] = [{"info": {"name": x.name, "items": x.items}} for x in st.lists.values()]
            print(dumps(out))
            return 0
        print(f"{'Rule':<50} Description")
        print(f"{'----':<50} -----------")
        for r in rules:
            wrapped = textwrap.wrap(" ".join(r.desc.split()), 80) or [""]
            print(f"{r.name:<50} {wrapped[0]}")
            for line in wrapped[1:]:
                print(" " * 51 + line)
            print()
        return 0

    def support(self) -> int:
        eng = self.engine
        assert eng is not None
        import yaml
        files = []
        for r in eng.loader.results:
            files.append({"name": r.name, "variants": [{"content": r.content}]})
        obj = {"cmdline": " ".join(["lanner", *self.args.argv]),
               "config": yaml.safe_dump(self.config.data, default_flow_style=True, width=1 << 30).strip(),
               "engine_info": version_info(), "rules_files": files, "system_info": system_info(),
               "version": V.LANNER_VERSION}
        print(dumps(obj))
        return 0

    def list_fields(self, source: str) -> int:
        eng = self.engine
        assert eng is not None
        if source and source not in eng.registry.sources() and source != "syscall":
            raise RunError(f"Unknown event source: {source}")
        fmt = self.output_format()
        names_only = self.args.flag("names-only")
        from lanner.fields import registry as reg
        classes = [c for c in eng.registry.classes if not source or c.serves(source)]
        if fmt == "json":
            print(dumps([{"name": c.name, "desc": c.desc, "event_sources": list(c.sources) or ["all"],
                          "fields": [{"name": f.name, "type": f.type, "desc": f.desc, "is_list": f.is_list,
                                      "arg": f.arg} for f in c.fields if reg.HIDDEN not in f.flags]}
                         for c in classes]))
            return 0
        for c in classes:
            if not names_only:
                srcs = ", ".join(c.sources) if c.sources else "all"
                print(f"\n{'## ' if fmt == 'markdown' else ''}Field Class: {c.name} ({c.desc})")
                print(f"Event Sources: {srcs}\n")
            for f in c.fields:
                if reg.HIDDEN in f.flags:
                    continue
                if names_only:
                    print(f.name)
                    continue
                name = f.name + ("[" + (f.arg_kind or "arg") + "]" if f.arg != reg.ARG_NONE else "")
                if f.dotted_arg:
                    name += f"  ({f.name}.<arg>)"
                typ = f.type + (" (list)" if f.is_list else "")
                if fmt == "markdown":
                    print(f"`{name}` | {typ} | {f.desc}")
                else:
                    print(f"{name:<40} {typ:<16} {f.desc}")
        return 0

    def list_events(self) -> int:
        from lanner.run.event_list import event_list_json, event_list_text
        fmt = self.output_format()
        sys.stdout.write(event_list_json() if fmt == "json" else event_list_text(fmt == "markdown"))
        return 0

    def output_format(self) -> str:
        """``--format`` (or the deprecated ``--markdown``) of the listing flags, checked as Falco does."""
        fmt = (self.args.get("format") or ("markdown" if self.args.flag("markdown") else "text")).lower()
        if fmt not in ("text", "markdown", "json"):
            raise RunError(f"Invalid format '{fmt}'. Valid values are: text, markdown, json")
        return fmt

    def list_plugins(self) -> int:
        """``--list-plugins``: the configured plugins, loaded but not initialised, as Falco lists them; without
        any ``plugins`` entry (lanner's packaged configuration) what lanner provides natively."""
        if not self.config.has("plugins"):
            shown = builtin_plugins()
        else:
            entries = configured_plugins(self.config, init=False)
            shown = [e.plugin if e.plugin is not None else builtin_plugin_classes()["container"]() for e in entries]
        sys.stdout.write(list_plugins_text(shown))
        return 0

    def plugin_info(self, which: str) -> int:
        """``--plugin-info NAME|PATH``: one configured plugin's info, init schema and, for a source plugin
        once initialised with its configuration, the open params it suggests (Falco's order and texts)."""
        for e in configured_plugins(self.config, init=False):
            if which not in (e.name, e.library_path) or e.plugin is None:
                continue
            p = e.plugin
            sys.stdout.write(plugin_info_text(p, *schema_of(p)))
            sys.stdout.flush()
            p.init(e.init_config)
            if caps_of(p) & SOURCING:
                sys.stdout.write(open_params_text(open_params_of(p)))
            return 0
        if not self.config.has("plugins"):
            for p in builtin_plugins():      # lanner's packaged configuration: what lanner provides natively
                if p.name == which:
                    sys.stdout.write(plugin_info_text(p, *schema_of(p)))
                    return 0
        raise RunError(f"can't find plugin and print its info: {which}")

    # --- events ------------------------------------------------------------------------------
    def run_events(self) -> int:
        eng = self.engine
        assert eng is not None
        duration = self.args.integer("duration")
        # the userspace driver keeps lanner's privileges: the command it starts must get them unchanged
        if self.config.str("engine.kind", "modern_ebpf").strip().lower() not in ("replay", "nodriver", "userspace") and \
                self.config.bool("security.drop_capabilities", True):
            from lanner.privileges import drop_unneeded
            drop_unneeded()      # before Runner starts any thread: capabilities are per thread
        runner = Runner(self.config, eng, self.args, self.stop, duration_s=duration if duration and duration > 0 else None,
                        plugins=self.plugins)
        pidfile = self.args.get("pidfile")
        if pidfile:
            try:
                write_private(pidfile, str(os.getpid()), file_mode(self.config))
            except OSError:
                log.error("Could not write pid to pidfile %s. Exiting.", pidfile)
                return 255
        self._install_signals(runner)
        # a hot restart would start the traced command again: the userspace driver never restarts
        if self.config.bool("watch_config_files", True) and runner.kind not in ("replay", "userspace"):
            watched = list(self.config.files) + [r.name for r in eng.loader.results]
            watched += [p for p in self.config.list("rules_files") if os.path.isdir(str(p))]
            runner.watch_files(watched, lambda: runner.request_restart(self.dry_run_error))
        try:
            runner.run()
        finally:
            runner.teardown()
        # a traced command owns stdout: lanner's exit statistics go to stderr then
        self.print_stats(runner, sys.stderr if runner.kind == "userspace" else sys.stdout)
        self.restart = runner.restart
        return runner.exit_code

    def dry_run_error(self) -> str | None:
        """Load config and rules as a restart would; the error text, or None if they are valid."""
        try:
            probe = App(self.args)
            probe.load_config()
            engine_kind(probe.config)
            probe.build_engine()
            configured_plugins(probe.config)
            probe.load_rules()
            probe.select_rules()
        except LannerError as e:
            return str(e)
        except Exception as e:  # noqa: BLE001 - any failure means: keep running the current setup
            return f"{type(e).__name__}: {e}"
        finally:
            setup_logging(self.config)
        return None

    def _install_signals(self, runner: Any) -> None:
        def stop(signum: int, _frame: Any) -> None:
            log.info("SIGINT received, exiting...")
            self.stop.set()

        def reopen(signum: int, _frame: Any) -> None:
            log.info("SIGUSR1 received, reopening outputs...")
            runner.reopen_outputs()

        def hup(signum: int, _frame: Any) -> None:
            log.info("SIGHUP received, restarting...")
            runner.request_restart(self.dry_run_error)

        if runner.kind == "userspace" and self.args.command:
            install_forwarding(runner)
            return
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGUSR1, reopen)
        signal.signal(signal.SIGHUP, hup)

    def print_stats(self, runner: Any, out: Any = None) -> None:
        eng = self.engine
        assert eng is not None
        st = eng.stats
        lines = [f"Events detected: {st.alerts}", "Rule counts by severity:"]
        for p in Priority:
            n = st.by_priority.get(p, 0)
            if n:
                lines.append(f"   {p.upper}: {n}")
        lines.append("Triggered rules by rule name:")
        for r in eng.loader.rules:
            n = st.by_rule.get(r.name, 0)
            if n:
                lines.append(f"   {r.name}: {n}")
        out = out or sys.stdout
        out.write("\n".join(lines) + "\n")
        out.flush()

