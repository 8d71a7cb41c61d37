/* The dashboard's chart of the amount overdue per day, drawn with Chart.js from the data the page
   carries in <script id="overdue-data" type="application/json"> (Django's json_script). Without
   Chart.js or JavaScript the page simply has no chart. */
(function () {
  "use strict";
  var canvas = document.getElementById("overdue-chart");
  var source = document.getElementById("overdue-data");
  if (!canvas || !source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var lang = document.documentElement.lang || "en";
  var day = new Intl.DateTimeFormat(lang, {day: "numeric", month: "short"});
  var colours = ["#dc3545", "#0d6efd", "#fd7e14", "#6f42c1", "#20c997", "#6c757d"];
  var money = {};
  data.datasets.forEach(function (d) {
    money[d.currency] = new Intl.NumberFormat(lang, {style: "currency", currency: d.currency, maximumFractionDigits: 0});
  });
  var single = data.datasets.length === 1 ? data.datasets[0].currency : null;
  new Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels.map(function (iso) { return day.format(new Date(iso + "T12:00:00")); }),
      datasets: data.datasets.map(function (d, i) {
        return {
          label: d.currency, data: d.values.map(Number), borderColor: colours[i % colours.length],
          backgroundColor: colours[i % colours.length] + "22", fill: data.datasets.length === 1,
          pointRadius: 0, pointHitRadius: 6, tension: 0.2, borderWidth: 2
        };
      })
    },
    options: {
      maintainAspectRatio: false,
      interaction: {mode: "index", intersect: false},
      plugins: {
        legend: {display: data.datasets.length > 1},
        tooltip: {callbacks: {label: function (ctx) {
          return new Intl.NumberFormat(lang, {style: "currency", currency: ctx.dataset.label}).format(ctx.parsed.y);
        }}}
      },
      scales: {
        x: {ticks: {maxTicksLimit: 8, autoSkip: true}, grid: {display: false}},
        y: {beginAtZero: true, ticks: {callback: function (v) { return single ? money[single].format(v) : v; }}}
      }
    }
  });
})();
