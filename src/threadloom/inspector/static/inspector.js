// Draws the graphs page's mermaid diagrams (mermaid.min.js ships with threadloom).
"use strict";
if (window.mermaid) {
  window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
  window.mermaid.run({ querySelector: "pre.mermaid" }).then(function () {
    document.body.setAttribute("data-graphs-drawn", "yes");
  }, function (err) {
    document.body.setAttribute("data-graphs-drawn", "error: " + err);
  });
}
