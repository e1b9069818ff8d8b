/*
 * ecowatch map: the view's state in the URL, and the filter panel.
 *
 * The query string holds the filters (the review desk's names: from, to, period, confidence,
 * flag, risk, status, aoi; and commodity, country), the centre (lat, lon), the zoom (z), the
 * layers shown (layers, when not all), and the imagery date and style (date, style). The page
 * reads it when it opens and rewrites it (history.replaceState) after every move, layer switch
 * or filter change, so a copied link reproduces the view. The server applies the filters
 * (ecowatch.js sends ew.filterQuery() with every request) and answers 400 naming a bad one.
 */
(function () {
  "use strict";

  var ew = (window.ecowatch = window.ecowatch || {});

  /* the server's filter names and choices (layers/filters.py), given to ew.controls by the page */
  function filterNames() {
    return (ew.options && ew.options.filters) || [];
  }

  function choices(name) {
    return ((ew.options || {})[name] || []).map(function (v) { return [v, v.replace(/_/g, " ")]; });
  }

  function number(text) {
    var v = text === null || text === "" ? NaN : Number(text);
    return isFinite(v) ? v : null;
  }

  function readState() {
    var q = new URLSearchParams(window.location.search);
    var filters = {};
    filterNames().forEach(function (n) {
      var v = q.get(n);
      if (v) {
        filters[n] = v;
      }
    });
    return {
      filters: filters,
      lat: number(q.get("lat")),
      lon: number(q.get("lon")),
      z: number(q.get("z")),
      layers: q.has("layers") ? q.get("layers").split(",").filter(Boolean) : null,
      date: q.get("date") || null,
      style: q.get("style") || null,
      print: ew.printPaper ? ew.printPaper(q.get("print")) : null
    };
  }

  ew.state = { filters: {}, lat: null, lon: null, z: null, layers: null, date: null, style: null };

  /* The filters as a query string ("" when none). */
  ew.filterQuery = function () {
    var q = new URLSearchParams();
    filterNames().forEach(function (n) {
      if (ew.state.filters[n]) {
        q.set(n, ew.state.filters[n]);
      }
    });
    return q.toString();
  };

  /* The query string of the whole view: filters, centre, zoom, layers, imagery. */
  ew.viewQuery = function () {
    var q = new URLSearchParams(ew.filterQuery());
    if (ew.map) {
      var c = ew.map.getCenter();
      q.set("lat", c.lat.toFixed(5));
      q.set("lon", c.lng.toFixed(5));
      q.set("z", String(ew.map.getZoom()));
      var names = Object.keys(ew.layers);
      var on = names.filter(function (n) { return ew.map.hasLayer(ew.layers[n]); });
      if (on.length !== names.length) {
        q.set("layers", on.join(","));
      }
    }
    if (ew.state.date) {
      q.set("date", ew.state.date);
    }
    if (ew.state.style) {
      q.set("style", ew.state.style);
    }
    if (ew.state.print) {
      q.set("print", ew.state.print);
    }
    return q.toString();
  };

  ew.writeUrl = function () {
    var query = ew.viewQuery();
    window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
    if (ew.onViewChange) {
      ew.onViewChange(query);
    }
  };

  /* New filters: into the URL, and every layer on the map fetches again. */
  ew.setFilters = function (filters) {
    var clean = {};
    filterNames().forEach(function (n) {
      var v = filters[n] === undefined || filters[n] === null ? "" : String(filters[n]).trim();
      if (v) {
        clean[n] = v;
      }
    });
    ew.state.filters = clean;
    if (ew.filterForm) {
      fillForm(ew.filterForm); /* the panel shows the filters however they were set */
    }
    ew.errors.length = 0;
    ew.writeUrl();
    Object.keys(ew.layers).forEach(function (n) {
      var layer = ew.layers[n];
      if (ew.map.hasLayer(layer) && layer.ewRefresh) {
        layer.ewRefresh();
      }
    });
    ew.setStatus();
  };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function field(form, name, label, input, hint) {
    var row = el("label", { "class": "ew-filter-row" });
    row.appendChild(el("span", { "class": "ew-filter-label" }, label));
    input.name = name;
    input.id = "ew-filter-" + name;
    row.appendChild(input);
    if (hint) {
      row.title = hint;
    }
    form.appendChild(row);
  }

  function select(options) {
    var node = el("select");
    options.forEach(function (pair) {
      node.appendChild(el("option", { value: pair[0] }, pair[1]));
    });
    return node;
  }

  function fillForm(form) {
    filterNames().forEach(function (n) {
      var input = form.elements.namedItem(n);
      if (input) {
        input.value = ew.state.filters[n] || "";
      }
    });
  }

  /* The filter panel (top left): every filter of the server, Apply and Clear. */
  var FilterPanel = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function () {
      var box = el("details", { "class": "ew-filters leaflet-bar" });
      if (Object.keys(ew.state.filters).length) {
        box.open = true;
      }
      box.appendChild(el("summary", null, "Filters"));
      var form = el("form", { "class": "ew-filter-form" });
      field(form, "period", "Period", el("input", { type: "text", placeholder: "2024, 2024Q1, 2024-03", size: "12" }),
        "Year, quarter or month first detected (clearings) or seized (seizures)");
      field(form, "from", "From", el("input", { type: "date" }));
      field(form, "to", "To", el("input", { type: "date" }));
      field(form, "confidence", "Confidence", select([["", "any"]].concat(choices("confidences"))),
        "high: confirmed by the next observation; low: unconfirmed early warning");
      field(form, "flag", "Flag", select([["", "any"]].concat(choices("flags"))));
      field(form, "risk", "Risk at least", el("input", { type: "text", placeholder: "60 or 40-80", size: "6" }));
      field(form, "status", "Review status", select([["", "any"]].concat(choices("statuses"))));
      field(form, "commodity", "Seized", select([["", "any"]].concat(choices("commodities"))));
      field(form, "country", "Country", el("input", { type: "text", placeholder: "Cambodia", size: "12" }),
        "Concessions in this country; seizures declared to come from it");
      field(form, "aoi", "AOI", el("input", { type: "text", size: "12" }));
      form.appendChild(el("div", { "class": "ew-filter-note" },
        "Period, confidence, flag, risk, status and AOI narrow the clearings; period, seized and country the seizures; country the concessions."));
      var buttons = el("div", { "class": "ew-filter-buttons" });
      var apply = el("button", { type: "submit", id: "ew-filter-apply" }, "Apply");
      var clear = el("button", { type: "button", id: "ew-filter-clear" }, "Clear");
      buttons.appendChild(apply);
      buttons.appendChild(clear);
      form.appendChild(buttons);
      fillForm(form);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var values = {};
        filterNames().forEach(function (n) {
          var input = form.elements.namedItem(n);
          values[n] = input ? input.value : "";
        });
        ew.setFilters(values);
      });
      clear.addEventListener("click", function () {
        ew.setFilters({});
        fillForm(form);
      });
      box.appendChild(form);
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      ew.filterForm = form;
      return box;
    }
  });

  /* Called once the layers and the legend exist: the URL's view and layers, then keep the URL. */
  ew.startState = function (map) {
    var st = (ew.state = readState());
    if (st.print && ew.startPrint) {
      ew.startPrint(map, st.print); /* ecowatch-print.js: the page laid out for paper */
    } else if (ew.startPrintLinks) {
      ew.startPrintLinks(map);
    }
    if (st.lat !== null && st.lon !== null && st.z !== null) {
      map.setView([st.lat, st.lon], st.z, { animate: false });
    }
    if (st.layers) {
      Object.keys(ew.layers).forEach(function (n) {
        if (st.layers.indexOf(n) < 0 && map.hasLayer(ew.layers[n])) {
          map.removeLayer(ew.layers[n]);
        }
      });
    }
    new FilterPanel().addTo(map);
    map.on("moveend overlayadd overlayremove", ew.writeUrl);
    ew.writeUrl();
    /* the layers fetched once when they were added, before the URL's filters were read */
    Object.keys(ew.layers).forEach(function (n) {
      if (map.hasLayer(ew.layers[n]) && ew.layers[n].ewRefresh) {
        ew.layers[n].ewRefresh();
      }
    });
  };
})();
