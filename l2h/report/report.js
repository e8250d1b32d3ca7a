/* l2h report: an offline explorer of one hierarchy. Written for this project (MIT, like the rest
   of l2h); no library, no network: everything it shows is in the JSON block of this page. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg"; // a namespace name, never fetched
  var D = JSON.parse(document.getElementById("l2h-data").textContent);
  var K = D.K, N = 2 * K - 1, ROOT = N - 1;
  var MAX_MATCH = 300;        // search results opened at once
  var ROW = 18, STEP = 22;    // rectangular: pixels per tip row and least pixels per level
  var FONT = 12;              // label size in px at zoom 1 (report.css)
  var NEUTRAL = "#777777";

  // ---- tree arrays
  var left = new Int32Array(N).fill(-1), right = new Int32Array(N).fill(-1), parent = new Int32Array(N).fill(-1);
  var leaves = new Int32Array(N);
  for (var i = 0; i < K; i++) leaves[i] = 1;
  for (var t = 0; t < K - 1; t++) {
    var a = D.merges[2 * t], b = D.merges[2 * t + 1], v = K + t;
    left[v] = a; right[v] = b; parent[a] = v; parent[b] = v; leaves[v] = leaves[a] + leaves[b];
  }
  // leaves in drawing order (left child first): node v spans leafAt[leafStart[v] .. + leaves[v]]
  var leafStart = new Int32Array(N), leafAt = new Int32Array(K);
  for (var w0 = N - 1; w0 >= K; w0--) { leafStart[left[w0]] = leafStart[w0]; leafStart[right[w0]] = leafStart[w0] + leaves[left[w0]]; }
  for (var l0 = 0; l0 < K; l0++) leafAt[leafStart[l0]] = l0;
  var minLeaf = new Int32Array(N); // smallest leaf id under every node: numbers the k groups as Hierarchy.cut
  for (var i1 = 0; i1 < K; i1++) minLeaf[i1] = i1;
  for (var t1 = 0; t1 < K - 1; t1++) minLeaf[K + t1] = Math.min(minLeaf[left[K + t1]], minLeaf[right[K + t1]]);
  var points = null, pointStart = null; // point indices grouped by leaf (base64 int32, little-endian)
  if (D.points && D.size) {
    var raw = atob(D.points), bytes = new Uint8Array(raw.length);
    for (var b0 = 0; b0 < raw.length; b0++) bytes[b0] = raw.charCodeAt(b0);
    points = new Int32Array(bytes.buffer);
    pointStart = new Float64Array(K + 1);
    for (var p0 = 0; p0 < K; p0++) pointStart[p0 + 1] = pointStart[p0] + D.size[p0];
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
  function maxTips() { // as many tips as rows fit in the pane at zoom 1: labels stay FONT px high
    var h = svg.clientHeight || 600;
    return Math.max(8, Math.floor((h - 50) / ROW));
  }
  function initialFolds() {
    // open the visible folded node with the most leaves until the pane is full of tips
    foldAll();
    var MAX_TIPS = maxTips();
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
    if (D.gmaj && D.gmaj[v] >= 0) s += " \u00b7 " + D.groups[D.gmaj[v]] + " " + pct(D.gpur[v]);
    if (hasPoints()) s += " \u00b7 n=" + fmt(D.size[v]);
    return s;
  }

  var zoomG = document.getElementById("zoom"), svg = document.getElementById("tree");
  var view = { x: 20, y: 20, s: 1 }, lastLayout = null;
  var nodeX = new Float64Array(N), nodeY = new Float64Array(N); // positions of the last drawing

  function draw() {
    var L = visible();
    lastLayout = L;
    while (zoomG.firstChild) zoomG.removeChild(zoomG.firstChild);
    var edges = el("g", {}, zoomG), nodes = el("g", {}, zoomG);
    var m = L.tips.length, radial = layout === "radial";
    var longest = 0;
    for (var q0 = 0; q0 < L.tips.length; q0++) longest = Math.max(longest, tipLabel(L.tips[q0]).length);
    var W = svg.clientWidth || 800, labelW = Math.min(0.55 * W, 0.6 * FONT * longest + 30);
    var step = Math.max(STEP, (W - 40 - labelW) / Math.max(1, L.maxDepth)); // the tree fills the pane's width
    var R = Math.max(120, m * ROW / (2 * Math.PI)), dr = R / Math.max(1, L.maxDepth + 1);
    function xy(v) {
      if (!radial) return [L.depth[v] * step, L.pos[v] * ROW];
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
      nodeX[v] = p[0]; nodeY[v] = p[1];
    }
    status("showing " + fmt(L.tips.length) + " of " + fmt(K) + " leaves (" + fmt(L.order.length) + " nodes)");
    applyView();
  }

  function status(text) { document.getElementById("status").textContent = text; }
  function applyView() {
    zoomG.setAttribute("transform", "translate(" + view.x + "," + view.y + ") scale(" + view.s + ")");
    minimapView();
  }
  function fit(readable) {
    // readable: never below zoom 1 (labels FONT px), top-left aligned when the tree is taller than the pane
    var box = zoomG.getBBox(), w = svg.clientWidth || 800, h = svg.clientHeight || 600;
    if (!box.width || !box.height) return;
    var s = Math.min(w / (box.width + 40), h / (box.height + 40), 2);
    if (readable === true && s < 1) {
      view.s = 1; view.x = 20 - box.x; view.y = 20 - box.y;
    } else {
      view.s = s; view.x = (w - box.width * s) / 2 - box.x * s; view.y = (h - box.height * s) / 2 - box.y * s;
    }
    applyView();
  }
  function focus(v) {
    // zoom to node v: it sits at 40% of the pane's width, mid-height, at a readable zoom
    var w = svg.clientWidth || 800, h = svg.clientHeight || 600, s = Math.max(view.s, 1.2);
    view.s = s; view.x = 0.4 * w - nodeX[v] * s; view.y = h / 2 - nodeY[v] * s;
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
    mergeInfo(v, add);
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
    if (D.gmaj && D.gmaj[v] !== undefined && D.size[v] > 0) compositionTable(add, "group", D.gcompTop, D.gcompC, D.gcompN, v,
      function (g) { return g < 0 ? "(no group)" : D.groups[g]; }, function (g) { return g >= 0 ? D.colors[g] : NEUTRAL; }, "other groups");
    if (v >= K) {
      var btn = add("button", open[v] ? "Fold" : "Open");
      btn.type = "button"; btn.id = "toggleBtn";
      btn.addEventListener("click", function () { toggle(v); });
    }
    downloads(v, add);
    thumbs(v, add);
    legend();
  }
  function num(x) { return x === null || x === undefined ? "unknown" : (+x).toPrecision(4); }
  function mergeInfo(v, add) {
    // merge order, L2H score s(G*) and relatedness rel(G\u2020) of the merge that made v (and of its parent's)
    var box = add("table", null, "merge"), body = add("tbody", null, null, box);
    function row(k, val) { var tr = add("tr", null, null, body); add("td", k, "muted", tr); add("td", val, null, tr); }
    if (v >= K) {
      var t = v - K;
      row("merge order", fmt(t + 1) + " of " + fmt(K - 1));
      row("score s(G*)", num(D.score[t]) + " (" + nodeName(left[v]) + ", the group selected)");
      row("relatedness", num(D.rel[t]) + " (" + nodeName(right[v]) + ", its partner G\u2020)");
    } else row("leaf", "cluster id " + v);
    if (parent[v] >= 0) row("merged into", nodeName(parent[v]) + " at merge " + fmt(parent[v] - K + 1));
  }
  function compositionTable(add, title, T, compC, compN, v, label, color, restText) {
    var line = add("div", title + " composition: ");
    add("b", label(compC[v * T]), null, line);
    var total = D.size[v], shown = 0, bar = add("div", null, "bar");
    var table = add("table"), body = add("tbody", null, null, table);
    for (var j = v * T; j < (v + 1) * T && compN[j] > 0; j++) {
      var c = compC[j], n = compN[j], col = color(c), seg = add("span", null, null, bar);
      seg.style.width = (100 * n / total) + "%"; seg.style.background = col; seg.title = label(c) + ": " + fmt(n);
      var tr = add("tr", null, null, body), td = add("td", null, null, tr), sw = add("span", null, "swatch", td);
      sw.style.background = col;
      td.appendChild(document.createTextNode(label(c)));
      add("td", fmt(n), "n", tr); add("td", pct(n / total), "n", tr);
      shown += n;
    }
    if (total > shown) {
      var tr2 = add("tr", null, null, body);
      add("td", restText, "muted", tr2); add("td", fmt(total - shown), "n", tr2); add("td", pct((total - shown) / total), "n", tr2);
    }
  }

  // ---- exports of a node: its points, the k-group assignment, its subtree
  function nodePoints(v) {
    var out = [];
    for (var pos = leafStart[v]; pos < leafStart[v] + leaves[v]; pos++) {
      var leaf = leafAt[pos];
      for (var j = pointStart[leaf]; j < pointStart[leaf + 1]; j++) out.push(points[j]);
    }
    return Int32Array.from(out).sort();
  }
  function cutGroups(k) {
    // group of every leaf at the k cut, numbered by the smallest leaf id of the group (Hierarchy.cut)
    var nodes = cutNodes(k).sort(function (a, b) { return minLeaf[a] - minLeaf[b]; });
    var group = new Int32Array(K), node = new Int32Array(K);
    for (var g = 0; g < nodes.length; g++) {
      var u = nodes[g];
      for (var pos = leafStart[u]; pos < leafStart[u] + leaves[u]; pos++) { group[leafAt[pos]] = g; node[leafAt[pos]] = u; }
    }
    return { group: group, node: node };
  }
  function csvField(text) { return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text; }
  function newickName(text) { return /^[^\s()\[\]'":;,]+$/.test(text) ? text : "'" + text.replace(/'/g, "''") + "'"; }
  function heightOf(u) { return u < K ? 0 : D.heights[u - K]; }
  function exportText(kind, v) {
    if (v === undefined || v < 0) v = ROOT;
    if (kind === "points") return Array.prototype.join.call(nodePoints(v), "\n") + "\n";
    if (kind === "csv") {
      var k = cutLevel > 0 ? cutLevel : K, cut = cutGroups(k), lines = [];
      if (points) {
        lines.push("point,leaf,leaf_name,k,group,group_node");
        var pts = nodePoints(v), leafOfPoint = new Map();
        for (var pos = leafStart[v]; pos < leafStart[v] + leaves[v]; pos++) {
          var lf = leafAt[pos];
          for (var j = pointStart[lf]; j < pointStart[lf + 1]; j++) leafOfPoint.set(points[j], lf);
        }
        for (var q = 0; q < pts.length; q++) {
          var l = leafOfPoint.get(pts[q]);
          lines.push(pts[q] + "," + l + "," + csvField(D.names[l]) + "," + k + "," + cut.group[l] + ",n" + cut.node[l]);
        }
      } else {
        lines.push("leaf,leaf_name,k,group,group_node");
        for (var pos2 = leafStart[v]; pos2 < leafStart[v] + leaves[v]; pos2++) {
          var l2 = leafAt[pos2];
          lines.push(l2 + "," + csvField(D.names[l2]) + "," + k + "," + cut.group[l2] + ",n" + cut.node[l2]);
        }
      }
      return lines.join("\n") + "\n";
    }
    // Newick of the subtree under v, as l2h writes trees: n<id> internal labels, height differences as lengths
    var out = [], stack = [v];
    function suffix(u) { return (u >= K ? "n" + u : "") + (u !== v ? ":" + String(heightOf(parent[u]) - heightOf(u)) : ""); }
    while (stack.length) {
      var item = stack.pop();
      if (typeof item === "string") out.push(item);
      else if (item < K) out.push(newickName(D.names[item]) + suffix(item));
      else { out.push("("); stack.push(")" + suffix(item), right[item], ",", left[item]); }
    }
    return out.join("") + ";\n";
  }
  function download(name, text, type) {
    var url = URL.createObjectURL(new Blob([text], { type: type })), a = document.createElement("a");
    a.href = url; a.download = name; document.body.appendChild(a); a.click();
    setTimeout(function () { URL.revokeObjectURL(url); a.parentNode.removeChild(a); }, 0);
  }
  function downloads(v, add) {
    var box = add("div", null, "downloads"), base = nodeName(v).replace(/[^A-Za-z0-9_.-]+/g, "_").slice(0, 60) || "node";
    add("span", "download: ", "muted", box);
    function button(id, text, title, make) {
      var btn = add("button", text, null, box);
      btn.type = "button"; btn.id = id; btn.title = title;
      btn.addEventListener("click", make);
    }
    if (points) button("dlPoints", "point indices", "the indices of the points under this node, one per line",
      function () { download(base + "_points.txt", exportText("points", v), "text/plain"); });
    button("dlCsv", "k-group CSV", "every " + (points ? "point" : "leaf") + " under this node with its group at the k cut (k = K when off)",
      function () { download(base + "_k" + (cutLevel || K) + ".csv", exportText("csv", v), "text/csv"); });
    button("dlNewick", "subtree Newick", "this node's subtree in Newick",
      function () { download(base + ".nwk", exportText("newick", v), "text/plain"); });
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
      li.addEventListener("click", function (e) { var u = +e.currentTarget.dataset.node; select(u); focus(u); });
      ul.appendChild(li);
    }
    P.insertBefore(ul, P.firstChild);
    draw();
    if (hits.length) focus(hits[0]); // zoom to the first hit
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
  document.getElementById("layout").addEventListener("change", function (e) { layout = e.target.value; draw(); fit(layout !== "radial"); });
  // ---- k: the tree cut into k groups (slider and number box agree; 0 or empty: off)
  var kRange = document.getElementById("kRange"), kBox = document.getElementById("k");
  kRange.max = String(K); kRange.value = "1"; kBox.max = String(K);
  function kText() {
    document.getElementById("kText").textContent = cutLevel ? "k = " + fmt(cutLevel) + " groups" : "(off)";
  }
  function setK(k) {
    k = Math.round(k);
    if (!(k >= 1)) { cutLevel = 0; kBox.value = ""; kText(); return; }
    cutLevel = Math.min(k, K); kRange.value = String(cutLevel); kBox.value = String(cutLevel);
    foldToCut(cutLevel); kText(); draw(); fit(true);
  }
  kRange.addEventListener("input", function () { setK(+kRange.value); });
  kBox.addEventListener("change", function () { setK(kBox.value === "" ? 0 : +kBox.value); });
  kBox.addEventListener("keydown", function (e) { if (e.key === "Enter") setK(kBox.value === "" ? 0 : +kBox.value); });
  document.getElementById("fit").addEventListener("click", function () { fit(false); });
  document.getElementById("reset").addEventListener("click", function () {
    cutLevel = 0; kBox.value = ""; kText(); matched.fill(0); initialFolds(); draw(); fit(true);
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
  // ---- minimap: every leaf in drawing order as one strip, the part in view framed; a click goes there
  var mini = document.getElementById("minimap"), miniOn = K >= 100;
  function miniColor(leaf) { var c = cladeColor(leaf); return c === NEUTRAL ? majorityColor(leaf) : c; }
  function minimapDraw() {
    if (!miniOn) { mini.style.display = "none"; return; }
    mini.style.display = "block";
    var h = Math.max(50, (svg.clientHeight || 600) - 20);
    mini.width = 16; mini.height = h; mini.style.height = h + "px";
    var ctx = mini.getContext("2d");
    for (var y = 0; y < h; y++) {
      ctx.fillStyle = miniColor(leafAt[Math.min(K - 1, Math.floor(y * K / h))]);
      ctx.fillRect(0, y, 16, 1);
    }
  }
  var miniFrame = document.getElementById("miniFrame");
  function minimapView() {
    if (!miniOn || !lastLayout || !miniFrame) return;
    var h = mini.height, H = svg.clientHeight || 600, lo = K, hi = 0;
    for (var j = 0; j < lastLayout.tips.length; j++) {
      var u = lastLayout.tips[j], y = view.y + nodeY[u] * view.s;
      if (layout !== "radial" && (y < 0 || y > H)) continue;
      lo = Math.min(lo, leafStart[u]); hi = Math.max(hi, leafStart[u] + leaves[u]);
    }
    if (hi <= lo) { miniFrame.style.display = "none"; return; }
    miniFrame.style.display = "block";
    miniFrame.style.top = (10 + lo * h / K) + "px";
    miniFrame.style.height = Math.max(3, (hi - lo) * h / K) + "px";
  }
  mini.addEventListener("click", function (e) {
    var r = mini.getBoundingClientRect(), leaf = leafAt[Math.min(K - 1, Math.max(0, Math.floor((e.clientY - r.top) * K / r.height)))];
    openPathTo(leaf); select(leaf); focus(leaf);
  });
  mini.title = "all " + fmt(K) + " leaves in drawing order; the framed part is in view. Click to go there.";

  initialFolds(); kText(); minimapDraw(); draw(); fit(true); legend();
  if (D.k) setK(D.k);  // l2h report --k: open cut into k groups
  window.l2hReport = { select: select, toggle: toggle, search: search, open: open, K: K, setK: setK, focus: focus,
                       exportText: exportText, view: view, parentOf: function (v) { return parent[v]; },
                       visibleTips: function () { return lastLayout.tips.length; } };
  document.body.dataset.ready = "1";
})();
