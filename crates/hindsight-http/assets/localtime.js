// Shows the timeline in the reader's own time zone: when the page was rendered in UTC (no
// `?tz=`), reload it once with the browser's zone. Without JavaScript the page shows UTC and
// names it, and `?tz=Europe/London` chooses a zone by hand.
(function () {
  "use strict";
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone || zone === "UTC") { return; }
  var url = new URL(window.location.href);
  if (url.searchParams.has("tz")) { return; }
  var timeline = document.getElementById("timeline");
  if (!timeline) { return; }
  url.searchParams.set("tz", zone);
  window.location.replace(url.toString());
})();
