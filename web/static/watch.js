/* The watch-area page's map: outlines to draw against, Leaflet-Geoman's polygon and rectangle tools;
   the drawn shape goes into the form's hidden "geometry" field as GeoJSON (lon/lat). */
(function () {
  "use strict";
  const el = document.getElementById("ew-watch-map");
  if (!el || !window.L) return;
  const data = JSON.parse(el.dataset.geojson);
  const styles = {
    aoi: {color: "#222222", weight: 2, dashArray: "6 4", fill: false},
    protected_areas: {color: "#2e7d32", weight: 1.5, fillColor: "#66bb6a", fillOpacity: 0.2},
    concessions: {color: "#b8860b", weight: 1.5, fillColor: "#f0c040", fillOpacity: 0.2},
    watch: {color: "#1565c0", weight: 2, fillColor: "#42a5f5", fillOpacity: 0.15},
  };
  const map = L.map(el, {attributionControl: false, maxZoom: 18});
  const context = L.geoJSON(data, {style: (f) => styles[f.properties.kind] || styles.aoi, interactive: false}).addTo(map);
  const bounds = context.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds); else map.setView([13.65, 107.45], 10);
  L.control.scale({imperial: false}).addTo(map);
  const field = document.getElementById("ew-geometry");
  const drawn = L.featureGroup().addTo(map);
  map.pm.addControls({position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawCircle: false,
    drawText: false, cutPolygon: false, rotateMode: false, drawPolygon: true, drawRectangle: true, editMode: true, dragMode: false, removalMode: true});
  function update() {
    const layers = drawn.getLayers();
    field.value = layers.length ? JSON.stringify(layers[layers.length - 1].toGeoJSON().geometry) : "";
    const how = document.querySelector("input[name=how][value=drawn]");
    if (layers.length && how) how.checked = true;
  }
  map.on("pm:create", (e) => {
    drawn.clearLayers();  // one area at a time: the last shape drawn
    drawn.addLayer(e.layer);
    e.layer.on("pm:edit", update);
    update();
  });
  map.on("pm:remove", (e) => { drawn.removeLayer(e.layer); update(); });
  window.ecowatchWatchMap = map;
})();
