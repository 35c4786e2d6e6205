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
  // Everything before this mark is the browser reading the page and the index script.
  performance.mark("el-script-start");
  var data = window.EL_INDEX;
  var table = document.getElementById("events");
  var scroller = document.getElementById("events-scroll");
  var form = document.getElementById("filters");
  var status = document.getElementById("status");
  if (!data || !table || !scroller || !form) return;
  document.documentElement.classList.add("js");
  window.EL_TIMINGS = { firstRender: null, lastFilterMs: null, filters: 0 };

  // The index is columnar (see render.py): one array per column, repeated values as codes.
  var n = data.id.length;
  var ids = data.id, rawTitles = data.title, types = data.type, facts = data.factuality;
  var firstYear = data.first_year, lastYear = data.last_year;
  var actorAt = data.actor_at, actorIds = data.actor_ids;
  var sourceAt = data.source_at, sourceIds = data.source_ids;
  var draft = new Uint8Array(n);
  data.drafts.forEach(function (i) { draft[i] = 1; });
  var titles = null; // lower-cased on first need (sorting by title or searching), not at load
  function lowerTitles() {
    if (titles === null) titles = rawTitles.map(function (t) { return t.toLowerCase(); });
    return titles;
  }
  function has(at, list, i, value) {
    for (var k = at[i], end = at[i + 1]; k < end; k++) if (list[k] === value) return true;
    return false;
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
    else if (sortKey === "type") { x = data.types[types[a]]; y = data.types[types[b]]; }
    else if (sortKey === "factuality") { x = data.factualities[facts[a]]; y = data.factualities[facts[b]]; }
    else if (sortKey === "sources") { x = sourceAt[a + 1] - sourceAt[a]; y = sourceAt[b + 1] - sourceAt[b]; }
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
    if (q || sortKey === "title") lowerTitles();
    var out = new Int32Array(n);
    var count = 0;
    for (var i = 0; i < n; i++) {
      if (type >= 0 && types[i] !== type) continue;
      if (fact >= 0 && facts[i] !== fact) continue;
      if (year >= 0 && (firstYear[i] > year || lastYear[i] < year)) continue;
      if (actor >= 0 && !has(actorAt, actorIds, i, actor)) continue;
      if (source >= 0 && !has(sourceAt, sourceIds, i, source)) continue;
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
    var i = order[k];
    var tr = document.createElement("tr");
    tr.setAttribute("aria-rowindex", String(k + 2));
    if (draft[i]) tr.className = "draft";
    cell(tr, data.dates[data.date[i]], "date");
    var td = cell(tr, "", "title");
    var a = document.createElement("a");
    a.href = "events/" + ids[i] + ".html";
    a.textContent = rawTitles[i];
    td.title = rawTitles[i];
    td.appendChild(a);
    if (draft[i]) {
      var badge = document.createElement("span");
      badge.className = "badge draft";
      badge.textContent = "draft";
      td.appendChild(document.createTextNode(" "));
      td.appendChild(badge);
    }
    cell(tr, data.types[types[i]]);
    cell(tr, data.factualities[facts[i]]);
    var names = [];
    for (var k2 = actorAt[i]; k2 < actorAt[i + 1]; k2++) names.push(data.actors[actorIds[k2]]);
    names = names.join(", ");
    cell(tr, names, "actors").title = names;
    cell(tr, String(sourceAt[i + 1] - sourceAt[i]), "num");
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

  // A link may name filters in the address, as the form would (the timeline's columns do).
  var params = new URLSearchParams(window.location.search);
  ["type", "factuality", "year", "actor", "source", "q"].forEach(function (name) {
    var value = params.get(name);
    var el = form.elements.namedItem(name);
    if (value === null || !el) return;
    if (el.tagName === "SELECT" && !Array.prototype.some.call(el.options, function (o) { return o.value === value; })) return;
    el.value = value;
  });
  apply();
  window.EL_TIMINGS.firstRender = performance.now();
  performance.mark("el-table-rendered");
})();
