/*
 * ecowatch map: the print view. `print=a4` or `print=a3` in the URL lays the same map out for
 * one landscape page (CSS: body.ew-print, named @page sizes) with a header (title, filters,
 * imagery date, the date it was made), the legend, the scale bar and a north arrow, and hides
 * what does not belong on paper (filter panel, search, pointer, layer list). Chromium prints it
 * to one page (tests/web/test_map_print_browser.py checks with pdfinfo and pdftotext).
 * Outside the print view, a small control offers the print view of the current view.
 */
(function () {
  "use strict";

  var ew = (window.ecowatch = window.ecowatch || {});
  var PAPERS = { a4: "A4", a3: "A3" };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function stamp(d) {
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + " UTC";
  }

  /* The filters in words: "confidence low; risk 50" or "none". */
  function filterText() {
    var f = ew.state.filters;
    var parts = Object.keys(f).map(function (k) { return k + " " + f[k]; });
    return parts.length ? parts.join("; ") : "none (every feature)";
  }

  ew.printPaper = function (raw) {
    return PAPERS[raw] ? raw : null;
  };

  /* Lay the page out for paper, and say when it is ready to print (ew.printReady). */
  ew.startPrint = function (map, paper) {
    document.body.classList.add("ew-print", "ew-print-" + paper);
    var head = el("header", "ew-print-header");
    head.appendChild(el("h1", "ew-print-title", "ecowatch \u2014 flagged clearings, seizures and corridor hotspots"));
    var meta = el("div", "ew-print-meta");
    meta.appendChild(el("span", "ew-print-filters", "Filters: " + filterText()));
    if (ew.state.date) {
      meta.appendChild(el("span", "ew-print-imagery", "Imagery: " + ew.state.date + " (" + (ew.state.style || "truecolor") + ")"));
    }
    var made = new Date();
    meta.appendChild(el("span", "ew-print-date", "Printed " + stamp(made)));
    meta.appendChild(el("span", "ew-print-paper", PAPERS[paper] + " landscape"));
    head.appendChild(meta);
    document.body.insertBefore(head, document.body.firstChild);
    var North = L.Control.extend({
      options: { position: "topright" },
      onAdd: function () {
        var box = el("div", "ew-north leaflet-bar");
        box.setAttribute("aria-label", "North arrow: north is up");
        box.appendChild(el("div", "ew-north-arrow", "\u25b2"));
        box.appendChild(el("div", "ew-north-letter", "N"));
        return box;
      }
    });
    new North().addTo(map);
    map.invalidateSize({ animate: false });
    ew.printMade = stamp(made);
  };

  /* Outside the print view: links to the print view of what is on screen. */
  var PrintLinks = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function () {
      var box = el("div", "ew-print-links leaflet-bar");
      box.appendChild(el("span", "ew-print-links-title", "Print"));
      Object.keys(PAPERS).forEach(function (paper) {
        var a = el("a", "ew-print-link", PAPERS[paper]);
        a.id = "ew-print-" + paper;
        a.target = "_blank";
        a.rel = "noopener";
        a.href = "#";
        a.addEventListener("click", function () {
          a.href = window.location.pathname + "?" + ew.viewQuery() + "&print=" + paper;
        });
        box.appendChild(a);
      });
      L.DomEvent.disableClickPropagation(box);
      return box;
    }
  });

  ew.startPrintLinks = function (map) {
    new PrintLinks().addTo(map);
  };
})();
