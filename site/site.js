/* regsuite leaderboard: sortable tables, filters, rank toggles, copy buttons and plots; no dependency but plotly.
   Sort and filter state lives in the URL query (?sort-TABLE=COL.a&tier=standard...), so a view can be shared. */
(function () {
  "use strict";
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };

  // ------------------------------------------------------------------ URL state
  var state = new URLSearchParams(window.location.search);
  function saveState() {
    var query = state.toString();
    var url = window.location.pathname + (query ? "?" + query : "") + window.location.hash;
    try { window.history.replaceState(null, "", url); } catch (e) { /* a file: URL may refuse; state stays local */ }
  }
  function setState(key, value) {
    if (value === null || value === "" || value === undefined) { state.delete(key); } else { state.set(key, value); }
    saveState();
  }

  // A table wider than its wrapper scrolls inside it; keyboard users must be able to reach and scroll it.
  function markScrollable() {
    each(document.querySelectorAll(".scroll"), function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        var caption = box.querySelector("caption");
        box.setAttribute("aria-label", "scrollable table" + (caption ? ": " + caption.textContent : ""));
      } else if (box.getAttribute("role") === "region") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }
  markScrollable();
  window.addEventListener("resize", markScrollable);
  document.addEventListener("toggle", markScrollable, true);  // a table inside <details> opened

  // ------------------------------------------------------------------ sortable tables
  function cellKey(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) { return numeric ? null : ""; }
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    if (!numeric) { return raw.toLowerCase(); }
    var value = parseFloat(raw);
    return isNaN(value) ? null : value;
  }

  function sortTable(table, index, ascending) {
    var th = table.tHead.rows[0].cells[index];
    var numeric = th.getAttribute("data-type") === "num";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellKey(a, index, numeric), y = cellKey(b, index, numeric);
      if (x === null || y === null) { return (x === null) - (y === null); }  // blanks last either way
      var order = numeric ? x - y : x.localeCompare(y);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    each(th.parentNode.cells, function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  each(document.querySelectorAll("table.sortable"), function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    var name = table.getAttribute("data-table");
    each(table.tHead.rows[0].cells, function (th, index) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        sortTable(table, index, ascending);
        if (name) { setState("sort-" + name, index + "." + (ascending ? "a" : "d")); }
      });
    });
    var saved = name && state.get("sort-" + name);
    if (saved) {
      var parts = saved.split(".");
      var index = parseInt(parts[0], 10);
      if (index >= 0 && index < table.tHead.rows[0].cells.length) { sortTable(table, index, parts[1] !== "d"); }
    }
  });

  // ------------------------------------------------------------------ board filters and rank toggles
  var filters = document.querySelectorAll("select[data-filter]");
  function applyFilters() {
    each(document.querySelectorAll("section.board[data-tier]"), function (board) {
      var shown = Array.prototype.every.call(filters, function (select) {
        return !select.value || board.getAttribute("data-" + select.getAttribute("data-filter")) === select.value;
      });
      board.hidden = !shown;
    });
  }
  each(filters, function (select) {
    var key = select.getAttribute("data-filter");
    var saved = state.get(key);
    if (saved !== null && Array.prototype.some.call(select.options, function (o) { return o.value === saved; })) {
      select.value = saved;
    }
    select.addEventListener("change", function () { setState(key, select.value); applyFilters(); });
  });
  if (filters.length) { applyFilters(); }

  each(document.querySelectorAll("input[data-show-ranks]"), function (box) {
    var id = box.getAttribute("data-show-ranks");
    var board = document.getElementById(id);
    function apply() { if (board) { board.setAttribute("data-unranked", box.checked ? "0" : "1"); } }
    box.checked = state.get("ranks-" + id) === "1";
    apply();
    box.addEventListener("change", function () { setState("ranks-" + id, box.checked ? "1" : null); apply(); });
  });

  each(document.querySelectorAll("button.copy"), function (button) {
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy");
      var done = function () { button.textContent = "copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { selectText(button); });
      } else { selectText(button); }
    });
  });
  function selectText(button) {  // no clipboard (file: pages): select the command for Ctrl+C
    var code = button.parentNode.querySelector("code");
    var range = document.createRange();
    range.selectNodeContents(code);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    button.textContent = "selected";
  }

  // ------------------------------------------------------------------ plots
  var Plotly = window.Plotly;
  if (!Plotly) { return; }
  var touch = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
  var narrow = window.innerWidth < 700;
  var config = { responsive: true, displaylogo: false, displayModeBar: (touch || narrow) ? false : "hover" };
  function layout(extra) {
    var base = {
      autosize: true, height: narrow ? 320 : 400, margin: { l: 55, r: 15, t: 40, b: 45 },
      legend: narrow ? { orientation: "h", y: -0.25 } : { orientation: "v" }
    };
    Object.keys(extra).forEach(function (k) { base[k] = extra[k]; });
    return base;
  }
  function json(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function fillSelect(select, values, labels, saved) {
    while (select.options.length) { select.remove(0); }
    values.forEach(function (v, i) {
      var o = document.createElement("option");
      o.value = String(v);
      o.textContent = labels[i];
      select.appendChild(o);
    });
    if (saved !== null && values.map(String).indexOf(saved) >= 0) { select.value = saved; }
  }
  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }
  function cell(row, text, tag) {
    var el = document.createElement(tag || "td");
    el.textContent = text;
    if (tag === "th") { el.setAttribute("scope", row ? "row" : "col"); }
    return el;
  }
  function fmt(v) { return v === null || v === undefined ? "—" : Number(v).toPrecision(4); }

  // Learning curves: one plot, chosen by board, series and x axis.
  var curves = json("curve-data");
  if (curves && document.getElementById("curve-plot")) {
    var boardSel = document.getElementById("curve-board");
    var seriesSel = document.getElementById("curve-series");
    var axisSel = document.getElementById("curve-axis");
    var axisField = { steps: "step", seconds: "wall", tokens: "tokens" };
    var refill = function () {
      var board = curves[parseInt(boardSel.value, 10)] || curves[0];
      fillSelect(seriesSel, board.series.map(function (s, i) { return i; }),
                 board.series.map(function (s) { return s.label + (s.single ? " (final value)" : ""); }),
                 state.get("series") !== null ? state.get("series") : String(board.default || 0));
      fillSelect(axisSel, board.axes, board.axes, state.get("axis"));
    };
    var draw = function () {
      var board = curves[parseInt(boardSel.value, 10)] || curves[0];
      var series = board.series[parseInt(seriesSel.value, 10)] || board.series[0];
      var axis = axisSel.value || "steps";
      var traces = [];
      var table = document.createElement("table");
      var head = table.createTHead().insertRow();
      ["Method", "Seeds", series.single ? "Value (mean)" : "Final (mean)", "Seed range", "Points"].forEach(
        function (h) { head.appendChild(cell(false, h, "th")); });
      var body = table.createTBody();
      series.traces.forEach(function (t) {
        var last = t.mean.length - 1;
        var row = body.insertRow();
        row.appendChild(cell(true, t.label, "th"));
        [String(t.n), fmt(t.mean[last]), fmt(t.lo[last]) + " – " + fmt(t.hi[last]), String(t.mean.length)].forEach(
          function (text) { row.appendChild(cell(true, text)); });
        if (series.single) { return; }
        var x = t[axisField[axis]] || t.step;
        traces.push({ x: x, y: t.lo, mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false,
                      legendgroup: t.name, type: "scatter" });
        traces.push({ x: x, y: t.hi, mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: rgba(t.color, 0.15),
                      hoverinfo: "skip", showlegend: false, legendgroup: t.name, type: "scatter" });
        traces.push({ x: x, y: t.mean, name: t.name, legendgroup: t.name, type: "scatter",
                      mode: "lines+markers",
                      line: { color: t.color, dash: t.dash, width: 2 },
                      marker: { symbol: t.symbol, size: 6, color: t.color, maxdisplayed: 12 },
                      hovertemplate: "%{y:.4g} at " + axis + " %{x}<extra>" + t.name + " · " + t.n + " run(s)</extra>" });
      });
      if (series.single) {
        traces.push({
          type: "bar", x: series.traces.map(function (t) { return t.name; }),
          y: series.traces.map(function (t) { return t.mean[0]; }),
          marker: { color: series.traces.map(function (t) { return t.color; }) },
          error_y: { type: "data", symmetric: false,
                     array: series.traces.map(function (t) { return t.hi[0] - t.mean[0]; }),
                     arrayminus: series.traces.map(function (t) { return t.mean[0] - t.lo[0]; }) },
          hovertemplate: "%{y:.4g}<extra>%{x}</extra>"
        });
      }
      Plotly.react("curve-plot", traces, layout({
        title: { text: series.title + (narrow ? "" : series.single ? " (final value; bar: seed range)"
                                                                 : " (mean; band: seed range)"),
                 font: { size: narrow ? 14 : 17 } },
        xaxis: { title: { text: series.single ? "method" : axis }, automargin: true },
        yaxis: { title: { text: series.metric }, automargin: true }, showlegend: !series.single
      }), config);
      var box = document.getElementById("curve-table");
      box.replaceChildren(table);
      document.getElementById("curve-caption").textContent =
        series.label + ", " + board.label + (series.single ? "" : ", x axis: " + axis) + ". The table below holds the plotted values.";
    };
    var saved = state.get("board");
    if (saved !== null && parseInt(saved, 10) < curves.length) { boardSel.value = saved; }
    refill();
    draw();
    boardSel.addEventListener("change", function () { setState("board", boardSel.value); refill(); draw(); });
    seriesSel.addEventListener("change", function () { setState("series", seriesSel.value); draw(); });
    axisSel.addEventListener("change", function () { setState("axis", axisSel.value); draw(); });
  }

  // Performance profiles (suite pages).
  var profiles = json("profile-data");
  if (profiles && document.getElementById("profile-plot")) {
    var pSel = document.getElementById("profile-board");
    var drawProfile = function () {
      var b = profiles.boards[parseInt(pSel.value, 10)] || profiles.boards[0];
      var traces = b.traces.map(function (t) {
        return { type: "scatter", mode: "lines", x: profiles.tau, y: t.y, name: t.name,
                 line: { shape: "hv", color: t.color, dash: t.dash } };
      });
      Plotly.react("profile-plot", traces, layout({
        title: { text: "Performance profile" }, xaxis: { title: { text: "τ (ratio to the best)" } },
        yaxis: { title: { text: "share of tasks" }, range: [0, 1.05] } }), config);
    };
    var savedProfile = state.get("profile");
    if (savedProfile !== null && parseInt(savedProfile, 10) < profiles.boards.length) { pSel.value = savedProfile; }
    pSel.addEventListener("change", function () { setState("profile", pSel.value); drawProfile(); });
    drawProfile();
  }

  // Tuning-budget curves (task pages).
  var budget = json("budget-data");
  if (budget && document.getElementById("budget-plot")) {
    var traces = [];
    var i = 0;
    budget.forEach(function (bc) {
      bc.methods.forEach(function (m) {
        traces.push({ type: "scatter", mode: "lines+markers", x: m.k, y: m.test,
                      name: (m.method + (budget.length > 1 ? " (" + bc.tier + ")" : "")).replace(/&/g, "&amp;")
                        .replace(/</g, "&lt;").replace(/>/g, "&gt;"),
                      marker: { symbol: ["circle", "square", "diamond", "triangle-up", "x"][Math.floor(i / 10) % 5] } });
        i += 1;
      });
    });
    Plotly.newPlot("budget-plot", traces, layout({
      title: { text: "Expected test score after k trials" }, xaxis: { title: { text: "trials k" }, dtick: 1 },
      yaxis: { title: { text: budget[0].metric.replace(/</g, "&lt;") } } }), config);
  }

  // Accuracy-matrix heatmaps (continual tasks).
  each(document.querySelectorAll("script.matrix-data"), function (el) {
    var target = el.getAttribute("data-target");
    var mats = JSON.parse(el.textContent);
    var sel = document.querySelector("select.matrix-select[data-target='" + target + "']");
    var drawHeat = function () {
      var m = mats[parseInt(sel.value, 10)] || mats[0];
      Plotly.react(target, [{ type: "heatmap", z: m.matrix, x: m.cols, y: m.rows, zmin: 0, zmax: 1,
                              colorscale: "Viridis", hovertemplate: "after %{y}, on %{x}: %{z:.3f}<extra></extra>" }],
                   layout({ title: { text: "accuracy matrix" }, xaxis: { title: { text: "evaluated on experience" }, type: "category" },
                            yaxis: { title: { text: "after training on" }, autorange: "reversed", type: "category" } }), config);
    };
    if (sel) { sel.addEventListener("change", drawHeat); }
    drawHeat();
  });
})();
