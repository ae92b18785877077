// embrace-bench trajectory viewer. Every string from the run (model answers, names, reasons) reaches the
// page through textContent / createTextNode / setAttribute on inert attributes only: never innerHTML.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("run-data").textContent);
  const SVGNS = "http://www.w3.org/2000/svg";
  const SHORT = {target_forgetting: "forgetting", short_sighted_exploration: "short-sighted",
    spatial_semantic_drift: "drift", stuck: "stuck", looping: "looping", near_miss: "near miss", premature_finish: "premature",
    interaction_failed: "interaction", invalid_output: "invalid", timeout: "timeout", api_error: "api error"};
  const TAGCOLOR = {target_forgetting: "#f4d4ff", short_sighted_exploration: "#d7e9ff", spatial_semantic_drift: "#ffe0c2",
    stuck: "#e4e4e4", looping: "#fff2b3", near_miss: "#e3f7c8", premature_finish: "#ffd6d6", interaction_failed: "#d9f5e1",
    invalid_output: "#ffd1ec", timeout: "#f1e3c6", api_error: "#cfd4da"};
  const state = {ep: null, step: 0, hlTag: null, wholeMap: false};

  function el(tag, attrs, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "on") { for (const [ev, fn] of Object.entries(v)) n.addEventListener(ev, fn); }
      else n.setAttribute(k, String(v));
    }
    for (const c of kids.flat()) if (c !== null && c !== undefined && c !== false)
      n.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    return n;
  }
  function svg(tag, attrs, text) {
    const n = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) n.setAttribute(k, String(v));
    if (text !== undefined) { const t = document.createElementNS(SVGNS, "title"); t.textContent = text; n.appendChild(t); }
    return n;
  }
  const outcome = (e) => e.status === "error" ? "error" : e.success ? "success" : e.status === "timeout" ? "timeout" : "failed";
  const typeName = (t) => D.type_names[t] || t;
  const fmt = (x, d) => (x === null || x === undefined) ? "-" : Number(x).toFixed(d === undefined ? 0 : d);
  const chip = (name, extra) => el("span", {class: "chip", style: "background:" + (TAGCOLOR[name] || "#eee"),
    title: name}, SHORT[name] || name, extra || "");

  // ---- header and filters ---------------------------------------------------------------------------
  const R = D.run;
  document.body.insertBefore(el("header", {},
    el("b", {}, R.model || "run"), el("span", {}, el("span", {class: "k"}, "suite "), R.suite || "?", " ",
      el("span", {class: "k"}, "split "), R.split || "?"),
    el("span", {}, el("span", {class: "k"}, "episodes "), R.shown ? R.shown + " of " + R.n : String(R.n)),
    el("span", {}, el("span", {class: "k"}, "SR "), R.sr === null ? "-" : (100 * R.sr).toFixed(1) + "%"),
    el("span", {}, el("span", {class: "k"}, "errors "), String(R.n_errors)),
    el("span", {}, el("span", {class: "k"}, "prompt "), R.prompt || "-"),
    el("span", {}, el("span", {class: "k"}, "harness "), (R.harness || "") + " " + (R.git_sha || "")),
    el("span", {class: "k"}, R.dir),
    R.warnings && R.warnings.length ? el("span", {class: "warn", title: R.warnings.join("\n")},
      R.warnings.length + " warning(s)") : null), document.body.firstChild);

  const types = [...new Set(D.episodes.map((e) => e.type))].sort();
  const fType = el("select", {}, el("option", {value: ""}, "all types"),
    types.map((t) => el("option", {value: t}, typeName(t))));
  const fOut = el("select", {}, el("option", {value: ""}, "all outcomes"),
    ["success", "failed", "timeout", "error"].map((o) => el("option", {value: o}, o)));
  const tagCounts = {};
  D.episodes.forEach((e) => e.tags.forEach((t) => { tagCounts[t.name] = (tagCounts[t.name] || 0) + 1; }));
  const primCounts = {};
  D.episodes.forEach((e) => e.tags.forEach((t) => { if (t.primary) primCounts[t.name] = (primCounts[t.name] || 0) + 1; }));
  const fTag = el("select", {}, el("option", {value: ""}, "any tags"), el("option", {value: "-"}, "no tags"),
    el("optgroup", {label: "primary cause"}, D.tag_names.map((t) => el("option", {value: "*" + t}, t + " (" + (primCounts[t] || 0) + ")"))),
    el("optgroup", {label: "any tag"}, D.tag_names.map((t) => el("option", {value: t}, t + " (" + (tagCounts[t] || 0) + ")"))));
  const fText = el("input", {type: "search", placeholder: "task id or instruction"});
  const count = el("div", {class: "count"});
  const list = el("ol", {id: "list"});
  const main = el("main", {id: "detail"}, el("div", {class: "empty"}, "Pick an episode on the left."));
  document.body.appendChild(el("div", {id: "app"},
    el("aside", {}, el("div", {class: "filters"}, fType, fOut, fTag, fText, count), list), main));

  function matches(e) {
    if (fType.value && e.type !== fType.value) return false;
    if (fOut.value && outcome(e) !== fOut.value) return false;
    if (fTag.value === "-" && e.tags.length) return false;
    if (fTag.value.startsWith("*") && !e.tags.some((t) => t.primary && t.name === fTag.value.slice(1))) return false;
    if (fTag.value && fTag.value !== "-" && !fTag.value.startsWith("*") && !e.tags.some((t) => t.name === fTag.value)) return false;
    const q = fText.value.trim().toLowerCase();
    return !q || e.id.toLowerCase().includes(q) || (e.instruction || "").toLowerCase().includes(q);
  }
  let shown = [];
  function renderList() {
    list.textContent = "";
    shown = D.episodes.filter(matches);
    count.textContent = shown.length + " of " + D.episodes.length + " episodes";
    for (const e of shown) {
      const li = el("li", {class: e === state.ep ? "sel" : null, on: {click: () => select(e)}},
        el("span", {class: "dot " + outcome(e), title: outcome(e)}), el("span", {class: "id"}, e.id),
        el("span", {class: "meta"}, typeName(e.type) + " · " + e.n + " steps"),
        e.tags.length ? el("span", {class: "chips"}, e.tags.map((t) => chip(t.name, t.primary ? " ★" : ""))) : null);
      e._li = li;
      list.appendChild(li);
    }
  }
  [fType, fOut, fTag].forEach((f) => f.addEventListener("change", renderList));
  fText.addEventListener("input", renderList);

  // ---- the map ------------------------------------------------------------------------------------------
  function evidence(e) {
    const out = {};
    for (const t of e.tags) if (!state.hlTag || state.hlTag === t.name)
      for (const i of t.steps) (out[i] = out[i] || []).push(t.name);
    return out;
  }
  function drawMap(e) {
    const pts = [];
    const path = [e.start].concat(e.steps.map((s) => s.p)).filter((p) => p && p[0] !== null);
    path.forEach((p) => pts.push(p));
    e.goals.forEach((g) => pts.push(g));
    e.targets.concat(e.distractors).forEach((o) => { if (o[1] !== null) pts.push([o[1], o[2]]); });
    const m = D.maps[e.map];
    let x0, y0, x1, y1;
    if (m && m.bounds && state.wholeMap) { [x0, y0, x1, y1] = m.bounds; }
    else if (pts.length) {  // fit the episode: path, goals, targets, distractors, square, at least 20 m across
      x0 = Math.min(...pts.map((p) => p[0])); x1 = Math.max(...pts.map((p) => p[0]));
      y0 = Math.min(...pts.map((p) => p[1])); y1 = Math.max(...pts.map((p) => p[1]));
      const side = Math.max(x1 - x0, y1 - y0, 2000) + 800, cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
      x0 = cx - side / 2; x1 = cx + side / 2; y0 = cy - side / 2; y1 = cy + side / 2;
    } else return el("div", {class: "empty"}, "no poses recorded");
    const w = x1 - x0, h = y1 - y0, u = Math.max(w, h) / 420;  // u: one screen pixel in cm
    const root = svg("svg", {viewBox: [x0, y0, w, h].join(" "), role: "img"});
    if (m) for (const o of m.objects) {
      const [kind, x, y, yaw, a, b, name, cat] = o;
      const fill = cat === "wall" ? "#c9ced6" : cat === "house" || cat === "office" ? "#e3e0da" : "#d8dde3";
      const g = kind === "box"
        ? svg("rect", {x: -a, y: -b, width: 2 * a, height: 2 * b, fill, transform: `translate(${x} ${y}) rotate(${yaw})`}, name)
        : svg("circle", {cx: x, cy: y, r: a, fill}, name);
      root.appendChild(g);
    }
    e.goals.forEach((g, k) => {
      root.appendChild(svg("circle", {cx: g[0], cy: g[1], r: e.radius, fill: "rgba(26,127,55,0.08)",
        stroke: "#1a7f37", "stroke-width": 1.5 * u, "stroke-dasharray": `${6 * u} ${4 * u}`},
        `goal ${k + 1}: success radius ${e.radius} cm`));
      const t = svg("text", {x: g[0] + 8 * u, y: g[1] - 8 * u, "font-size": 12 * u, fill: "#1a7f37", "font-weight": 700});
      t.textContent = e.goals.length > 1 ? "G" + (k + 1) : "G"; root.appendChild(t);
    });
    const obj = (o, color, what) => {
      if (o[1] === null) return;
      const b = o[3], s = 7 * u;
      root.appendChild(b ? svg("rect", {x: b[0], y: b[1], width: Math.max(b[3] - b[0], s), height: Math.max(b[4] - b[1], s),
        fill: color, "fill-opacity": 0.75, stroke: "#222", "stroke-width": 0.8 * u}, what + ": " + o[0])
        : svg("rect", {x: o[1] - s, y: o[2] - s, width: 2 * s, height: 2 * s, fill: color, stroke: "#222",
          "stroke-width": 0.8 * u}, what + ": " + o[0]));
    };
    e.distractors.forEach((o) => obj(o, "#f08c2e", "distractor"));
    e.targets.forEach((o) => obj(o, "#2da44e", "target"));
    if (e.pick_place) obj(e.pick_place, "#3b82f6", "object to pick up");
    const ev = evidence(e);
    if (path.length > 1) root.appendChild(svg("polyline", {points: path.map((p) => p[0] + "," + p[1]).join(" "),
      fill: "none", stroke: "#0b62d6", "stroke-width": 2.5 * u, "stroke-linejoin": "round", "stroke-opacity": 0.85}));
    const arrow = (p, size, color, title) => {
      const a = (p[2] || 0) * Math.PI / 180, c = Math.cos(a), s = Math.sin(a);
      const tip = [p[0] + c * size, p[1] + s * size], l = [p[0] - s * size * 0.45, p[1] + c * size * 0.45],
        r = [p[0] + s * size * 0.45, p[1] - c * size * 0.45];
      root.appendChild(svg("polygon", {points: [tip, l, r].map((q) => q.join(",")).join(" "), fill: color,
        stroke: "#fff", "stroke-width": u}, title));
    };
    if (e.start) arrow(e.start, 16 * u, "#1f2933", "start");
    e.steps.forEach((s, i) => {
      if (!s.p) return;
      if (ev[i]) root.appendChild(svg("circle", {cx: s.p[0], cy: s.p[1], r: 9 * u, fill: "none", stroke: "#d4a72c",
        "stroke-width": 3 * u}));
      const c = svg("circle", {cx: s.p[0], cy: s.p[1], r: (i === state.step ? 6 : 3.2) * u,
        fill: s.col ? "#cf222e" : i === state.step ? "#0b62d6" : "#fff", stroke: "#0b62d6", "stroke-width": 1.2 * u,
        style: "cursor:pointer"}, `step ${i}: ${s.a || "invalid"}` + (s.col ? " (collided)" : "") +
        (ev[i] ? " — evidence: " + ev[i].join(", ") : ""));
      c.addEventListener("click", () => go(i));
      root.appendChild(c);
      if (s.drop) root.appendChild(svg("circle", {cx: s.drop[0], cy: s.drop[1], r: 6 * u, fill: "#3b82f6",
        stroke: "#000", "stroke-width": u}, `dropped at step ${i}`));
    });
    const cur = e.steps[state.step] && e.steps[state.step].p;
    if (cur) arrow(cur, 14 * u, "#0b62d6", `after step ${state.step}`);
    return el("div", {class: "mapbox"}, root, el("div", {class: "legend"},
      el("span", {style: "color:#1a7f37"}, "◯ goal radius"), el("span", {style: "color:#2da44e"}, "■ target"),
      el("span", {style: "color:#f08c2e"}, "■ distractor"), e.pick ? el("span", {style: "color:#3b82f6"}, "■ object to pick") : null,
      el("span", {style: "color:#cf222e"}, "● collided"), el("span", {style: "color:#d4a72c"}, "◯ evidence"),
      m ? el("button", {class: "chip", on: {click: () => { state.wholeMap = !state.wholeMap; render(); }}},
        state.wholeMap ? "fit episode" : "whole map") : el("span", {}, "(no map file: objects from the record only)")));
  }

  // ---- the step stage -----------------------------------------------------------------------------------
  // Frame k is the observation after step k-1; an invalid answer leaves the world (and the frame) as it
  // was, so no file is written for it: show the latest earlier frame and say so.
  function frameAt(e, k) {
    for (let j = Math.min(k, e.frames.length - 1); j >= 0; j--) if (e.frames[j]) return [e.frames[j], j];
    return [null, -1];
  }
  function frameCap(k, j, what) { return j === k || j < 0 ? `${what} (frame ${k})` : `${what} (unchanged: frame ${j})`; }
  const frameFig = (src, cap) => el("figure", {}, src ? el("img", {src, alt: cap, loading: "lazy"})
    : el("div", {class: "noimg"}, "no frame"), el("figcaption", {}, cap));
  function visLine(e, vis) {
    const tg = new Set(e.targets.map((o) => o[0]).concat(e.pick ? [e.pick] : []));
    const ds = new Set(e.distractors.map((o) => o[0]));
    const rank = (n) => tg.has(n) ? 0 : ds.has(n) ? 1 : 2;  // the task's objects first, then the biggest
    const items = Object.entries(vis || {}).sort((a, b) => rank(a[0]) - rank(b[0]) || b[1] - a[1]).slice(0, 12);
    if (!items.length) return el("div", {class: "vis"}, "nothing named in view");
    return el("div", {class: "vis"}, "in view (mask px): ", items.map(([n, px]) =>
      el("span", {class: tg.has(n) ? "tgt" : ds.has(n) ? "dis" : null}, n + " " + px)));
  }
  function stage(e) {
    const i = state.step, s = e.steps[i];
    if (!s) return el("div", {class: "stage empty"}, "no steps recorded");
    const slider = el("input", {type: "range", min: 0, max: e.steps.length - 1, value: i,
      on: {input: (ev) => go(Number(ev.target.value))}});
    const ev = evidence(e)[i];
    const seen = frameAt(e, i), after = frameAt(e, i + 1);
    const prevVis = i === 0 ? e.start_vis : e.steps[i - 1].vis;
    return el("div", {class: "stage"},
      el("div", {class: "frames"}, frameFig(seen[0], frameCap(i, seen[1], `seen at step ${i}`)),
        s.a === "Finish" ? frameFig(null, "Finish: no frame after") :
          frameFig(after[0], frameCap(i + 1, after[1], `after ${s.a || "the invalid answer"}`))),
      el("div", {class: "nav"}, el("button", {on: {click: () => go(i - 1)}}, "◀"), slider,
        el("button", {on: {click: () => go(i + 1)}}, "▶"), el("span", {}, `step ${i} / ${e.steps.length - 1}`)),
      el("div", {}, el("span", {class: "act" + (s.valid ? "" : " invalid")}, s.a || "no valid action"),
        s.reasks ? el("span", {class: "chip"}, s.reasks + " re-ask(s)") : null,
        s.col ? el("span", {class: "chip", style: "background:#ffd6d6"}, "collided") : null,
        s.held ? el("span", {class: "chip"}, "holding " + s.held) : null,
        s.changed.length ? el("span", {class: "chip"}, "door change: " + s.changed.join(", ")) : null,
        s.cached ? el("span", {class: "chip"}, "cached") : null,
        ev ? ev.map((t) => chip(t, " evidence")) : null,
        el("span", {class: "kv", style: "display:inline-flex;margin-left:10px"},
          el("span", {}, "pose ", el("b", {}, s.p ? `${fmt(s.p[0])}, ${fmt(s.p[1])} · yaw ${fmt(s.p[2])}°` : "-")),
          s.lat ? el("span", {}, "latency ", el("b", {}, s.lat + " s")) : null,
          s.tok && (s.tok.in || s.tok.out) ? el("span", {}, "tokens ", el("b", {}, `${s.tok.in || 0} / ${s.tok.out || 0}`)) : null)),
      s.think ? el("div", {class: "think"}, s.think) : el("div", {class: "think", style: "color:#888"}, "(no think text)"),
      s.err ? el("div", {class: "err"}, s.err) : null,
      visLine(e, prevVis),
      el("details", {}, el("summary", {}, "raw response" + (s.reask.length ? ` and ${s.reask.length} earlier tr${s.reask.length > 1 ? "ies" : "y"}` : "")),
        s.reask.map((r, k) => el("div", {}, el("div", {class: "legend"}, `try ${k + 1} (invalid)`), el("pre", {class: "raw"}, r))),
        el("pre", {class: "raw"}, s.raw)));
  }
  function stepGrid(e) {
    const ev = evidence(e);
    return el("div", {class: "steps"}, e.steps.map((s, i) => el("div", {
      class: "step" + (i === state.step ? " cur" : "") + (ev[i] ? " ev" : ""), on: {click: () => go(i)},
      title: ev[i] ? "evidence: " + ev[i].join(", ") : null},
    frameAt(e, i)[0] ? el("img", {src: frameAt(e, i)[0], alt: `frame ${i}`, loading: "lazy"}) : el("div", {class: "noimg"}),
    el("div", {class: "h"}, el("b", {}, String(i)), el("span", {class: "act" + (s.valid ? "" : " invalid")}, s.a || "invalid")),
    el("div", {class: "t"}, s.think || s.err || ""))));
  }

  // ---- the episode ------------------------------------------------------------------------------------------
  function render() {
    const e = state.ep;
    main.textContent = "";
    if (!e) { main.appendChild(el("div", {class: "empty"}, "Pick an episode on the left.")); return; }
    const o = outcome(e);
    main.appendChild(el("div", {class: "card"},
      el("h2", {}, e.id, " ", el("span", {class: "badge " + o}, o)),
      el("div", {class: "kv"}, el("span", {}, "type ", el("b", {}, typeName(e.type))), el("span", {}, "split ", el("b", {}, e.split)),
        el("span", {}, "map ", el("b", {}, e.map)), el("span", {}, "steps ", el("b", {}, `${e.n} (demo ${e.s_opt})`)),
        el("span", {}, "GDE ", el("b", {}, fmt(e.gde) + " cm")), el("span", {}, "SSPL ", el("b", {}, fmt(e.sspl, 3))),
        e.cost ? el("span", {}, "cost ", el("b", {}, "$" + e.cost.toFixed(4))) : null,
        e.door ? el("span", {}, "door ", el("b", {}, e.door)) : null, e.pick ? el("span", {}, "pick ", el("b", {}, e.pick)) : null),
      el("div", {class: "instr"}, e.instruction),
      e.error ? el("div", {class: "err"}, e.error) : null));
    const tagBox = el("div", {class: "card tags"}, el("b", {}, e.tags.length ? "Failure tags (primary cause first)" : "No failure tags"),
      e.tags.length ? el("span", {class: "legend"}, " — click a tag to highlight only its evidence, a step to jump") : null,
      e.tags.map((t) => el("div", {class: "tag" + (t.primary ? " primary" : "")},
        el("span", {class: "role"}, t.primary ? "primary cause" : "evidence"),
        el("button", {class: "chip" + (state.hlTag === t.name ? " on" : ""), style: "background:" + (TAGCOLOR[t.name] || "#eee"),
          on: {click: () => { state.hlTag = state.hlTag === t.name ? null : t.name; render(); }}}, t.name),
        el("span", {class: "reason"}, t.reason),
        el("span", {class: "ev"}, t.steps.map((i) => el("button", {on: {click: () => go(i)}}, "step " + i))))));
    main.appendChild(tagBox);
    main.appendChild(el("div", {class: "card row"}, drawMap(e), stage(e)));
    main.appendChild(el("div", {class: "card"}, el("b", {}, "Steps"), stepGrid(e)));
  }
  function go(i) {
    if (!state.ep) return;
    state.step = Math.max(0, Math.min(state.ep.steps.length - 1, i));
    const y = main.scrollTop;
    render();
    main.scrollTop = y;
  }
  function select(e) {
    if (state.ep && state.ep._li) state.ep._li.classList.remove("sel");
    state.ep = e; state.step = 0; state.hlTag = null;
    if (e._li) e._li.classList.add("sel");
    if (location.hash.slice(1) !== encodeURIComponent(e.id)) history.replaceState(null, "", "#" + encodeURIComponent(e.id));
    main.scrollTop = 0;
    render();
  }
  document.addEventListener("keydown", (ev) => {
    if (ev.target.tagName === "INPUT" && ev.target.type !== "range" || ev.target.tagName === "SELECT") return;
    if (ev.key === "ArrowRight") go(state.step + 1);
    else if (ev.key === "ArrowLeft") go(state.step - 1);
    else if (ev.key === "j" || ev.key === "k") {
      const k = shown.indexOf(state.ep) + (ev.key === "j" ? 1 : -1);
      if (shown[k]) { select(shown[k]); shown[k]._li.scrollIntoView({block: "nearest"}); }
    }
  });

  renderList();
  const wanted = decodeURIComponent(location.hash.slice(1));
  const first = D.episodes.find((e) => e.id === wanted) || shown.find((e) => e.tags.length) || shown[0];
  if (first) select(first);
})();
