/**
 * The browser's one style sheet, served from its own path so the
 * Content-Security-Policy needs no inline style.
 *
 * @module
 */

/** The style sheet's text. */
export const STYLE_SHEET: string = `
:root { color-scheme: light; --fg: #1b1f23; --muted: #4d5560; --line: #d0d7de; --accent: #0b5cad; --bg: #fff; --soft: #f4f6f8; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { background: #102a43; }
nav { display: flex; gap: 1.2rem; align-items: center; padding: .6rem 1.2rem; }
nav a { color: #fff; text-decoration: none; }
nav a:hover, nav a:focus { text-decoration: underline; }
nav .brand { font-weight: 700; }
.badge { background: #f0b429; color: #102a43; border-radius: 3px; padding: 0 .4rem; font-size: .8rem; }
main { padding: 1rem 1.2rem 3rem; max-width: 80rem; }
h1 { font-size: 1.4rem; margin: .4rem 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 .6rem; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); }
code, pre, .id { font-family: ui-monospace, monospace; font-size: .9em; }
bdi, code, pre, .id { unicode-bidi: isolate; }
pre { background: var(--soft); padding: .6rem; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { font-weight: 600; color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
form.search { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); gap: .6rem 1rem; align-items: end; }
label { display: block; font-weight: 600; color: var(--muted); font-size: .9rem; }
input, select, button { font: inherit; padding: .3rem .4rem; width: 100%; }
button { width: auto; cursor: pointer; }
form.inline { display: inline; }
.notice { background: #fff8e1; border-left: 4px solid #f0b429; padding: .5rem .8rem; }
.error { background: #fdecea; border-left: 4px solid #b3261e; padding: .5rem .8rem; }
.muted { color: var(--muted); }
.pager { margin: .8rem 0; }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 1.4rem; border-left: 2px solid var(--line); }
ul.tree { border-left: none; padding-left: 0; }
ul.tree li { margin: .25rem 0; position: relative; }
ul.tree ul li::before { content: ""; position: absolute; left: -1.4rem; top: .75rem; width: 1.1rem; border-top: 2px solid var(--line); }
.kind { display: inline-block; min-width: 5.5rem; font-size: .8rem; font-weight: 600; color: var(--muted); text-transform: uppercase; }
li.current > a { background: #fff3bf; font-weight: 600; }
.diff-added { background: #e6ffec; }
.diff-removed { background: #ffebe9; }
.diff-changed { background: #fff8c5; }
`;

/** The browser's icon, so no page asks the origin for `/favicon.ico`. */
export const FAVICON: string =
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#102a43"/><path d="M4 4h8M4 8h8M4 12h5" stroke="#f0b429" stroke-width="2"/></svg>`;
