// The dashboards: ECharts charts from the json_script data, a Leaflet map (areas coloured by a
// KPI from their boundaries, case points and a heat layer drawn on our own canvas), and the page
// that waits for a background export. Everything degrades to the tables when a library is
// missing; the map works without base tiles (offline intranet) or with GRIDGOV_TILE_URL.
(function () {
  "use strict";

  function readJSON(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function listLink(data, changes) {
    const params = new URLSearchParams(data.query);
    params.set("area", data.nodeId);
    Object.keys(changes).forEach(function (k) { params.set(k, changes[k]); });
    return data.listUrl + "?" + params.toString();
  }

  // --- charts -------------------------------------------------------------------------------------
  function charts(data) {
    if (typeof echarts === "undefined") return;
    const trendEl = document.getElementById("chart-trend");
    if (trendEl) {
      const chart = echarts.init(trendEl);
      const t = data.trend;
      chart.setOption({
        tooltip: { trigger: "axis" },
        legend: { data: [t.labels.reported, t.labels.closed] },
        grid: { left: 40, right: 16, top: 32, bottom: 28 },
        xAxis: { type: "category", data: t.days.map(function (d) { return d.slice(5); }) },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: t.labels.reported, type: "line", data: t.reported, metric: "reported" },
          { name: t.labels.closed, type: "line", data: t.closed, metric: "closed" },
        ],
      });
      chart.on("click", function (p) {
        const day = t.days[p.dataIndex];
        const metric = p.seriesIndex === 0 ? "reported" : "closed";
        window.location.href = listLink(data, { metric: metric, date_from: day, date_to: day });
      });
      window.addEventListener("resize", function () { chart.resize(); });
    }
    const catEl = document.getElementById("chart-category");
    if (catEl && data.categories.length) {
      const chart = echarts.init(catEl);
      const rows = data.categories.slice().reverse();
      chart.setOption({
        tooltip: { trigger: "item" },
        grid: { left: 110, right: 24, top: 8, bottom: 24 },
        xAxis: { type: "value", minInterval: 1 },
        yAxis: { type: "category", data: rows.map(function (r) { return r.name; }) },
        series: [{ type: "bar", data: rows.map(function (r) { return r.value; }), itemStyle: { color: "#c8102e" } }],
      });
      chart.on("click", function (p) {
        window.location.href = listLink(data, { metric: "reported", category: rows[p.dataIndex].code });
      });
      window.addEventListener("resize", function () { chart.resize(); });
    }
    const srcEl = document.getElementById("chart-source");
    if (srcEl && data.sources.length) {
      const chart = echarts.init(srcEl);
      chart.setOption({
        tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
        series: [{
          type: "pie",
          radius: ["35%", "65%"],
          data: data.sources.map(function (s) { return { name: s.name, value: s.value, code: s.code }; }),
        }],
      });
      chart.on("click", function (p) {
        window.location.href = listLink(data, { metric: "reported", source: p.data.code });
      });
      window.addEventListener("resize", function () { chart.resize(); });
    }
  }

  // --- heat layer: our own canvas (grey stamps summed, then coloured through a palette) -----------
  function makeHeatLayer() {
    function palette() {
      const c = document.createElement("canvas");
      c.width = 256; c.height = 1;
      const ctx = c.getContext("2d");
      const g = ctx.createLinearGradient(0, 0, 256, 0);
      g.addColorStop(0.2, "#2c7bb6"); g.addColorStop(0.45, "#abd9e9");
      g.addColorStop(0.65, "#ffffbf"); g.addColorStop(0.85, "#fdae61"); g.addColorStop(1, "#d7191c");
      ctx.fillStyle = g; ctx.fillRect(0, 0, 256, 1);
      return ctx.getImageData(0, 0, 256, 1).data;
    }
    function stamp(r) {
      const c = document.createElement("canvas");
      c.width = c.height = r * 2;
      const ctx = c.getContext("2d");
      const g = ctx.createRadialGradient(r, r, 0, r, r, r);
      g.addColorStop(0, "rgba(0,0,0,1)"); g.addColorStop(1, "rgba(0,0,0,0)");
      ctx.fillStyle = g; ctx.fillRect(0, 0, r * 2, r * 2);
      return c;
    }
    return L.Layer.extend({
      initialize: function (points, options) {
        this._points = points;
        this._radius = (options && options.radius) || 20;
        this._alpha = (options && options.alpha) || 0.12;
      },
      onAdd: function (map) {
        this._map = map;
        this._canvas = L.DomUtil.create("canvas", "heat-canvas leaflet-zoom-hide");
        this._canvas.style.pointerEvents = "none";
        map.getPanes().overlayPane.appendChild(this._canvas);
        this._stamp = stamp(this._radius);
        this._palette = palette();
        map.on("moveend zoomend resize viewreset", this._draw, this);
        this._draw();
      },
      onRemove: function (map) {
        L.DomUtil.remove(this._canvas);
        map.off("moveend zoomend resize viewreset", this._draw, this);
      },
      _draw: function () {
        const map = this._map, canvas = this._canvas, size = map.getSize(), r = this._radius;
        L.DomUtil.setPosition(canvas, map.containerPointToLayerPoint([0, 0]));
        canvas.width = size.x; canvas.height = size.y;
        const ctx = canvas.getContext("2d");
        ctx.globalAlpha = this._alpha;
        for (const p of this._points) {
          const pt = map.latLngToContainerPoint([p.lat, p.lon]);
          if (pt.x < -r || pt.y < -r || pt.x > size.x + r || pt.y > size.y + r) continue;
          ctx.drawImage(this._stamp, pt.x - r, pt.y - r);
        }
        if (!size.x || !size.y) return;
        const img = ctx.getImageData(0, 0, size.x, size.y), px = img.data, pal = this._palette;
        for (let i = 3; i < px.length; i += 4) {
          const a = px[i];
          if (!a) continue;
          const j = a * 4;
          px[i - 3] = pal[j]; px[i - 2] = pal[j + 1]; px[i - 1] = pal[j + 2];
          px[i] = Math.min(255, 60 + a * 1.5);
        }
        ctx.putImageData(img, 0, 0);
      },
    });
  }

  // --- map ----------------------------------------------------------------------------------------
  function colourFor(t) {
    // t in [0, 1], 0 worst (red) → 1 best (green)
    const stops = [[215, 25, 28], [253, 174, 97], [255, 255, 191], [166, 217, 106], [26, 150, 65]];
    const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x)), f = x - i;
    const c = stops[i].map(function (v, k) { return Math.round(v + (stops[i + 1][k] - v) * f); });
    return "rgb(" + c.join(",") + ")";
  }

  function pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; }

  function dashMap(cfg) {
    const el = document.getElementById("dash-map");
    const note = document.getElementById("map-note");
    const legend = document.getElementById("map-legend");
    if (!el) return;
    if (typeof L === "undefined") { note.textContent = "Leaflet"; return; }
    const HeatLayer = makeHeatLayer();
    const map = L.map(el, { zoomControl: true, attributionControl: !!cfg.tileUrl, preferCanvas: true });
    map.setView([30, 119], 9);
    if (cfg.tileUrl) L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: cfg.attribution || "" }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    const kpiSelect = document.getElementById("map-kpi");
    const metricSelect = document.getElementById("map-metric");
    let layers = [], control = null, data = null;
    const kpiInfo = {};
    cfg.kpis.forEach(function (k) { kpiInfo[k.key] = k; });

    function clear() {
      layers.forEach(function (l) { map.removeLayer(l); });
      layers = [];
      if (control) { map.removeControl(control); control = null; }
    }

    function render() {
      clear();
      const notes = [];
      const kpi = kpiSelect.value, info = kpiInfo[kpi];
      const feats = data.areas.features;
      const values = feats.map(function (f) { return f.properties.kpis[kpi]; }).filter(function (v) { return v !== null; });
      const lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
      function t(v) {
        if (v === null || v === undefined) return null;
        const s = hi > lo ? (v - lo) / (hi - lo) : 1;
        return info.higherIsBetter ? s : 1 - s;
      }
      const overlays = {};
      let bounds = null;
      if (data.node.boundary) {
        const outline = L.geoJSON(data.node.boundary, { style: { color: "#444", weight: 2, fill: false, dashArray: "4 4" } }).addTo(map);
        layers.push(outline);
        bounds = outline.getBounds();
      }
      if (feats.length) {
        const areas = L.geoJSON(data.areas, {
          style: function (f) {
            const v = t(f.properties.kpis[kpi]);
            return { color: "#555", weight: 1, fillOpacity: 0.55, fillColor: v === null ? "#ccc" : colourFor(v) };
          },
          onEachFeature: function (f, layer) {
            layer.bindTooltip(f.properties.name + "：" + info.label + " " + pct(f.properties.kpis[kpi]), { sticky: true });
            layer.on("click", function () { window.location.href = f.properties.url; });
          },
        }).addTo(map);
        layers.push(areas);
        overlays[cfg.texts.areas] = areas;
        bounds = bounds ? bounds.extend(areas.getBounds()) : areas.getBounds();
        legend.innerHTML = "";
        if (values.length) {
          const bad = info.higherIsBetter ? lo : hi, good = info.higherIsBetter ? hi : lo;
          legend.innerHTML = '<span class="swatch" style="background:' + colourFor(0) + '"></span>' + pct(bad) +
            ' <span class="bar"></span> <span class="swatch" style="background:' + colourFor(1) + '"></span>' + pct(good) +
            ' <span class="swatch" style="background:#ccc"></span>' + cfg.texts.noData;
        }
      } else {
        legend.innerHTML = "";
        notes.push(cfg.texts.noBoundaries);
      }
      if (data.points.length) {
        const group = L.layerGroup(data.points.map(function (p) {
          const m = L.circleMarker([p.lat, p.lon], {
            radius: 5, weight: 1, color: p.overdue ? "#cf222e" : "#0b5cad", fillOpacity: 0.7,
          });
          const a = document.createElement("a");
          a.href = cfg.caseUrl.replace("{id}", p.id);
          a.textContent = p.number + " " + p.title;
          m.bindPopup(a);
          return m;
        }));
        const heat = new HeatLayer(data.points, { radius: 22 });
        heat.addTo(map);
        group.addTo(map);
        layers.push(group, heat);
        overlays[cfg.texts.points] = group;
        overlays[cfg.texts.heat] = heat;
        const pb = L.latLngBounds(data.points.map(function (p) { return [p.lat, p.lon]; }));
        bounds = bounds ? bounds.extend(pb) : pb;
        if (data.truncated) notes.push(cfg.texts.truncated);
      } else {
        notes.push(cfg.texts.noPoints);
      }
      if (Object.keys(overlays).length) control = L.control.layers(null, overlays, { collapsed: false }).addTo(map);
      if (bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [16, 16], maxZoom: 16 });
      note.textContent = notes.join(" ");
      el.dataset.loaded = "true";
      el.dataset.features = String(feats.length);
      el.dataset.points = String(data.points.length);
    }

    function load() {
      const url = cfg.dataUrl + "&metric=" + encodeURIComponent(metricSelect.value);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (json) { data = json; render(); })
        .catch(function (e) { note.textContent = String(e); });
    }
    kpiSelect.addEventListener("change", function () { if (data) render(); });
    metricSelect.addEventListener("change", load);
    load();
  }

  // --- a background export ------------------------------------------------------------------------
  function exportStatus(box) {
    const url = box.dataset.statusUrl;
    function poll() {
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          box.dataset.status = s.status;
          const state = box.querySelector("[data-state]");
          const link = box.querySelector("[data-download]");
          box.querySelector("[data-stale]").hidden = !s.stale;
          if (s.status === "done") {
            state.textContent = state.dataset.done || "✓";
            link.href = s.download;
            link.hidden = false;
            return;
          }
          if (s.status === "failed") { state.textContent = s.error; return; }
          if (s.status === "running") state.textContent = "… " + s.written + " / " + s.rows;
          setTimeout(poll, 2000);
        })
        .catch(function () { setTimeout(poll, 5000); });
    }
    if (box.dataset.status === "pending" || box.dataset.status === "running") setTimeout(poll, 1000);
  }

  function start() {
    const data = readJSON("dash-data");
    if (data) charts(data);
    const cfg = readJSON("dash-map-config");
    if (cfg) dashMap(cfg);
    const box = document.getElementById("export-status");
    if (box) exportStatus(box);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
