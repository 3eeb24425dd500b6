// trainrun ui: live pages (Server-Sent Events) and sortable tables.
// The server renders every fragment; this script only puts it in place.
"use strict";
(function () {
  function live(el) {
    var es = new EventSource(el.getAttribute("data-live"));
    es.addEventListener("swap", function (e) {
      var m = JSON.parse(e.data);
      var t = document.getElementById(m.id);
      if (t) t.innerHTML = m.html;
    });
    es.addEventListener("log", function (e) {
      var log = document.getElementById("log");
      if (!log) return;
      var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.appendChild(document.createTextNode(JSON.parse(e.data)));
      if (atEnd) log.scrollTop = log.scrollHeight;
    });
    es.addEventListener("end", function () { es.close(); document.body.setAttribute("data-ended", "1"); });
  }
  function sortable(table) {
    var ths = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(ths, function (th, col) {
      var b = th.querySelector("button");
      if (!b) return;
      b.addEventListener("click", function () {
        var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        Array.prototype.forEach.call(ths, function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var ca = a.cells[col], cb = b.cells[col];
          if (!ca || !cb) return 0;
          var va = ca.getAttribute("data-v"), vb = cb.getAttribute("data-v");
          if (va === "" && vb !== "") return 1;
          if (vb === "" && va !== "") return -1;
          var r;
          if (ca.hasAttribute("data-num") && cb.hasAttribute("data-num")) r = parseFloat(va) - parseFloat(vb);
          else r = va < vb ? -1 : va > vb ? 1 : 0;
          return dir === "ascending" ? r : -r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(live);
    document.querySelectorAll("table.sortable").forEach(sortable);
  });
})();
