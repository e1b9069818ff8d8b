/*
 * ecowatch map: API-backed layers (popups, legend and status line: ecowatch-dom.js).
 *
 * Features are fetched per layer from /api/layers/<name>/features?bbox=w,s,e,n for the
 * visible bounds when a layer is added to the map and after every moveend (debounced; a newer
 * request aborts the older one). The answer replaces the layer's features; features already
 * drawn and unchanged stay, so an open popup survives the move its auto-pan causes.
 *
 * The map's filters (ecowatch-state.js) go with every request. When more features match than
 * the layer's limit, the server answers with a grid aggregate: squares with a count each, drawn
 * as such (class ew-cell) and said so in the legend; nothing is silently left out.
 *
 * Points generalised to a grid cell are drawn as their cell, and the points of a detail layer
 * cluster at low zoom (ecowatch-points.js). Such a layer's overlay (what the layer control and
 * ew.layers hold) draws its features through a cluster group and a plain group; eachLayer and
 * getLayers still give the features.
 *
 * For tests and debugging, window.ecowatch exposes:
 *   counts[name]      features drawn now in each layer (0 while it shows an aggregate)
 *   cells[name]       aggregate cells drawn now in each layer
 *   aggregates[name]  {count, cell_deg, cells} of the aggregate drawn, or null
 *   clusterGroups[name] the layer's L.markerClusterGroup (layers that cluster only)
 *   matched[name]     numberMatched of the last answer
 *   loadedBbox[name]  the bbox string of the features drawn
 *   loadedQuery[name] the filter query string they were fetched with
 *   zoomedOut[name]   whether the view is below the layer's min_zoom (nothing fetched or drawn)
 *   errors            messages of failed fetches
 *   bbox()            the bbox string the layers fetch for the current view
 *   isIdle()          true when no fetch is scheduled or running
 */
