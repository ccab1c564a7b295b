/*
 * charts.js — draws the console's charts with the vendored Apache ECharts (static/vendor/echarts.min.js), SVG.
 *
 * Contract: every <div class="chart" id="X" role="img" aria-label="…"></div> has a
 * <script type="application/json" class="chart-data" data-chart="X">{"kind": "line|bar", "x": [...],
 * "series": [{"name": "...", "data": [...]}], "stack": false, "x_label": "...", "y_label": "..."}</script>
 * (x_label, y_label optional). The page always carries a table with the same numbers; the chart is a picture of it.
 * Load after ECharts: <script src="/static/vendor/echarts.min.js" defer></script>
 *                     <script src="/static/charts.js" defer></script>
 * A chart that cannot be drawn gets data-chart-state="error" (the table still says everything); a drawn one
 * gets data-chart-state="drawn". No inline style or script is needed: sizes come from the stylesheet (CSSOM).
 */
"use strict";

(() => {
  // Okabe–Ito colours: distinguishable with the common colour-vision deficiencies, dark enough on white.
  const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C6D00"];
  const TEXT = "#1a1a1a";
  const GRID = "#d0d0d0";

  function chinese() {
    return (document.documentElement.lang || "").toLowerCase().startsWith("zh");
  }

  function readSpec(script) {
    const spec = JSON.parse(script.textContent);
    if (!spec || (spec.kind !== "line" && spec.kind !== "bar")) throw new Error("kind must be line or bar");
    if (!Array.isArray(spec.x) || !Array.isArray(spec.series)) throw new Error("x and series must be arrays");
    return spec;
  }

  function option(spec) {
    const stacked = spec.stack === true;
    return {
      color: PALETTE,
      animation: false,
      aria: { enabled: true },
      textStyle: { color: TEXT, fontSize: 13 },
      tooltip: { trigger: "axis" },
      legend: { top: 0, textStyle: { color: TEXT } },
      grid: { left: 56, right: 24, top: 40, bottom: 48, containLabel: true },
      xAxis: {
        type: "category",
        data: spec.x.map(String),
        name: typeof spec.x_label === "string" ? spec.x_label : "",
        nameLocation: "middle",
        nameGap: 32,
        axisLabel: { color: TEXT, hideOverlap: true },
        axisLine: { lineStyle: { color: TEXT } },
      },
      yAxis: {
        type: "value",
        name: typeof spec.y_label === "string" ? spec.y_label : "",
        nameTextStyle: { color: TEXT },
        axisLabel: { color: TEXT },
        splitLine: { lineStyle: { color: GRID } },
        minInterval: 1,
      },
      series: spec.series.map((s) => ({
        name: String(s.name),
        type: spec.kind,
        data: Array.isArray(s.data) ? s.data : [],
        stack: stacked ? "total" : undefined,
        areaStyle: stacked && spec.kind === "line" ? { opacity: 0.25 } : undefined,
        showSymbol: spec.kind === "line" && spec.x.length <= 48,
        emphasis: { focus: "series" },
      })),
    };
  }

  function draw() {
    const echarts = window.echarts;
    const locale = chinese() ? "ZH" : "EN";
    const drawn = [];
    for (const script of document.querySelectorAll("script.chart-data[data-chart]")) {
      const div = document.getElementById(script.dataset.chart);
      if (!div || !div.classList.contains("chart")) continue;
      try {
        if (!echarts) throw new Error("ECharts is not loaded");
        if (div.clientHeight === 0) div.style.height = "320px"; // CSSOM, allowed by style-src 'self'
        const chart = echarts.init(div, null, { renderer: "svg", locale });
        chart.setOption(option(readSpec(script)));
        div.dataset.chartState = "drawn";
        drawn.push(chart);
      } catch (err) {
        div.dataset.chartState = "error";
        div.dataset.chartError = String((err && err.message) || err);
      }
    }
    let pending = 0;
    window.addEventListener("resize", () => {
      if (pending) return;
      pending = window.requestAnimationFrame(() => {
        pending = 0;
        for (const chart of drawn) chart.resize();
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
