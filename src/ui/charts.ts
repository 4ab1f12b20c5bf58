/**
 * Charts for the HTML reports: Vega-Lite specs compiled and rendered to static SVG in Node (vega's headless SVG
 * renderer: no DOM, no canvas, no script in the page). Data is always inline; the loader refuses any URL, so a
 * report never fetches anything, now or when opened.
 */
import * as vega from 'vega'
import {compile, type TopLevelSpec} from 'vega-lite'

/**
 * Colours told apart by lightness as well as hue (viridis: dark purple, teal, yellow), so they survive greyscale
 * printing and the common colour-vision deficiencies; bars get a dark outline so the light one shows on white.
 */
export const PALETTE = {dark: '#440154', mid: '#21918c', light: '#fde725', single: '#31688e', window: '#bbbbbb'}

export const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif'

const CONFIG = {
  font: FONT,
  background: 'white',
  view: {stroke: null},
  bar: {stroke: '#222222', strokeWidth: 0.5},
  axis: {labelFontSize: 11, titleFontSize: 11, labelLimit: 260},
  legend: {labelFontSize: 11, titleFontSize: 11, orient: 'bottom' as const},
}

const noNetwork = vega.loader()
noNetwork.load = (uri: string) => Promise.reject(new Error(`charts load nothing (asked for ${uri})`))
noNetwork.sanitize = (uri: string) => Promise.reject(new Error(`charts load nothing (asked for ${uri})`))

/** Renders one Vega-Lite spec (data inline) to an SVG string. */
export async function renderChart(spec: TopLevelSpec): Promise<string> {
  const compiled = compile({...spec, config: {...CONFIG, ...spec.config}} as TopLevelSpec).spec
  const view = new vega.View(vega.parse(compiled), {renderer: 'none', loader: noNetwork})
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** A colour scale for named categories, in the palette's order (first = darkest). */
export const categories = (domain: string[], range = [PALETTE.dark, PALETTE.mid, PALETTE.light]) => ({domain, range: range.slice(0, domain.length)})
