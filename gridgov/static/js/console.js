// Keyboard use of the case queue: "/" focuses the search, j/k move between rows, Enter opens the
// focused row, x toggles its checkbox. The page works without this file.
(function () {
  "use strict";
  const rows = () => Array.from(document.querySelectorAll("table.queue tbody tr[data-case]"));
  let current = -1;
  function focusRow(i) {
    const all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(all.length - 1, i));
    all.forEach((r, n) => r.classList.toggle("focused", n === current));
    all[current].querySelector("a.rowlink").focus();
  }
  document.addEventListener("keydown", (e) => {
    const tag = (e.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea") return;
    if (e.key === "/") { e.preventDefault(); document.querySelector("[data-search]")?.focus(); }
    else if (e.key === "j") focusRow(current + 1);
    else if (e.key === "k") focusRow(current - 1);
    else if (e.key === "x" && current >= 0) {
      const box = rows()[current].querySelector("input[type=checkbox]");
      if (box) box.checked = !box.checked;
    }
  });
  document.querySelector("[data-select-all]")?.addEventListener("change", (e) => {
    rows().forEach((r) => { const b = r.querySelector("input[type=checkbox]"); if (b) b.checked = e.target.checked; });
  });
})();
