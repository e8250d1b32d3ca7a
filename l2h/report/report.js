/* l2h report: an offline explorer of one hierarchy. Written for this project (MIT, like the rest
   of l2h); no library, no network: everything it shows is in the JSON block of this page. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg"; // a namespace name, never fetched
  var D = JSON.parse(document.getElementById("l2h-data").textContent);
  var K = D.K, N = 2 * K - 1, ROOT = N - 1;
  var MAX_TIPS = 80;          // tips shown when the page opens (deep subtrees stay folded)
  var MAX_MATCH = 300;        // search results opened at once
  var ROW = 16, STEP = 22;    // rectangular: pixels per tip row and per level
  var NEUTRAL = "#777777";

  // ---- tree arrays
  var left = new Int32Array(N).fill(-1), right = new Int32Array(N).fill(-1), parent = new Int32Array(N).fill(-1);
  var leaves = new Int32Array(N);
  for (var i = 0; i < K; i++) leaves[i] = 1;
  for (var t = 0; t < K - 1; t++) {
    var a = D.merges[2 * t], b = D.merges[2 * t + 1], v = K + t;
    left[v] = a; right[v] = b; parent[a] = v; parent[b] = v; leaves[v] = leaves[a] + leaves[b];
  }
  var open = new Uint8Array(N); // 1: an internal node shows its children
  var matched = new Uint8Array(N), selected = -1, cutLevel = 0, layout = "rectangular";

  function nodeName(v) { return v < K ? D.names[v] : "n" + v; }
  function className(c) { return c < 0 ? "(no points)" : D.classes[c]; }
  function purityClass(p) { return p >= 0.9 ? "high" : p >= 0.6 ? "medium" : "low"; }
  function pct(p) { return Math.floor(p * 100 + 1e-9) + "%"; }
  function fmt(n) { return n.toLocaleString("en-US"); }
  function hasPoints() { return D.size !== null; }
  function hasLabels() { return D.maj !== null; }
  function majorityColor(v) {
    if (!hasLabels() || D.maj[v] < 0) return "#333333";
    var g = D.classColor[D.maj[v]];
    return g >= 0 ? D.colors[g] : "#333333";
  }
  function cladeColor(v) { return D.clade && D.clade[v] >= 0 ? D.colors[D.clade[v]] : NEUTRAL; }

  // ---- folding
  function foldAll() { open.fill(0); }
  function initialFolds() {
    // open the visible folded node with the most leaves until MAX_TIPS tips show
    foldAll();
    var tips = [ROOT], count = 1;
    while (true) {
      var best = -1, bi = -1;
      for (var j = 0; j < tips.length; j++) {
        var u = tips[j];
        if (u >= K && (best < 0 || leaves[u] > leaves[best])) { best = u; bi = j; }
      }
      if (best < 0 || count + 1 > MAX_TIPS) break;
      open[best] = 1;
      tips.splice(bi, 1, left[best], right[best]);
      count += 1;
    }
  }
  function openPathTo(v) { for (var u = parent[v]; u >= 0; u = parent[u]) open[u] = 1; }
  function cutNodes(k) {
    // the k groups left after K - k merges: nodes below the threshold whose parent is above it
    var limit = K + (K - k), out = [], stack = [ROOT];
    while (stack.length) {
      var u = stack.pop();
      if (u < limit) out.push(u); else { stack.push(right[u]); stack.push(left[u]); }
    }
    return out;
  }
  function foldToCut(k) {
    foldAll();
    var limit = K + (K - k);
    for (var u = limit; u < N; u++) open[u] = 1;
  }

  // ---- layout: visible nodes in drawing order with positions
  function visible() {
    var order = [], depth = new Int32Array(N).fill(-1), stack = [ROOT];
    depth[ROOT] = 0;
    var tips = [];
    while (stack.length) {
      var u = stack.pop();
      order.push(u);
      if (u >= K && open[u]) {
        depth[right[u]] = depth[u] + 1; depth[left[u]] = depth[u] + 1;
        stack.push(right[u]); stack.push(left[u]);
      } else tips.push(u);
    }
    var pos = new Float64Array(N);
    for (var j = 0; j < tips.length; j++) pos[tips[j]] = j;
    for (var q = order.length - 1; q >= 0; q--) { // children come after parents in `order`
      var w = order[q];
      if (w >= K && open[w]) pos[w] = (pos[left[w]] + pos[right[w]]) / 2;
    }
    var maxDepth = 0;
    for (var z = 0; z < order.length; z++) maxDepth = Math.max(maxDepth, depth[order[z]]);
    return { order: order, tips: tips, depth: depth, pos: pos, maxDepth: maxDepth };
  }

  function el(name, attrs, parentEl) {
    var e = document.createElementNS(SVG, name);
    for (var key in attrs) e.setAttribute(key, attrs[key]);
    if (parentEl) parentEl.appendChild(e);
    return e;
  }

  function tipLabel(v) {
    var s = v < K ? nodeName(v) : nodeName(v) + " \u00b7 " + fmt(leaves[v]) + " leaves";
    if (hasLabels() && D.maj[v] >= 0) s += " \u00b7 " + className(D.maj[v]) + " " + pct(D.pur[v]);
    if (hasPoints()) s += " \u00b7 n=" + fmt(D.size[v]);
    return s;
  }

  var zoomG = document.getElementById("zoom"), svg = document.getElementById("tree");
  var view = { x: 20, y: 20, s: 1 }, lastLayout = null;

  function draw() {
    var L = visible();
    lastLayout = L;
    while (zoomG.firstChild) zoomG.removeChild(zoomG.firstChild);
    var edges = el("g", {}, zoomG), nodes = el("g", {}, zoomG);
    var m = L.tips.length, radial = layout === "radial";
    var R = Math.max(120, m * ROW / (2 * Math.PI)), dr = R / Math.max(1, L.maxDepth + 1);
    function xy(v) {
      if (!radial) return [L.depth[v] * STEP, L.pos[v] * ROW];
      var ang = 2 * Math.PI * L.pos[v] / m, r = L.depth[v] * dr;
      return [r * Math.cos(ang), r * Math.sin(ang)];
    }
    var cut = cutLevel > 0 ? new Set(cutNodes(cutLevel)) : null;
    for (var j = 0; j < L.order.length; j++) {
      var v = L.order[j], p = xy(v);
      if (parent[v] >= 0) {
        var u = parent[v], pu = xy(u), d;
        if (!radial) d = "M" + pu[0] + "," + pu[1] + "V" + p[1] + "H" + p[0];
        else {
          var a1 = 2 * Math.PI * L.pos[u] / m, a2 = 2 * Math.PI * L.pos[v] / m, ru = L.depth[u] * dr;
          var sx = ru * Math.cos(a2), sy = ru * Math.sin(a2), bx = ru * Math.cos(a1), by = ru * Math.sin(a1);
          var sweep = a2 > a1 ? 1 : 0, large = Math.abs(a2 - a1) > Math.PI ? 1 : 0;
          d = "M" + bx + "," + by + (ru > 0 ? "A" + ru + "," + ru + " 0 " + large + " " + sweep + " " + sx + "," + sy : "") +
            "L" + p[0] + "," + p[1];
        }
        el("path", { d: d, class: "edge", stroke: cladeColor(v) }, edges);
      }
      var g = el("g", { class: "node" + (v === selected ? " selected" : "") + (matched[v] ? " match" : ""),
                        "data-node": v, transform: "translate(" + p[0] + "," + p[1] + ")" }, nodes);
      var isTip = v < K || !open[v];
      var angle = radial ? 2 * Math.PI * L.pos[v] / m : 0;
      var rot = angle * 180 / Math.PI, flip = radial && Math.cos(angle) < 0;
      if (v >= K && !open[v]) {
        var h = Math.min(ROW * 0.45, 3 + Math.log(leaves[v] + 1)), len = 10 + 2 * Math.log(leaves[v] + 1);
        var tri = el("polygon", { points: "0,0 " + len + "," + (-h) + " " + len + "," + h, class: "tri toggle",
                                  fill: cladeColor(v), "data-node": v }, g);
        if (radial) tri.setAttribute("transform", "rotate(" + rot + ")");
        var lab = el("text", { x: flip ? -(len + 4) : len + 4, y: 0, fill: majorityColor(v), class: "label" }, g);
        lab.textContent = tipLabel(v);
        if (radial) { lab.setAttribute("transform", "rotate(" + (flip ? rot + 180 : rot) + ")"); lab.setAttribute("x", flip ? -(len + 4) : len + 4); if (flip) lab.setAttribute("text-anchor", "end"); }
      } else {
        el("circle", { r: v < K ? 3 : 4, fill: v < K ? majorityColor(v) : cladeColor(v), class: v < K ? "" : "toggle", "data-node": v }, g);
        if (isTip) {
          var t2 = el("text", { x: flip ? -7 : 7, y: 0, fill: majorityColor(v), class: "label" }, g);
          t2.textContent = tipLabel(v);
          if (radial) { t2.setAttribute("transform", "rotate(" + (flip ? rot + 180 : rot) + ")"); if (flip) t2.setAttribute("text-anchor", "end"); }
        }
      }
      if (cut && cut.has(v)) el("circle", { r: 7, class: "cut" }, g);
    }
    status("showing " + fmt(L.tips.length) + " of " + fmt(K) + " leaves (" + fmt(L.order.length) + " nodes)");
    applyView();
  }

  function status(text) { document.getElementById("status").textContent = text; }
  function applyView() { zoomG.setAttribute("transform", "translate(" + view.x + "," + view.y + ") scale(" + view.s + ")"); }
  function fit() {
    var box = zoomG.getBBox(), w = svg.clientWidth || 800, h = svg.clientHeight || 600;
    if (!box.width || !box.height) return;
    var s = Math.min(w / (box.width + 40), h / (box.height + 40), 2);
    view.s = s; view.x = (w - box.width * s) / 2 - box.x * s; view.y = (h - box.height * s) / 2 - box.y * s;
    applyView();
  }

  // ---- details panel
  function panel(v) {
    var P = document.getElementById("panel");
    while (P.firstChild) P.removeChild(P.firstChild);
    function add(tag, text, cls, parentEl) {
      var e = document.createElement(tag);
      if (text !== undefined && text !== null) e.textContent = text;
      if (cls) e.className = cls;
      (parentEl || P).appendChild(e);
      return e;
    }
    add("h2", nodeName(v) + (v < K ? "" : " (" + fmt(leaves[v]) + " leaves)"));
    if (hasPoints()) add("div", fmt(D.size[v]) + " points");
    if (hasLabels()) {
      if (D.maj[v] >= 0) {
        var line = add("div", "majority class: ");
        add("b", className(D.maj[v]), null, line);
        add("span", " " + pct(D.pur[v]), purityClass(D.pur[v]), line);
        var bar = add("div", null, "bar"), T = D.compTop, total = D.size[v], shown = 0;
        var table = add("table"), body = add("tbody", null, null, table);
        for (var j = v * T; j < (v + 1) * T && D.compN[j] > 0; j++) {
          var c = D.compC[j], n = D.compN[j], seg = add("span", null, null, bar);
          var col = D.classColor[c] >= 0 ? D.colors[D.classColor[c]] : NEUTRAL;
          seg.style.width = (100 * n / total) + "%"; seg.style.background = col;
          seg.title = className(c) + ": " + fmt(n);
          var tr = add("tr", null, null, body), td = add("td", null, null, tr), sw = add("span", null, "swatch", td);
          sw.style.background = col;
          td.appendChild(document.createTextNode(className(c)));
          add("td", fmt(n), "n", tr); add("td", pct(n / total), "n", tr);
          shown += n;
        }
        if (total > shown) {
          var rest = add("span", null, null, bar);
          rest.style.width = (100 * (total - shown) / total) + "%"; rest.style.background = "#dddddd";
          rest.title = "other classes: " + fmt(total - shown);
          var tr2 = add("tr", null, null, body);
          add("td", "other classes", "muted", tr2); add("td", fmt(total - shown), "n", tr2); add("td", pct((total - shown) / total), "n", tr2);
        }
      } else add("div", "(no points)", "muted");
    }
    if (v >= K) {
      var btn = add("button", open[v] ? "Fold" : "Open");
      btn.type = "button"; btn.id = "toggleBtn";
      btn.addEventListener("click", function () { toggle(v); });
    }
    thumbs(v, add);
    legend();
  }
  function thumbs(v, add) {
    if (!D.thumbs) return;
    var lists = [], stack = [v];
    while (stack.length) {
      var u = stack.pop();
      if (u < K) { var l = D.thumbs.leaf[u]; if (l && l.length) lists.push(l); }
      else { stack.push(right[u]); stack.push(left[u]); }
      if (lists.length > 4096) break;
    }
    var pick = [], limit = v < K ? 64 : D.thumbs.clade;
    for (var round = 0; pick.length < limit; round++) { // a sample from every leaf in turn
      var any = false;
      for (var j = 0; j < lists.length && pick.length < limit; j++) {
        if (round < lists[j].length) { pick.push(lists[j][round]); any = true; }
      }
      if (!any) break;
    }
    if (!pick.length) return;
    add("div", v < K ? "most confident points" : "a sample of the most confident points of its leaves", "muted");
    var box = add("div", null, "thumbs");
    for (var q = 0; q < pick.length; q++) {
      var img = document.createElement("img");
      img.src = D.thumbs.data[pick[q]]; img.alt = "point " + D.thumbs.point[pick[q]];
      img.title = "point " + D.thumbs.point[pick[q]];
      box.appendChild(img);
    }
  }

  function select(v) { selected = v; panel(v); draw(); }
  function toggle(v) { if (v >= K) { open[v] = open[v] ? 0 : 1; if (selected === v) panel(v); draw(); } }
  // a node's dot or triangle opens/folds it and shows it in the panel; a label only shows it

  // ---- search
  function search(q) {
    matched.fill(0);
    var list = document.getElementById("matches");
    if (list) list.parentNode.removeChild(list);
    q = q.trim().toLowerCase();
    if (!q) { draw(); return; }
    var hits = [];
    for (var v = 0; v < K && hits.length < MAX_MATCH; v++) {
      if (D.names[v].toLowerCase().indexOf(q) >= 0) hits.push(v);
      else if (hasLabels() && D.maj[v] >= 0 && D.classes[D.maj[v]].toLowerCase().indexOf(q) >= 0) hits.push(v);
    }
    for (var j = 0; j < hits.length; j++) { matched[hits[j]] = 1; openPathTo(hits[j]); }
    status(hits.length + (hits.length >= MAX_MATCH ? "+" : "") + " matches");
    var P = document.getElementById("panel"), ul = document.createElement("ul");
    ul.id = "matches";
    for (var z = 0; z < Math.min(hits.length, 100); z++) {
      var li = document.createElement("li"), h = hits[z];
      li.textContent = tipLabel(h); li.dataset.node = h;
      li.addEventListener("click", function (e) { select(+e.currentTarget.dataset.node); });
      ul.appendChild(li);
    }
    P.insertBefore(ul, P.firstChild);
    draw();
    var s = document.getElementById("status");
    s.textContent = hits.length + (hits.length >= MAX_MATCH ? "+" : "") + " matches; " + s.textContent;
  }

  // ---- events
  svg.addEventListener("click", function (e) {
    if (moved) return;
    var target = e.target, node = target.closest ? target.closest("[data-node]") : null;
    if (!node) return;
    var v = +node.getAttribute("data-node");
    if (target.classList.contains("toggle")) { selected = v; toggle(v); panel(v); draw(); } else select(v);
  });
  var dragging = false, moved = false, sx = 0, sy = 0;
  svg.addEventListener("mousedown", function (e) { dragging = true; moved = false; sx = e.clientX; sy = e.clientY; });
  window.addEventListener("mousemove", function (e) {
    if (!dragging) return;
    var dx = e.clientX - sx, dy = e.clientY - sy;
    if (Math.abs(dx) + Math.abs(dy) > 3) { moved = true; document.getElementById("view").classList.add("dragging"); }
    if (moved) { view.x += dx; view.y += dy; sx = e.clientX; sy = e.clientY; applyView(); }
  });
  window.addEventListener("mouseup", function () {
    dragging = false; document.getElementById("view").classList.remove("dragging");
    setTimeout(function () { moved = false; }, 0);
  });
  svg.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = svg.getBoundingClientRect(), mx = e.clientX - r.left, my = e.clientY - r.top;
    var f = Math.exp(-e.deltaY * 0.0015), s = Math.min(20, Math.max(0.02, view.s * f));
    view.x = mx - (mx - view.x) * s / view.s; view.y = my - (my - view.y) * s / view.s; view.s = s;
    applyView();
  }, { passive: false });
  var timer = null;
  document.getElementById("search").addEventListener("input", function (e) {
    clearTimeout(timer); var q = e.target.value; timer = setTimeout(function () { search(q); }, 200);
  });
  document.getElementById("search").addEventListener("keydown", function (e) {
    if (e.key === "Enter") { clearTimeout(timer); search(e.target.value); }
  });
  document.getElementById("layout").addEventListener("change", function (e) { layout = e.target.value; draw(); fit(); });
  var level = document.getElementById("level"), levelMax = Math.min(K, 1000);
  level.max = String(levelMax); level.value = "1";
  function levelText() {
    document.getElementById("levelText").textContent = cutLevel ? "k = " + cutLevel + " groups" : "(off)";
  }
  level.addEventListener("input", function () {
    cutLevel = +level.value; foldToCut(cutLevel); levelText(); draw();
  });
  document.getElementById("fit").addEventListener("click", fit);
  document.getElementById("reset").addEventListener("click", function () {
    cutLevel = 0; levelText(); matched.fill(0); initialFolds(); draw(); fit();
  });

  // ---- legend and start
  function legend() {
    if (!D.groups.length) return;
    var P = document.getElementById("panel"), box = document.createElement("div");
    box.id = "legend";
    var title = document.createElement("div");
    title.className = "muted"; title.textContent = D.groupTitle + " colours:";
    P.appendChild(title);
    for (var g = 0; g < D.groups.length && g < 60; g++) {
      var item = document.createElement("span"), sw = document.createElement("span");
      sw.className = "swatch"; sw.style.background = D.colors[g];
      item.appendChild(sw); item.appendChild(document.createTextNode(D.groups[g]));
      box.appendChild(item);
    }
    P.appendChild(box);
  }
  document.title = D.title;
  initialFolds(); levelText(); draw(); fit(); legend();
  window.l2hReport = { select: select, toggle: toggle, search: search, open: open, K: K,
                       visibleTips: function () { return lastLayout.tips.length; } };
  document.body.dataset.ready = "1";
})();
