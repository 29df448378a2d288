//! The document around the sections: `<head>` with the inline style, and the inline script
//! at the end of `<body>`.

use std::fmt::Write as _;

use super::markup::esc;
use crate::report::Report;

/// The page's `<title>` and `<h1>`.
pub(crate) fn title(report: &Report) -> String {
    format!(
        "lk compare: {} on {}",
        report.params.dataset.as_deref().unwrap_or("existing topic"),
        report.params.topic
    )
}

/// From `<!DOCTYPE html>` to the opening `<body>`.
pub(crate) fn open(out: &mut String, title: &str) {
    w!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    );
    w!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    );
    w!(out, "<title>{}</title>\n", esc(title));
    // First, so that an error in any later script is recorded on the page.
    w!(
        out,
        "<script>window.addEventListener(\"error\", function (e) {{ \
         document.documentElement.dataset.scriptError = String(e.message); }});</script>\n"
    );
    w!(out, "<style>\n{STYLE}</style>\n</head>\n<body>\n");
}

/// The inline script, and the end of the document.
pub(crate) fn close(out: &mut String) {
    w!(out, "<script>\n{SCRIPT}</script>\n</body>\n</html>\n");
}

const STYLE: &str = r#"
:root { --lambda: #d95f02; --kappa: #1b9e77; --ink: #1d232b; --muted: #5b6673; --rule: #d9dee4; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1260px; padding: 16px 20px 40px; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  background: #fff; }
h1 { font-size: 22px; margin: 4px 0 2px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub { color: var(--muted); margin: 0 0 10px; }
.warning { background: #fff3cd; border: 1px solid #e0c36a; padding: 6px 10px; border-radius: 4px; }
.facts { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 10px 18px; }
.facts dl { margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: 1px 10px; }
.facts h3 { margin: 0 0 4px; font-size: 13px; text-transform: uppercase;
  letter-spacing: .04em; color: var(--muted); }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; }
#verdict ul { margin: 0; padding-left: 20px; font-size: 15px; }
table { border-collapse: collapse; }
th, td { padding: 3px 10px; border-bottom: 1px solid var(--rule); text-align: right; }
th:first-child { text-align: left; font-weight: normal; color: var(--muted); }
thead th { font-weight: 600; color: var(--ink); }
thead th.lambda { color: var(--lambda); }
thead th.kappa { color: var(--kappa); }
tr.group th { text-align: left; font-weight: 600; color: var(--ink); padding-top: 10px; }
td.better { font-weight: 600; background: #eef7ee; }
td.not-measured { color: var(--muted); font-style: italic; }
.note { color: var(--muted); font-size: 12px; margin: 4px 0; }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 18px 22px; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { width: 100%; height: auto; display: block; border: 1px solid var(--rule); border-radius: 4px; }
svg.chart text { font-size: 11px; fill: var(--ink); font-family: inherit; }
svg.chart text.axis-title { fill: var(--muted); }
svg.chart text.empty, svg.chart text.not-measured { fill: var(--muted); font-style: italic; }
svg.chart .grid { stroke: #eceff2; }
svg.chart .axis { stroke: #8a949e; }
.workload-tables { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 10px 22px; }
details { margin: 6px 0; }
details ul { columns: 2; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
#lk-download { margin-left: 8px; font-size: 13px; }
.provenance { display: grid; grid-template-columns: max-content 1fr; gap: 1px 10px; margin: 0 0 10px; }
.provenance dt { color: var(--muted); }
.provenance dd { margin: 0; overflow-wrap: anywhere; }
#warnings li { background: #fff3cd; border: 1px solid #e0c36a; padding: 4px 8px; border-radius: 4px; margin: 4px 0; list-style: none; }
#warnings ul { padding-left: 0; }
@media (max-width: 900px) { .charts, .workload-tables, .facts { grid-template-columns: 1fr; } }
"#;

const SCRIPT: &str = r#"(function () {
  var body = document.body;
  try {
    var text = document.getElementById("lk-report").textContent;
    var report = JSON.parse(text);
    if (!report || !report.pipelines || !report.pipelines.lambda || !report.pipelines.kappa) {
      throw new Error("the embedded report has no pipelines");
    }
    var link = document.getElementById("lk-download");
    link.href = "data:application/json;charset=utf-8," + encodeURIComponent(text);
    link.hidden = false;
    body.dataset.rendered = "ok";
  } catch (e) {
    body.dataset.rendered = "error: " + e.message;
  }
})();
"#;
