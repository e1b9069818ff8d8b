/*
 * ecowatch map, DOM side: popups, tooltips, the legend, the status line and the layer
 * control's order. Every value from the data goes into the page through textContent or
 * createTextNode, never as HTML. Loaded before ecowatch.js, which draws the layers.
 */
(function () {
  "use strict";

  var ew = (window.ecowatch = window.ecowatch || {});

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  /* One property value as DOM: lists one item per line, missing values as a dash. */
  function valueNode(field, value) {
    if (value === null || value === undefined || value === "") {
      return el("span", "ew-missing", "\u2014");
    }
    if (Array.isArray(value)) {
      var list = el("div", "ew-lines");
      if (value.length === 0) {
        list.appendChild(el("span", "ew-missing", "none"));
      }
      value.forEach(function (item) {
        list.appendChild(el("div", "ew-line", typeof item === "string" ? item : JSON.stringify(item)));
      });
      return list;
    }
    if (field.type === "boolean") {
      return el("span", null, value ? "yes" : "no");
    }
    if (field.type === "real" && typeof value === "number") {
      return el("span", null, value.toLocaleString("en", { maximumFractionDigits: 2 }));
    }
    if (typeof value === "object") {
      return el("span", null, JSON.stringify(value));
    }
    return el("span", null, value);
  }

  /* A place in the three notations (ew.coords, ecowatch-coords.js): one line each. */
  ew.coordinateLines = function (lat, lon) {
    var box = el("div", "ew-coords");
    if (!ew.coords) {
      return box;
    }
    ew.coords.lines(lat, lon).forEach(function (line) {
      box.appendChild(el("div", "ew-coords-line", line));
    });
    return box;
  };

  /* The popup of an aggregate cell: how many features it holds, and that zooming in shows them. */
  ew.cellPopup = function (spec, feature) {
    var props = feature.properties || {};
    var box = el("div", "ew-popup ew-cell-popup");
    box.appendChild(el("div", "ew-popup-title", spec.title + ": " + props.count.toLocaleString("en") + " in this cell"));
    if (props.area_ha !== undefined) {
      box.appendChild(el("div", null, props.area_ha.toLocaleString("en", { maximumFractionDigits: 1 }) + " ha in all"));
    }
    box.appendChild(el("div", "ew-legend-hint", "A " + feature.ewCellDeg + "\u00b0 grid cell; zoom in to see the features."));
    return box;
  };

  function missing(value) {
    return value === null || value === undefined || value === "";
  }

  /* A link to the feature's evidence report (spec.report: for the roles that may ask for one). */
  function reportLink(spec, props) {
    var report = spec.report;
    if (!report || missing(props[report.field])) {
      return null;
    }
    var link = el("a", "ew-popup-report", report.label);
    link.href = report.url + encodeURIComponent(String(props[report.field]));
    link.target = "_blank";
    link.rel = "noopener";
    return link;
  }

  /* The popup of a feature: layer title, synthetic tag, a generalised location's cell, one row
     per popup field (a shared cell's origin fields only when they hold a value), the evidence
     report's link, where it is. */
  ew.popupContent = function (spec, feature, sub) {
    var props = feature.properties || {};
    var box = el("div", "ew-popup");
    box.appendChild(el("div", "ew-popup-title", spec.title));
    if (spec.synthetic) {
      box.appendChild(el("div", "ew-popup-synthetic", "Synthetic data, generated for demonstration"));
    }
    if (feature.ewGridCell && ew.cellText) {
      box.appendChild(el("div", "ew-popup-cell", ew.cellText(spec, props)));
      if (feature.ewStack > 1) {
        box.appendChild(el("div", "ew-popup-stack", "One of " + feature.ewStack + " " + spec.title.toLowerCase() +
          " in this cell (the others lie under it)."));
      }
    }
    var rule = (spec.style || {}).cells;
    var optional = rule && rule.fields ? rule.fields : [];
    var table = el("table", "ew-popup-table");
    spec.popup.forEach(function (field) {
      if (optional.indexOf(field.name) >= 0 && missing(props[field.name])) {
        return;
      }
      var row = el("tr");
      row.setAttribute("data-field", field.name);
      var th = el("th", null, field.label);
      th.title = field.description || "";
      var td = el("td");
      td.appendChild(valueNode(field, props[field.name]));
      row.appendChild(th);
      row.appendChild(td);
      table.appendChild(row);
    });
    box.appendChild(table);
    var link = reportLink(spec, props);
    if (link) {
      box.appendChild(link);
    }
    if (sub) {
      var centre = sub.getLatLng ? sub.getLatLng() : sub.getBounds().getCenter();
      var where = ew.coordinateLines(centre.lat, centre.lng);
      where.classList.add("ew-popup-coords");
      box.appendChild(where);
    }
    return box;
  };

  /* The tooltip: layer title and the first non-empty text field. */
  ew.tooltipContent = function (spec, feature) {
    var props = feature.properties || {};
    var label = null;
    spec.popup.some(function (field) {
      var v = props[field.name];
      if (typeof v === "string" && v !== "") {
        label = v;
        return true;
      }
      return false;
    });
    var node = el("span", "ew-tooltip");
    node.appendChild(el("strong", null, spec.title));
    if (label !== null) {
      node.appendChild(document.createTextNode(": " + label));
    }
    return node;
  };

  /* What an aggregate stands for, in words. */
  function aggregateText(spec, agg) {
    return spec.title + ": " + agg.count.toLocaleString("en") + " in view, too many to draw one by one: shown as counts per " +
      agg.cell_deg + "\u00b0 grid cell (" + agg.cells + " cells). Zoom in or filter to see them.";
  }

  /* Show loading, aggregated layers and fetch errors in the status line and the legend. */
  ew.setStatus = function () {
    if (!ew.status) {
      return;
    }
    var lines = [];
    ew.errors.slice(-3).forEach(function (msg) { lines.push(msg); });
    var legend = ew.legend;
    Object.keys(ew.aggregates).forEach(function (name) {
      var note = legend ? legend.querySelector('.ew-legend-aggregate[data-layer="' + name + '"]') : null;
      var agg = ew.aggregates[name];
      if (note) {
        note.textContent = agg ? aggregateText(ew.layers[name].ewSpec, agg) : "";
        note.style.display = agg ? "" : "none";
      }
      if (agg) {
        lines.push(aggregateText(ew.layers[name].ewSpec, agg));
      }
    });
    Object.keys(ew.zoomedOut).forEach(function (name) {
      var row = legend ? legend.querySelector('.ew-legend-row[data-layer="' + name + '"]') : null;
      if (row) {
        row.classList.toggle("ew-zoomed-out", Boolean(ew.zoomedOut[name]));
      }
    });
    var busy = !ew.isIdle();
    ew.status.textContent = "";
    if (busy) {
      ew.status.appendChild(el("div", "ew-status-busy", "Loading\u2026"));
    }
    lines.forEach(function (line) { ew.status.appendChild(el("div", "ew-status-line", line)); });
    ew.status.style.display = busy || lines.length ? "" : "none";
  };

  function swatch(spec) {
    var s = spec.style || {};
    var stroke = s.color || "#3388ff";
    var kind = String(spec.geometry_type).toLowerCase();
    var node = el("span", "ew-swatch ew-swatch-" + kind);
    var weight = Math.min(3, Math.max(1, Number(s.weight) || 1));
    if (spec.geometry_type === "MULTILINESTRING") {
      node.style.borderTopColor = stroke;
      node.style.borderTopWidth = Math.max(2, Number(s.weight) || 3) + "px";
      node.style.borderTopStyle = s.dashArray ? "dashed" : "solid";
      return node;
    }
    node.style.borderColor = stroke;
    node.style.borderWidth = weight + "px";
    node.style.borderStyle = s.dashArray ? "dashed" : "solid";
    if (!spec.outline_only) {
      var fill = el("span", "ew-swatch-fill");
      fill.style.backgroundColor = s.fillColor || stroke;
      fill.style.opacity = String(s.fillOpacity !== undefined ? s.fillOpacity : 0.2);
      node.appendChild(fill);
    }
    return node;
  }

  /* Sort function of the layer control: top of the draw stack first; other layers after. */
  ew.layerOrder = function (a, b, nameA, nameB) {
    var oa = a.ewSpec ? a.ewSpec.order : -1;
    var ob = b.ewSpec ? b.ewSpec.order : -1;
    return oa !== ob ? ob - oa : (nameA < nameB ? -1 : nameA > nameB ? 1 : 0);
  };

  /* The legend (bottom right) and the status line (bottom left). */
  ew.controls = function (map, specs, options) {
    ew.map = map;
    ew.options = Object.assign(ew.options || {}, options || {});
    var Legend = L.Control.extend({
      options: { position: "bottomright" },
      onAdd: function () {
        var box = el("div", "ew-legend leaflet-bar");
        box.appendChild(el("div", "ew-legend-title", "Legend"));
        specs.slice().reverse().forEach(function (spec) {
          var row = el("div", "ew-legend-row");
          row.setAttribute("data-layer", spec.name);
          row.appendChild(swatch(spec));
          row.appendChild(el("span", "ew-legend-label", spec.title));
          if (spec.synthetic) {
            row.appendChild(el("span", "ew-tag", "synthetic"));
          }
          if (spec.min_zoom) {
            row.appendChild(el("span", "ew-legend-hint", "zoom in to see"));
          }
          box.appendChild(row);
          var s = spec.style || {};
          if (s.by && s.colors) {
            s.colors.forEach(function (pair) {
              var sub = el("div", "ew-legend-row ew-legend-sub");
              var shade = Object.assign({}, spec, { style: Object.assign({}, s, { color: pair[1], fillColor: pair[1] }) });
              sub.appendChild(swatch(shade));
              sub.appendChild(el("span", "ew-legend-label", pair[0]));
              box.appendChild(sub);
            });
          }
          if (s.weaker) {
            var weak = el("div", "ew-legend-row ew-legend-sub ew-legend-weaker");
            weak.appendChild(swatch(Object.assign({}, spec, { style: Object.assign({}, s, s.weaker) })));
            weak.appendChild(el("span", "ew-legend-label", s.weaker.label));
            box.appendChild(weak);
          }
          if (s.cells || spec.generalised_deg) {
            var cellRow = el("div", "ew-legend-row ew-legend-sub ew-legend-cells");
            var square = el("span", "ew-swatch ew-swatch-cell");
            square.style.borderColor = s.color || "#3388ff";
            square.style.backgroundColor = s.fillColor || s.color || "#3388ff";
            cellRow.appendChild(square);
            cellRow.appendChild(el("span", "ew-legend-label", spec.generalised_deg
              ? "location generalised to a " + spec.generalised_deg + "\u00b0 cell (shown as the cell)"
              : s.cells.label));
            box.appendChild(cellRow);
          }
          if (spec.cluster && !spec.generalised_deg) {
            var clusterRow = el("div", "ew-legend-row ew-legend-sub ew-legend-clusters");
            var bubble = el("span", "ew-swatch ew-swatch-cluster", "n");
            bubble.style.backgroundColor = s.fillColor || s.color || "#3388ff";
            clusterRow.appendChild(bubble);
            clusterRow.appendChild(el("span", "ew-legend-label", "n " + spec.title.toLowerCase() + " close together (click to zoom in)"));
            box.appendChild(clusterRow);
          }
          if (s.labels) {
            var labels = el("div", "ew-legend-sub ew-legend-labels");
            labels.setAttribute("data-field", s.labels.field);
            labels.appendChild(el("span", "ew-legend-labels-title", s.labels.title + ": "));
            labels.appendChild(el("span", "ew-legend-label", s.labels.values.join(" \u00b7 ")));
            box.appendChild(labels);
          }
          var aggregate = el("div", "ew-legend-sub ew-legend-aggregate");
          aggregate.setAttribute("data-layer", spec.name);
          aggregate.style.display = "none";
          box.appendChild(aggregate);
        });
        L.DomEvent.disableClickPropagation(box);
        return box;
      }
    });
    var Status = L.Control.extend({
      options: { position: "bottomleft" },
      onAdd: function () {
        var box = el("div", "ew-status leaflet-bar");
        box.setAttribute("role", "status");
        box.style.display = "none";
        return box;
      }
    });
    ew.legend = new Legend().addTo(map).getContainer();
    ew.status = new Status().addTo(map).getContainer();
    if (ew.startState) {
      ew.startState(map); /* ecowatch-state.js: the URL's view, layers and filters; the filter panel */
    }
    if (ew.startImagery) {
      ew.startImagery(map); /* ecowatch-imagery.js: the date picker and the imagery tiles */
    }
    if (ew.startTools) {
      ew.startTools(map); /* ecowatch-coords.js: pointer coordinates and the search box */
    }
    ew.setStatus();
  };
})();
