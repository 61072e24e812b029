// Live submission state: polls /api/submissions/{id} and updates the page without reloading.
(function () {
  "use strict";
  const box = document.querySelector("[data-live-submission]");
  if (!box) return;
  const id = box.getAttribute("data-live-submission");
  const terminal = new Set(["scored", "error", "cancelled"]);
  const set = (sel, text) => { const el = box.querySelector(sel); if (el) el.textContent = text; };
  async function tick() {
    let data;
    try {
      const r = await fetch("/api/submissions/" + id, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!r.ok) return setTimeout(tick, 5000);
      data = await r.json();
    } catch (e) { return setTimeout(tick, 5000); }
    const badge = box.querySelector(".badge");
    if (badge) { badge.textContent = data.state; badge.className = "badge " + data.state; }
    set("[data-field=detail]", data.progress_text || "");
    const bar = box.querySelector(".progress > div");
    if (bar) bar.style.width = Math.round(100 * (data.progress || 0)) + "%";
    // each fold's state and epoch in the folds table (times and scores come with the reload)
    for (const f of data.folds || []) {
      const row = document.querySelector('#folds tr[data-fold="' + f.fold + '"]');
      if (!row) continue;
      const state = row.querySelector("[data-field=fold-state]");
      if (state) { state.textContent = f.state; state.className = "badge " + f.state; }
      const epoch = row.querySelector("[data-field=fold-epoch]");
      if (epoch && f.epoch != null) epoch.textContent = f.epoch + (f.n_epochs ? "/" + f.n_epochs : "");
    }
    if (terminal.has(data.state)) {
      // Scores, tracebacks and times are rendered server-side: reload once at the end.
      if (box.getAttribute("data-state") !== data.state) window.location.reload();
      return;
    }
    setTimeout(tick, 2000);
  }
  setTimeout(tick, 1500);
})();

// Sortable tables without a page reload are not needed: sorting is server-side (links).
// Copy-to-clipboard buttons (API tokens).
document.addEventListener("click", function (ev) {
  const btn = ev.target.closest("[data-copy]");
  if (!btn) return;
  const target = document.getElementById(btn.getAttribute("data-copy"));
  if (target && navigator.clipboard) navigator.clipboard.writeText(target.textContent.trim());
});
