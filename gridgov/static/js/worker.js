/* Grid worker's phone pages (/m/): progressive enhancement. Every form here also works as a plain
 * multipart post without JavaScript; with it:
 *  - photos are downscaled in the browser (canvas → JPEG, longest side 1600 px) before upload;
 *  - forms are sent with fetch, the submit button is disabled while in flight (a double tap sends
 *    once) and the report form's idempotency key also goes in the Idempotency-Key header, so a
 *    retry files one case;
 *  - errors come back as JSON and are shown next to the fields, nothing typed is lost;
 *  - a report that cannot be sent (network) stays in localStorage as a draft (photos as downscaled
 *    data URLs) and can be resent from the home page; typing is autosaved the same way;
 *  - the position from navigator.geolocation fills the hidden latitude/longitude fields;
 *  - the category <select> gets a search box that filters it.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");
  var root = document.querySelector("[data-worker]");
  if (!root) return;

  var STORE = "gridgov.drafts." + (root.dataset.user || "anon");
  var REPORT_URL = root.dataset.reportUrl || "/m/report/";
  var MAX_SIDE = 1600;
  var QUALITY = 0.82;
  var MAX_PHOTOS = 9;
  var SEND_TIMEOUT_MS = 120000;

  // --- small helpers ---------------------------------------------------------------------------

  function $(sel, el) { return (el || document).querySelector(sel); }
  function $all(sel, el) { return Array.prototype.slice.call((el || document).querySelectorAll(sel)); }
  function setText(el, text) { if (el) el.textContent = text; }
  function hhmm(iso) {
    var d = new Date(iso);
    return (d.getMonth() + 1) + "月" + d.getDate() + "日 " + ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  function blobToDataURL(blob) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsDataURL(blob);
    });
  }

  function dataURLToBlob(url) {
    var parts = url.split(",");
    var mime = (parts[0].match(/data:([^;]+)/) || [])[1] || "image/jpeg";
    var bin = atob(parts[1]);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Blob([bytes], { type: mime });
  }

  // --- photos ----------------------------------------------------------------------------------

  function decode(file) {
    if (window.createImageBitmap) {
      return createImageBitmap(file, { imageOrientation: "from-image" }).catch(function () {
        return decodeWithImage(file);
      });
    }
    return decodeWithImage(file);
  }

  function decodeWithImage(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("decode")); };
      img.src = url;
    });
  }

  function encode(source, maxSide, quality) {
    var w = source.width, h = source.height;
    var scale = Math.min(1, maxSide / Math.max(w, h));
    var canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(w * scale));
    canvas.height = Math.max(1, Math.round(h * scale));
    canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve, reject) {
      canvas.toBlob(function (blob) { blob ? resolve(blob) : reject(new Error("encode")); }, "image/jpeg", quality);
    });
  }

  /** A camera photo as a JPEG whose longest side is at most 1600 px ({blob, url}); a file the
   *  browser cannot decode (e.g. HEIC) is sent as it is and checked by the server. */
  function downscale(file, maxSide, quality) {
    return decode(file)
      .then(function (img) { return encode(img, maxSide || MAX_SIDE, quality || QUALITY); })
      .catch(function () { return file; })
      .then(function (blob) {
        return blobToDataURL(blob).then(function (url) { return { blob: blob, url: url }; });
      });
  }

  // --- drafts (localStorage) -------------------------------------------------------------------

  function loadDrafts() {
    try { return JSON.parse(localStorage.getItem(STORE) || "{}") || {}; } catch (e) { return {}; }
  }

  function writeDrafts(drafts) { localStorage.setItem(STORE, JSON.stringify(drafts)); }

  function removeDraft(key) {
    var drafts = loadDrafts();
    if (drafts[key]) { delete drafts[key]; try { writeDrafts(drafts); } catch (e) { /* ignore */ } }
  }

  /** Store a draft; when the photos do not fit, try smaller copies, then keep the text alone. */
  function storeDraft(draft) {
    var drafts = loadDrafts();
    drafts[draft.key] = draft;
    try { writeDrafts(drafts); return Promise.resolve(true); } catch (e) { /* quota: shrink photos */ }
    return Promise.all(draft.photos.map(function (url) {
      return downscale(dataURLToBlob(url), 800, 0.6).then(function (p) { return p.url; });
    })).then(function (small) {
      draft.photos = small;
      drafts[draft.key] = draft;
      try { writeDrafts(drafts); return true; } catch (e) {
        draft.photos = [];
        draft.photosDropped = true;
        drafts[draft.key] = draft;
        try { writeDrafts(drafts); } catch (e2) { return false; }
        return true;
      }
    });
  }

  // --- errors next to the fields ---------------------------------------------------------------

  function clearErrors(form) {
    $all("[data-error-for]", form).forEach(function (el) { el.hidden = true; el.textContent = ""; });
    $all(".field.has-error", form).forEach(function (el) { el.classList.remove("has-error"); });
  }

  function showErrors(form, data) {
    clearErrors(form);
    var general = (data.non_field_errors || []).slice();
    var first = null;
    Object.keys(data.errors || {}).forEach(function (name) {
      var slot = $('[data-error-for="' + name + '"]', form);
      var text = data.errors[name].join("；");
      if (!slot) { general.push(text); return; }
      slot.textContent = text;
      slot.hidden = false;
      var field = $('.field[data-field="' + name + '"]', form);
      if (field) { field.classList.add("has-error"); first = first || field; }
    });
    var box = $('[data-error-for="__all__"]', form);
    if (box && general.length) { box.textContent = general.join("；"); box.hidden = false; first = first || box; }
    if (first && first.scrollIntoView) first.scrollIntoView({ block: "center" });
  }

  // --- forms -----------------------------------------------------------------------------------

  function formFields(form) {
    var fields = [];
    $all("input, select, textarea", form).forEach(function (el) {
      if (!el.name || el.type === "file" || el.name === "csrfmiddlewaretoken") return;
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) return;
      if (el.tagName === "SELECT" && el.multiple) {
        $all("option", el).forEach(function (o) { if (o.selected) fields.push([el.name, o.value]); });
        return;
      }
      fields.push([el.name, el.value]);
    });
    return fields;
  }

  function buildBody(fields, photos, photoName, csrf) {
    var body = new FormData();
    if (csrf) body.append("csrfmiddlewaretoken", csrf);
    fields.forEach(function (f) { body.append(f[0], f[1]); });
    photos.forEach(function (p, i) { body.append(photoName, p.blob, "photo-" + (i + 1) + ".jpg"); });
    return body;
  }

  function post(url, body, key) {
    var headers = { "X-Requested-With": "fetch", "Accept": "application/json" };
    if (key) headers["Idempotency-Key"] = key;
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, SEND_TIMEOUT_MS) : null;
    return fetch(url, {
      method: "POST", body: body, headers: headers, credentials: "same-origin",
      signal: controller ? controller.signal : undefined,
    }).then(function (resp) {
      clearTimeout(timer);
      return resp.json().catch(function () { return null; }).then(function (data) {
        var toLogin = resp.redirected && /\/login\//.test(resp.url);
        return { status: toLogin ? 401 : resp.status, ok: resp.ok && !toLogin, data: toLogin ? null : data };
      });
    }, function (err) { clearTimeout(timer); throw err; });
  }

  function enhance(form) {
    var state = { photos: [], busy: false, done: false, timer: null };
    var input = $('input[type="file"]', form);
    var previews = $("[data-photo-previews]", form) || (form.parentNode && $("[data-photo-previews]", form.parentNode));
    var button = $("[data-submit]", form) || $('button[type="submit"]', form);
    var status = $("[data-form-status]", form);
    var keyField = $("[data-idempotency-key]", form);
    var draftable = form.hasAttribute("data-draftable");
    var photoName = input ? input.name : "photos";
    var maxPhotos = input && input.multiple ? MAX_PHOTOS : 1;

    function say(text, bad) {
      if (!status) return;
      status.textContent = text;
      status.classList.toggle("bad", !!bad);
    }

    function renderPreviews() {
      if (!previews) return;
      previews.innerHTML = "";
      state.photos.forEach(function (p, i) {
        var li = document.createElement("li");
        var img = document.createElement("img");
        img.src = p.url;
        img.alt = "照片 " + (i + 1);
        var remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "×";
        remove.setAttribute("aria-label", "删除照片 " + (i + 1));
        remove.addEventListener("click", function () {
          state.photos.splice(i, 1);
          renderPreviews();
          autosave();
        });
        li.appendChild(img);
        li.appendChild(remove);
        previews.appendChild(li);
      });
    }

    if (input) {
      input.addEventListener("change", function () {
        var files = Array.prototype.slice.call(input.files || []);
        input.value = "";  // the processed copies are sent, not the originals
        var room = maxPhotos - state.photos.length;
        if (maxPhotos === 1) { state.photos = []; room = 1; }
        if (files.length > room) say("最多 " + maxPhotos + " 张照片，多出的没有加入", true);
        files = files.slice(0, Math.max(0, room));
        if (!files.length) return;
        say("正在处理照片…");
        if (button) button.disabled = true;
        files.reduce(function (chain, file) {
          return chain.then(function () {
            return downscale(file).then(function (p) { state.photos.push(p); renderPreviews(); });
          });
        }, Promise.resolve()).then(function () {
          say("");
          if (button) button.disabled = false;
          autosave();
        });
      });
    }

    function draftOf(statusText) {
      var category = $('select[name="category"]', form);
      var description = $('textarea[name="description"]', form);
      return {
        key: keyField ? keyField.value : String(Date.now()),
        action: form.getAttribute("action") || REPORT_URL,
        savedAt: new Date().toISOString(),
        status: statusText,
        fields: formFields(form),
        photos: state.photos.map(function (p) { return p.url; }),
        photoName: photoName,
        label: category && category.selectedIndex > 0 ? category.options[category.selectedIndex].text : "",
        text: description ? description.value.slice(0, 80) : "",
      };
    }

    function autosave() {
      if (!draftable || state.done) return;
      clearTimeout(state.timer);
      state.timer = setTimeout(function () {
        var draft = draftOf("editing");
        if (!draft.text.trim() && !draft.photos.length) return;
        storeDraft(draft);
      }, 600);
    }

    if (draftable) {
      form.addEventListener("input", autosave);
      form.addEventListener("change", autosave);
    }

    function failed(message) {
      if (!draftable) {
        say(message + "，请稍后重试（填写的内容还在）", true);
        return;
      }
      clearTimeout(state.timer);
      storeDraft(draftOf("failed")).then(function (saved) {
        say(saved
          ? message + "。内容和照片已保存在本机，网络恢复后可在首页“未发送的草稿”里重新发送。"
          : message + "。本机存储空间不足，草稿未能保存，请稍后重试。", true);
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (state.busy) return;  // a double tap sends once
      state.busy = true;
      if (button) button.disabled = true;
      clearTimeout(state.timer);
      say("正在提交…");
      var csrf = ($('input[name="csrfmiddlewaretoken"]', form) || {}).value;
      var body = buildBody(formFields(form), state.photos, photoName, csrf);
      var key = keyField ? keyField.value : "";
      post(form.action, body, key).then(function (result) {
        if (result.ok && result.data && result.data.ok) {
          state.done = true;
          if (draftable) removeDraft(key);
          say("已提交");
          window.location.assign(result.data.redirect);
          return;
        }
        state.busy = false;
        if (button) button.disabled = false;
        if (result.data && result.data.ok === false) {
          showErrors(form, result.data);
          say("请按提示修改后再提交", true);
          return;
        }
        failed(result.status === 401 ? "登录已过期，请重新登录" :
          result.status === 403 ? "页面已失效，请刷新后再试（" + result.status + "）" :
          "服务器暂时无法处理（" + result.status + "）");
      }, function () {
        state.busy = false;
        if (button) button.disabled = false;
        failed("网络不通，未能提交");
      });
    });

    return {
      load: function (draft) {
        draft.fields.forEach(function (f) {
          $all('[name="' + f[0] + '"]', form).forEach(function (el) {
            if (el.type === "checkbox" || el.type === "radio") el.checked = el.value === f[1] || f[1] === "on";
            else if (el.type !== "file" && el.name !== "csrfmiddlewaretoken") el.value = f[1];
          });
        });
        if (keyField) keyField.value = draft.key;  // a resubmission still files once
        state.photos = (draft.photos || []).map(function (url) { return { blob: dataURLToBlob(url), url: url }; });
        renderPreviews();
        say("已载入 " + hhmm(draft.savedAt) + " 保存的草稿" + (draft.photosDropped ? "（照片因存储空间不足未保存）" : ""));
      },
    };
  }

  // --- category search and kind hint -----------------------------------------------------------

  function categorySearch(form) {
    var select = $('select[name="category"]', form);
    var box = $("[data-category-search]", form);
    var hint = $("[data-kind-hint]", form);
    if (!select) return;
    var placeholder = select.options[0] && !select.options[0].value ? select.options[0].cloneNode(true) : null;
    var groups = $all("optgroup", select).map(function (g) {
      return { label: g.label, options: $all("option", g).map(function (o) { return o.cloneNode(true); }) };
    });

    function showKind() {
      var o = select.options[select.selectedIndex];
      var kind = o && o.dataset.kind;
      setText(hint, kind === "information" ? "信息类：登记备案，不进入办理流程" : kind === "problem" ? "问题类：上报后进入办理流程" : "");
    }

    function filter() {
      var q = box.value.trim().toLowerCase();
      var current = select.value;
      select.innerHTML = "";
      if (placeholder) select.appendChild(placeholder.cloneNode(true));
      var matches = [];
      groups.forEach(function (g) {
        var hitGroup = g.label.toLowerCase().indexOf(q) >= 0;
        var opts = g.options.filter(function (o) {
          return !q || hitGroup || o.text.toLowerCase().indexOf(q) >= 0 || o.value.indexOf(q) === 0;
        });
        if (!opts.length) return;
        var og = document.createElement("optgroup");
        og.label = g.label;
        opts.forEach(function (o) { var c = o.cloneNode(true); og.appendChild(c); matches.push(c); });
        select.appendChild(og);
      });
      select.value = current;
      if (q && matches.length === 1) select.value = matches[0].value;
      if (select.value !== current) select.dispatchEvent(new Event("change", { bubbles: true }));
      showKind();
    }

    if (box) {
      box.hidden = false;
      box.addEventListener("input", filter);
      box.addEventListener("keydown", function (e) { if (e.key === "Enter") e.preventDefault(); });
    }
    select.addEventListener("change", showKind);
    showKind();
  }

  // --- geolocation -----------------------------------------------------------------------------

  function locate(form) {
    var lat = $('input[name="latitude"]', form);
    var lon = $('input[name="longitude"]', form);
    var status = $("[data-geo-status]", form);
    if (!lat || !lon || lat.value) return;
    if (!navigator.geolocation) { setText(status, "此设备不能定位，请选择网格或组"); return; }
    setText(status, "正在定位…");
    navigator.geolocation.getCurrentPosition(function (pos) {
      lat.value = pos.coords.latitude.toFixed(6);
      lon.value = pos.coords.longitude.toFixed(6);
      setText(status, "已带上定位（精度约 " + Math.round(pos.coords.accuracy) + " 米）");
    }, function () {
      setText(status, "未能定位（不影响上报）");
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  // --- home: unsent drafts ---------------------------------------------------------------------

  function draftsPanel(section) {
    var list = $("[data-draft-list]", section);
    var csrf = ($('input[name="csrfmiddlewaretoken"]', section) || {}).value;

    function render() {
      var drafts = loadDrafts();
      var keys = Object.keys(drafts).sort(function (a, b) { return drafts[b].savedAt < drafts[a].savedAt ? -1 : 1; });
      section.hidden = !keys.length;
      list.innerHTML = "";
      keys.forEach(function (key) {
        var d = drafts[key];
        var li = document.createElement("li");
        li.setAttribute("data-draft", key);
        var title = document.createElement("strong");
        title.textContent = d.label || "（未选类别）";
        var text = document.createElement("span");
        text.className = "sub";
        text.textContent = (d.text || "") + " · " + hhmm(d.savedAt) + " · " + (d.photos || []).length + " 张照片 · " +
          (d.status === "failed" ? "未发送" : d.status === "invalid" ? "需修改" : "未完成");
        var msg = document.createElement("span");
        msg.className = "sub error";
        msg.textContent = d.error || "";
        var actions = document.createElement("span");
        actions.className = "m-actions";
        var resend = document.createElement("button");
        resend.type = "button";
        resend.className = "small primary";
        resend.textContent = "重新发送";
        var edit = document.createElement("a");
        edit.href = REPORT_URL + "?draft=" + encodeURIComponent(key);
        edit.textContent = "编辑";
        var drop = document.createElement("button");
        drop.type = "button";
        drop.className = "small";
        drop.textContent = "删除";
        drop.addEventListener("click", function () {
          if (window.confirm("删除这份草稿？")) { removeDraft(key); render(); }
        });
        resend.addEventListener("click", function () {
          if (resend.disabled) return;
          resend.disabled = true;
          msg.textContent = "正在发送…";
          var photos = (d.photos || []).map(function (url) { return { blob: dataURLToBlob(url) }; });
          var body = buildBody(d.fields, photos, d.photoName || "photos", csrf);
          post(REPORT_URL, body, key).then(function (result) {
            if (result.ok && result.data && result.data.ok) {
              removeDraft(key);
              window.location.assign(result.data.redirect);
              return;
            }
            resend.disabled = false;
            var all = loadDrafts();
            if (result.data && result.data.ok === false && all[key]) {
              var errs = (result.data.non_field_errors || []).concat(
                Object.keys(result.data.errors || {}).map(function (k) { return result.data.errors[k].join("；"); }));
              all[key].status = "invalid";
              all[key].error = errs.join("；") + "（请点“编辑”修改）";
              try { writeDrafts(all); } catch (e) { /* ignore */ }
              render();
              return;
            }
            msg.textContent = result.status === 401 ? "登录已过期，请重新登录后再发送" : "发送失败（" + result.status + "），请稍后再试";
          }, function () {
            resend.disabled = false;
            msg.textContent = "仍然无法连接，请稍后再试";
          });
        });
        actions.appendChild(resend);
        actions.appendChild(edit);
        actions.appendChild(drop);
        li.appendChild(title);
        li.appendChild(text);
        li.appendChild(msg);
        li.appendChild(actions);
        list.appendChild(li);
      });
    }
    render();
  }

  // --- wire up ---------------------------------------------------------------------------------

  var params = new URLSearchParams(window.location.search);
  $all("form[data-report-form], form[data-photo-form]").forEach(function (form) {
    var api = enhance(form);
    if (form.hasAttribute("data-report-form")) {
      categorySearch(form);
      var wanted = params.get("draft");
      var draft = wanted && loadDrafts()[wanted];
      if (draft) api.load(draft);
      locate(form);
    }
  });
  var panel = $("[data-drafts]");
  if (panel) draftsPanel(panel);
})();
