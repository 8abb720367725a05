import assert from "node:assert/strict";
import {
  dashboardQueries,
  expandGrafanaVariables,
  metricNames,
  parseRecommended,
  recordingRulesFile,
} from "./prometheus.ts";
import { readScrape } from "./exported_metrics.ts";

Deno.test("metricNames() finds selectors, not functions, keywords, labels or durations", () => {
  assert.deepEqual(
    metricNames(
      'ckpool_connected_miners > 0 and on (region, instance) sum by (region, instance) (rate(ckpool_shares_total{valid="false", reason=~"a|b(c)"}[5m] offset 1h30m)) == 0',
    ),
    ["ckpool_connected_miners", "ckpool_shares_total"],
  );
  assert.deepEqual(
    metricNames(
      "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 1e3 unless ignoring(a) group_left (b) y or bool z",
    ),
    ["x_bucket", "y", "z"],
  );
  assert.deepEqual(metricNames("sum without (type) (rate(a[1m])) / count (b) * 1024"), ["a", "b"]);
  assert.deepEqual(metricNames('label_replace(up, "dst", "$1", "src", "(.*)")'), ["up"]);
  assert.deepEqual(metricNames("vector(1) + Inf + NaN"), []);
  assert.throws(() => metricNames('{__name__="up"}'), SyntaxError);
});

Deno.test("expandGrafanaVariables() leaves valid PromQL", () => {
  assert.equal(
    expandGrafanaVariables('rate(x{region=~"$region", a=~"${b:regex}"}[$__rate_interval])'),
    'rate(x{region=~".*", a=~".*"}[5m])',
  );
  assert.equal(expandGrafanaVariables("increase(x[$__range])"), "increase(x[6h])");
});

Deno.test("dashboardQueries() reads nested row panels and label_values() variables", () => {
  const queries = dashboardQueries({
    panels: [
      {
        id: 1,
        title: "row",
        type: "row",
        panels: [{ id: 2, title: "p", targets: [{ refId: "A", expr: "a" }] }],
      },
      { id: 3, title: "q", targets: [{ refId: "B", expr: "b" }, { refId: "C" }] },
    ],
    templating: {
      list: [
        { name: "region", type: "query", query: { query: 'label_values(c{x="1"}, region)' } },
        { name: "datasource", type: "datasource", query: "prometheus" },
      ],
    },
  });
  assert.deepEqual(queries, [
    { where: 'panel 2 "p" target A', expr: "a" },
    { where: 'panel 3 "q" target B', expr: "b" },
    { where: "variable $region", expr: 'c{x="1"}' },
  ]);
  assert.match(recordingRulesFile(['a{b="c"}']), /expr: "a\{b=\\"c\\"\}"/);
});

Deno.test("parseRecommended() names each expression by the comment block above it", () => {
  const entries = parseRecommended(
    "# header\n# more header\n\n# First (a note\n# on two lines)\nup == 0\n# Second\nx > 1\n",
  );
  assert.deepEqual([...entries], [["First", "up == 0"], ["Second", "x > 1"]]);
  assert.throws(() => parseRecommended("# A\nx\ny\n"), SyntaxError);
});

Deno.test("readScrape() lists exposed series, histogram parts and labels", () => {
  const scrape = readScrape([
    "# HELP h A histogram.",
    "# TYPE h histogram",
    'h_bucket{le="1",region="eu",instance="stratum-eu-0"} 1',
    'h_bucket{le="+Inf",region="eu",instance="stratum-eu-0"} 1',
    'h_sum{region="eu",instance="stratum-eu-0"} 0.5',
    'h_count{region="eu",instance="stratum-eu-0"} 1',
    "# TYPE untouched counter",
    "# TYPE g gauge",
    "g 3",
    "",
  ].join("\n"));
  assert.deepEqual(
    [...scrape.series].sort(),
    ["g", "h_bucket", "h_count", "h_sum", "untouched"],
  );
  assert.ok(!scrape.series.has("h"), "a histogram's own name is not a series");
  assert.deepEqual([...scrape.regions], ["eu"]);
  assert.deepEqual([...scrape.instances], ["stratum-eu-0"]);
});
