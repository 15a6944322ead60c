// Rating-over-time charts for the trainee page (issue 10), drawn as SVG by Observable Plot and
// bundled by web/build.mjs into /static/dist/charts.js. Each point is a link (<a href> inside the
// SVG: reachable with Tab, named by its aria-label) to the session record at the mark its answer
// cites, or at the form. web/static/review/trainee.js mounts the charts.

import { dot, line, plot, ruleY, text } from "@observablehq/plot";

const INK = "#14202b";
const ACCENT = "#0b6e69";
const MUTED = "#5b6875";

/**
 * One series (an item of an instrument, or an EPA's entrustment level) as a chart.
 * @param {object} series `{label, low, high, points: [{date, value, ...}]}`
 * @param {object} o
 * @param {number} o.width the space the chart has, in CSS pixels
 * @param {(point: object) => string} o.href where a point leads
 * @param {(point: object) => string} o.name a point's text alternative
 * @param {string} [o.note] a line shown in the chart's top-left corner
 * @param {[number, number]} [o.span] the dates (epoch seconds) the time axis covers, shared by
 *   the charts of one instrument so that their points line up
 * @returns {SVGSVGElement}
 */
export function ratingChart(series, { width, href, name, note = "", span = null }) {
  const points = series.points.map((p) => ({ ...p, when: new Date(p.date * 1000) }));
  const narrow = width < 480;
  const low = Math.min(series.low, ...points.map((p) => p.value));
  const high = Math.max(series.high, ...points.map((p) => p.value));
  const range = high - low;
  const svg = plot({
    className: "rating-plot",
    width,
    height: narrow ? 190 : 220,
    marginLeft: 34,
    marginRight: 18,
    marginTop: 26,
    marginBottom: 32,
    style: null,
    ariaLabel: `${series.label}: rating over time`,
    x: {
      type: "utc",
      label: null,
      ticks: narrow ? 3 : 6,
      inset: 14,
      ...(span && span[1] > span[0] ? { domain: span.map((s) => new Date(s * 1000)) } : { nice: points.length > 1 }),
    },
    y: {
      domain: [low, high],
      label: null,
      ticks: range <= 10 ? range : 5,
      tickFormat: (v) => (Number.isInteger(v) ? String(v) : ""),
      grid: true,
      inset: 6,
    },
    marks: [
      ruleY([low], { stroke: MUTED, strokeOpacity: 0.4 }),
      line(points, { x: "when", y: "value", stroke: ACCENT, strokeWidth: 2, ariaHidden: true }),
      dot(points, { x: "when", y: "value", r: 5, fill: ACCENT, stroke: "white", ariaHidden: true }),
      // The link: a larger, see-through target around each point (about 28 px across: easy to
      // tap on a phone), outlined when it has keyboard focus (app.css).
      dot(points, {
        x: "when",
        y: "value",
        r: 14,
        fill: ACCENT,
        fillOpacity: 0,
        className: "rating-point",
        href: (p) => href(p),
        ariaLabel: (p) => name(p),
        title: (p) => name(p),
      }),
      note ? text([note], { frameAnchor: "top-left", dy: -18, fill: MUTED, fontSize: 12, textAnchor: "start" }) : null,
    ],
  });
  // Plot adds a <style> element; the page's CSP (style-src 'self') refuses inline styles, and
  // app.css carries the same rules for .rating-plot. Removed before it reaches the document.
  for (const style of svg.querySelectorAll("style")) style.remove();
  // Plot names each mark's <g> ("rule", "y-axis tick"), which ARIA does not allow on a plain
  // group. The points are the chart's content (each a named link); the rest is drawing.
  for (const group of svg.querySelectorAll("g[aria-label]")) {
    if (group.querySelector("a")) {
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Ratings, each a link to its session record");
    } else {
      group.removeAttribute("aria-label");
      group.setAttribute("aria-hidden", "true");
    }
  }
  svg.setAttribute("fill", INK);
  svg.setAttribute("font-size", "12");
  return svg;
}
