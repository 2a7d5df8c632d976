// Saves the meeting notes as the moderator types: after a pause, the whole text goes to
// PUT /api/v1/postmortems/{id}/meeting/notes. Without this script the Save button does it.
(function () {
  "use strict";
  var area = document.querySelector("textarea[data-notes]");
  if (!area || area.readOnly) return;
  var state = document.querySelector(".save-state");
  var timer = null;
  var saved = area.value;
  function show(text) { if (state) state.textContent = text; }
  function save() {
    var text = area.value;
    if (text === saved) return;
    show("Saving…");
    fetch(area.getAttribute("data-notes"), {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ notes: text })
    }).then(function (response) {
      if (response.ok) {
        saved = text;
        show(area.value === text ? "Saved" : "Saving…");
        return;
      }
      return response.json().then(function (body) {
        show("Not saved: " + (body && body.message ? body.message : response.status));
      });
    }).catch(function () { show("Not saved: the server cannot be reached; keep this page open"); });
  }
  area.addEventListener("input", function () {
    show("Typing…");
    clearTimeout(timer);
    timer = setTimeout(save, 700);
  });
  window.addEventListener("beforeunload", function (event) {
    if (area.value !== saved) { save(); event.preventDefault(); }
  });
})();
