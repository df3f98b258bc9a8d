// lanner console page: plain DOM + SVG, no libraries. Talks to the JSON API next to this file.
"use strict";
(function () {
  const PRIOS = ["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"];
  const PCOL = { Emergency: "#7f0000", Alert: "#b71c1c", Critical: "#d32f2f", Error: "#ef6c00",
    Warning: "#f9a825", Notice: "#1976d2", Informational: "#388e3c", Debug: "#757575" };
  const RCOL = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f"];
  const DIMS = [["rule", "Rules"], ["hostname", "Hosts"], ["image", "Container images"],
    ["namespace", "Namespaces"], ["pod", "Pods"], ["container", "Containers"], ["tag", "Tags"], ["priority", "Priorities"]];
  const FILTER_KEYS = ["rule", "priority", "hostname", "image", "namespace", "pod", "container", "tag", "q"];
  const SVGNS = "http://www.w3.org/2000/svg";
  const $ = (s) => document.querySelector(s);
  const state = { filters: {}, fields: {}, lastId: 0, oldest: 0, gen: 0, mode: "priority", summaryAt: 0, summaryTimer: null };

  function el(tag, attrs, ...kids) {
    const e = tag.startsWith("svg:") ? document.createElementNS(SVGNS, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v;
      else if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else e.setAttribute(k, v);
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
  }
  function params(extra) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(state.filters)) if (v) p.set(k, v);
    for (const [k, v] of Object.entries(state.fields)) if (v) p.set("f." + k, v);
    for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
    return p.toString();
  }
  async function api(path, extra) {
    const r = await fetch(path + "?" + params(extra), { credentials: "same-origin", cache: "no-store" });
    if (r.status === 401) throw new Error("not authorised: open this page with ?token=… or log in again");
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
    return body;
  }
  function showError(msg) { const e = $("#error"); e.textContent = msg || ""; e.hidden = !msg; }
  function fmtTime(ns) {
    const d = new Date(Number(ns) / 1e6);
    const pad = (n, w) => String(n).padStart(w || 2, "0");
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" +
      pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }

  // ---- alert list -----------------------------------------------------------------------------
  function row(a, fresh) {
    const tr = el("tr", { "data-id": a.id, "data-rule": a.rule, class: fresh ? "new" : "", on: { click: () => detail(a.id) } },
      el("td", { class: "time", text: fmtTime(a.time_ns) }),
      el("td", {}, el("span", { class: "prio p-" + a.priority, text: a.priority })),
      el("td", { class: "rule", text: a.rule }),
      el("td", { class: "opt", text: a.hostname }),
      el("td", { class: "opt container", text: a.container ? a.container + (a.image ? " (" + a.image + ")" : "") : (a.image || "host") }),
      el("td", { class: "out", text: a.output }));
    return tr;
  }
  function addRows(alerts, where) {
    const tb = $("#alerts tbody");
    if (where === "top") {
      for (let i = alerts.length - 1; i >= 0; i--) tb.prepend(row(alerts[i], true));
      while (tb.children.length > 500) tb.lastChild.remove();
    } else for (const a of alerts) tb.append(row(a, false));
    if (alerts.length) state.oldest = Math.min(...Array.from(tb.children, (t) => Number(t.dataset.id)));
    $("#shown").textContent = tb.children.length + " shown";
  }

  // ---- chart ----------------------------------------------------------------------------------
  function drawChart(tl) {
    const box = $("#chart");
    box.textContent = "";
    const series = tl[state.mode] || {};
    const names = Object.keys(series);
    const n = tl.buckets || 60;
    const W = Math.max(300, box.clientWidth || 600), H = box.clientWidth < 500 ? 150 : 200, L = 34, B = 18, T = 6;
    const svg = el("svg:svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "alerts over time" });
    const totals = new Array(n).fill(0);
    for (const s of names) series[s].forEach((c, i) => { totals[i] += c; });
    const max = Math.max(1, ...totals);
    const bw = (W - L - 4) / n;
    const y = (v) => H - B - (v / max) * (H - B - T);
    svg.append(el("svg:line", { class: "axis", x1: L, y1: H - B, x2: W - 2, y2: H - B }));
    svg.append(el("svg:line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
    svg.append(el("svg:text", { x: L - 4, y: T + 8, "text-anchor": "end", text: String(max) }));
    svg.append(el("svg:text", { x: L - 4, y: H - B, "text-anchor": "end", text: "0" }));
    const base = new Array(n).fill(0);
    names.forEach((name, si) => {
      const col = state.mode === "priority" ? (PCOL[name] || "#999") : RCOL[si % RCOL.length];
      series[name].forEach((c, i) => {
        if (!c) return;
        const y0 = y(base[i]), y1 = y(base[i] + c);
        base[i] += c;
        const r = el("svg:rect", { class: "bar", x: (L + 1 + i * bw).toFixed(1), y: y1.toFixed(1), width: Math.max(1, bw - 1).toFixed(1),
          height: Math.max(0.5, y0 - y1).toFixed(1), fill: col, "data-series": name });
        r.append(el("svg:title", { text: name + ": " + c + " at " + fmtTime(tl.start_ns + i * tl.step_ns) }));
        svg.append(r);
      });
    });
    if (tl.start_ns) {
      svg.append(el("svg:text", { x: L + 2, y: H - 4, text: fmtTime(tl.start_ns).slice(5, 19) }));
      svg.append(el("svg:text", { x: W - 4, y: H - 4, "text-anchor": "end", text: fmtTime(tl.start_ns + n * tl.step_ns).slice(5, 19) }));
    } else {
      svg.append(el("svg:text", { x: W / 2, y: H / 2, "text-anchor": "middle", text: "no alerts yet" }));
    }
    box.append(svg);
    const lg = $("#legend");
    lg.textContent = "";
    names.forEach((name, si) => {
      const col = state.mode === "priority" ? (PCOL[name] || "#999") : RCOL[si % RCOL.length];
      const i = el("i"); i.style.background = col;
      lg.append(el("span", {}, i, name + " (" + series[name].reduce((a, b) => a + b, 0) + ")"));
    });
  }

  // ---- breakdowns -----------------------------------------------------------------------------
  function drawBreakdowns(bd) {
    const root = $("#breakdowns");
    root.textContent = "";
    $("#total").textContent = bd.total;
    for (const [dim, title] of DIMS) {
      const rows = (bd.breakdown[dim] || []).filter((r) => r[0] !== "");
      if (!rows.length) continue;
      const max = Math.max(...rows.map((r) => r[1]));
      const card = el("div", { class: "card", "data-dim": dim }, el("h2", { text: title }));
      for (const [v, c] of rows) {
        const bar = el("span", { class: "bar" }); bar.style.width = (100 * c / max) + "%";
        card.append(el("div", { class: "bd-row", title: "filter on " + dim + " = " + v, on: { click: () => setFilter(dim === "tag" ? "tag" : dim, v) } },
          el("span", { class: "v", text: v }), el("span", { class: "muted", text: String(c) }), bar));
      }
      root.append(card);
    }
  }
  async function refreshSummary() {
    state.summaryAt = Date.now();
    const W = $("#chart").clientWidth || 600;
    const [tl, bd] = await Promise.all([api("api/timeline", { buckets: W < 500 ? 30 : 60 }), api("api/breakdown")]);
    drawChart(tl);
    drawBreakdowns(bd);
    $("#chart").dataset.total = String(bd.total);
  }
  function scheduleSummary() {
    if (state.summaryTimer) return;
    const wait = Math.max(0, 1500 - (Date.now() - state.summaryAt));
    state.summaryTimer = setTimeout(() => { state.summaryTimer = null; refreshSummary().catch((e) => showError(e.message)); }, wait);
  }

  // ---- detail ---------------------------------------------------------------------------------
  async function detail(id) {
    const a = await api("api/alert/" + id);
    $("#d-rule").textContent = a.rule;
    const body = $("#d-body");
    body.textContent = "";
    const dl = el("dl", {});
    const add = (k, v) => { dl.append(el("dt", { text: k }), el("dd", {}, v)); };
    add("time", fmtTime(a.time_ns));
    add("priority", el("span", { class: "prio p-" + a.priority, text: a.priority }));
    add("source", a.source);
    add("hostname", a.hostname);
    add("tags", el("span", {}, ...a.tags.map((t) => el("span", { class: "tag", text: t, on: { click: () => setFilter("tag", t) } }))));
    add("output", a.output);
    const ruleLink = el("a", { id: "d-rule-link", text: "rule description and tags", on: { click: () => ruleInfo(a.rule, body) } });
    body.append(el("p", {}, ruleLink), dl, el("h3", { text: "Output fields" }));
    const fl = el("dl", { id: "d-fields" });
    for (const k of Object.keys(a.output_fields).sort()) {
      const v = a.output_fields[k];
      const vt = v === null ? "<NA>" : (typeof v === "object" ? JSON.stringify(v) : String(v));
      fl.append(el("dt", { text: k }), el("dd", { title: "filter on this value", on: { click: () => setField(k, vt) } }, vt));
    }
    body.append(fl);
    $("#detail").hidden = false;
  }
  async function ruleInfo(name, body) {
    let box = $("#d-rule-info");
    if (!box) { box = el("div", { id: "d-rule-info", class: "rule-info" }); body.prepend(box); }
    try {
      const r = await api("api/rule", { name: name });
      box.textContent = "";
      box.append(el("strong", { text: r.name }), el("p", { text: r.desc }),
        el("div", {}, ...r.tags.map((t) => el("span", { class: "tag", text: t, on: { click: () => setFilter("tag", t) } }))));
    } catch (e) { box.textContent = e.message; }
  }

  // ---- noise (the tuner's proposals) -----------------------------------------------------------
  async function noise() {
    const box = $("#noise");
    box.textContent = "…";
    const r = await api("api/noise");
    box.textContent = "";
    if (!r.rules.length) { box.textContent = "no alerts"; return; }
    const max = Math.max(...r.rules.map((x) => x.alerts));
    const W = 600, LH = 20, L = 230;
    const svg = el("svg:svg", { viewBox: "0 0 " + W + " " + (r.rules.length * LH + 4), class: "noise-chart" });
    r.rules.forEach((x, i) => {
      const y = 2 + i * LH, tw = (W - L - 50) * x.alerts / max, rw = (W - L - 50) * x.removes / max;
      svg.append(el("svg:text", { x: L - 6, y: y + 13, "text-anchor": "end", text: x.rule.length > 34 ? x.rule.slice(0, 33) + "…" : x.rule }));
      svg.append(el("svg:rect", { x: L, y: y + 2, width: tw.toFixed(1), height: 14, fill: "#cfd8dc" }));
      svg.append(el("svg:rect", { x: L, y: y + 2, width: rw.toFixed(1), height: 14, fill: "#43a047" }));
      svg.append(el("svg:text", { x: (L + tw + 4).toFixed(1), y: y + 13, text: x.removes + "/" + x.alerts }));
    });
    box.append(svg);
    const tb = el("tbody");
    for (const x of r.rules) for (const p of x.proposals)
      tb.append(el("tr", {}, el("td", { text: x.rule }), el("td", { class: "out", text: p.when }), el("td", { text: String(p.removes) })));
    box.append(el("div", { class: "table-wrap" }, el("table", { id: "noise-table" },
      el("thead", {}, el("tr", {}, el("th", { text: "Rule" }), el("th", { text: "Exception" }), el("th", { text: "Removes" }))), tb)));
  }

  // ---- filters and live stream ------------------------------------------------------------------
  function readForm() {
    state.filters = {};
    for (const k of FILTER_KEYS) { const v = $("#f-" + k).value.trim(); if (v) state.filters[k] = v; }
    state.fields = {};
    for (const part of $("#f-fields").value.trim().split(/\s+/)) {
      const i = part.indexOf("=");
      if (i > 0) state.fields[part.slice(0, i)] = part.slice(i + 1);
    }
  }
  function writeForm() {
    for (const k of FILTER_KEYS) $("#f-" + k).value = state.filters[k] || "";
    $("#f-fields").value = Object.entries(state.fields).map(([k, v]) => k + "=" + v).join(" ");
  }
  function setFilter(k, v) { state.filters[k] = v; writeForm(); reload(); }
  function setField(k, v) { state.fields[k] = v; writeForm(); $("#detail").hidden = true; reload(); }
  function live(on, text) {
    $("#live").className = "dot " + (on ? "on" : "off");
    $("#live-text").textContent = text;
  }
  async function poll(gen) {
    while (gen === state.gen) {
      try {
        const r = await api("api/alerts", { after: state.lastId, wait: 15 });
        if (gen !== state.gen) return;
        live(true, "live");
        if (r.alerts.length) {
          state.lastId = r.last_id;
          addRows(r.alerts, "top");
          scheduleSummary();
        }
      } catch (e) {
        if (gen !== state.gen) return;
        live(false, "reconnecting");
        showError(e.message);
        await new Promise((res) => setTimeout(res, 2000));
      }
    }
  }
  async function reload() {
    const gen = ++state.gen;
    showError("");
    const url = new URL(location.href);
    for (const k of Array.from(url.searchParams.keys())) url.searchParams.delete(k);
    for (const [k, v] of new URLSearchParams(params()).entries()) url.searchParams.set(k, v);
    history.replaceState(null, "", url.pathname + (url.search || ""));
    try {
      const r = await api("api/alerts", { limit: 100 });
      if (gen !== state.gen) return;
      $("#alerts tbody").textContent = "";
      state.lastId = r.last_id;
      addRows(r.alerts, "bottom");
      $("#more").hidden = r.alerts.length < 100;
      await refreshSummary();
      document.body.dataset.ready = "1";
    } catch (e) { showError(e.message); live(false, "error"); }
    poll(gen);
  }
  async function older() {
    const r = await api("api/alerts", { limit: 100, before: state.oldest });
    addRows(r.alerts, "bottom");
    $("#more").hidden = r.alerts.length < 100;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const q = new URLSearchParams(location.search);
    for (const [k, v] of q.entries()) {
      if (k.startsWith("f.")) state.fields[k.slice(2)] = v;
      else if (FILTER_KEYS.includes(k)) state.filters[k] = v;
    }
    writeForm();
    $("#filters").addEventListener("submit", (e) => { e.preventDefault(); readForm(); reload(); });
    $("#clear").addEventListener("click", () => { state.filters = {}; state.fields = {}; writeForm(); reload(); });
    $("#d-close").addEventListener("click", () => { $("#detail").hidden = true; });
    $("#more").addEventListener("click", () => older().catch((e) => showError(e.message)));
    $("#noise-btn").addEventListener("click", () => noise().catch((e) => showError(e.message)));
    for (const b of document.querySelectorAll(".toggle button")) {
      b.addEventListener("click", () => {
        state.mode = b.dataset.mode;
        for (const o of document.querySelectorAll(".toggle button")) o.classList.toggle("on", o === b);
        refreshSummary().catch((e) => showError(e.message));
      });
    }
    let rt = null;
    window.addEventListener("resize", () => { clearTimeout(rt); rt = setTimeout(() => refreshSummary().catch(() => {}), 300); });
    reload();
  });
})();
