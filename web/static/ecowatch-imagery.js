/*
 * ecowatch map: imagery under the alerts. A control (top left, under the search box) lists the
 * stored acquisition dates (/api/imagery/dates) and the two styles (true colour, NDVI); the
 * chosen date is drawn as XYZ tiles from the server (/tiles/imagery/<date>/{z}/{x}/{y}.png)
 * in a pane just above the countries and below every other layer. The date and style go into
 * the URL (ecowatch-state.js). Only roles that may see imagery get this control.
 */
(function () {
  "use strict";

  var ew = (window.ecowatch = window.ecowatch || {});

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

  ew.imagery = { layer: null, dates: [], loaded: 0, errors: 0 };

  /* True when the imagery drawn has every tile in view loaded and faded in. */
  ew.imageryIdle = function () {
    var layer = ew.imagery.layer;
    if (!layer || layer.isLoading() || ew.imagery.loaded === 0) {
      return false;
    }
    var tiles = layer.getContainer() ? layer.getContainer().querySelectorAll("img.leaflet-tile") : [];
    return Array.prototype.every.call(tiles, function (img) { return window.getComputedStyle(img).opacity === "1"; });
  };

  /* Draw `date` (null: none) in `style`, remember both in the state and the URL. */
  ew.setImagery = function (date, style) {
    var map = ew.map;
    var im = ew.imagery;
    if (im.layer) {
      map.removeLayer(im.layer);
      im.layer = null;
    }
    ew.state.date = date || null;
    ew.state.style = date && style && style !== "truecolor" ? style : null;
    if (date) {
      var url = ew.options.imagery_tiles + "/" + encodeURIComponent(date) + "/{z}/{x}/{y}.png?style=" + encodeURIComponent(style || "truecolor");
      im.loaded = 0;
      im.layer = L.tileLayer(url, { pane: "ew-imagery", maxZoom: 18, tileSize: 256, className: "ew-imagery-tiles",
        attribution: "Imagery: stored scenes of " + date });
      im.layer.on("tileload", function () { im.loaded += 1; });
      im.layer.on("tileerror", function () { im.errors += 1; });
      im.layer.addTo(map);
    }
    ew.writeUrl();
  };

  var Picker = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function () {
      var box = el("div", "ew-imagery leaflet-bar");
      box.appendChild(el("div", "ew-imagery-title", "Imagery"));
      var date = el("select");
      date.id = "ew-imagery-date";
      date.setAttribute("aria-label", "Acquisition date");
      date.appendChild(el("option", null, "none"));
      date.options[0].value = "";
      var style = el("select");
      style.id = "ew-imagery-style";
      style.setAttribute("aria-label", "Imagery style");
      [["truecolor", "true colour"], ["ndvi", "NDVI"]].forEach(function (pair) {
        var o = el("option", null, pair[1]);
        o.value = pair[0];
        style.appendChild(o);
      });
      box.appendChild(date);
      box.appendChild(style);
      var change = function () { ew.setImagery(date.value, style.value); };
      date.addEventListener("change", change);
      style.addEventListener("change", change);
      ew.imagery.dateSelect = date;
      ew.imagery.styleSelect = style;
      L.DomEvent.disableClickPropagation(box);
      return box;
    }
  });

  ew.startImagery = function (map) {
    if (!ew.options || !ew.options.imagery_dates) {
      return;
    }
    if (!map.getPane("ew-imagery")) {
      var countries = ew.layers.countries ? ew.layers.countries.ewSpec.order : 0;
      map.createPane("ew-imagery").style.zIndex = String(410 + countries); /* created later: drawn above the countries */
    }
    new Picker().addTo(map);
    fetch(ew.options.imagery_dates, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(new Error("HTTP " + response.status)); })
      .then(function (body) {
        ew.imagery.dates = body.dates;
        body.dates.forEach(function (d) {
          var cloud = d.cloud_share === null ? "" : " (" + Math.round(d.cloud_share * 100) + " % cloud)";
          var o = el("option", null, d.date + cloud);
          o.value = d.date;
          ew.imagery.dateSelect.appendChild(o);
        });
        if (ew.state.date) {
          ew.imagery.dateSelect.value = ew.state.date;
          ew.imagery.styleSelect.value = ew.state.style || "truecolor";
          ew.setImagery(ew.state.date, ew.state.style || "truecolor");
        }
        ew.imagery.ready = true;
      })
      .catch(function (err) {
        ew.errors.push("Could not list the imagery dates: " + (err && err.message ? err.message : String(err)));
        ew.setStatus();
      });
  };
})();
