/* The failure explorer: combine facets, sort, page. No framework, nothing fetched from elsewhere.
 *
 * Reads data/facets.json (facet values and one row of small integers per failure) and,
 * for the rows on screen only, data/titles-N.json (failure ids and titles). The filter
 * lives in the URL's hash (#impact=critical,high&service=Lambda&sort=case&page=2), so a
 * view can be linked. Record text is put in the page with textContent, never as HTML.
 */
(function () {
  "use strict";
  var FACETS = ["impact", "category", "service", "platform", "language"];
  var LABELS = { impact: "Impact", category: "Category", service: "AWS service", platform: "Platform", language: "Language" };
  var FLAGS = { fix: [1, "Has a fix"], code: [2, "Has code"] };
  var PAGE = 50;
  var SHOWN = 12; /* facet values listed before "more" */
  var data = null, shards = {}, root = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function readState() {
    var state = { sort: "impact", page: 1, q: "" }, hash = location.hash.replace(/^#/, "");
    FACETS.concat(["flag"]).forEach(function (f) { state[f] = []; });
    hash.split("&").forEach(function (part) {
      if (!part) return;
      var eq = part.indexOf("="), key = decodeURIComponent(part.slice(0, eq)), value = decodeURIComponent(part.slice(eq + 1));
      if (state[key] instanceof Array) state[key] = value ? value.split(",") : [];
      else if (key === "page") state.page = Math.max(1, parseInt(value, 10) || 1);
      else if (key === "sort" || key === "q") state[key] = value;
    });
    return state;
  }

  function writeState(state) {
    var parts = [];
    FACETS.concat(["flag"]).forEach(function (f) {
      if (state[f].length) parts.push(f + "=" + state[f].map(encodeURIComponent).join(","));
    });
    if (state.q) parts.push("q=" + encodeURIComponent(state.q));
    if (state.sort !== "impact") parts.push("sort=" + state.sort);
    if (state.page > 1) parts.push("page=" + state.page);
    var hash = parts.length ? "#" + parts.join("&") : "";
    if (location.hash !== hash) history.replaceState(null, "", location.pathname + location.search + hash);
  }

  /* The value indexes of a row along a facet (a failure may name several services). */
  function valuesOf(row, facet) {
    var r = data.rows;
    if (facet === "service") return r.services[row];
    if (facet === "platform") return [data.cases[r["case"][row]][2]];
    if (facet === "language") return [data.cases[r["case"][row]][3]];
    return [r[facet][row]];
  }

  function selected(state) {
    var sets = {};
    FACETS.forEach(function (f) {
      if (!state[f].length) return;
      var keys = data.facets[f], set = {};
      keys.forEach(function (kv, i) { if (state[f].indexOf(kv[0]) >= 0) set[i] = true; });
      sets[f] = set;
    });
    return sets;
  }

  function matches(row, sets, state, skip) {
    for (var f in sets) {
      if (f === skip) continue;
      var vs = valuesOf(row, f), hit = false;
      for (var i = 0; i < vs.length; i++) if (sets[f][vs[i]]) { hit = true; break; }
      if (!hit) return false;
    }
    for (var j = 0; j < state.flag.length; j++) {
      var flag = FLAGS[state.flag[j]];
      if (flag && !(data.rows.flags[row] & flag[0])) return false;
    }
    if (state.q) {
      var c = data.cases[data.rows["case"][row]];
      if ((c[0] + " " + c[1]).toLowerCase().indexOf(state.q.toLowerCase()) < 0) return false;
    }
    return true;
  }

  function sortRows(rows, how) {
    var r = data.rows;
    var byCase = function (a, b) { return r["case"][a] - r["case"][b] || a - b; };
    var cmp = {
      impact: function (a, b) { return r.impact[a] - r.impact[b] || byCase(a, b); },
      "case": byCase,
      category: function (a, b) {
        var x = data.facets.category[r.category[a]][1], y = data.facets.category[r.category[b]][1];
        return x < y ? -1 : x > y ? 1 : byCase(a, b);
      }
    }[how] || byCase;
    return rows.sort(cmp);
  }

  function shard(n) {
    if (!shards[n]) {
      shards[n] = fetch(root.getAttribute("data-base") + "titles-" + n + ".json").then(function (res) {
        if (!res.ok) throw new Error("titles-" + n + ".json: " + res.status);
        return res.json();
      });
    }
    return shards[n];
  }

  function caseUrl(id, anchor) {
    var base = root.getAttribute("data-cases"), dirs = root.getAttribute("data-dirs") === "1";
    return base + encodeURIComponent(id) + (dirs ? "/" : ".html") + (anchor ? "#" + encodeURIComponent(anchor) : "");
  }

  function facetList(facet, state, counts) {
    var box = el("fieldset", { "class": "kb-facet", "data-facet": facet });
    box.appendChild(el("legend", null, LABELS[facet] + (state[facet].length ? " (" + state[facet].length + ")" : "")));
    var list = el("ul");
    var order = data.facets[facet].map(function (kv, i) { return i; });
    if (facet !== "impact") order.sort(function (a, b) { return counts[b] - counts[a] || a - b; });
    var shown = 0;
    order.forEach(function (i) {
      var kv = data.facets[facet][i], on = state[facet].indexOf(kv[0]) >= 0;
      if (!counts[i] && !on) return;
      var li = el("li"), label = el("label"), box2 = el("input", { type: "checkbox", value: kv[0] });
      box2.checked = on;
      box2.addEventListener("change", function () {
        var s = readState(), list2 = s[facet], at = list2.indexOf(kv[0]);
        if (at >= 0) list2.splice(at, 1); else list2.push(kv[0]);
        s.page = 1; writeState(s); render();
      });
      label.appendChild(box2);
      label.appendChild(el("span", null, " " + kv[1] + " "));
      label.appendChild(el("span", { "class": "kb-count" }, String(counts[i] || 0)));
      li.appendChild(label);
      if (++shown > SHOWN && !on) li.className = "kb-more";
      list.appendChild(li);
    });
    box.appendChild(list);
    if (shown > SHOWN) {
      var more = el("button", { type: "button", "class": "kb-more-button" }, "Show all " + shown);
      more.addEventListener("click", function () { list.classList.add("kb-all"); more.remove(); });
      box.appendChild(more);
    }
    return box;
  }

  function controls(state, total) {
    var bar = el("div", { "class": "kb-controls" });
    var search = el("input", { type: "search", placeholder: "Filter by case id or title", "aria-label": "Filter by case", value: state.q });
    search.addEventListener("change", function () { var s = readState(); s.q = search.value.trim(); s.page = 1; writeState(s); render(); });
    bar.appendChild(search);
    Object.keys(FLAGS).forEach(function (key) {
      var label = el("label", { "class": "kb-flag" }), box = el("input", { type: "checkbox", "data-flag": key });
      box.checked = state.flag.indexOf(key) >= 0;
      box.addEventListener("change", function () {
        var s = readState(), at = s.flag.indexOf(key);
        if (at >= 0) s.flag.splice(at, 1); else s.flag.push(key);
        s.page = 1; writeState(s); render();
      });
      label.appendChild(box); label.appendChild(el("span", null, " " + FLAGS[key][1]));
      bar.appendChild(label);
    });
    var sort = el("select", { "aria-label": "Sort by", "class": "kb-sort" });
    [["impact", "Sort: impact"], ["case", "Sort: case"], ["category", "Sort: category"]].forEach(function (o) {
      var opt = el("option", { value: o[0] }, o[1]); if (state.sort === o[0]) opt.selected = true; sort.appendChild(opt);
    });
    sort.addEventListener("change", function () { var s = readState(); s.sort = sort.value; s.page = 1; writeState(s); render(); });
    bar.appendChild(sort);
    var reset = el("a", { href: "#", "class": "kb-reset" }, "Clear filters");
    reset.addEventListener("click", function (ev) { ev.preventDefault(); history.replaceState(null, "", location.pathname); render(); });
    bar.appendChild(reset);
    return bar;
  }

  function pager(state, pages) {
    var nav = el("nav", { "class": "kb-pager", "aria-label": "Pages" });
    function go(page, text, current) {
      var a = el("a", { href: "#", "data-page": String(page) }, text);
      if (current) a.setAttribute("aria-current", "page");
      a.addEventListener("click", function (ev) { ev.preventDefault(); var s = readState(); s.page = page; writeState(s); render(); root.scrollIntoView(); });
      nav.appendChild(a);
    }
    if (state.page > 1) go(state.page - 1, "‹ Previous");
    var first = Math.max(1, state.page - 3), last = Math.min(pages, state.page + 3);
    if (first > 1) { go(1, "1"); if (first > 2) nav.appendChild(el("span", null, "…")); }
    for (var p = first; p <= last; p++) go(p, String(p), p === state.page);
    if (last < pages) { if (last < pages - 1) nav.appendChild(el("span", null, "…")); go(pages, String(pages)); }
    if (state.page < pages) go(state.page + 1, "Next ›");
    return nav;
  }

  function badge(impact) {
    var kv = data.facets.impact[impact];
    return el("span", { "class": "kb-badge kb-badge--" + kv[0] }, kv[1]);
  }

  function rowsTable(rows, titles) {
    var table = el("table", { "class": "kb-results" }), head = el("tr");
    ["Failure", "Case", "Platform", "Impact", "Service"].forEach(function (h) { head.appendChild(el("th", null, h)); });
    table.appendChild(el("thead")).appendChild(head);
    var body = el("tbody"), r = data.rows;
    rows.forEach(function (row, i) {
      var c = data.cases[r["case"][row]], t = titles[i], tr = el("tr");
      var cell = el("td"), a = el("a", { href: caseUrl(c[0], t[0]) }, t[1]);
      cell.appendChild(a); tr.appendChild(cell);
      var caseCell = el("td"), ca = el("a", { href: caseUrl(c[0]), title: c[1] }, c[0]);
      caseCell.appendChild(ca); caseCell.appendChild(el("div", { "class": "kb-case-title" }, c[1])); tr.appendChild(caseCell);
      tr.appendChild(el("td", null, c[2] >= 0 ? data.facets.platform[c[2]][1] + ((r.flags[row] & 4) ? " (inferred)" : "") : ""));
      var imp = el("td"); imp.appendChild(badge(r.impact[row])); tr.appendChild(imp);
      var from = r["from"][row], list = r.services[row].map(function (s) { return data.facets.service[s][1]; });
      var names = from === 2 && list.length > 3 ? list.slice(0, 3).join(", ") + " +" + (list.length - 3) : list.join(", ");
      tr.appendChild(el("td", from === 2 ? { title: "From the task's services: the failure names none" } : null, names + (from === 2 ? " (task)" : "")));
      body.appendChild(tr);
    });
    table.appendChild(body);
    return table;
  }

  function render() {
    var state = readState(), sets = selected(state), n = data.rows["case"].length, hits = [];
    var counts = {};
    FACETS.forEach(function (f) { counts[f] = new Array(data.facets[f].length).fill(0); });
    for (var row = 0; row < n; row++) {
      var all = matches(row, sets, state, null);
      if (all) hits.push(row);
      for (var k = 0; k < FACETS.length; k++) {
        var f = FACETS[k];
        if (!(all || (sets[f] && matches(row, sets, state, f)))) continue;
        var vs = valuesOf(row, f);
        for (var v = 0; v < vs.length; v++) if (vs[v] >= 0) counts[f][vs[v]]++;
      }
    }
    sortRows(hits, state.sort);
    var pages = Math.max(1, Math.ceil(hits.length / PAGE));
    if (state.page > pages) state.page = pages;
    var shown = hits.slice((state.page - 1) * PAGE, state.page * PAGE);
    var needed = {};
    shown.forEach(function (row) { needed[Math.floor(row / data.shard)] = true; });
    var token = {}; root._token = token;
    Promise.all(Object.keys(needed).map(function (s) { return shard(+s).then(function (rows) { return [s, rows]; }); }))
      .then(function (loaded) {
        if (root._token !== token) return;
        var byShard = {};
        loaded.forEach(function (pair) { byShard[pair[0]] = pair[1]; });
        var titles = shown.map(function (row) { return byShard[Math.floor(row / data.shard)][row % data.shard]; });
        var side = el("div", { "class": "kb-facets" });
        FACETS.forEach(function (f) { side.appendChild(facetList(f, state, counts[f])); });
        var main = el("div", { "class": "kb-main" });
        main.appendChild(controls(state, hits.length));
        var from = hits.length ? (state.page - 1) * PAGE + 1 : 0, to = Math.min(hits.length, state.page * PAGE);
        main.appendChild(el("p", { "class": "kb-summary", "aria-live": "polite" },
          hits.length + " of " + n + " failures" + (hits.length ? " · showing " + from + "–" + to + " · page " + state.page + " of " + pages : "")));
        main.appendChild(rowsTable(shown, titles));
        if (pages > 1) main.appendChild(pager(state, pages));
        root.replaceChildren(side, main);
        root.setAttribute("data-ready", "1");
      })
      .catch(function (err) { root.replaceChildren(el("p", { "class": "kb-error" }, "Could not load the explorer's data: " + err.message)); });
  }

  function start() {
    root = document.getElementById("kb-explorer");
    if (!root) return;
    shards = {};
    fetch(root.getAttribute("data-base") + "facets.json")
      .then(function (res) { if (!res.ok) throw new Error("facets.json: " + res.status); return res.json(); })
      .then(function (json) { data = json; render(); })
      .catch(function (err) { root.replaceChildren(el("p", { "class": "kb-error" }, "Could not load the explorer's data: " + err.message)); });
  }

  window.addEventListener("hashchange", function () { if (root && data && document.getElementById("kb-explorer") === root) render(); });
  if (window.document$ && window.document$.subscribe) window.document$.subscribe(start);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
