"""``lanner tune --report out.html``: one static page (inline SVG and CSS, no script, no network):
the noisiest rules with what the proposals remove, the proposals, and what was refused and why."""

from __future__ import annotations

import html
import time

from lanner.tune.propose import Proposal


def _bar_chart(rows: list[tuple[str, int, int]]) -> str:
    """Horizontal bars: total alerts per rule (grey) and the part the accepted proposals remove (green)."""
    if not rows:
        return "<p>No alerts.</p>"
    top = rows[:20]
    w, lh, label = 760, 22, 300
    mx = max(t for _, t, _ in top) or 1
    h = lh * len(top) + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" '
             f'aria-label="alerts per rule">']
    for i, (rule, total, removed) in enumerate(top):
        y = 4 + i * lh
        tw = (w - label - 60) * total / mx
        rw = (w - label - 60) * removed / mx
        name = html.escape(rule if len(rule) <= 44 else rule[:43] + "…")
        parts.append(f'<text x="{label - 6}" y="{y + 14}" text-anchor="end" font-size="12">{name}</text>')
        parts.append(f'<rect class="total" x="{label}" y="{y + 2}" width="{tw:.1f}" height="15" fill="#cfd8dc">'
                     f'<title>{html.escape(rule)}: {total} alerts</title></rect>')
        parts.append(f'<rect class="removed" x="{label}" y="{y + 2}" width="{rw:.1f}" height="15" fill="#43a047">'
                     f'<title>{removed} removed by the proposals</title></rect>')
        parts.append(f'<text x="{label + tw + 4:.1f}" y="{y + 14}" font-size="11">{removed}/{total}</text>')
    parts.append(f'<text x="{label}" y="{h - 4}" font-size="11" fill="#555">grey: alerts, green: removed by '
                 f'the accepted exceptions</text></svg>')
    return "".join(parts)


def render_report(*, by_rule_counts: dict[str, int], proposals: list[Proposal], removed: dict[str, int],
                  notes: list[str], sources: list[str], override_path: str) -> str:
    total = sum(by_rule_counts.values())
    gone = sum(removed.values())
    rows = sorted(((r, n, removed.get(r, 0)) for r, n in by_rule_counts.items()), key=lambda x: (-x[1], x[0]))
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>lanner tune report</title>',
        "<style>body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:16px;color:#1d2329}"
        "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;"
        "vertical-align:top}th{font-size:12px;color:#555}code{font-size:12px}.refused{color:#b71c1c}.ok{color:#2e7d32}"
        ".big{font-size:28px;font-weight:600}</style></head><body>",
        "<h1>lanner tune report</h1>",
        f"<p>{time.strftime('%Y-%m-%d %H:%M:%S %Z')} — alerts from {html.escape(', '.join(sources))}; "
        f"override: <code>{html.escape(override_path)}</code></p>",
        f'<p><span class="big" id="removed-pct">{(100.0 * gone / total if total else 0):.0f}%</span> of '
        f'{total} alerts removed by the accepted exceptions ({gone} alerts).</p>',
        "<h2>Noisiest rules</h2>", _bar_chart(rows),
        "<h2>Proposals</h2><table><tr><th>Rule</th><th>Exception</th><th>Values</th><th>Removes</th><th>Verdict</th></tr>",
    ]
    for p in proposals:
        for v in p.values:
            verdict = (f'<span class="refused">refused: {html.escape(v.refused)}</span>' if v.refused
                       else '<span class="ok">accepted</span>')
            out.append(f"<tr><td>{html.escape(p.rule)}</td><td><code>{html.escape(p.name)}</code>"
                       f"{' (declared)' if p.existing else ''}</td><td><code>{html.escape(p.describe(v))}</code></td>"
                       f"<td>{v.removes}</td><td>{verdict}</td></tr>")
    out.append("</table>")
    if notes:
        out.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out)
