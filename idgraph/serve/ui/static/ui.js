// idgraph web page: the identity graph (records and evidence), the builder's live size and a
// change preview's segment moves.
// Served by the service itself; no library, no network beyond the page's own origin.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, tag, value, cls) {
    const node = document.createElement(tag);
    node.textContent = value;
    if (cls) node.className = cls;
    parent.appendChild(node);
    return node;
  }

  // A circle, relaxed by a few hundred steps of springs (edges) and repulsion (all pairs).
  function layout(nodes, edges, width, height) {
    const n = nodes.length;
    const cx = width / 2, cy = height / 2, r = Math.min(width, height) / 2 - 40;
    const pos = nodes.map((_, i) => ({
      x: cx + r * Math.cos((2 * Math.PI * i) / Math.max(n, 1)),
      y: cy + r * Math.sin((2 * Math.PI * i) / Math.max(n, 1)),
    }));
    if (n > 120) return fit(pos, width, height);
    const index = new Map(nodes.map((node, i) => [node.key, i]));
    const ideal = Math.max(60, r / Math.sqrt(Math.max(n, 1)));
    for (let step = 0; step < 300; step++) {
      const move = pos.map(() => ({ x: 0, y: 0 }));
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          const dx = pos[i].x - pos[j].x, dy = pos[i].y - pos[j].y;
          const d2 = Math.max(dx * dx + dy * dy, 1);
          const f = (ideal * ideal) / d2;
          move[i].x += dx * f * 0.05; move[i].y += dy * f * 0.05;
          move[j].x -= dx * f * 0.05; move[j].y -= dy * f * 0.05;
        }
      }
      for (const e of edges) {
        const i = index.get(e.a), j = index.get(e.b);
        const dx = pos[j].x - pos[i].x, dy = pos[j].y - pos[i].y;
        const d = Math.max(Math.sqrt(dx * dx + dy * dy), 1);
        const f = ((d - ideal) / d) * 0.1;
        move[i].x += dx * f; move[i].y += dy * f;
        move[j].x -= dx * f; move[j].y -= dy * f;
      }
      for (let i = 0; i < n; i++) {
        pos[i].x = Math.min(width - 30, Math.max(30, pos[i].x + Math.max(-10, Math.min(10, move[i].x))));
        pos[i].y = Math.min(height - 20, Math.max(20, pos[i].y + Math.max(-10, Math.min(10, move[i].y))));
      }
    }
    return fit(pos, width, height);
  }

  // Stretch the layout over the drawing area (labels need room on the right).
  function fit(pos, width, height) {
    const xs = pos.map((p) => p.x), ys = pos.map((p) => p.y);
    const minX = Math.min(...xs), maxX = Math.max(...xs), minY = Math.min(...ys), maxY = Math.max(...ys);
    const spanX = Math.max(maxX - minX, 1), spanY = Math.max(maxY - minY, 1);
    return pos.map((p) => ({
      x: pos.length === 1 ? width / 2 : 40 + ((p.x - minX) / spanX) * (width - 200),
      y: pos.length === 1 ? height / 2 : 30 + ((p.y - minY) / spanY) * (height - 60),
    }));
  }

  function showExplanation(panel, data) {
    panel.replaceChildren();
    if (data.error) {
      text(panel, "p", data.error, "problem");
      return;
    }
    text(panel, "h3", data.record_a + " ↔ " + data.record_b);
    text(panel, "p", data.same_customer ? "One customer: " + data.customer_a
      : "Different customers: " + data.customer_a + " and " + data.customer_b);
    const list = document.createElement("ol");
    list.id = "explain-steps";
    for (const s of data.steps) {
      const how = s.via === "identifier" ? "shared identifier " + s.identifier
        : "match rule " + s.rule + (s.fields.length ? " on " + s.fields.join(", ") : "")
          + (s.score !== null ? " (score " + s.score.toFixed(2) + ")" : "");
      text(list, "li", s.from_record + " → " + s.to_record + ": " + how);
    }
    panel.appendChild(list);
    for (const r of data.refusals || []) text(panel, "p", r.kind + ": " + r.reason, "warn");
    if (!data.steps.length && !(data.refusals || []).length) text(panel, "p", "No linking evidence between them.");
  }

  function drawGraph() {
    const source = document.getElementById("graph-data");
    const svg = document.getElementById("graph");
    const panel = document.getElementById("explain");
    if (!source || !svg || !panel) return;
    const graph = JSON.parse(source.textContent);
    const width = 720, height = 420;
    const pos = layout(graph.nodes, graph.edges, width, height);
    const at = new Map(graph.nodes.map((node, i) => [node.key, pos[i]]));
    const sources = [...new Set(graph.nodes.map((node) => node.source))];
    const edgeLayer = el("g", {}, svg), nodeLayer = el("g", {}, svg);
    for (const e of graph.edges) {
      const a = at.get(e.a), b = at.get(e.b);
      const group = el("g", { class: "edge " + e.kind, "data-a": e.a, "data-b": e.b, tabindex: 0 }, edgeLayer);
      el("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: "stroke" }, group);
      el("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: "hit" }, group);
      const told = { match: "", identifier: "", not_linking: " (not linking)" }[e.kind];
      el("title", {}, group).textContent =
        e.label + told + (e.kind === "match" ? " " + e.score.toFixed(2) : "");
      const pick = () => {
        for (const other of svg.querySelectorAll(".edge.selected")) other.classList.remove("selected");
        group.classList.add("selected");
        panel.replaceChildren();
        text(panel, "p", "Loading…", "hint");
        const query = new URLSearchParams({ a: e.a, b: e.b });
        fetch("/ui/explain?" + query.toString(), { credentials: "same-origin" })
          .then((answer) => answer.json())
          .then((data) => showExplanation(panel, data))
          .catch(() => showExplanation(panel, { error: "the explanation could not be loaded" }));
      };
      group.addEventListener("click", pick);
      group.addEventListener("keydown", (event) => { if (event.key === "Enter") pick(); });
    }
    graph.nodes.forEach((node, i) => {
      const p = pos[i];
      const group = el("g", { class: "node", "data-key": node.key }, nodeLayer);
      el("circle", { cx: p.x, cy: p.y, r: 9, class: "s" + (sources.indexOf(node.source) % 6) }, group);
      el("text", { x: p.x + 12, y: p.y + 4 }, group).textContent = node.label;
      el("title", {}, group).textContent = node.key;
    });
  }

  function liveSize() {
    const form = document.getElementById("builder");
    const out = document.getElementById("live-size");
    if (!form || !out) return;
    let timer = null, asked = 0;
    const refresh = () => {
      const params = new URLSearchParams(new FormData(form));
      params.delete("preview");
      const mine = ++asked;
      fetch("/ui/segments/size?" + params.toString(), { credentials: "same-origin" })
        .then((answer) => answer.json())
        .then((data) => {
          if (mine !== asked) return;
          out.textContent = data.error ? data.error : data.count + " customer(s)";
          out.className = data.error ? "problem" : "";
        })
        .catch(() => { out.textContent = "–"; });
    };
    form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 400); });
    form.addEventListener("change", () => { clearTimeout(timer); timer = setTimeout(refresh, 100); });
    if ([...form.querySelectorAll("input[name=cname], textarea")].some((box) => box.value.trim())) refresh();
  }

  // A preview's segment moves are worked out in the background: load them, then let the
  // change be confirmed (what it will do is on the page by then).
  function segmentMoves() {
    const box = document.getElementById("moves");
    if (!box || !box.dataset.ticket) return;
    const confirm = document.getElementById("confirm");
    if (confirm) confirm.disabled = true;
    const url = "/ui/moves/" + encodeURIComponent(box.dataset.ticket);
    const ask = () => {
      fetch(url, { credentials: "same-origin" })
        .then((answer) => answer.text().then((html) => ({ status: answer.status, html })))
        .then(({ status, html }) => {
          box.innerHTML = html;
          if (status === 202) { setTimeout(ask, 200); return; }
          box.dataset.loaded = "yes";
          if (confirm) confirm.disabled = false;
        })
        .catch(() => {
          box.replaceChildren();
          text(box, "p", "the segment moves could not be loaded; the result page lists them", "problem");
          if (confirm) confirm.disabled = false;
        });
    };
    ask();
  }

  drawGraph();
  liveSize();
  segmentMoves();
})();
