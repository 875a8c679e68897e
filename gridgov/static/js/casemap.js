// A case's location on a Leaflet map. Works with no base tiles (offline intranet): the marker and
// a scale are drawn on a plain background; a county can configure its own tile server.
(function () {
  "use strict";
  const el = document.getElementById("case-map");
  if (!el || typeof L === "undefined") return;
  const cfg = JSON.parse(document.getElementById("map-config").textContent);
  const map = L.map(el, { zoomControl: true, attributionControl: !!cfg.tileUrl }).setView([cfg.lat, cfg.lon], 16);
  if (cfg.tileUrl) L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: cfg.attribution || "" }).addTo(map);
  L.marker([cfg.lat, cfg.lon]).addTo(map).bindPopup(cfg.label);
  L.circle([cfg.lat, cfg.lon], { radius: 50 }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
})();
