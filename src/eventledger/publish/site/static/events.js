/* The events table for readers with JavaScript: filters, sorting, search and a windowed body.
 *
 * Browsers refuse fetch() of file:// URLs and the site must work opened from a folder, so all
 * data comes as scripts. assets/events-index.js assigns window.EL_INDEX: only what filtering
 * and sorting need, small integers in flat arrays, so the filters are ready at once even for
 * 100,000 events. Everything else comes in parts of `chunk` events (see render.py), each a
 * script that hands its part to window.EL_PARTS: the ids, titles, dates and actors of the rows, asked
 * for when rows come into view (the first part is in the page already), which actors and
 * sources each event names, asked for just after the table is drawn, the text that search
 * reads, asked for part by part when someone searches (results show as parts arrive), and the
 * title order, asked for on the first sort by title. Only the rows in view are in the DOM. The
 * static rows and page links in the HTML remain for readers without JavaScript.
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
  // firstRender: the table drawn and the filters ready; filled: the last time every row in
  // view had its title (no part still to arrive); pending: rows in view still waiting;
  // searching: events whose text is still to arrive; sorting: the title order still to arrive;
  // reading: actor or source filters waiting for their part; allFilters: when both came.
  window.EL_TIMINGS = {
    firstRender: null, lastFilterMs: null, filters: 0, filled: null, pending: 0, searching: 0,
    sorting: false, optionsFilled: null, reading: 0, allFilters: null
  };

  var n = data.n, chunk = data.chunk, parts = Math.ceil(n / chunk);
  var types = data.type, facts = data.factuality;
  var firstYear = new Int32Array(n), lastYear = new Int32Array(n);
  var sourceAt = new Int32Array(n + 1);
  // Which actors and sources each event names: two parts of their own (two thirds of what
  // filtering needs at scale), asked for right after the table is drawn.
  var actorAt = null, actorIds = null, sourceIds = null;
  for (var e = 0; e < n; e++) {
    if (data.year[e] < 0) { firstYear[e] = -1; lastYear[e] = -2; } // undated: no year matches
    else { firstYear[e] = data.year0 + data.year[e]; lastYear[e] = firstYear[e] + data.years[e]; }
    sourceAt[e + 1] = sourceAt[e] + data.source_n[e];
  }
  var draft = new Uint8Array(n);
  data.drafts.forEach(function (i) { draft[i] = 1; });
  function has(at, list, i, value) {
    for (var k = at[i], end = at[i + 1]; k < end; k++) if (list[k] === value) return true;
    return false;
  }

  // The parts, by number: rows[k] = {id, title, date} and search[k] = lower-cased texts of
  // events k * chunk onwards; titleRank[i] = event i's place in title order.
  var rows = new Array(parts), search = new Array(parts), titleRank = null;
  var asked = {}, queue = [], loading = 0;
  function ask(name, k, urgent) {
    var key = name + "-" + k;
    if (asked[key]) return;
    asked[key] = true;
    if (urgent) queue.unshift(key); else queue.push(key);
    pump();
  }
  function pump() {
    // A few at a time, in the order asked: rows in view first, then search from the top.
    while (loading < 4 && queue.length) {
      loading++;
      var script = document.createElement("script");
      script.src = "assets/events/" + queue.shift() + ".js";
      script.onload = script.onerror = function () {
        loading--;
        this.parentNode.removeChild(this);
        pump();
      };
      document.head.appendChild(script);
    }
  }
  var started = false;
  function partsRead() {
    if (actorIds !== null && sourceIds !== null) window.EL_TIMINGS.allFilters = performance.now();
  }
  function receive(item) {
    var name = item[0], k = item[1], value = item[2];
    if (name === "rows") {
      rows[k] = value;
      if (started) draw();
    } else if (name === "search") {
      var low = new Array(value.length);
      for (var j = 0; j < value.length; j++) low[j] = value[j].toLowerCase();
      search[k] = low;
      if (started) refilter();
    } else if (name === "actors") {
      actorAt = new Int32Array(n + 1);
      for (var a = 0; a < n; a++) actorAt[a + 1] = actorAt[a] + value.n[a];
      actorIds = value.ids;
      partsRead();
      if (started && pick("f-actor") >= 0) apply(true);
    } else if (name === "sources") {
      sourceIds = value.ids;
      partsRead();
      if (started && pick("f-source") >= 0) apply(true);
    } else if (name === "title-order") {
      titleRank = value;
      if (started && sortKey === "title") apply(true);
    }
  }

  var order = new Int32Array(0);
  var sortKey = "date";
  var sortDir = 1;
  var rowHeight = 36;
  var tbody = table.tBodies[0];
  var columns = table.tHead.rows[0].cells.length;
  var scheduled = 0, refiltering = 0;
  function draw() { if (!scheduled) scheduled = requestAnimationFrame(render); }
  function refilter() {
    if (!refiltering) refiltering = setTimeout(function () { refiltering = 0; apply(true); }, 30);
  }

  form.hidden = false;
  table.classList.add("windowed");
  // The static rows are for readers without the script: gone before the first layout, which
  // would otherwise lay them all out once more only to replace them.
  var emptied = document.createElement("tbody");
  table.replaceChild(emptied, tbody);
  tbody = emptied;

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

  // Types and factualities are listed in sorted order, so their codes sort as their names.
  function compare(a, b) {
    var x, y;
    if (sortKey === "title") { x = titleRank[a]; y = titleRank[b]; }
    else if (sortKey === "type") { x = types[a]; y = types[b]; }
    else if (sortKey === "factuality") { x = facts[a]; y = facts[b]; }
    else if (sortKey === "sources") { x = sourceAt[a + 1] - sourceAt[a]; y = sourceAt[b + 1] - sourceAt[b]; }
    else { x = a; y = b; } // the index is in date order already
    if (x < y) return -sortDir;
    if (x > y) return sortDir;
    return a - b;
  }

  // keep: a part arrived, the question is the same: keep the reader's place.
  function apply(keep) {
    var t0 = performance.now();
    var type = pick("f-type"), fact = pick("f-factuality"), year = pick("f-year");
    var actor = pick("f-actor"), source = pick("f-source");
    var q = control("f-search").value.trim().toLowerCase();
    var out = new Int32Array(n);
    var count = 0, unread = 0, reading = 0;
    // A filter by actor or source before its part has come: nothing matches yet; it is asked
    // for (first, if not already on its way) and the filter applied again when it comes.
    if (actor >= 0 && actorIds === null) { ask("actors", 0, true); reading++; }
    if (source >= 0 && sourceIds === null) { ask("sources", 0, true); reading++; }
    var needed = q ? new Uint8Array(parts) : null;
    for (var i = 0; i < n; i++) {
      if (type >= 0 && types[i] !== type) continue;
      if (fact >= 0 && facts[i] !== fact) continue;
      if (year >= 0 && (firstYear[i] > year || lastYear[i] < year)) continue;
      if (actor >= 0 && (actorIds === null || !has(actorAt, actorIds, i, actor))) continue;
      if (source >= 0 && (sourceIds === null || !has(sourceAt, sourceIds, i, source))) continue;
      if (q) {
        var k = (i / chunk) | 0, texts = search[k];
        if (texts === undefined) { needed[k] = 1; unread++; continue; }
        if (texts[i - k * chunk].indexOf(q) < 0) continue;
      }
      out[count++] = i;
    }
    // Only the parts that hold events passing the other filters, from the top down.
    if (q) for (var p = 0; p < parts; p++) if (needed[p]) ask("search", p, false);
    order = out.subarray(0, count);
    var note = "", sorting = false;
    if (sortKey === "title" && titleRank === null) {
      ask("title-order", 0, true);
      sorting = true;
      note = " Reading the titles' order…";
    } else if (!(sortKey === "date" && sortDir > 0)) {
      order = Int32Array.from(order).sort(compare);
    }
    if (reading) note += " Reading which events name them…";
    if (unread) note += " Still searching " + unread + " events…";
    if (!keep) scroller.scrollTop = 0;
    render();
    status.textContent = "Showing " + count + " of " + n + " events, by " + sortKey +
      (sortDir > 0 ? "" : " (descending)") + "." + note;
    table.setAttribute("aria-rowcount", String(count + 1));
    window.EL_TIMINGS.searching = unread;
    window.EL_TIMINGS.reading = reading;
    window.EL_TIMINGS.sorting = sorting;
    window.EL_TIMINGS.lastFilterMs = performance.now() - t0;
    window.EL_TIMINGS.filters += 1;
    performance.mark("el-filter-applied");
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

  // A row whose part has not arrived shows what the index knows and "…" for the rest; the
  // part is asked for and the rows drawn again when it comes.
  function row(k) {
    var i = order[k];
    var p = (i / chunk) | 0, j = i - p * chunk, part = rows[p];
    var tr = document.createElement("tr");
    tr.setAttribute("aria-rowindex", String(k + 2));
    if (draft[i]) tr.className = "draft";
    if (!part) {
      ask("rows", p, true);
      tr.className += " pending";
    }
    cell(tr, part ? part.date[j] : "…", "date");
    var td = cell(tr, "", "title");
    if (part) {
      var a = document.createElement("a");
      a.href = "events/" + part.id[j] + ".html";
      a.textContent = part.title[j];
      td.title = part.title[j];
      td.appendChild(a);
    } else {
      td.textContent = "…";
    }
    if (draft[i]) {
      var badge = document.createElement("span");
      badge.className = "badge draft";
      badge.textContent = "draft";
      td.appendChild(document.createTextNode(" "));
      td.appendChild(badge);
    }
    cell(tr, data.types[types[i]]);
    cell(tr, data.factualities[facts[i]]);
    var names = part ? part.actors[j] : "…";
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
    var pending = 0;
    for (var k = first; k < last; k++) {
      if (!rows[(order[k] / chunk) | 0]) pending++;
      body.appendChild(row(k));
    }
    body.appendChild(spacer((order.length - last) * rowHeight));
    table.replaceChild(body, tbody);
    tbody = body;
    window.EL_TIMINGS.pending = pending;
    if (!pending) window.EL_TIMINGS.filled = performance.now();
    if (order.length > last - first && last > first) {
      // Rows are as tall as the stylesheet makes them; measure once so the spacers fit.
      var measured = tbody.rows[1].offsetHeight;
      if (measured > 0 && Math.abs(measured - rowHeight) > 0.5) {
        rowHeight = measured;
        render();
      }
    }
  }

  scroller.addEventListener("scroll", draw);
  window.addEventListener("resize", draw);
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

  // The long lists of options wait in <template>s (see index.html): filled in just after the
  // table is drawn, or at once when a reader reaches for one or an address names it.
  function fill(name) {
    var template = document.getElementById("f-" + name + "-options");
    if (!template || !template.content) return;
    template.parentNode.removeChild(template);
    control("f-" + name).appendChild(template.content);
  }
  var params = new URLSearchParams(window.location.search);
  ["actor", "source"].forEach(function (name) {
    var select = control("f-" + name);
    var now = function () { fill(name); };
    select.addEventListener("focus", now);
    select.addEventListener("mousedown", now);
    select.addEventListener("keydown", now);
    if (params.get(name) !== null) fill(name);
  });
  // A link may name filters in the address, as the form would (the timeline's columns do).
  ["type", "factuality", "year", "actor", "source", "q"].forEach(function (name) {
    var value = params.get(name);
    var el = form.elements.namedItem(name);
    if (value === null || !el) return;
    if (el.tagName === "SELECT" && !Array.prototype.some.call(el.options, function (o) { return o.value === value; })) return;
    el.value = value;
  });
  // Parts that came before this script (the first rows, in the page) wait in an array; from
  // now on each part's script hands it over directly.
  var early = window.EL_PARTS || [];
  window.EL_PARTS = { push: receive };
  early.forEach(receive);
  started = true;
  apply();
  window.EL_TIMINGS.firstRender = performance.now();
  performance.mark("el-table-rendered");
  setTimeout(function () {
    fill("actor");
    fill("source");
    window.EL_TIMINGS.optionsFilled = performance.now();
    ask("actors", 0, false);
    ask("sources", 0, false);
  }, 0);
})();
