/* The events table for readers with JavaScript: filters, sorting, search and a windowed body.
 *
 * The index (assets/events-index.js) is a script that assigns window.EL_INDEX, because browsers
 * refuse fetch() of file:// URLs and the site must work opened from a folder. Quotes are a
 * second, larger script loaded only when someone first searches. Only the rows in view are in
 * the DOM, so 100,000 events cost no more to scroll than forty; the static rows and page links
 * in the HTML remain for readers without JavaScript.
 * Data is only ever written with textContent and attributes, never parsed as HTML.
 */
(function () {
  "use strict";
  var data = window.EL_INDEX;
  var table = document.getElementById("events");
  var scroller = document.getElementById("events-scroll");
  var form = document.getElementById("filters");
  var status = document.getElementById("status");
  if (!data || !table || !scroller || !form) return;
  document.documentElement.classList.add("js");
  window.EL_TIMINGS = { firstRender: null, lastFilterMs: null, filters: 0 };

  var events = data.events;
  var n = events.length;
  var ID = 0, TITLE = 1, START = 2, END = 3, DATE = 4, TYPE = 5, FACT = 6, ACTORS = 7, SOURCES = 8, DRAFT = 9;
  var titles = new Array(n);
  var firstYear = new Int16Array(n);
  var lastYear = new Int16Array(n);
  for (var i = 0; i < n; i++) {
    titles[i] = events[i][TITLE].toLowerCase();
    firstYear[i] = parseInt(events[i][START].slice(0, 4), 10) || 0;
    lastYear[i] = parseInt(events[i][END].slice(0, 4), 10) || 0;
  }
  var quotes = null;
  var quotesLoading = false;
  var order = new Int32Array(0);
  var sortKey = "date";
  var sortDir = 1;
  var rowHeight = 36;
  var tbody = table.tBodies[0];
  var columns = table.tHead.rows[0].cells.length;
  var scheduled = 0;

  form.hidden = false;
  table.classList.add("windowed");

  var control = function (id) { return document.getElementById(id); };
  var pick = function (id) {
    var v = control(id).value;
    return v === "" ? -1 : parseInt(v, 10);
  };

  // Sort buttons are made here: without the script they could do nothing.
  var heads = table.tHead.querySelectorAll("th[data-sort]");
  Array.prototype.forEach.call(heads, function (th) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = th.textContent;
    button.setAttribute("data-sort", th.getAttribute("data-sort"));
    th.textContent = "";
    th.appendChild(button);
    button.addEventListener("click", function () {
      var key = th.getAttribute("data-sort");
      sortDir = key === sortKey ? -sortDir : 1;
      sortKey = key;
      Array.prototype.forEach.call(heads, function (other) {
        if (other === th) other.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
        else other.removeAttribute("aria-sort");
      });
      apply();
    });
  });

  function compare(a, b) {
    var x, y;
    if (sortKey === "title") { x = titles[a]; y = titles[b]; }
    else if (sortKey === "type") { x = data.types[events[a][TYPE]]; y = data.types[events[b][TYPE]]; }
    else if (sortKey === "factuality") { x = data.factualities[events[a][FACT]]; y = data.factualities[events[b][FACT]]; }
    else if (sortKey === "sources") { x = events[a][SOURCES].length; y = events[b][SOURCES].length; }
    else { x = a; y = b; } // the index is in date order already
    if (x < y) return -sortDir;
    if (x > y) return sortDir;
    return a - b;
  }

  function apply() {
    var t0 = performance.now();
    var type = pick("f-type"), fact = pick("f-factuality"), year = pick("f-year");
    var actor = pick("f-actor"), source = pick("f-source");
    var q = control("f-search").value.trim().toLowerCase();
    if (q && quotes === null) loadQuotes();
    var out = new Int32Array(n);
    var count = 0;
    for (var i = 0; i < n; i++) {
      var e = events[i];
      if (type >= 0 && e[TYPE] !== type) continue;
      if (fact >= 0 && e[FACT] !== fact) continue;
      if (year >= 0 && (firstYear[i] > year || lastYear[i] < year)) continue;
      if (actor >= 0 && e[ACTORS].indexOf(actor) < 0) continue;
      if (source >= 0 && e[SOURCES].indexOf(source) < 0) continue;
      if (q && titles[i].indexOf(q) < 0 && (quotes === null || quotes[i].indexOf(q) < 0)) continue;
      out[count++] = i;
    }
    order = out.subarray(0, count);
    if (!(sortKey === "date" && sortDir > 0)) {
      order = Int32Array.from(order).sort(compare);
    }
    scroller.scrollTop = 0;
    render();
    var note = q && quotes === null ? " Searching titles; quotes are loading." : "";
    status.textContent = "Showing " + count + " of " + n + " events, by " + sortKey +
      (sortDir > 0 ? "" : " (descending)") + "." + note;
    table.setAttribute("aria-rowcount", String(count + 1));
    window.EL_TIMINGS.lastFilterMs = performance.now() - t0;
    window.EL_TIMINGS.filters += 1;
    performance.mark("el-filter-applied");
  }

  function loadQuotes() {
    if (quotesLoading) return;
    quotesLoading = true;
    var script = document.createElement("script");
    script.src = "assets/events-quotes.js";
    script.onload = function () {
      var raw = window.EL_QUOTES || [];
      quotes = new Array(n);
      for (var i = 0; i < n; i++) quotes[i] = (raw[i] || "").toLowerCase();
      apply();
    };
    document.body.appendChild(script);
  }

  function cell(tr, text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function spacer(height) {
    var tr = document.createElement("tr");
    tr.className = "spacer";
    tr.setAttribute("aria-hidden", "true");
    var td = document.createElement("td");
    td.colSpan = columns;
    td.style.height = height + "px";
    tr.appendChild(td);
    return tr;
  }

  function row(k) {
    var e = events[order[k]];
    var tr = document.createElement("tr");
    tr.setAttribute("aria-rowindex", String(k + 2));
    if (e[DRAFT]) tr.className = "draft";
    cell(tr, e[DATE], "date");
    var td = cell(tr, "", "title");
    var a = document.createElement("a");
    a.href = "events/" + e[ID] + ".html";
    a.textContent = e[TITLE];
    td.title = e[TITLE];
    td.appendChild(a);
    if (e[DRAFT]) {
      var badge = document.createElement("span");
      badge.className = "badge draft";
      badge.textContent = "draft";
      td.appendChild(document.createTextNode(" "));
      td.appendChild(badge);
    }
    cell(tr, data.types[e[TYPE]]);
    cell(tr, data.factualities[e[FACT]]);
    var names = e[ACTORS].map(function (x) { return data.actors[x]; }).join(", ");
    cell(tr, names, "actors").title = names;
    cell(tr, String(e[SOURCES].length), "num");
    return tr;
  }

  function render() {
    scheduled = 0;
    var head = table.tHead.offsetHeight;
    var view = scroller.clientHeight || 600;
    var overscan = 10;
    var first = Math.max(0, Math.floor((scroller.scrollTop - head) / rowHeight) - overscan);
    var last = Math.min(order.length, first + Math.ceil(view / rowHeight) + 2 * overscan);
    var body = document.createElement("tbody");
    body.appendChild(spacer(first * rowHeight));
    for (var k = first; k < last; k++) body.appendChild(row(k));
    body.appendChild(spacer((order.length - last) * rowHeight));
    table.replaceChild(body, tbody);
    tbody = body;
    if (order.length > last - first && last > first) {
      // Rows are as tall as the stylesheet makes them; measure once so the spacers fit.
      var measured = tbody.rows[1].offsetHeight;
      if (measured > 0 && Math.abs(measured - rowHeight) > 0.5) {
        rowHeight = measured;
        render();
      }
    }
  }

  scroller.addEventListener("scroll", function () {
    if (!scheduled) scheduled = requestAnimationFrame(render);
  });
  window.addEventListener("resize", function () {
    if (!scheduled) scheduled = requestAnimationFrame(render);
  });
  form.addEventListener("change", function (event) {
    if (event.target.id !== "f-search") apply();
  });
  var typing = 0;
  control("f-search").addEventListener("input", function () {
    clearTimeout(typing);
    typing = setTimeout(apply, 120);
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
  form.addEventListener("reset", function () { setTimeout(apply, 0); });

  apply();
  window.EL_TIMINGS.firstRender = performance.now();
  performance.mark("el-table-rendered");
})();
