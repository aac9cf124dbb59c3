/* Draw the chart specs a page hands over with json_script (see web/charts.py).
 *
 *   <script type="application/json" id="..." data-dj-charts>[{"id", "kind", "title", "items"}]</script>
 *   <div class="dj-chart" id="chart-<id>"></div>
 *
 * kind: "donut", "bar" (vertical) or "hbar" (horizontal). Runs on page load and after every htmx swap,
 * so a panel loaded by htmx draws its charts too. No text lives here: labels come translated from Django.
 */
(function () {
  "use strict";
  var PALETTE = ["#c8161d", "#e0a526", "#2f6fde", "#1f9d6b", "#7a4fd6", "#e4572e", "#14a3b8", "#5b6675", "#f08a5d", "#9b2226"];
  var FONT = '"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif';
  var charts = [];

  function total(items) {
    return items.reduce(function (s, i) { return s + i.value; }, 0);
  }

  function option(spec, el) {
    var items = spec.items || [];
    var width = el.clientWidth || 400;
    var base = { color: PALETTE, textStyle: { fontFamily: FONT }, animationDuration: 500 };
    if (spec.kind === "donut") {
      var sum = total(items);
      // Wide cards: legend on the right; narrow cards: legend below the ring.
      var wide = width >= 400;
      var center = wide ? ["35%", "50%"] : ["50%", "40%"];
      return Object.assign(base, {
        tooltip: { trigger: "item", formatter: "{b}<br/>{c} ({d}%)" },
        legend: wide
          ? { type: "scroll", orient: "vertical", right: 8, top: "middle", itemWidth: 10, itemHeight: 10,
              textStyle: { fontSize: 12, color: "#4b5563" } }
          : { type: "scroll", orient: "horizontal", left: "center", bottom: 0, itemWidth: 10, itemHeight: 10,
              itemGap: 8, textStyle: { fontSize: 11, color: "#4b5563" } },
        title: { text: String(sum), left: center[0], top: center[1], textAlign: "center", textVerticalAlign: "middle",
                 textStyle: { fontSize: 18, fontWeight: 700, color: "#1f2329" } },
        series: [{
          type: "pie", radius: wide ? ["48%", "72%"] : ["40%", "62%"], center: center, avoidLabelOverlap: true,
          itemStyle: { borderColor: "#fff", borderWidth: 2 },
          label: { show: false }, labelLine: { show: false },
          data: items
        }]
      });
    }
    var horizontal = spec.kind === "hbar";
    var names = items.map(function (i) { return i.name; });
    var values = items.map(function (i) { return i.value; });
    var category = { type: "category", data: names, axisTick: { show: false },
                     axisLine: { lineStyle: { color: "#d1d5db" } }, axisLabel: { color: "#4b5563", fontSize: 11 } };
    var value = { type: "value", minInterval: 1, splitLine: { lineStyle: { color: "#f0f1f3" } }, axisLabel: { color: "#9ca3af", fontSize: 11 } };
    if (horizontal) {
      category.inverse = true;
    } else {
      // Wrap long category names under their bar instead of hiding them.
      category.axisLabel.interval = 0;
      category.axisLabel.width = Math.max(36, (width - 60) / Math.max(1, names.length) - 4);
      category.axisLabel.overflow = "break";
    }
    return Object.assign(base, {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 28, top: 16, bottom: 4, containLabel: true },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? category : value,
      series: [{
        type: "bar", data: values, barMaxWidth: horizontal ? 16 : 28,
        itemStyle: { borderRadius: horizontal ? [0, 3, 3, 0] : [3, 3, 0, 0],
                     color: { type: "linear", x: 0, y: 0, x2: horizontal ? 1 : 0, y2: horizontal ? 0 : 1,
                              colorStops: [{ offset: 0, color: "#d7262d" }, { offset: 1, color: "#f0787c" }] } },
        label: { show: true, position: horizontal ? "right" : "top", fontSize: 11, color: "#6b7280" }
      }]
    });
  }

  function render(root) {
    if (typeof echarts === "undefined") { return; }
    (root || document).querySelectorAll("script[data-dj-charts]").forEach(function (blob) {
      var specs;
      try { specs = JSON.parse(blob.textContent); } catch (e) { return; }
      specs.forEach(function (spec) {
        var el = document.getElementById("chart-" + spec.id);
        if (!el) { return; }
        var old = echarts.getInstanceByDom(el);
        if (old) { old.dispose(); }
        if (!spec.items || !spec.items.length || total(spec.items) === 0) {
          el.classList.add("dj-chart-empty");
          el.innerHTML = '<div class="dj-empty"><i class="bi bi-bar-chart"></i>' + (el.dataset.empty || "") + "</div>";
          return;
        }
        var chart = echarts.init(el, null, { renderer: "canvas" });
        chart.setOption(option(spec, el));
        charts.push(chart);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { render(document); });
  document.addEventListener("htmx:afterSettle", function (e) { render(e.target); });
  document.addEventListener("htmx:historyRestore", function () { render(document); });
  var timer;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      charts = charts.filter(function (c) { return !c.isDisposed(); });
      charts.forEach(function (c) { c.resize(); });
    }, 120);
  });
})();
