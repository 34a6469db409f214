/* Search over Pagefind's chunked index (built after the site by generator/site.py).
 *
 * Uses Pagefind's search API (pagefind.js, written next to the index) and draws the
 * results itself with textContent: record text in titles and excerpts stays text, even
 * `<img onerror=...>` (Pagefind's own UI would parse it as HTML). A visitor downloads
 * the index chunks for the words typed, never the whole index.
 */
(function () {
  "use strict";
  var RESULTS = 10, SUB_RESULTS = 3, FILTERS = ["impact", "platform", "language"];
  var ENTITIES = { "&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": "\"", "&#39;": "'", "&#x27;": "'" };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function decode(text) {
    return text.replace(/&(?:lt|gt|amp|quot|#39|#x27);/g, function (m) { return ENTITIES[m]; });
  }

  /* An excerpt (Pagefind escapes the text and puts <mark> around the hits) as text nodes and mark elements;
     titles are plain text already. */
  function excerpt(html) {
    var p = el("p", { "class": "kb-search-excerpt" });
    html.split(/(<mark>|<\/mark>)/).reduce(function (inMark, part) {
      if (part === "<mark>") return true;
      if (part === "</mark>") return false;
      if (part) p.appendChild(inMark ? el("mark", null, decode(part)) : document.createTextNode(decode(part)));
      return inMark;
    }, false);
    return p;
  }

  function start() {
    var box = document.getElementById("kb-search");
    if (!box || box.getAttribute("data-started")) return;
    box.setAttribute("data-started", "1");
    var bundle = new URL(box.getAttribute("data-bundle"), location.href);
    var rootPath = bundle.pathname.replace(/pagefind\/$/, "");
    var form = el("form", { role: "search", "class": "kb-search-form" });
    var input = el("input", { type: "search", placeholder: "Search titles, services, errors, root causes", "aria-label": "Search", autocomplete: "off" });
    form.appendChild(input);
    var selects = {};
    var status = el("p", { "class": "kb-search-status", "aria-live": "polite" });
    var list = el("ol", { "class": "kb-search-results" });
    box.replaceChildren(form, status, list);
    var pagefind = null, token = 0;

    function run() {
      var query = input.value.trim(), mine = ++token;
      var filters = {};
      FILTERS.forEach(function (f) { if (selects[f] && selects[f].value) filters[f] = selects[f].value; });
      var params = new URLSearchParams();
      if (query) params.set("q", query);
      Object.keys(filters).forEach(function (f) { params.set(f, filters[f]); });
      history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : "") + location.hash);
      box.querySelectorAll(".kb-more-button").forEach(function (b) { b.remove(); });
      if (!query) { list.replaceChildren(); status.textContent = ""; return; }
      var found = [];
      pagefind.debouncedSearch(query, { filters: filters }, 150).then(function (search) {
        if (!search || mine !== token) return null;
        found = search.results;
        status.textContent = found.length + " page" + (found.length === 1 ? "" : "s") + " found";
        return Promise.all(found.slice(0, RESULTS).map(function (r) { return r.data(); }));
      }).then(function (pages) {
        if (!pages || mine !== token) return;
        list.replaceChildren();
        show(pages);
        box.setAttribute("data-results", String(pages.length));
        if (found.length > RESULTS) more(found, RESULTS, mine);
      });
    }

    /* "More results": the next RESULTS pages' fragments, fetched only when asked for. */
    function more(found, from, mine) {
      var button = el("button", { type: "button", "class": "kb-more-button" }, "Show more results");
      button.addEventListener("click", function () {
        button.remove();
        Promise.all(found.slice(from, from + RESULTS).map(function (r) { return r.data(); })).then(function (pages) {
          if (mine !== token) return;
          show(pages);
          if (found.length > from + RESULTS) more(found, from + RESULTS, mine);
        });
      });
      list.after(button);
    }

    function show(pages) {
      pages.forEach(function (page) {
        var li = el("li", { "class": "kb-search-result" });
        li.appendChild(el("a", { href: page.url, "class": "kb-search-title" }, page.meta.title || page.url));
        var subs = (page.sub_results || []).filter(function (s) { return s.url !== page.url; }).slice(0, SUB_RESULTS);
        if (!subs.length) li.appendChild(excerpt(page.excerpt || ""));
        subs.forEach(function (sub) {
          var div = el("div", { "class": "kb-search-sub" });
          div.appendChild(el("a", { href: sub.url }, sub.title || ""));
          div.appendChild(excerpt(sub.excerpt || ""));
          li.appendChild(div);
        });
        list.appendChild(li);
      });
    }

    import(bundle.href + "pagefind.js").then(function (module) {
      pagefind = module;
      return pagefind.options({ baseUrl: rootPath }).then(function () { return pagefind.filters(); });
    }).then(function (available) {
      FILTERS.forEach(function (f) {
        var values = available[f];
        if (!values || !Object.keys(values).length) return;
        var select = el("select", { "aria-label": "Filter by " + f, "data-filter": f });
        select.appendChild(el("option", { value: "" }, "Any " + f));
        Object.keys(values).sort().forEach(function (v) { select.appendChild(el("option", { value: v }, v + " (" + values[v] + ")")); });
        select.addEventListener("change", run);
        selects[f] = select;
        form.appendChild(select);
      });
      var params = new URLSearchParams(location.search);
      input.value = params.get("q") || "";
      FILTERS.forEach(function (f) { if (selects[f] && params.get(f)) selects[f].value = params.get(f); });
      input.addEventListener("input", run);
      form.addEventListener("submit", function (ev) { ev.preventDefault(); run(); });
      box.setAttribute("data-ready", "1");
      if (input.value) run();
    }).catch(function () {
      status.textContent = "The search index is missing: build the site with `mkdocs build` (it runs Pagefind).";
    });
  }

  /* A permalink's mark copies the failure's address. */
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest && ev.target.closest("a.kb-permalink");
    if (!link || !navigator.clipboard) return;
    navigator.clipboard.writeText(link.href).then(function () {
      link.setAttribute("data-copied", "1");
      setTimeout(function () { link.removeAttribute("data-copied"); }, 1500);
    }, function () {});
  });
  if (window.document$ && window.document$.subscribe) window.document$.subscribe(start);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
