// kubectl traffic dashboard: draws /api/graph as a layered service graph (SVG) and tables, and refreshes
// them in place: DOM elements are keyed by node and link id and only their numbers change, so the page
// never reloads and the layout moves only when the set of nodes or links changes.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const NODE_W = 188, NODE_H = 58, COL_GAP = 120, ROW_GAP = 20, MARGIN = 40;
  const BANDS = ["good", "fair", "poor", "bad", "idle"];
  const $ = (id) => document.getElementById(id);

  const state = {
    config: null, window: null, graph: null, structure: "", positions: new Map(),
    nodes: new Map(), links: new Map(), nodeRows: new Map(), linkRows: new Map(),
    selected: null, view: { x: 0, y: 0, k: 1 }, bounds: null, timer: null, busy: false, refreshes: 0,
  };

  // ---------------------------------------------------------------- data

  async function getJSON(url) {
    const response = await fetch(url, { cache: "no-store" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
    return body;
  }

  async function refresh() {
    if (state.busy) return;
    state.busy = true;
    const window = state.window;
    try {
      const graph = await getJSON(`/api/graph?t=${encodeURIComponent(window)}`);
      if (window === state.window) {
        render(graph);
        state.refreshes += 1;
        $("error").hidden = true;
        $("status").textContent = `updated ${new Date(graph.updated).toLocaleTimeString()} · every ${state.config.refreshSeconds}s`;
      }
    } catch (error) {
      $("error").textContent = `Could not refresh: ${error.message}`;
      $("error").hidden = false;
    } finally {
      state.busy = false;
    }
  }

  function schedule() {
    clearInterval(state.timer);
    state.timer = setInterval(refresh, state.config.refreshSeconds * 1000);
  }

  // ---------------------------------------------------------------- layout

  // A layered (Sugiyama-style) layout: cycles broken by DFS, layers by longest path, order by barycenter
  // sweeps, tall layers wrapped into several columns. Deterministic for a given graph, so refreshes that do
  // not change the structure keep every position.
  function layout(nodes, links) {
    const n = nodes.length, index = new Map(nodes.map((node, i) => [node.id, i]));
    const out = Array.from({ length: n }, () => []), inn = Array.from({ length: n }, () => []);
    for (const link of links) {
      const s = index.get(link.source), t = index.get(link.target);
      if (s !== undefined && t !== undefined && s !== t) { out[s].push(t); inn[t].push(s); }
    }
    // Cycle breaking: edges to a node still on the DFS stack are ignored for layering.
    const seen = new Uint8Array(n), order = [], back = new Set();
    const roots = [...Array(n).keys()].sort((a, b) => (inn[a].length > 0) - (inn[b].length > 0) || a - b);
    for (const root of roots) {
      if (seen[root]) continue;
      const stack = [[root, 0]];
      seen[root] = 1;
      while (stack.length) {
        const top = stack[stack.length - 1], [v, i] = top;
        if (i < out[v].length) {
          top[1] += 1;
          const w = out[v][i];
          if (seen[w] === 1) back.add(v * n + w);
          else if (!seen[w]) { seen[w] = 1; stack.push([w, 0]); }
        } else { seen[v] = 2; order.push(v); stack.pop(); }
      }
    }
    order.reverse();   // a topological order of the remaining DAG
    const rank = new Int32Array(n);
    for (const v of order) for (const w of out[v]) if (!back.has(v * n + w)) rank[w] = Math.max(rank[w], rank[v] + 1);
    // Callers nobody calls sit right before their nearest callee: a long link would cross other cards.
    for (const v of order) {
      if (inn[v].length === 0 && out[v].length > 0) rank[v] = Math.max(0, Math.min(...out[v].map((w) => rank[w])) - 1);
    }
    const isolated = (v) => out[v].length === 0 && inn[v].length === 0;
    let maxRank = 0;
    for (let v = 0; v < n; v++) if (!isolated(v)) maxRank = Math.max(maxRank, rank[v]);
    const anyLinked = order.some((v) => !isolated(v));
    for (let v = 0; v < n; v++) if (isolated(v)) rank[v] = anyLinked ? maxRank + 1 : 0;   // idle ones last
    const layers = [];
    for (const v of order) (layers[rank[v]] = layers[rank[v]] || []).push(v);
    // Barycenter sweeps: order each layer by the mean position of its neighbours in the previous layer.
    const position = new Float64Array(n);
    const place = (layer) => layer.forEach((v, i) => { position[v] = i; });
    layers.forEach(place);
    const sweep = (from, to, step, neighbours) => {
      for (let r = from; r !== to; r += step) {
        const layer = layers[r];
        if (!layer) continue;
        const key = new Map(layer.map((v) => {
          const near = neighbours[v].filter((w) => rank[w] === r - step);
          return [v, near.length ? near.reduce((sum, w) => sum + position[w], 0) / near.length : position[v]];
        }));
        layer.sort((a, b) => key.get(a) - key.get(b));
        place(layer);
      }
    };
    for (let pass = 0; pass < 4; pass++) {
      sweep(1, layers.length, 1, inn);
      sweep(layers.length - 2, -1, -1, out);
    }
    // Wrap tall layers into several columns, and fold a long run of columns (a long call chain) into bands
    // stacked vertically, so that any graph of n nodes fills a roughly square area.
    const most = Math.max(8, Math.ceil(Math.sqrt(n) * 1.3));
    const columns = [];
    for (const layer of layers) {
      if (!layer) continue;
      for (let i = 0; i < layer.length; i += most) columns.push(layer.slice(i, i + most));
    }
    const positions = new Map();
    let top = MARGIN, width = 0;
    for (let first = 0; first < columns.length; first += most) {
      const band = columns.slice(first, first + most);
      const tallest = Math.max(1, ...band.map((c) => c.length));
      band.forEach((column, c) => {
        const offset = (tallest - column.length) * (NODE_H + ROW_GAP) / 2;
        column.forEach((v, i) => positions.set(nodes[v].id, {
          x: MARGIN + c * (NODE_W + COL_GAP), y: top + offset + i * (NODE_H + ROW_GAP), column: first + c,
        }));
      });
      width = Math.max(width, 2 * MARGIN + band.length * (NODE_W + COL_GAP) - COL_GAP);
      top += tallest * (NODE_H + ROW_GAP) - ROW_GAP + 3 * ROW_GAP + 40;
    }
    return { positions, width, height: top - 3 * ROW_GAP - 40 + MARGIN };
  }

  function linkPath(a, b) {
    const mid = NODE_H / 2;
    if (b.column > a.column) {   // forward: right side to left side
      const x1 = a.x + NODE_W, y1 = a.y + mid, x2 = b.x - 2, y2 = b.y + mid, dx = (x2 - x1) / 2;
      return `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
    }
    if (b.column === a.column) {   // within a (wrapped) column: a loop out of the right sides
      const x = a.x + NODE_W, y1 = a.y + mid, y2 = b.y + mid, bow = 40 + Math.abs(y2 - y1) * 0.15;
      return `M${x},${y1} C${x + bow},${y1} ${x + bow},${y2} ${x + 2},${y2}`;
    }
    // backward (a cycle): left side to right side, below the middle so it never hides a forward link
    const x1 = a.x, y1 = a.y + NODE_H * 0.8, x2 = b.x + NODE_W + 2, y2 = b.y + NODE_H * 0.8, dx = (x1 - x2) / 2;
    return `M${x1},${y1} C${x1 - dx},${y1 + 26} ${x2 + dx},${y2 + 26} ${x2},${y2}`;
  }

  // ---------------------------------------------------------------- drawing

  function svg(tag, attributes, parent) {
    const element = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    if (parent) parent.appendChild(element);
    return element;
  }

  // Writes only what changed: a refresh with the same numbers touches nothing, so the browser restyles and
  // repaints only the cells that did change (this keeps a 500-workload refresh cheap).
  function setText(element, value) {
    const text = String(value);
    if (element.textContent !== text) element.textContent = text;
  }

  function setAttr(element, name, value) {
    const text = String(value);
    if (element.getAttribute(name) !== text) element.setAttribute(name, text);
  }

  function shorten(text, max) {
    return text.length > max ? `${text.slice(0, max - 1)}…` : text;
  }

  function createNode(node) {
    const g = svg("g", { "data-id": node.id });
    svg("rect", { class: "card", width: NODE_W, height: NODE_H, rx: 9 }, g);
    svg("rect", { class: "stripe", width: 6, height: NODE_H, rx: 3 }, g);
    svg("text", { class: "title", x: 16, y: 19 }, g).textContent = shorten(node.name, 24);
    svg("text", { class: "subtitle", x: 16, y: 34 }, g).textContent =
      shorten(`${node.kind}${node.namespace ? " · " + node.namespace : ""}`, 30);
    const stats = svg("text", { class: "stats", x: 16, y: 50 }, g);
    for (const [field, suffix] of [["success", " · "], ["rps", " rps · p99 "], ["p99", ""]]) {
      svg("tspan", { "data-field": field }, stats);
      if (suffix) svg("tspan", {}, stats).textContent = suffix;
    }
    svg("text", { class: "note", x: 16, y: 50 }, g);
    svg("title", {}, g);
    g.addEventListener("click", (event) => { event.stopPropagation(); select(node.id); });
    return g;
  }

  function updateNode(g, node) {
    setAttr(g, "class", `node band-${node.measured ? node.band : "idle"}${node.measured ? "" : " external"}`
      + (state.selected === node.id ? " selected" : ""));
    const cells = node.measured && node.band !== "idle" ? node.cells : null;
    const stats = g.querySelector(".stats");
    setAttr(stats, "class", cells ? "stats" : "stats none");
    setText(g.querySelector(".note"), cells ? "" : node.measured ? "no requests in the window" : "outside this scope");
    if (cells) for (const field of ["success", "rps", "p99"]) setText(stats.querySelector(`[data-field=${field}]`), cells[field]);
    setText(g.querySelector("title"), `${node.kind} ${node.namespace ? node.namespace + "/" : ""}${node.name}`
      + (cells ? `\nsuccess ${cells.success} · ${cells.rps} rps · p50 ${cells.p50} · p90 ${cells.p90} · p99 ${cells.p99}`
        : `\n${g.querySelector(".note").textContent}`));
  }

  function createLink(link) {
    const path = svg("path", { "data-id": linkId(link) });
    svg("title", {}, path);
    return path;
  }

  function updateLink(path, link, widest) {
    setAttr(path, "class", `link band-${link.band}${path.classList.contains("near") ? " near" : ""}`);
    setAttr(path, "stroke-width", (1.2 + 7 * Math.sqrt(link.rps / widest)).toFixed(2));
    setAttr(path, "marker-end", `url(#arrow-${link.band})`);
    const c = link.cells;
    setText(path.querySelector("title"), `${label(link.source)} → ${label(link.target)}\n`
      + `success ${c.success} · ${c.rps} rps · p50 ${c.p50} · p90 ${c.p90} · p99 ${c.p99}`);
  }

  const linkId = (link) => `${link.source}>${link.target}`;
  const byId = (id) => state.graph.nodes.find((n) => n.id === id);
  function label(id) {
    const [, namespace, name] = id.split("/");
    return namespace ? `${namespace}/${name}` : name;
  }

  // Add and remove elements so that exactly the graph's nodes and links exist, keyed by id.
  function sync(items, elements, parent, key, create) {
    const wanted = new Set(items.map(key));
    for (const [id, element] of elements) if (!wanted.has(id)) { element.remove(); elements.delete(id); }
    for (const item of items) {
      const id = key(item);
      if (!elements.has(id)) { const element = create(item); elements.set(id, element); parent.appendChild(element); }
    }
  }

  function render(graph) {
    state.graph = graph;
    const structure = graph.nodes.map((n) => n.id).join("|") + "#" + graph.links.map(linkId).join("|");
    const changed = structure !== state.structure;
    if (changed) {
      const result = layout(graph.nodes, graph.links);
      state.positions = result.positions;
      state.bounds = { width: result.width, height: result.height };
      state.structure = structure;
    }
    sync(graph.nodes, state.nodes, $("nodes"), (n) => n.id, createNode);
    sync(graph.links, state.links, $("links"), linkId, createLink);
    const widest = Math.max(1e-9, ...graph.links.map((l) => l.rps));
    for (const node of graph.nodes) {
      const g = state.nodes.get(node.id), p = state.positions.get(node.id);
      if (changed) g.setAttribute("transform", `translate(${p.x},${p.y})`);
      updateNode(g, node);
    }
    for (const link of graph.links) {
      const path = state.links.get(linkId(link));
      if (changed) path.setAttribute("d", linkPath(state.positions.get(link.source), state.positions.get(link.target)));
      updateLink(path, link, widest);
    }
    renderTables(graph);
    if (state.selected && !state.nodes.has(state.selected)) state.selected = null;
    showDetails();
    $("empty").hidden = graph.nodes.length > 0;
    if (changed) fit();
  }

  // ---------------------------------------------------------------- tables

  const TRAFFIC = ["success", "rps", "p50", "p90", "p99"];

  function row(id, fields, onClick) {
    const tr = document.createElement("tr");
    tr.dataset.id = id;
    for (const field of fields) {
      const td = document.createElement("td");
      td.dataset.field = field;
      tr.appendChild(td);
    }
    tr.addEventListener("click", onClick);
    return tr;
  }

  function fill(tr, values, band) {
    for (const td of tr.children) setText(td, values[td.dataset.field]);
    setAttr(tr.querySelector('[data-field="success"]'), "class", `band-${band}`);
  }

  function trafficValues(item) {
    const values = {};
    for (const field of TRAFFIC) values[field] = item.cells[field];
    values.success_count = item.success_count;
    values.failure_count = item.failure_count;
    return values;
  }

  function renderTables(graph) {
    const measured = graph.nodes.filter((n) => n.measured);
    const nodeFields = ["namespace", "name", "kind", ...TRAFFIC, "success_count", "failure_count"];
    const tbody = $("nodes-table").tBodies[0], linkBody = $("links-table").tBodies[0];
    sync(measured, state.nodeRows, tbody, (n) => n.id, (n) => row(n.id, nodeFields, () => select(n.id)));
    let previous = null;
    for (const node of measured) {
      const tr = state.nodeRows.get(node.id);
      fill(tr, { namespace: node.namespace || "-", name: node.name, kind: node.kind, ...trafficValues(node) }, node.band);
      tr.classList.toggle("selected", node.id === state.selected);
      const expected = previous ? previous.nextSibling : tbody.firstChild;
      if (tr !== expected) tbody.insertBefore(tr, expected);   // the graph's order (namespace, name); moves only new rows
      previous = tr;
    }
    const linkFields = ["source", "target", ...TRAFFIC, "success_count", "failure_count"];
    sync(graph.links, state.linkRows, linkBody, linkId, (l) => row(linkId(l), linkFields, () => select(l.source)));
    for (const link of graph.links) {
      fill(state.linkRows.get(linkId(link)), { source: label(link.source), target: label(link.target), ...trafficValues(link) },
        link.band);
    }
    $("node-count").textContent = `(${measured.length})`;
    $("link-count").textContent = `(${graph.links.length})`;
  }

  // ---------------------------------------------------------------- selection

  function select(id) {
    state.selected = state.selected === id ? null : id;
    for (const node of state.graph.nodes) updateNode(state.nodes.get(node.id), node);
    for (const [rowId, tr] of state.nodeRows) tr.classList.toggle("selected", rowId === state.selected);
    showDetails();
  }

  function miniRows(tbody, links, peerOf) {
    tbody.replaceChildren(...links.map((link) => {
      const tr = document.createElement("tr");
      for (const text of [label(peerOf(link)), link.cells.success, `${link.cells.rps} rps`, `p99 ${link.cells.p99}`]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      return tr;
    }));
    if (!links.length) tbody.innerHTML = '<tr><td class="muted">none</td></tr>';
  }

  function showDetails() {
    const svgElement = $("graph"), id = state.selected;
    svgElement.classList.toggle("focused", Boolean(id));
    for (const element of svgElement.querySelectorAll(".near")) element.classList.remove("near");
    if (!id) { $("details").hidden = true; return; }
    const node = byId(id), outgoing = state.graph.links.filter((l) => l.source === id);
    const incoming = state.graph.links.filter((l) => l.target === id);
    state.nodes.get(id).classList.add("near");
    for (const link of [...outgoing, ...incoming]) {
      state.links.get(linkId(link)).classList.add("near");
      state.nodes.get(link.source).classList.add("near");
      state.nodes.get(link.target).classList.add("near");
    }
    $("details-title").textContent = node.name;
    $("details-kind").textContent = `${node.kind}${node.namespace ? " in " + node.namespace : ""}`;
    const numbers = node.measured ? [["Success", node.cells.success], ["RPS", node.cells.rps], ["Latency p50", node.cells.p50],
      ["Latency p90", node.cells.p90], ["Latency p99", node.cells.p99], ["Successes", node.success_count],
      ["Failures", node.failure_count], ["Window", state.graph.window]] : [["", "outside this scope"]];
    $("details-numbers").replaceChildren(...numbers.flatMap(([name, value]) => {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = name;
      dd.textContent = value;
      dd.dataset.field = name.toLowerCase().replace(/ /g, "_");
      return [dt, dd];
    }));
    miniRows($("details-out"), outgoing, (l) => l.target);
    miniRows($("details-in"), incoming, (l) => l.source);
    $("details").hidden = false;
  }

  // ---------------------------------------------------------------- pan and zoom

  function applyView() {
    const { x, y, k } = state.view;
    $("viewport").setAttribute("transform", `translate(${x},${y}) scale(${k})`);
    // Level of detail: text too small to read is not laid out at all (hover and click still tell everything).
    $("graph").classList.toggle("far", k < 0.55);
    $("graph").classList.toggle("farthest", k < 0.3);
  }

  function fit() {
    if (!state.bounds) return;
    const box = $("graph").getBoundingClientRect();
    const k = Math.min(1.25, box.width / state.bounds.width, (box.height - 30) / (state.bounds.height + 60));
    state.view = { k, x: (box.width - state.bounds.width * k) / 2, y: Math.max(0, (box.height - 30 - state.bounds.height * k) / 2) };
    applyView();
  }

  function enablePanZoom() {
    const element = $("graph");
    element.addEventListener("wheel", (event) => {
      event.preventDefault();
      const box = element.getBoundingClientRect(), factor = Math.exp(-event.deltaY * 0.0015);
      const k = Math.min(4, Math.max(0.05, state.view.k * factor)), px = event.clientX - box.left, py = event.clientY - box.top;
      state.view = { k, x: px - (px - state.view.x) * (k / state.view.k), y: py - (py - state.view.y) * (k / state.view.k) };
      applyView();
    }, { passive: false });
    let drag = null;
    element.addEventListener("pointerdown", (event) => {
      drag = { x: event.clientX, y: event.clientY, view: { ...state.view }, moved: false };
    });
    element.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 4) return;
      if (!drag.moved) { drag.moved = true; element.setPointerCapture(event.pointerId); element.classList.add("panning"); }
      state.view = { ...drag.view, x: drag.view.x + dx, y: drag.view.y + dy };
      applyView();
    });
    const end = () => { element.classList.remove("panning"); setTimeout(() => { drag = null; }, 0); };
    element.addEventListener("pointerup", end);
    element.addEventListener("pointercancel", end);
    element.addEventListener("click", () => { if (!(drag && drag.moved) && state.selected) select(state.selected); });
  }

  // ---------------------------------------------------------------- start

  function setUp(config) {
    state.config = config;
    state.window = config.window;
    for (const [band, colour] of Object.entries(config.colours)) document.documentElement.style.setProperty(`--${band}`, colour);
    const defs = $("markers");
    for (const band of BANDS) {
      const marker = svg("marker", { id: `arrow-${band}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 11,
        markerHeight: 11, orient: "auto", markerUnits: "userSpaceOnUse" }, defs);
      svg("path", { d: "M0,0 L10,5 L0,10 z", class: `arrow-${band}` }, marker);
    }
    const picker = $("window");
    for (const window of config.windows) {
      const option = document.createElement("option");
      option.value = option.textContent = window;
      picker.appendChild(option);
    }
    picker.value = config.window;
    picker.addEventListener("change", () => { state.window = picker.value; refresh(); schedule(); });
    $("scope").textContent = `${config.namespace ? "namespace " + config.namespace : "all namespaces"} · ${config.server}`;
    $("fit").addEventListener("click", fit);
    $("refresh").addEventListener("click", refresh);
    $("close-details").addEventListener("click", () => { if (state.selected) select(state.selected); });
    const percent = (min) => `${(min * 100).toFixed(1).replace(/\.0$/, "")}%`;
    const entries = config.bands.map((b, i) => [b.band,
      i === config.bands.length - 1 ? `< ${percent(config.bands[i - 1].min)}` : `≥ ${percent(b.min)}`]);
    entries.push(["idle", "no requests"], ["width", "edge width: requests/s"], ["dashed", "outside the namespace"]);
    $("legend").replaceChildren(...entries.map(([kind, text]) => {
      const span = document.createElement("span"), swatch = document.createElement("i");
      swatch.className = `swatch ${kind}`;
      span.append(swatch, text);
      return span;
    }));
    enablePanZoom();
    window.addEventListener("resize", fit);
  }

  async function start() {
    try {
      setUp(await getJSON("/api/config"));
    } catch (error) {
      $("error").textContent = `Could not start: ${error.message}`;
      $("error").hidden = false;
      return;
    }
    await refresh();
    schedule();
  }

  window.trafficDashboard = { render, refresh, select, layout, state };
  start();
})();
