// The dstream dashboard: Spark's Streaming tab drawn with plain SVG, polling the JSON API.
// No library and nothing fetched from outside the daemon.
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var REFRESH_MS = Number(document.body.getAttribute("data-refresh-ms")) || 1000;
  var MAX_TABLE_ROWS = 100;
  var BINS = 10;

  // ---------------------------------------------------------------- formatting
  function pad(n, width) { n = String(n); while (n.length < (width || 2)) { n = "0" + n; } return n; }

  function formatTime(ms) {
    var d = new Date(ms);
    return d.getFullYear() + "/" + pad(d.getMonth() + 1) + "/" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function formatClock(ms) {
    var d = new Date(ms);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function trim(x, digits) { return String(Number(x.toFixed(digits))); }

  function formatDuration(ms) {
    if (ms === undefined || ms === null) { return "–"; }
    if (ms < 10) { return trim(ms, 1) + " ms"; }
    if (ms < 1000) { return Math.round(ms) + " ms"; }
    var s = ms / 1000;
    if (s < 60) { return trim(s, s < 10 ? 2 : 1) + " s"; }
    var m = s / 60;
    if (m < 60) { return trim(m, 1) + " min"; }
    var h = m / 60;
    if (h < 48) { return trim(h, 1) + " h"; }
    return trim(h / 24, 1) + " days";
  }

  function formatRate(r) {
    if (r === undefined || r === null) { return "–"; }
    return (r < 10 ? trim(r, 2) : Math.round(r).toLocaleString()) + " records/s";
  }

  function formatRateShort(r) {  // axis labels
    if (r >= 1e6) { return trim(r / 1e6, 1) + "M/s"; }
    if (r >= 1e4) { return trim(r / 1e3, 1) + "k/s"; }
    return trim(r, 2) + "/s";
  }

  function sparkDate(text) {  // Spark writes 2023-11-14T22:13:20.123GMT
    return text ? Date.parse(text.replace(/GMT$/, "Z")) : NaN;
  }

  function niceMax(v) {
    if (!(v > 0)) { return 1; }
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) { if (steps[i] * p >= v) { return steps[i] * p; } }
    return 10 * p;
  }

  // ---------------------------------------------------------------- svg helpers
  function el(name, attrs, parent, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function clear(svg) {
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var box = svg.getBoundingClientRect();
    var w = Math.max(120, Math.round(box.width)), h = Math.max(80, Math.round(box.height));
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    return { w: w, h: h };
  }

  var PAD = { left: 58, right: 12, top: 10, bottom: 22 };

  // A timeline: one point per batch, the average dashed, the value axis on the left.
  function drawTimeline(svg, points, yMax, format, axis, avg) {
    var size = clear(svg);
    var x0 = PAD.left, x1 = size.w - PAD.right, y0 = size.h - PAD.bottom, y1 = PAD.top;
    el("line", { x1: x0, y1: y0, x2: x1, y2: y0, "class": "axis" }, svg);
    el("line", { x1: x0, y1: y0, x2: x0, y2: y1, "class": "axis" }, svg);
    [0, 0.5, 1].forEach(function (f) {
      var y = y0 - f * (y0 - y1);
      if (f > 0) { el("line", { x1: x0, y1: y, x2: x1, y2: y, "class": "grid" }, svg); }
      el("text", { x: x0 - 4, y: y + 3, "text-anchor": "end" }, svg, axis(f * yMax));
    });
    if (!points.length) {
      el("text", { x: (x0 + x1) / 2, y: (y0 + y1) / 2, "text-anchor": "middle", "class": "empty" }, svg,
        "no completed batch yet");
      return;
    }
    var tMin = points[0].t, tMax = points[points.length - 1].t;
    var span = Math.max(1, tMax - tMin);
    function px(t) { return points.length === 1 ? (x0 + x1) / 2 : x0 + (t - tMin) / span * (x1 - x0); }
    function py(v) { return y0 - Math.min(v, yMax) / yMax * (y0 - y1); }
    el("text", { x: x0, y: size.h - 6, "text-anchor": "start" }, svg, formatClock(tMin));
    el("text", { x: x1, y: size.h - 6, "text-anchor": "end" }, svg, formatClock(tMax));
    if (avg !== null && avg !== undefined) {
      el("line", { x1: x0, y1: py(avg), x2: x1, y2: py(avg), "class": "avg-line" }, svg);
    }
    el("polyline", {
      "class": "series",
      points: points.map(function (p) { return px(p.t).toFixed(1) + "," + py(p.v).toFixed(1); }).join(" ")
    }, svg);
    var r = points.length > 120 ? 1.5 : 2.5;
    points.forEach(function (p) {
      var c = el("circle", {
        cx: px(p.t).toFixed(1), cy: py(p.v).toFixed(1), r: r,
        "class": "point" + (p.failed ? " failed" : ""), "data-batch-id": p.t, "data-value": p.v
      }, svg);
      el("title", {}, c, formatTime(p.t) + ": " + format(p.v));
    });
  }

  // A histogram sharing the timeline's value axis: bins of the value, bars growing right.
  function drawHistogram(svg, values, yMax, format) {
    var size = clear(svg);
    var x0 = 8, x1 = size.w - 30, y0 = size.h - PAD.bottom, y1 = PAD.top;
    el("line", { x1: x0, y1: y0, x2: x1, y2: y0, "class": "axis" }, svg);
    if (!values.length) { return; }
    var counts = [];
    for (var i = 0; i < BINS; i++) { counts.push(0); }
    values.forEach(function (v) {
      counts[Math.min(BINS - 1, Math.max(0, Math.floor(v / yMax * BINS)))] += 1;
    });
    var cMax = Math.max.apply(null, counts);
    var bin = (y0 - y1) / BINS;
    counts.forEach(function (c, i) {
      var width = c / cMax * (x1 - x0);
      var bar = el("rect", {
        x: x0, y: (y0 - (i + 1) * bin + 1).toFixed(1), width: width.toFixed(1),
        height: Math.max(1, bin - 2).toFixed(1), "class": "bar", "data-count": c
      }, svg);
      el("title", {}, bar, format(i * yMax / BINS) + " – " + format((i + 1) * yMax / BINS) + ": " +
        c + " batch" + (c === 1 ? "" : "es"));
      if (c) { el("text", { x: x0 + width + 3, y: y0 - i * bin - bin / 2 + 3 }, svg, String(c)); }
    });
    el("text", { x: x1 + 28, y: size.h - 6, "text-anchor": "end" }, svg, "#batches");
  }

  // ---------------------------------------------------------------- tables
  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    row.appendChild(td);
    return td;
  }

  function fillTable(id, rows, columns, emptyText) {
    var body = document.querySelector("#" + id + " tbody");
    body.textContent = "";
    if (!rows.length) {
      var tr = document.createElement("tr");
      var td = cell(tr, emptyText, "empty");
      td.colSpan = columns;
      body.appendChild(tr);
      return;
    }
    rows.forEach(function (tr) { body.appendChild(tr); });
  }

  function batchRow(b, completed) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-batch-id", b.batchId);
    var first = cell(tr, "");
    var link = document.createElement("a");
    link.href = "api/v1/streaming/batches/" + b.batchId + "/operations";
    link.textContent = formatTime(b.batchId);
    first.appendChild(link);
    cell(tr, b.inputSize.toLocaleString() + " records");
    cell(tr, formatDuration(b.schedulingDelay));
    cell(tr, formatDuration(b.processingTime));
    if (completed) { cell(tr, formatDuration(b.totalDelay)); }
    var ops = cell(tr, b.numCompletedOutputOps + "/" + b.numTotalOutputOps +
      (b.numFailedOutputOps ? " (" + b.numFailedOutputOps + " failed)" : ""),
      b.numFailedOutputOps ? "failed" : "");
    if (b.firstFailureReason) { ops.title = b.firstFailureReason; }
    if (!completed) { cell(tr, b.status.toLowerCase()); }
    return tr;
  }

  // ---------------------------------------------------------------- rendering
  var METRICS = [
    { id: "input-rate", format: formatRate, axis: formatRateShort, avgKey: "avgInputRate",
      value: function (b) { return b.inputSize * 1000 / b.batchDuration; } },
    { id: "scheduling-delay", format: formatDuration, axis: formatDuration, avgKey: "avgSchedulingDelay",
      value: function (b) { return b.schedulingDelay; } },
    { id: "processing-time", format: formatDuration, axis: formatDuration, avgKey: "avgProcessingTime",
      value: function (b) { return b.processingTime; } },
    { id: "total-delay", format: formatDuration, axis: formatDuration, avgKey: "avgTotalDelay",
      value: function (b) { return b.totalDelay; } }
  ];

  function text(id, value) { document.getElementById(id).textContent = value; }

  function render(stats, batches, receivers) {
    var completed = batches.filter(function (b) { return b.status === "COMPLETED"; });
    var active = batches.filter(function (b) { return b.status !== "COMPLETED"; });
    var oldestFirst = completed.slice().reverse();

    // uptime on the daemon's clock (the newest batch time), not the browser's
    var start = sparkDate(stats.startTime);
    var newest = batches.length ? batches[0].batchId : NaN;
    text("batch-interval", formatDuration(stats.batchDuration));
    text("started", isNaN(start) ? "–" : formatTime(start));
    text("uptime", isNaN(start) || isNaN(newest) ? "–" : formatDuration(Math.max(0, newest - start)));
    text("completed-count", stats.numTotalCompletedBatches.toLocaleString());
    text("records-count", stats.numReceivedRecords.toLocaleString());
    text("timeline-batches", String(oldestFirst.length));
    text("active-summary", active.length + " active");
    text("receivers-summary", stats.numReceivers ?
      stats.numActiveReceivers + "/" + stats.numReceivers + " receivers active" : "");

    METRICS.forEach(function (m) {
      var points = [];
      oldestFirst.forEach(function (b) {
        var v = m.value(b);
        if (v !== undefined && v !== null) { points.push({ t: b.batchId, v: v, failed: b.numFailedOutputOps > 0 }); }
      });
      var values = points.map(function (p) { return p.v; });
      var yMax = niceMax(Math.max.apply(null, [0].concat(values)));
      var avg = stats[m.avgKey];
      text("avg-" + m.id, m.format(avg));
      drawTimeline(document.getElementById("timeline-" + m.id), points, yMax, m.format, m.axis, avg);
      drawHistogram(document.getElementById("histogram-" + m.id), values, yMax, m.format);
    });

    text("active-count", String(active.length));
    fillTable("active-batches", active.map(function (b) { return batchRow(b, false); }), 6,
      "no batch is queued or processing");
    var shown = completed.slice(0, MAX_TABLE_ROWS);
    text("completed-shown", String(shown.length));
    text("completed-total", stats.numTotalCompletedBatches.toLocaleString());
    fillTable("completed-batches", shown.map(function (b) { return batchRow(b, true); }), 6,
      "no completed batch yet");

    text("receiver-count", String(receivers.length));
    fillTable("receivers", receivers.map(function (r) {
      var tr = document.createElement("tr");
      cell(tr, String(r.streamId));
      cell(tr, r.streamName);
      cell(tr, r.isActive === undefined ? "–" : (r.isActive ? "active" : "inactive"), r.isActive === false ? "failed" : "");
      cell(tr, formatRate(r.avgEventRate));
      cell(tr, r.lastErrorMessage ? formatTime(sparkDate(r.lastErrorTime)) + ": " + r.lastErrorMessage : "");
      return tr;
    }), 5, "no receiver (this job's inputs are not receiver streams)");
  }

  function setStatus(label, state) {
    var node = document.getElementById("status");
    node.textContent = label;
    node.setAttribute("data-state", state);
  }

  function getJSON(path) {
    return fetch(path, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error(path + ": HTTP " + r.status); }
      return r.json();
    });
  }

  var updates = 0;
  function refresh() {
    Promise.all([
      getJSON("api/v1/streaming/statistics"),
      getJSON("api/v1/streaming/batches"),
      getJSON("api/v1/streaming/receivers")
    ]).then(function (data) {
      render(data[0], data[1], data[2]);
      updates += 1;
      document.body.setAttribute("data-updates", String(updates));
      setStatus("live", "live");
    }).catch(function (e) {
      setStatus("disconnected (" + e.message + ")", "error");
    }).then(function () {
      window.setTimeout(refresh, REFRESH_MS);
    });
  }

  refresh();
}());
