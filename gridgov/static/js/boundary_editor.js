// Boundary maps: the editor (Leaflet + leaflet-geoman) and the comparison of two versions.
//
// Works without base tiles (offline intranets): the boundaries are drawn on a plain background
// with a scale bar; a county may configure its own tile server (GRIDGOV_TILE_URL). Every rule
// (validity, inside the parent, overlaps, gaps) is checked on the server; this file only draws,
// collects the geometry and shows the server's answer. UI text comes translated from the page.
(function () {
  "use strict";
  const cfgEl = document.getElementById("boundary-config");
  const el = document.getElementById("boundary-map");
  if (!cfgEl || !el || typeof L === "undefined") return;
  const cfg = JSON.parse(cfgEl.textContent);

  const STYLE = {
    parent: { color: "#667085", weight: 2, dashArray: "6 4", fill: false },
    sibling: { color: "#0b5cad", weight: 1.5, fillColor: "#0b5cad", fillOpacity: 0.08 },
    child: { color: "#9a6700", weight: 1, dashArray: "2 3", fill: false },
    own: { color: "#c8102e", weight: 3, fillColor: "#c8102e", fillOpacity: 0.15 },
    problem: { color: "#cf222e", weight: 2, fillColor: "#cf222e", fillOpacity: 0.45 },
    gap: { color: "#9a6700", weight: 1, fillColor: "#f5a623", fillOpacity: 0.45 },
    a: { color: "#667085", weight: 2, dashArray: "6 4", fillColor: "#667085", fillOpacity: 0.1 },
    b: { color: "#c8102e", weight: 3, fillColor: "#c8102e", fillOpacity: 0.1 },
    added: { color: "#1a7f37", weight: 1, fillColor: "#1a7f37", fillOpacity: 0.45 },
    removed: { color: "#9a6700", weight: 1, fillColor: "#f5a623", fillOpacity: 0.5 },
  };

  const map = L.map(el, { attributionControl: !!cfg.tileUrl, zoomSnap: 0.25 });
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, { maxZoom: 20, attribution: cfg.attribution || "" }).addTo(map);
  }
  L.control.scale({ imperial: false }).addTo(map);

  // A non-editable layer; `snap` makes it a snapping target for geoman.
  function contextLayer(geometry, style, label, snap) {
    if (!geometry) return null;
    const layer = L.geoJSON(geometry, {
      style: style,
      pmIgnore: true,
      snapIgnore: !snap,
      interactive: !!label,
      bubblingMouseEvents: true,
    });
    if (label) layer.bindTooltip(label, { sticky: true, className: "boundary-label" });
    return layer.addTo(map);
  }

  function fit(layers) {
    const bounds = L.latLngBounds([]);
    layers.forEach(function (l) {
      if (l && l.getBounds) {
        const b = l.getBounds();
        if (b.isValid()) bounds.extend(b);
      }
    });
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20] });
    else map.setView(cfg.center, cfg.zoom);
  }

  if (cfg.mode === "compare") {
    const a = contextLayer(cfg.a.geometry, STYLE.a, cfg.a.label, false);
    const b = contextLayer(cfg.b.geometry, STYLE.b, cfg.b.label, false);
    contextLayer(cfg.added, STYLE.added, null, false);
    contextLayer(cfg.removed, STYLE.removed, null, false);
    fit([a, b]);
    window.gridgovBoundaryMap = { map: map };
    return;
  }

  // ------------------------------------------------------------------------------------------
  // The editor
  // ------------------------------------------------------------------------------------------
  const form = document.getElementById("boundary-form");
  const statusEl = document.getElementById("boundary-status");
  const resultEl = document.getElementById("boundary-result");
  const text = JSON.parse(document.getElementById("boundary-text").textContent);
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;

  const parent = cfg.parent ? contextLayer(cfg.parent.geometry, STYLE.parent, cfg.parent.name, true) : null;
  const siblings = cfg.siblings.map(function (s) {
    return contextLayer(s.geometry, STYLE.sibling, s.name + "（" + s.code + "）", true);
  });
  cfg.children.forEach(function (c) {
    contextLayer(c.geometry, STYLE.child, c.name, false);
  });
  let problems = L.layerGroup().addTo(map);

  let own = null;
  if (cfg.area.geometry) {
    own = L.geoJSON(cfg.area.geometry, { style: STYLE.own }).addTo(map);
    own.bindTooltip(cfg.area.name, { sticky: true, className: "boundary-label" });
  }

  map.pm.setLang("zh");
  map.pm.addControls({
    position: "topleft",
    drawMarker: false,
    drawCircleMarker: false,
    drawPolyline: false,
    drawCircle: false,
    drawText: false,
    drawRectangle: true,
    drawPolygon: true,
    editMode: true,
    dragMode: false,
    cutPolygon: true,
    removalMode: true,
    rotateMode: false,
  });
  map.pm.setGlobalOptions({
    snappable: true,
    snapDistance: 15,
    pathOptions: STYLE.own,
    templineStyle: { color: STYLE.own.color },
    hintlineStyle: { color: STYLE.own.color, dashArray: "5 5" },
  });

  if (own) fit([own]);
  else fit([parent].concat(siblings));

  // Every polygon the admin can edit: the loaded boundary, drawn shapes and what cuts leave.
  function editablePolygons() {
    const found = [];
    map.eachLayer(function (layer) {
      if (!(layer instanceof L.Polygon)) return;
      if (layer.options.pmIgnore || layer._pmTempLayer) return;
      found.push(layer);
    });
    return found;
  }

  function collectGeometry() {
    const polygons = [];
    editablePolygons().forEach(function (layer) {
      const g = layer.toGeoJSON(7).geometry;
      if (g.type === "Polygon") polygons.push(g.coordinates);
      else if (g.type === "MultiPolygon") g.coordinates.forEach(function (c) { polygons.push(c); });
    });
    if (!polygons.length) return null;
    if (polygons.length === 1) return { type: "Polygon", coordinates: polygons[0] };
    return { type: "MultiPolygon", coordinates: polygons };
  }

  function setStatus(state, message) {
    statusEl.dataset.state = state;
    statusEl.className = "boundary-status " + state;
    statusEl.textContent = message || "";
  }

  function showIssues(errors, warnings) {
    problems.clearLayers();
    resultEl.innerHTML = "";
    function add(list, cls, style) {
      (list || []).forEach(function (issue) {
        const li = document.createElement("li");
        li.className = cls;
        li.dataset.code = issue.code;
        li.textContent = issue.message;
        resultEl.appendChild(li);
        if (issue.geometry) {
          problems.addLayer(
            L.geoJSON(issue.geometry, { style: style, pmIgnore: true, snapIgnore: true, interactive: false })
          );
        }
      });
    }
    add(errors, "error", STYLE.problem);
    add(warnings, "warn", STYLE.gap);
  }

  function fieldValue(name) {
    const input = form.querySelector("[name=" + name + "]");
    return input ? input.value.trim() : "";
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
      body: JSON.stringify(body),
    });
    let data;
    try {
      data = await response.json();
    } catch (e) {
      data = { detail: text.failed + "（HTTP " + response.status + "）" };
    }
    return { ok: response.ok, data: data };
  }

  function busy(on) {
    form.querySelectorAll("button").forEach(function (b) { b.disabled = on; });
  }

  async function run(url, body, after) {
    busy(true);
    setStatus("working", text.working);
    try {
      const { ok, data } = await post(url, body);
      if (!ok) {
        setStatus("error", data.detail || text.failed);
        showIssues(data.errors || [], data.warnings || []);
        return;
      }
      after(data);
    } catch (e) {
      setStatus("error", text.failed);
    } finally {
      busy(false);
    }
  }

  function common() {
    return { effective_from: fieldValue("effective_from"), note: fieldValue("note") };
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); });

  document.getElementById("btn-check").addEventListener("click", function () {
    const geometry = collectGeometry();
    run(cfg.urls.check, { geometry: geometry }, function (data) {
      showIssues(data.errors, data.warnings);
      if (data.ok) {
        setStatus("checked", text.checkOk + (data.area_m2 != null ? "（" + text.area + " " + formatArea(data.area_m2) + "）" : ""));
      } else {
        setStatus("error", text.checkFailed);
      }
    });
  });

  document.getElementById("btn-save").addEventListener("click", function () {
    const geometry = collectGeometry();
    if (!geometry) {
      setStatus("error", text.nothingDrawn);
      return;
    }
    run(cfg.urls.save, Object.assign({ geometry: geometry }, common()), function (data) {
      showIssues([], data.warnings);
      setStatus("saved", data.detail);
      const label = document.getElementById("current-version");
      if (label && data.version) label.textContent = data.version.number;
    });
  });

  const splitBtn = document.getElementById("btn-split");
  if (splitBtn) {
    splitBtn.addEventListener("click", function () {
      const target = fieldValue("split_target");
      const body = Object.assign({ remaining: collectGeometry(), target: target === "new" ? "" : target }, common());
      if (target === "new") {
        body.new_code = fieldValue("new_code");
        body.new_name = fieldValue("new_name");
      }
      run(cfg.urls.split, body, function (data) {
        showIssues([], data.warnings);
        setStatus("saved", data.detail);
        showReassign(data.reassign);
      });
    });
  }

  const mergeBtn = document.getElementById("btn-merge");
  if (mergeBtn) {
    mergeBtn.addEventListener("click", function () {
      const other = fieldValue("merge_other");
      if (!other) {
        setStatus("error", text.chooseMerge);
        return;
      }
      if (!window.confirm(text.confirmMerge)) return;
      run(cfg.urls.merge, Object.assign({ other: other }, common()), function (data) {
        showIssues([], data.warnings);
        setStatus("saved", data.detail);
        showReassign(data.reassign);
      });
    });
  }

  function showReassign(info) {
    const box = document.getElementById("reassign-link");
    if (!box || !info) return;
    box.hidden = false;
    box.querySelector("a").href = info.url;
    box.querySelector("[data-count]").textContent = info.cases;
  }

  function formatArea(m2) {
    return m2 >= 10000 ? (m2 / 10000).toFixed(2) + " " + text.hectares : Math.round(m2) + " " + text.squareMetres;
  }

  // The page's own state, for people who want to script it (and for the browser tests).
  window.gridgovBoundaryMap = { map: map, collectGeometry: collectGeometry, ownStyle: STYLE.own };
})();