(function () {
  "use strict";

  var ew = (window.ecowatch = Object.assign(window.ecowatch || {}, {
    map: null,
    layers: {},
    counts: {},
    cells: {},
    aggregates: {},
    clusterGroups: {},
    matched: {},
    loadedBbox: {},
    loadedQuery: {},
    zoomedOut: {},
    errors: [],
    busy: {},
    status: null,
    legend: null,
    DEBOUNCE_MS: 150
  }));

  var DECIMALS = 1e6;

  /* The view's bounds as "w,s,e,n", rounded outwards to 6 decimals and clamped to the world;
     null when nothing of the world is in view. */
  function bboxOf(map) {
    var b = map.getBounds();
    var w = Math.max(-180, Math.floor(b.getWest() * DECIMALS) / DECIMALS);
    var s = Math.max(-90, Math.floor(b.getSouth() * DECIMALS) / DECIMALS);
    var e = Math.min(180, Math.ceil(b.getEast() * DECIMALS) / DECIMALS);
    var n = Math.min(90, Math.ceil(b.getNorth() * DECIMALS) / DECIMALS);
    if (!(w < e && s < n)) {
      return null;
    }
    return [w, s, e, n].map(function (v) { return v.toFixed(6); }).join(",");
  }

  ew.bbox = function () {
    return ew.map ? bboxOf(ew.map) : null;
  };

  ew.isIdle = function () {
    return Object.keys(ew.busy).every(function (k) { return !ew.busy[k]; });
  };

  function pathStyle(spec, pane) {
    var style = Object.assign({}, spec.style, { pane: pane });
    if (spec.outline_only) {
      style.fill = false; /* an outline must not catch clicks meant for what lies inside it */
    }
    return style;
  }

  function responseError(response) {
    return response.json().then(
      function (body) { throw new Error(body && body.message ? body.message : response.statusText); },
      function () { throw new Error("HTTP " + response.status); }
    );
  }

  /* The properties the map needs of a layer: its popup fields and the fields its style reads. */
  function wantedProperties(spec) {
    var names = spec.popup.map(function (f) { return f.name; });
    var s = spec.style || {};
    [s.by, s.weaker && s.weaker.field, spec.report && spec.report.field].forEach(function (n) {
      if (n && names.indexOf(n) < 0) {
        names.push(n);
      }
    });
    return names;
  }

  /* The style of an aggregate cell: the layer's colour, stronger where more features lie. */
  function cellStyle(spec, pane, feature, max) {
    var s = spec.style || {};
    var colour = s.color || "#3388ff";
    var share = max > 0 ? Math.sqrt(feature.properties.count / max) : 0;
    return { pane: pane, color: colour, weight: 1, opacity: 0.7, fillColor: s.fillColor || colour,
      fillOpacity: 0.12 + 0.6 * share, className: "ew-cell" };
  }

  /* An L.geoJSON layer that keeps itself filled with the features in view. */
  ew.apiLayer = function (map, spec) {
    var pane = "ew-" + spec.name;
    ew.map = map;
    if (!map.getPane(pane)) {
      map.createPane(pane).style.zIndex = String(410 + spec.order);
    }
    var style = pathStyle(spec, pane);
    /* a style "by" a field colours each feature from the style's "colors" table */
    var colours = {};
    (style.colors || []).forEach(function (pair) { colours[pair[0]] = pair[1]; });
    var weaker = style.weaker || null;
    var base = Object.assign({}, style);
    delete base.colors;
    delete base.weaker;
    delete base.labels;
    delete base.cells;
    var cellMax = 0;
    function featureStyle(feature) {
      if (feature && feature.ewCell) {
        return cellStyle(spec, pane, feature, cellMax);
      }
      if (feature && feature.ewGridCell) {
        return ew.cellFeatureStyle(spec, pane, feature.ewStack);
      }
      var props = feature && feature.properties ? feature.properties : {};
      var by = base.by;
      var colour = by ? colours[props[by]] : undefined;
      var out = colour ? Object.assign({}, base, { color: colour, fillColor: colour }) : Object.assign({}, base);
      if (weaker) {
        var weak = props[weaker.field] === weaker.value;
        if (weak) {
          ["dashArray", "fillOpacity", "weight"].forEach(function (k) {
            if (weaker[k] !== undefined) {
              out[k] = weaker[k];
            }
          });
        }
        out.className = "ew-feature ew-" + weaker.field + "-" + String(props[weaker.field]).replace(/[^a-z0-9_-]/gi, "_");
      }
      return out;
    }
    var layer = L.geoJSON(null, {
      pane: pane,
      style: featureStyle,
      pointToLayer: function (feature, latlng) {
        var cell = feature.ewCell ? null : ew.cellBounds(spec, feature, latlng);
        feature.ewGridCell = cell !== null;
        return cell ? L.rectangle(cell, featureStyle(feature)) : L.circleMarker(latlng, featureStyle(feature));
      },
      onEachFeature: function (feature, sub) {
        if (feature.ewCell) {
          sub.bindPopup(function () { return ew.cellPopup(spec, feature); }, { maxWidth: 300 });
        } else {
          /* the padding keeps a popup's top clear of the banner across the top of the page */
          sub.bindPopup(function () { return ew.popupContent(spec, feature, sub); },
            { maxWidth: 380, minWidth: 220, autoPanPaddingTopLeft: L.point(10, 90) });
          sub.bindTooltip(function () { return ew.tooltipContent(spec, feature); }, { sticky: true, direction: "top" });
        }
        var inCluster = group !== null && !feature.ewCell && !feature.ewGridCell;
        drawn[addingId] = { layer: sub, key: addingKey, clustered: inCluster };
        if (inCluster) {
          clusterAdds.push(sub);
        } else if (group !== null) {
          plain.addLayer(sub);
        }
      }
    });
    /* A layer whose points cluster: `layer` keeps the features (off the map); the overlay puts
       the cluster group and the plain group (cells, aggregate squares) on the map. */
    var group = ew.clusterGroup(spec, pane);
    var plain = group !== null ? L.featureGroup() : null;
    var clusterAdds = [];
    var clusterRemovals = [];
    var Overlay = L.Layer.extend({
      onAdd: function (m) { m.addLayer(group); m.addLayer(plain); },
      onRemove: function (m) { m.removeLayer(group); m.removeLayer(plain); },
      eachLayer: function (fn, context) { layer.eachLayer(fn, context); return this; },
      getLayers: function () { return layer.getLayers(); }
    });
    var overlay = group !== null ? new Overlay() : layer;
    if (group !== null) {
      ew.clusterGroups[spec.name] = group;
    }
    layer.ewSpec = spec;
    overlay.ewSpec = spec;
    var drawn = {}; /* feature id -> {layer, key}: what is on the map now */
    var addingId = null;
    var addingKey = null;
    var controller = null;
    var timer = null;
    var name = spec.name;
    var properties = wantedProperties(spec).join(",");
    ew.layers[name] = overlay;
    ew.busy[name] = false;
    ew.aggregates[name] = null;

    function clearAll() {
      layer.clearLayers();
      if (group !== null) {
        group.clearLayers();
        plain.clearLayers();
      }
      clusterAdds = [];
      clusterRemovals = [];
      drawn = {};
    }

    function dropDrawn(entry) {
      layer.removeLayer(entry.layer);
      if (entry.clustered) {
        clusterRemovals.push(entry.layer);
      } else if (plain !== null) {
        plain.removeLayer(entry.layer);
      }
    }

    /* The cluster group re-clusters once for all the points added and removed by an answer. */
    function flushClusters() {
      if (group === null) {
        return;
      }
      if (clusterRemovals.length) {
        group.removeLayers(clusterRemovals);
      }
      if (clusterAdds.length) {
        group.addLayers(clusterAdds);
      }
      clusterAdds = [];
      clusterRemovals = [];
    }

    /* Make the layer hold exactly the features of `collection`. Features already drawn and
       unchanged stay (an open popup stays open when the map moves); others are swapped. An
       aggregate's cells are features too (ewCell), keyed by their cell and count. */
    function replaceFeatures(collection) {
      var seen = {};
      var cells = Boolean(collection.aggregate);
      cellMax = 0;
      (collection.features || []).forEach(function (feature) {
        cellMax = cells ? Math.max(cellMax, feature.properties.count) : 0;
      });
      var stacks = cells ? {} : ew.cellStacks(spec, collection.features || []);
      (collection.features || []).forEach(function (feature, i) {
        if (cells) {
          feature.ewCell = true;
          feature.ewCellDeg = collection.aggregate.cell_deg;
        }
        var cellKey = cells ? null : ew.cellKey(spec, feature);
        feature.ewStack = cellKey !== null ? stacks[cellKey] : 0;
        var key = JSON.stringify([feature.geometry, feature.properties, cellMax, feature.ewStack]);
        var id = cells ? "cell:" + collection.aggregate.cell_deg + ":" + feature.id
          : feature.id !== undefined && feature.id !== null ? "id:" + feature.id : "key:" + key + ":" + i;
        seen[id] = true;
        var old = drawn[id];
        if (old && old.key === key) {
          return;
        }
        if (old) {
          dropDrawn(old);
        }
        addingId = id;
        addingKey = key;
        layer.addData(feature);
      });
      Object.keys(drawn).forEach(function (id) {
        if (!seen[id]) {
          dropDrawn(drawn[id]);
          delete drawn[id];
        }
      });
      flushClusters();
    }

    function finish() {
      ew.busy[name] = timer !== null || controller !== null;
      ew.setStatus();
    }

    function refresh() {
      timer = null;
      if (controller) {
        controller.abort();
      }
      var bbox = bboxOf(map);
      ew.zoomedOut[name] = Boolean(spec.min_zoom) && map.getZoom() < spec.min_zoom;
      if (bbox === null || ew.zoomedOut[name]) {
        controller = null;
        clearAll();
        ew.counts[name] = 0;
        ew.cells[name] = 0;
        ew.aggregates[name] = null;
        ew.loadedBbox[name] = null;
        finish();
        return;
      }
      var mine = (controller = new AbortController());
      ew.busy[name] = true;
      ew.setStatus();
      var query = ew.filterQuery ? ew.filterQuery() : "";
      var url = spec.url + "?bbox=" + encodeURIComponent(bbox) + "&properties=" + encodeURIComponent(properties) +
        (spec.limit ? "&limit=" + spec.limit : "") + (query ? "&" + query : "");
      fetch(url, {
        signal: mine.signal,
        credentials: "same-origin",
        headers: { Accept: "application/geo+json" }
      })
        .then(function (response) { return response.ok ? response.json() : responseError(response); })
        .then(function (collection) {
          if (mine !== controller) {
            return;
          }
          replaceFeatures(collection);
          var agg = collection.aggregate || null;
          ew.counts[name] = agg ? 0 : layer.getLayers().length;
          ew.cells[name] = agg ? layer.getLayers().length : 0;
          ew.aggregates[name] = agg;
          ew.matched[name] = collection.numberMatched;
          ew.loadedBbox[name] = bbox;
          ew.loadedQuery[name] = query;
        })
        .catch(function (err) {
          if (err && err.name === "AbortError") {
            return;
          }
          ew.errors.push("Could not load " + spec.title + ": " + (err && err.message ? err.message : String(err)));
        })
        .then(function () {
          if (mine === controller) {
            controller = null;
          }
          finish();
        });
    }

    function schedule() {
      if (timer !== null) {
        clearTimeout(timer);
      }
      ew.busy[name] = true;
      timer = setTimeout(refresh, ew.DEBOUNCE_MS);
    }

    overlay.ewRefresh = schedule;
    overlay.on("add", function () {
      map.on("moveend", schedule);
      refresh();
    });
    overlay.on("remove", function () {
      map.off("moveend", schedule);
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
      if (controller) {
        controller.abort();
        controller = null;
      }
      clearAll();
      ew.counts[name] = 0;
      ew.cells[name] = 0;
      ew.aggregates[name] = null;
      ew.loadedBbox[name] = null;
      ew.zoomedOut[name] = false;
      finish();
    });
    return overlay;
  };
})();
