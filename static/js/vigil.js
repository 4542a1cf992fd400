// Vigil's only first-party script: keyboard shortcuts. Everything works without it.
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
