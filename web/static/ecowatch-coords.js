/*
 * ecowatch map: coordinates (lat/lon, DMS, UTM) of the pointer and of features, and the
 * search box (a clearing id, a concession or a protected area; the map flies to it).
 *
 * UTM on WGS 84 by the Krueger series as given in Snyder, "Map Projections: A Working Manual"
 * (USGS PP 1395, 1987, pp. 61-64), to the sixth power of the longitude difference: well under
 * a metre inside a zone. Zones follow the standard grid with the Norway and Svalbard
 * exceptions. tests/web/test_map_tools_browser.py checks it against pyproj.
 */
(function () {
  "use strict";

  var ew = (window.ecowatch = window.ecowatch || {});

  var A = 6378137.0;
  var F = 1 / 298.257223563;
  var K0 = 0.9996;
  var E2 = F * (2 - F);
  var EP2 = E2 / (1 - E2);
  var RAD = Math.PI / 180;

  function utmZone(lat, lon) {
    var zone = Math.floor((lon + 180) / 6) + 1;
    if (zone > 60) {
      zone = 60;
    }
    if (lat >= 56 && lat < 64 && lon >= 3 && lon < 12) {
      return 32;
    }
    if (lat >= 72 && lat < 84 && lon >= 0 && lon < 42) {
      return lon < 9 ? 31 : lon < 21 ? 33 : lon < 33 ? 35 : 37;
    }
    return zone;
  }

  /* {zone, hemisphere "N"|"S", easting, northing} in metres; null outside 80 S .. 84 N. */
  function utm(lat, lon) {
    if (!(lat >= -80 && lat <= 84) || !(lon >= -180 && lon <= 180)) {
      return null;
    }
    var zone = utmZone(lat, lon);
    var lon0 = ((zone - 1) * 6 - 180 + 3) * RAD;
    var phi = lat * RAD;
    var sin = Math.sin(phi);
    var cos = Math.cos(phi);
    var tan = Math.tan(phi);
    var n = A / Math.sqrt(1 - E2 * sin * sin);
    var t = tan * tan;
    var c = EP2 * cos * cos;
    var a = cos * (lon * RAD - lon0);
    var e4 = E2 * E2;
    var e6 = e4 * E2;
    var m = A * ((1 - E2 / 4 - 3 * e4 / 64 - 5 * e6 / 256) * phi -
      (3 * E2 / 8 + 3 * e4 / 32 + 45 * e6 / 1024) * Math.sin(2 * phi) +
      (15 * e4 / 256 + 45 * e6 / 1024) * Math.sin(4 * phi) -
      (35 * e6 / 3072) * Math.sin(6 * phi));
    var x = K0 * n * (a + (1 - t + c) * Math.pow(a, 3) / 6 +
      (5 - 18 * t + t * t + 72 * c - 58 * EP2) * Math.pow(a, 5) / 120) + 500000;
    var y = K0 * (m + n * tan * (a * a / 2 + (5 - t + 9 * c + 4 * c * c) * Math.pow(a, 4) / 24 +
      (61 - 58 * t + t * t + 600 * c - 330 * EP2) * Math.pow(a, 6) / 720));
    var south = lat < 0;
    return { zone: zone, hemisphere: south ? "S" : "N", easting: x, northing: south ? y + 10000000 : y };
  }

  /* 13°39'12.3"N: degrees, minutes, seconds to a tenth, and the hemisphere letter. */
  function dmsPart(value, pos, neg) {
    var hemi = value < 0 ? neg : pos;
    var tenths = Math.round(Math.abs(value) * 36000);
    var d = Math.floor(tenths / 36000);
    var m = Math.floor((tenths % 36000) / 600);
    var s = (tenths % 600) / 10;
    return d + "\u00b0" + (m < 10 ? "0" : "") + m + "'" + (s < 10 ? "0" : "") + s.toFixed(1) + "\"" + hemi;
  }

  ew.coords = {
    utm: utm,
    dms: function (lat, lon) { return dmsPart(lat, "N", "S") + " " + dmsPart(lon, "E", "W"); },
    decimal: function (lat, lon) { return lat.toFixed(5) + ", " + lon.toFixed(5); },
    utmText: function (lat, lon) {
      var u = utm(lat, lon);
      return u ? "UTM " + u.zone + u.hemisphere + " " + Math.round(u.easting) + " E " + Math.round(u.northing) + " N" : "UTM: outside 80\u00b0S-84\u00b0N";
    },
    lines: function (lat, lon) {
      return ["Lat, lon " + ew.coords.decimal(lat, lon), ew.coords.dms(lat, lon), ew.coords.utmText(lat, lon)];
    }
  };

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

  /* The pointer's position (bottom left, above the scale). */
  var Pointer = L.Control.extend({
    options: { position: "bottomleft" },
    onAdd: function (map) {
      var box = el("div", "ew-pointer leaflet-bar");
      box.setAttribute("aria-live", "off");
      box.appendChild(el("div", "ew-pointer-hint", "Move the pointer over the map for its coordinates"));
      map.on("mousemove", function (event) {
        box.textContent = "";
        ew.coords.lines(event.latlng.lat, event.latlng.lng).forEach(function (line) {
          box.appendChild(el("div", "ew-pointer-line", line));
        });
      });
      return box;
    }
  });

  /* Fly to a result: its box (a point: zoom 15), and open the feature's popup once drawn. */
  function flyTo(map, result) {
    var b = result.bbox;
    var bounds = L.latLngBounds([b[1], b[0]], [b[3], b[2]]);
    ew.lastSearch = result;
    var done = function () {
      ew.searchLanded = result;
    };
    map.once("moveend", done);
    if (bounds.getNorth() - bounds.getSouth() < 1e-9 && bounds.getEast() - bounds.getWest() < 1e-9) {
      map.setView(bounds.getCenter(), 15, { animate: false });
    } else {
      map.fitBounds(bounds, { maxZoom: 15, padding: [40, 40], animate: false });
    }
  }

  /* The search box (top left): a clearing id or a name; Enter searches, a result flies there. */
  var Search = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function (map) {
      var box = el("form", "ew-search leaflet-bar");
      box.setAttribute("role", "search");
      var input = el("input");
      input.type = "search";
      input.id = "ew-search-input";
      input.placeholder = "Clearing id, concession, protected area";
      input.setAttribute("aria-label", "Search a clearing id, a concession or a protected area");
      var button = el("button", null, "Find");
      button.type = "submit";
      var list = el("ul", "ew-search-results");
      list.id = "ew-search-results";
      box.appendChild(input);
      box.appendChild(button);
      box.appendChild(list);
      box.addEventListener("submit", function (event) {
        event.preventDefault();
        list.textContent = "";
        var q = input.value.trim();
        if (!q) {
          return;
        }
        fetch(ew.options.search_url + "?q=" + encodeURIComponent(q), { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (response) {
            return response.json().then(function (body) {
              if (!response.ok) {
                throw new Error(body && body.message ? body.message : "HTTP " + response.status);
              }
              return body;
            });
          })
          .then(function (body) {
            if (!body.results.length) {
              list.appendChild(el("li", "ew-search-none", "Nothing found for " + q));
              return;
            }
            body.results.forEach(function (result) {
              var item = el("li", "ew-search-result");
              var link = el("button", null, result.label);
              link.type = "button";
              link.appendChild(el("span", "ew-search-layer", " " + result.title));
              link.addEventListener("click", function () { flyTo(map, result); });
              item.appendChild(link);
              list.appendChild(item);
            });
            if (body.results.length === 1) {
              flyTo(map, body.results[0]);
            }
          })
          .catch(function (err) {
            list.appendChild(el("li", "ew-search-none", "Search failed: " + (err && err.message ? err.message : String(err))));
          });
      });
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    }
  });

  ew.startTools = function (map) {
    if (ew.options && ew.options.search_url) {
      new Search().addTo(map);
    }
    new Pointer().addTo(map);
  };
})();
