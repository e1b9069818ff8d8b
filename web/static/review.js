/* ecowatch review desk: keyboard triage (j/k, c, d + 1-7, f, x, o, ?) on the queue and a clearing's page.
   No inline script anywhere: this file is the desk's only behaviour. Decisions go out as POST with the
   session's CSRF token; the server checks role, token and status version. */
(function () {
  "use strict";
  const body = document.body;
  const page = body.dataset.page;
  const csrf = body.dataset.csrf || "";
  const help = document.getElementById("ew-help");
  const message = document.getElementById("ew-message");

  function typing(event) {
    const t = event.target;
    return t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
  }
  function say(text) { if (message) message.textContent = text; }
  function toggleHelp() {
    if (!help) return;
    if (help.open) help.close(); else help.showModal();
  }
  /* a chip that cannot be had (no imagery kept): say so instead of a broken image */
  document.querySelectorAll(".ew-chips img").forEach((img) => {
    const missing = () => {
      const note = document.createElement("span");
      note.className = "ew-chip-missing";
      note.textContent = "no imagery for this chip";
      img.replaceWith(note);
    };
    if (img.complete && img.naturalWidth === 0) missing(); else img.addEventListener("error", missing);
  });
  document.querySelectorAll("[data-help]").forEach((b) => b.addEventListener("click", toggleHelp));

  /* ---- the queue: a selected row, decisions in place ---- */
  const rows = Array.from(document.querySelectorAll("tr[data-clearing]"));
  let current = rows.length ? 0 : -1;
  function select(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, k) => r.classList.toggle("ew-selected", k === current));
    rows[current].scrollIntoView({block: "nearest"});
  }
  if (page === "queue" || page === "sample") select(0);

  async function post(row, fields) {
    const data = new FormData();
    data.set("csrf_token", csrf);
    data.set("version", row.dataset.version);
    Object.entries(fields).forEach(([k, v]) => data.set(k, v));
    const response = await fetch(row.dataset.decide, {
      method: "POST", body: data, credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRFToken": csrf},
    });
    let answer = {};
    try { answer = await response.json(); } catch (e) { answer = {message: response.statusText}; }
    const status = row.querySelector("[data-status]");
    if (response.ok) {
      row.dataset.version = String(answer.version);
      row.classList.add("ew-decided");
      if (status) status.textContent = answer.review_status;
      say(row.dataset.clearing + ": " + answer.review_status);
      select(current + 1);
    } else if (response.status === 409) {
      const l = answer.latest || {};
      row.classList.add("ew-conflict-row");
      if (status) status.textContent = (l.to_status || "?") + " (by " + (l.user || "another analyst") + ")";
      row.dataset.version = String(answer.version);
      say(row.dataset.clearing + ": " + (l.user || "another analyst") + " decided " + (l.decision || "") +
          " first; yours is in the trail as a conflict, not applied.");
    } else {
      say(row.dataset.clearing + ": refused (" + response.status + "): " + (answer.message || ""));
    }
  }

  const dismiss = document.getElementById("ew-dismiss");
  function askReason(row) {
    if (!dismiss) return;
    dismiss.querySelector("[data-dismiss-id]").textContent = row.dataset.clearing;
    dismiss.querySelector("form").reset();
    dismiss.returnValue = "";
    dismiss.showModal();
    dismiss.onclose = () => {
      if (dismiss.returnValue !== "ok") return;
      const reason = dismiss.querySelector("input[name=reason]:checked");
      if (!reason) { say("Dismissal needs a reason (1-7)."); return; }
      post(row, {decision: "dismiss", reason: reason.value, comment: dismiss.querySelector("textarea").value});
    };
  }
  if (dismiss) {
    dismiss.addEventListener("keydown", (event) => {
      event.stopPropagation();  // the page's own keys stay out of the dialog
      if (event.target.tagName === "TEXTAREA") return;
      const radio = dismiss.querySelector("input[data-key='" + event.key + "']");
      if (radio) { radio.checked = true; event.preventDefault(); }
      if (event.key === "Enter") { event.preventDefault(); dismiss.close("ok"); }
    });
  }

  function queueKey(event) {
    const row = rows[current];
    switch (event.key) {
      case "j": select(current + 1); break;
      case "k": select(current - 1); break;
      case "o": case "Enter": if (row) window.location.assign(row.dataset.href); break;
      case "x": {
        const box = row && row.querySelector("input[type=checkbox]");
        if (box) box.checked = !box.checked;
        break;
      }
      case "c": if (row && row.dataset.decide) post(row, {decision: "confirm"}); break;
      case "f": if (row && row.dataset.decide) post(row, {decision: "field_check"}); break;
      case "d": if (row && row.dataset.decide) askReason(row); break;
      default: return false;
    }
    return true;
  }

  /* ---- a clearing's (or a sample point's) page: the form, and j/k to the neighbours ---- */
  const form = document.getElementById("ew-decide");
  function pageKey(event) {
    const link = document.querySelector("[data-key-" + event.key + "]");
    if (link) { window.location.assign(link.href); return true; }
    if (!form) return false;
    const radio = form.querySelector("input[name=decision][data-key='" + event.key + "']");
    if (radio) {
      radio.checked = true;
      if (event.key === "d") {
        form.querySelector("input[name=reason]").focus();
        say("Pick the reason (1-7), then Enter.");
        form.classList.add("ew-asking");
      } else {
        form.requestSubmit();
      }
      return true;
    }
    if (form.classList.contains("ew-asking")) {
      const reason = form.querySelector("input[name=reason][data-key='" + event.key + "']");
      if (reason) { reason.checked = true; return true; }
    }
    return false;
  }
  if (form) {
    form.addEventListener("keydown", (event) => {
      if (event.target.name === "reason") {
        const reason = form.querySelector("input[name=reason][data-key='" + event.key + "']");
        if (reason) { reason.checked = true; event.preventDefault(); }
        if (event.key === "Enter") { event.preventDefault(); form.requestSubmit(); }
      }
    });
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "?") { toggleHelp(); event.preventDefault(); return; }
    if (typing(event) || (help && help.open) || (dismiss && dismiss.open) || event.target.closest("dialog")) return;
    const done = (page === "queue" || page === "sample") ? queueKey(event) : pageKey(event);
    if (done) event.preventDefault();
  });
})();
