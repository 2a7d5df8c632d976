// Re-lints and re-previews a section while the writer types: after a pause, the section's
// text goes to POST /api/v1/lint, whose findings replace the list under it, and to
// POST /api/v1/preview, whose sanitized HTML replaces the preview. Without this script the
// findings and the preview still show, computed on each save.
(function () {
  "use strict";
  function render(list, text, findings) {
    while (list.firstChild) list.removeChild(list.firstChild);
    findings.forEach(function (finding) {
      var item = document.createElement("li");
      item.className = "finding " + finding.severity;
      item.setAttribute("data-rule", finding.rule);
      var rule = document.createElement("strong");
      rule.textContent = finding.rule;
      item.appendChild(rule);
      var words = text.slice(finding.start, finding.end);
      var place = finding.end > finding.start ? " (line " + finding.line + ", column " + finding.column + ")" : "";
      item.appendChild(document.createTextNode(place + (words ? ": \u201c" + words + "\u201d" : "") + ": " + finding.message + ". "));
      var hint = document.createElement("em");
      hint.textContent = "Try: " + finding.suggestion;
      item.appendChild(hint);
      list.appendChild(item);
    });
  }
  function lint(area, list) {
    var text = area.value;
    fetch("/api/v1/lint", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ markdown: text })
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (body) {
      // JavaScript slices by UTF-16 units, the lint counts bytes: convert through UTF-8.
      if (body && area.value === text) {
        var bytes = new TextEncoder().encode(text);
        var decoder = new TextDecoder();
        var findings = body.findings.map(function (finding) {
          var copy = Object.assign({}, finding);
          var before = decoder.decode(bytes.slice(0, finding.start)).length;
          var inside = decoder.decode(bytes.slice(finding.start, finding.end)).length;
          copy.start = before;
          copy.end = before + inside;
          return copy;
        });
        render(list, text, findings);
      }
    }).catch(function () {});
  }
  function preview(area, target) {
    var text = area.value;
    fetch("/api/v1/preview", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ markdown: text })
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (body) {
      // The server sanitized this HTML (the same renderer as the saved page).
      if (body && area.value === text) {
        target.innerHTML = body.html;
      }
    }).catch(function () {});
  }
  document.querySelectorAll("textarea[data-lint]").forEach(function (area) {
    var field = area.getAttribute("data-lint");
    var list = document.querySelector('ul[data-findings="' + field + '"]');
    var target = document.querySelector('div[data-preview="' + field + '"]');
    var timer = null;
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (list) lint(area, list);
        if (target) preview(area, target);
      }, 400);
    });
  });
  // Typed text lives only in the page until it is saved: leaving the page by any other way
  // (another form on it, a link) asks first.
  var editor = document.querySelector("form.editor");
  if (editor) {
    var dirty = false;
    editor.addEventListener("input", function () { dirty = true; });
    editor.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  }
})();
