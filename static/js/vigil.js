// Vigil's first-party behaviour. The Content-Security-Policy allows no inline script, no
// on*= handler and no hx-on attribute (docs/browser-security.md): what a page needs is declared
// with data-* attributes and wired up here. Everything works without it where that is cheap.

// "/" focuses the header search box.
document.addEventListener("keydown", (event) => {
  const target = event.target;
  const typing = target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
  if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
    const search = document.getElementById("global-q");
    if (search) {
      event.preventDefault();
      search.focus();
    }
  }
});

// <form data-confirm="Delete …?">: ask before submitting.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// Clicks: <button data-print> prints the page; <button data-pick-key="ACME-1"> (duplicate
// picker) fills the form's "primary" field and closes the result list.
document.addEventListener("click", (event) => {
  const print = event.target.closest("[data-print]");
  if (print) {
    window.print();
    return;
  }
  const pick = event.target.closest("[data-pick-key]");
  if (pick) {
    const form = pick.closest("form");
    const field = form && form.querySelector("[name=primary]");
    if (field) field.value = pick.dataset.pickKey;
    const results = pick.closest(".pick-results");
    if (results) results.remove();
  }
});

// <input data-select-on-focus>: select the whole value (a token to copy).
document.addEventListener("focusin", (event) => {
  if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
});

// <textarea data-submit-on-ctrl-enter>: Ctrl/Cmd+Enter sends the form.
document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (target.matches && target.matches("[data-submit-on-ctrl-enter]")
      && (event.ctrlKey || event.metaKey) && event.key === "Enter" && target.form) {
    event.preventDefault();
    target.form.requestSubmit();
  }
});

// <form data-reset-after-request>: clear it once htmx's request succeeded.
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  if (form instanceof HTMLFormElement && form.hasAttribute("data-reset-after-request")
      && event.detail.successful) {
    form.reset();
  }
});

// The war room keeps its stream scrolled to the newest message unless the reader scrolled up.
document.addEventListener("DOMContentLoaded", () => {
  const stream = document.getElementById("war-room-stream");
  if (!stream) return;
  stream.scrollTop = stream.scrollHeight;
  let stick = true;
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "war-room-poll") {
      stick = stream.scrollHeight - stream.scrollTop - stream.clientHeight < 120;
      const empty = document.getElementById("war-room-empty");
      if (empty && /data-id=/.test(event.detail.serverResponse || "")) empty.remove();
    }
  });
  document.body.addEventListener("htmx:afterSettle", () => {
    if (stick) stream.scrollTop = stream.scrollHeight;
  });
});

// <div data-poll-when-visible hx-trigger="every 30s">: no polling while the tab is hidden.
// (A trigger filter such as [document.visibilityState === 'visible'] would need eval, which the
// CSP forbids and htmx is configured not to use.)
document.addEventListener("htmx:beforeRequest", (event) => {
  if (document.visibilityState !== "visible" && event.detail.elt.hasAttribute("data-poll-when-visible")) {
    event.preventDefault();
  }
});
