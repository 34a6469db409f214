/* Search: Pagefind's own UI (written next to the index by `pagefind`), started on the search page. */
(function () {
  "use strict";
  function start() {
    var box = document.getElementById("kb-search");
    if (!box || box.getAttribute("data-ready")) return;
    var bundle = box.getAttribute("data-bundle");
    var css = document.createElement("link");
    css.rel = "stylesheet"; css.href = bundle + "pagefind-ui.css";
    document.head.appendChild(css);
    var script = document.createElement("script");
    script.src = bundle + "pagefind-ui.js";
    script.onload = function () {
      /* global PagefindUI */
      new PagefindUI({ element: "#kb-search", bundlePath: bundle, showSubResults: true, showImages: false, resetStyles: false });
      box.setAttribute("data-ready", "1");
      var query = new URLSearchParams(location.search).get("q");
      var input = box.querySelector("input");
      if (query && input) { input.value = query; input.dispatchEvent(new Event("input")); }
    };
    script.onerror = function () {
      var p = document.createElement("p");
      p.textContent = "The search index is missing: build the site with `mkdocs build` (it runs Pagefind).";
      box.appendChild(p);
    };
    document.head.appendChild(script);
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
