// The dashboard's charts: each [data-chart] element holds its data (from GET /v1/dashboard,
// named in the person's language); drawn with the vendored ECharts, SVG renderer.
"use strict";

function yuan(fen) {
  // Integer fen shown as yuan with two decimals, without going through a float.
  var sign = fen < 0 ? "-" : "";
  var abs = Math.abs(fen);
  var cents = String(abs % 100);
  return sign + "¥" + Math.floor(abs / 100).toLocaleString("en-US") + "." + (cents.length < 2 ? "0" + cents : cents);
}

function drawChart(element) {
  var spec = JSON.parse(element.getAttribute("data-chart"));
  var chart = echarts.init(element, null, { renderer: "svg" });
  var format = spec.unit === "fen" ? yuan : function (value) { return String(value); };
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis", valueFormatter: format },
    legend: { data: spec.series.map(function (s) { return s.name; }) },
    grid: { left: 64, right: 16, top: 40, bottom: 32 },
    xAxis: { type: "category", data: spec.labels },
    yAxis: { type: "value", minInterval: 1, axisLabel: { formatter: format } },
    series: spec.series.map(function (s) {
      return { name: s.name, type: spec.kind, data: s.values };
    }),
  });
  element.setAttribute("data-drawn", "true");
  window.addEventListener("resize", function () { chart.resize(); });
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-chart]").forEach(drawChart);
});
