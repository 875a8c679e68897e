/* Trend charts: <div data-chart data-source="id-of-json-script" data-series='[{"key":"total","name":"得分"}]'>. */
(function () {
  "use strict";
  function draw(el) {
    var source = document.getElementById(el.dataset.source);
    if (!window.echarts || !source) return;
    var data = JSON.parse(source.textContent);
    if (!data.length) { el.hidden = true; return; }
    var series = JSON.parse(el.dataset.series);
    var chart = window.echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 32, bottom: 28 },
      xAxis: { type: "category", data: data.map(function (d) { return d.month; }) },
      yAxis: { type: "value", scale: true },
      series: series.map(function (s) {
        return { name: s.name, type: "line", smooth: true, data: data.map(function (d) { return d[s.key]; }) };
      })
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), draw);
  });
})();
