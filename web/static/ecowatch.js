/*
 * ecowatch map: API-backed layers (popups, legend and status line: ecowatch-dom.js).
 *
 * Features are fetched per layer from /api/layers/<name>/features?bbox=w,s,e,n for the
 * visible bounds when a layer is added to the map and after every moveend (debounced; a newer
 * request aborts the older one). The answer replaces the layer's features; features already
 * drawn and unchanged stay, so an open popup survives the move its auto-pan causes.
 *
 * For tests and debugging, window.ecowatch exposes:
 *   counts[name]      features drawn now in each layer
 *   loadedBbox[name]  the bbox string of the features drawn
 *   truncated[name]   whether the server capped the last response
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
    loadedBbox: {},
    truncated: {},
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
    function featureStyle(feature) {
      var by = style.by;
      var colour = by && feature && feature.properties ? colours[feature.properties[by]] : undefined;
      return colour ? Object.assign({}, style, { color: colour, fillColor: colour }) : style;
    }
    var layer = L.geoJSON(null, {
      pane: pane,
      style: featureStyle,
      pointToLayer: function (feature, latlng) { return L.circleMarker(latlng, featureStyle(feature)); },
      onEachFeature: function (feature, sub) {
        sub.bindPopup(function () { return ew.popupContent(spec, feature); }, { maxWidth: 380, minWidth: 220 });
        sub.bindTooltip(function () { return ew.tooltipContent(spec, feature); }, { sticky: true, direction: "top" });
        drawn[addingId] = { layer: sub, key: addingKey };
      }
    });
    layer.ewSpec = spec;
    var drawn = {}; /* feature id -> {layer, key}: what is on the map now */
    var addingId = null;
    var addingKey = null;
    var controller = null;
    var timer = null;
    var name = spec.name;
    ew.layers[name] = layer;
    ew.busy[name] = false;

    function clearAll() {
      layer.clearLayers();
      drawn = {};
    }

    /* Make the layer hold exactly the features of `collection`. Features already drawn and
       unchanged stay (an open popup stays open when the map moves); others are swapped. */
    function replaceFeatures(collection) {
      var seen = {};
      (collection.features || []).forEach(function (feature, i) {
        var key = JSON.stringify([feature.geometry, feature.properties]);
        var id = feature.id !== undefined && feature.id !== null ? "id:" + feature.id : "key:" + key + ":" + i;
        seen[id] = true;
        var old = drawn[id];
        if (old && old.key === key) {
          return;
        }
        if (old) {
          layer.removeLayer(old.layer);
        }
        addingId = id;
        addingKey = key;
        layer.addData(feature);
      });
      Object.keys(drawn).forEach(function (id) {
        if (!seen[id]) {
          layer.removeLayer(drawn[id].layer);
          delete drawn[id];
        }
      });
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
        ew.loadedBbox[name] = null;
        ew.truncated[name] = false;
        finish();
        return;
      }
      var mine = (controller = new AbortController());
      ew.busy[name] = true;
      ew.setStatus();
      fetch(spec.url + "?bbox=" + encodeURIComponent(bbox), {
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
          ew.counts[name] = layer.getLayers().length;
          ew.loadedBbox[name] = bbox;
          ew.truncated[name] = Boolean(collection.truncated);
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

    layer.on("add", function () {
      map.on("moveend", schedule);
      refresh();
    });
    layer.on("remove", function () {
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
      ew.loadedBbox[name] = null;
      ew.truncated[name] = false;
      ew.zoomedOut[name] = false;
      finish();
    });
    return layer;
  };
})();
