/*
 * ecowatch map: how the points of a layer are drawn (ecowatch.js asks; loaded before it).
 *
 * - A point whose location is generalised to a grid cell is drawn as that cell, a square:
 *   a partner's shared seizure (the style's `cells` rule: location_precision "grid", the cell's
 *   size in cell_deg, the point at its centre), and every point that a role seeing generalised
 *   points reads (spec.generalised_deg: the redaction gate moved it to the centre of its cell).
 * - The other points of a detail layer (spec.cluster) go into a Leaflet.markercluster group:
 *   below CLUSTER_UNTIL_ZOOM nearby points merge into a cluster that shows how many of them it
 *   holds; a click zooms in to them, or spreads them out (spiderfy) when they share one place.
 *   From that zoom on every point is drawn on its own (points at one place still spiderfy).
 *
 * Clusters are built in the browser from the features of the server's answer and from nothing
 * else: a cluster's count is a count of features the role was sent, at the places it was sent.
 */
(function () {
  "use strict";

  var ew = (window.ecowatch = window.ecowatch || {});

  ew.CLUSTER_UNTIL_ZOOM = 15;
  ew.CLUSTER_RADIUS_PX = 48;
  ew.CELL_FILL = 0.25; /* the fill of a cell, however many points of the answer stand for it */

  /* Whether nested grids hold each other's cells: `fine` divides `coarse` (both anchored at 0). */
  function nests(fine, coarse) {
    var ratio = coarse / fine;
    return fine <= coarse && Math.abs(ratio - Math.round(ratio)) < 1e-9;
  }

  /* The side, in degrees, of the square a point stands for; 0 for a point drawn as a point. */
  ew.cellSize = function (spec, props) {
    var rule = (spec.style || {}).cells;
    var partner = rule ? Number(props[rule.size]) : NaN;
    var shared = Boolean(rule) && props[rule.field] === rule.value && partner > 0;
    var own = Number(spec.generalised_deg);
    if (own > 0) {
      /* The gate moved the point to the centre of its own cell. A partner's cell (cell_deg is
         shown to these roles) is held by that cell when the grids nest; otherwise the partner's
         cell lies within half of each cell around the point. */
      return partner > 0 && !nests(partner, own) ? own + partner : own;
    }
    return shared ? partner : 0;
  };

  /* The cell a point stands for (L.LatLngBounds), or null when it is drawn as a point. */
  ew.cellBounds = function (spec, feature, latlng) {
    var size = ew.cellSize(spec, (feature && feature.properties) || {});
    if (!(size > 0)) {
      return null;
    }
    var half = size / 2;
    return L.latLngBounds([latlng.lat - half, latlng.lng - half], [latlng.lat + half, latlng.lng + half]);
  };

  /* The key of the cell a point stands for (its place and size), or null for a point. */
  ew.cellKey = function (spec, feature) {
    var geometry = feature && feature.geometry;
    if (!geometry || geometry.type !== "Point") {
      return null;
    }
    var size = ew.cellSize(spec, feature.properties || {});
    return size > 0 ? geometry.coordinates.join(",") + "/" + size : null;
  };

  /* How many features of `features` stand for each cell (ew.cellKey -> count). */
  ew.cellStacks = function (spec, features) {
    var stacks = {};
    features.forEach(function (feature) {
      var key = ew.cellKey(spec, feature);
      if (key !== null) {
        stacks[key] = (stacks[key] || 0) + 1;
      }
    });
    return stacks;
  };

  /* What the legend and a cell's popup say about a generalised location. */
  ew.cellText = function (spec, props) {
    var rule = (spec.style || {}).cells;
    var size = ew.cellSize(spec, props);
    var what = rule && props[rule.field] === rule.value ? rule.label : "location generalised to a cell";
    return what + " (" + size.toLocaleString("en", { maximumFractionDigits: 6 }) + "\u00b0 square)";
  };

  /* The style of a point drawn as its cell: the layer's colours, dashed outline, light fill.
     `stack` features of the answer stand for the same cell: their squares lie on each other, each
     filled so that together they show CELL_FILL (what lies under the cell stays visible). */
  ew.cellFeatureStyle = function (spec, pane, stack) {
    var s = spec.style || {};
    var fill = 1 - Math.pow(1 - ew.CELL_FILL, 1 / Math.max(1, stack || 1));
    return { pane: pane, color: s.color || "#3388ff", fillColor: s.fillColor || s.color || "#3388ff",
      weight: 1.5, opacity: 0.9, dashArray: "5 3", fillOpacity: fill, className: "ew-feature ew-gridcell" };
  };

  /* A cluster's icon: its count as text, in the layer's colours. */
  function clusterIcon(spec, cluster) {
    var s = spec.style || {};
    var count = cluster.getChildCount();
    var size = count < 10 ? 28 : count < 100 ? 34 : 42;
    var inner = document.createElement("span");
    inner.className = "ew-cluster-count";
    inner.setAttribute("data-count", String(count));
    inner.textContent = count.toLocaleString("en");
    inner.style.backgroundColor = s.fillColor || s.color || "#3388ff";
    inner.style.borderColor = s.color || "#3388ff";
    return L.divIcon({ html: inner, className: "ew-cluster", iconSize: L.point(size, size) });
  }

  /* The cluster group of a layer whose points cluster, or null when it has none. */
  ew.clusterGroup = function (spec, pane) {
    if (!spec.cluster || typeof L.markerClusterGroup !== "function") {
      return null;
    }
    var s = spec.style || {};
    return L.markerClusterGroup({
      clusterPane: pane,
      maxClusterRadius: function (zoom) { return zoom >= ew.CLUSTER_UNTIL_ZOOM ? 1 : ew.CLUSTER_RADIUS_PX; },
      showCoverageOnHover: false,
      zoomToBoundsOnClick: true,
      spiderfyOnMaxZoom: true,
      animate: false, /* a cluster is drawn or not: no state in between to wait for or to misread */
      spiderLegPolylineOptions: { weight: 1.5, color: s.color || "#222222", opacity: 0.6 },
      iconCreateFunction: function (cluster) { return clusterIcon(spec, cluster); }
    });
  };

  /* What the clusters of a layer show now: {clusters: [counts], single: points drawn alone}. */
  ew.clusterState = function (name) {
    var group = ew.clusterGroups && ew.clusterGroups[name];
    var out = { clusters: [], single: 0 };
    if (!group || !ew.map || !ew.map.hasLayer(group)) {
      return out;
    }
    var seen = {};
    group.eachLayer(function (marker) {
      /* a circle marker has no icon, so getVisibleParent does not see it drawn: ask the map */
      if (ew.map.hasLayer(marker)) {
        out.single += 1;
        return;
      }
      var shown = group.getVisibleParent(marker);
      if (shown && shown !== marker && !seen[L.stamp(shown)]) {
        seen[L.stamp(shown)] = true;
        out.clusters.push(shown.getChildCount());
      }
    });
    return out;
  };
})();
